// AES-256-GCM known answers (the GCM specification's AES-256 test cases 13-16, as in
// NIST's gcmEncryptExtIV256 set) and the key store's wrapping and key check.
#include <gtest/gtest.h>

#include <string>

#include "core/aead.hpp"
#include "core/keywrap.hpp"

using namespace keel::core;

namespace {

Bytes Hex(const std::string& s) {
    Bytes out;
    for (size_t i = 0; i + 1 < s.size(); i += 2) {
        out.push_back(static_cast<uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
    }
    return out;
}

Key256 KeyOf(const Bytes& b) {
    Key256 k;
    for (size_t i = 0; i < kKeyBytes; i++)
        k.bytes[i] = b.at(i);
    return k;
}

Key256 Sequential(uint8_t start) {
    Key256 k;
    for (size_t i = 0; i < kKeyBytes; i++)
        k.bytes[i] = static_cast<uint8_t>(start + i);
    return k;
}

struct GcmVector {
    const char* key;
    const char* iv;
    const char* pt;
    const char* aad;
    const char* ct;
    const char* tag;
};

const std::string kK15 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
const std::string kP15 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
    "b525b16aedf5aa0de657ba637b391aafd255";
const std::string kC15 =
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10568288"
    "38c5f61e6393ba7a0abcc9f662898015ad";

const GcmVector kVectors[] = {
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
};

void CheckVector(const std::string& key, const std::string& iv, const std::string& pt,
                 const std::string& aad, const std::string& ct, const std::string& tag) {
    Aes256Gcm gcm;
    Key256 k = KeyOf(Hex(key));
    Bytes n = Hex(iv), p = Hex(pt), a = Hex(aad);
    Bytes out(p.size() + 1), t(kGcmTagBytes);
    gcm.Seal(k, n.data(), a, p, out.data(), t.data());
    out.resize(p.size());
    EXPECT_EQ(ToHex(out), ct);
    EXPECT_EQ(ToHex(t), tag);

    Bytes back(p.size() + 1);
    ASSERT_TRUE(gcm.Open(k, n.data(), a, Hex(ct), t.data(), back.data()));
    back.resize(p.size());
    EXPECT_EQ(back, p);

    // Any flipped tag bit fails.
    t[0] ^= 1;
    EXPECT_FALSE(gcm.Open(k, n.data(), a, Hex(ct), t.data(), back.data()));
}

}  // namespace

TEST(Aes256Gcm, SpecVectors13And14) {
    for (const auto& v : kVectors)
        CheckVector(v.key, v.iv, v.pt, v.aad, v.ct, v.tag);
}

TEST(Aes256Gcm, SpecVector15) {
    CheckVector(kK15, "cafebabefacedbaddecaf888", kP15, "", kC15,
                "b094dac5d93471bdec1a502270e3cc6c");
}

TEST(Aes256Gcm, SpecVector16WithAad) {
    CheckVector(kK15, "cafebabefacedbaddecaf888", kP15.substr(0, 120),
                "feedfacedeadbeeffeedfacedeadbeefabaddad2", kC15.substr(0, 120),
                "76fc6ece0f4e1768cddf8853bb2d551b");
}

TEST(Aes256Gcm, ContextIsReusableAcrossKeys) {
    Aes256Gcm gcm;
    Key256 a = Sequential(0), b = Sequential(1);
    uint8_t nonce[kGcmNonceBytes] = {};
    Bytes pt = Hex("00112233445566778899aabbccddeeff");
    Bytes c1(16), c2(16), c3(16), t1(16), t2(16), t3(16);
    gcm.Seal(a, nonce, {}, pt, c1.data(), t1.data());
    gcm.Seal(b, nonce, {}, pt, c2.data(), t2.data());
    gcm.Seal(a, nonce, {}, pt, c3.data(), t3.data());
    EXPECT_NE(c1, c2);
    EXPECT_EQ(c1, c3);
    EXPECT_EQ(t1, t3);
}

TEST(MasterKey, ParsesHexWithOptionalNewline) {
    const std::string hex = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";
    for (const std::string& text : {hex, hex + "\n", hex + "\r\n"}) {
        auto r = ParseMasterKeyText(text);
        ASSERT_TRUE(r.ok()) << text;
        EXPECT_EQ(ToHex(ByteSpan(r.value().bytes, kKeyBytes)),
                  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    }
}

TEST(MasterKey, RejectsEverythingElseWithoutQuotingIt) {
    const std::string hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    for (const std::string& text :
         {std::string(), hex.substr(2), hex + "00", hex + "\n\n", " " + hex, hex + " ",
          hex.substr(0, 62) + "zz", hex.substr(0, 32)}) {
        auto r = ParseMasterKeyText(text);
        ASSERT_FALSE(r.ok()) << text;
        EXPECT_EQ(r.error().kind, ErrorKind::kConfigError);
        EXPECT_EQ(r.error().message.find("0001"), std::string::npos);
        EXPECT_EQ(r.error().detail.find("0001"), std::string::npos);
    }
}

TEST(KeyWrap, KnownAnswer) {
    // Computed independently (Python cryptography's AESGCM) from the documented format.
    Aes256Gcm gcm;
    uint8_t nonce[kGcmNonceBytes];
    for (auto& b : nonce)
        b = 0xa5;
    Bytes w =
        WrapDataKeyWithNonce(gcm, Sequential(0), Sequential(32), 7, 2, KeyPurpose::kHmac, nonce);
    EXPECT_EQ(ToHex(w),
              "01a5a5a5a5a5a5a5a5a5a5a5a50166be8316b90eae008589c9840e590abd2b8564d76477767e6ebd"
              "42187acda4e7278ba048ae47ec83f32a6d47f1b44c");
}

TEST(KeyWrap, RoundTripAndBinding) {
    Aes256Gcm gcm;
    Key256 master = Sequential(0), other = Sequential(100), dk = Sequential(32);
    Bytes w = WrapDataKey(gcm, master, dk, 3, 1, KeyPurpose::kEncrypt);
    ASSERT_EQ(w.size(), kWrappedKeyBytes);
    auto back = UnwrapDataKey(gcm, master, w, 3, 1, KeyPurpose::kEncrypt);
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(SecretEquals(ByteSpan(back.value().bytes, 32), ByteSpan(dk.bytes, 32)));

    // Two wraps of the same key differ (random nonce).
    EXPECT_NE(w, WrapDataKey(gcm, master, dk, 3, 1, KeyPurpose::kEncrypt));

    // Wrong master key, moved id/version/purpose, tampered, truncated: all refused.
    EXPECT_FALSE(UnwrapDataKey(gcm, other, w, 3, 1, KeyPurpose::kEncrypt).ok());
    EXPECT_FALSE(UnwrapDataKey(gcm, master, w, 4, 1, KeyPurpose::kEncrypt).ok());
    EXPECT_FALSE(UnwrapDataKey(gcm, master, w, 3, 2, KeyPurpose::kEncrypt).ok());
    EXPECT_FALSE(UnwrapDataKey(gcm, master, w, 3, 1, KeyPurpose::kHmac).ok());
    for (size_t i = 0; i < w.size(); i++) {
        Bytes t = w;
        t[i] ^= 0x40;
        auto r = UnwrapDataKey(gcm, master, t, 3, 1, KeyPurpose::kEncrypt);
        ASSERT_FALSE(r.ok()) << i;
        EXPECT_EQ(r.error().kind, ErrorKind::kDataCorrupted);
    }
    Bytes shorter(w.begin(), w.end() - 1);
    EXPECT_FALSE(UnwrapDataKey(gcm, master, shorter, 3, 1, KeyPurpose::kEncrypt).ok());
}

TEST(KeyCheck, VerifiesOnlyUnderItsMasterKey) {
    Aes256Gcm gcm;
    Key256 master = Sequential(0), other = Sequential(1);
    Bytes c = MakeKeyCheck(gcm, master);
    ASSERT_EQ(c.size(), kKeyCheckBytes);
    EXPECT_TRUE(VerifyKeyCheck(gcm, master, c));
    EXPECT_FALSE(VerifyKeyCheck(gcm, other, c));
    Bytes t = c;
    t.back() ^= 1;
    EXPECT_FALSE(VerifyKeyCheck(gcm, master, t));
    EXPECT_FALSE(VerifyKeyCheck(gcm, master, Bytes(c.begin(), c.end() - 1)));
}

TEST(KeyPurpose, Names) {
    EXPECT_EQ(ParseKeyPurpose("encrypt").value(), KeyPurpose::kEncrypt);
    EXPECT_EQ(ParseKeyPurpose("hmac").value(), KeyPurpose::kHmac);
    EXPECT_FALSE(ParseKeyPurpose("sign").ok());
    EXPECT_STREQ(KeyPurposeName(KeyPurpose::kHmac), "hmac");
}
