#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "core/envelope.hpp"

using namespace keel::core;

namespace {

Key256 TestKey(uint8_t start) {
    Key256 k;
    for (size_t i = 0; i < kKeyBytes; i++)
        k.bytes[i] = static_cast<uint8_t>(start + i);
    return k;
}

Bytes Seal(Aes256Gcm& gcm, const Key256& k, const std::string& pt, const ByteSpan* aad,
           PayloadType type = PayloadType::kText) {
    Bytes out(EnvelopeSize(pt.size()));
    SealEnvelope(gcm, k, 7, 3, type, aad, ByteSpan::Of(pt), out.data());
    return out;
}

Result<std::string> Open(Aes256Gcm& gcm, const Key256& k, const Bytes& env, const ByteSpan* aad) {
    auto parsed = ParseEnvelope(env);
    if (!parsed.ok())
        return parsed.error();
    std::string out(parsed.value().ciphertext.size, '\0');
    auto r = OpenEnvelope(gcm, k, parsed.value(), aad, reinterpret_cast<uint8_t*>(out.data()));
    if (!r.ok())
        return r.error();
    return out;
}

}  // namespace

TEST(Envelope, KnownLayout) {
    Aes256Gcm gcm;
    Key256 k = TestKey(0);
    uint8_t nonce[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    std::string pt = "hi";
    Bytes out(EnvelopeSize(pt.size()));
    SealEnvelopeWithNonce(gcm, k, 0x01020304, 5, PayloadType::kJsonb, nullptr, ByteSpan::Of(pt),
                          nonce, out.data());
    EXPECT_EQ(ToHex(ByteSpan(out.data(), 24)), "ce01000201020304000000050102030405060708090a0b0c");
    auto env = ParseEnvelope(out);
    ASSERT_TRUE(env.ok());
    EXPECT_EQ(env.value().key_id, 0x01020304u);
    EXPECT_EQ(env.value().key_version, 5u);
    EXPECT_EQ(env.value().type, PayloadType::kJsonb);
    EXPECT_FALSE(env.value().has_aad());
}

TEST(Envelope, RoundTripWithAndWithoutAad) {
    Aes256Gcm gcm;
    Key256 k = TestKey(0);
    std::string aad_text = "users.secret id=42";
    ByteSpan aad = ByteSpan::Of(aad_text);
    for (const std::string& pt : {std::string(), std::string("x"), std::string(1000, 'q')}) {
        Bytes plain = Seal(gcm, k, pt, nullptr);
        EXPECT_EQ(Open(gcm, k, plain, nullptr).value(), pt);
        Bytes bound = Seal(gcm, k, pt, &aad);
        EXPECT_EQ(Open(gcm, k, bound, &aad).value(), pt);
    }
    // Two encryptions of one value differ.
    EXPECT_NE(Seal(gcm, k, "same", nullptr), Seal(gcm, k, "same", nullptr));
}

TEST(Envelope, EveryFailureIsItsOwnError) {
    Aes256Gcm gcm;
    Key256 k = TestKey(0);
    std::string a = "row 1", b = "row 2";
    ByteSpan aad_a = ByteSpan::Of(a), aad_b = ByteSpan::Of(b);
    Bytes env = Seal(gcm, k, "secret", &aad_a);

    auto wrong_aad = Open(gcm, k, env, &aad_b);
    ASSERT_FALSE(wrong_aad.ok());
    EXPECT_EQ(wrong_aad.error().message, "keel ciphertext failed authentication");
    auto missing_aad = Open(gcm, k, env, nullptr);
    ASSERT_FALSE(missing_aad.ok());
    EXPECT_NE(missing_aad.error().message.find("none was given"), std::string::npos);
    auto wrong_key = Open(gcm, TestKey(1), env, &aad_a);
    ASSERT_FALSE(wrong_key.ok());

    // Every single-bit flip anywhere is caught (header bytes by parse or by the tag).
    for (size_t i = 0; i < env.size(); i++) {
        Bytes t = env;
        t[i] ^= 0x01;
        EXPECT_FALSE(Open(gcm, k, t, &aad_a).ok()) << "byte " << i;
    }
    // Truncation at every length.
    for (size_t n = 1; n < env.size(); n++) {
        Bytes t(env.begin(), env.begin() + n);
        auto r = Open(gcm, k, t, &aad_a);
        EXPECT_FALSE(r.ok()) << n;
    }
    Bytes short_env(env.begin(), env.begin() + 10);
    EXPECT_EQ(ParseEnvelope(short_env).error().message, "keel ciphertext is truncated");
    Bytes v2 = env;
    v2[1] = 2;
    EXPECT_EQ(ParseEnvelope(v2).error().kind, ErrorKind::kFeatureNotSupported);
    Bytes other = env;
    other[0] = 'x';
    EXPECT_EQ(ParseEnvelope(other).error().kind, ErrorKind::kInvalidText);
    EXPECT_EQ(ParseEnvelope(Bytes()).error().kind, ErrorKind::kInvalidText);
}

TEST(Envelope, Base64AndTextShape) {
    EXPECT_EQ(EncodeBase64(ByteSpan::Of("")), "");
    EXPECT_EQ(EncodeBase64(ByteSpan::Of("f")), "Zg==");
    EXPECT_EQ(EncodeBase64(ByteSpan::Of("fo")), "Zm8=");
    EXPECT_EQ(EncodeBase64(ByteSpan::Of("foo")), "Zm9v");
    EXPECT_EQ(EncodeBase64(ByteSpan::Of("foobar")), "Zm9vYmFy");
    for (const char* s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
        auto back = DecodeBase64(EncodeBase64(ByteSpan::Of(s)));
        ASSERT_TRUE(back.ok());
        EXPECT_EQ(std::string(back.value().begin(), back.value().end()), s);
    }
    for (const char* bad :
         {"Zg=", "Z===", "Zg=a", "Zm9v!A==", "=Zg=", "Zh==", "Zm9=", "Zg==Zg=="}) {
        EXPECT_FALSE(DecodeBase64(bad).ok()) << bad;
    }
    Bytes env = {0xce, 0x01, 0x02};
    EXPECT_EQ(ToTextShape(env), "keel1:zgEC");
    EXPECT_EQ(FromTextShape("keel1:zgEC").value(), env);
    EXPECT_EQ(FromTextShape("keel2:zgEC").error().kind, ErrorKind::kFeatureNotSupported);
    EXPECT_EQ(FromTextShape("hello").error().kind, ErrorKind::kInvalidText);
    EXPECT_EQ(FromTextShape("keel1:***").error().kind, ErrorKind::kInvalidText);
}

// Nonces come from a per-process batch: a forked child (a PostgreSQL backend is a fork
// of the postmaster) must not hand out the nonces its parent has not used yet.
TEST(Envelope, ForkedChildNeverReusesParentNonces) {
    Aes256Gcm gcm;
    Key256 k = TestKey(0);
    Bytes first = Seal(gcm, k, "fill the batch", nullptr, PayloadType::kText);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        Aes256Gcm child_gcm;
        Bytes c = Seal(child_gcm, k, "child", nullptr, PayloadType::kText);
        ssize_t w = write(fds[1], c.data() + 12, 12);
        _exit(w == 12 ? 0 : 1);
    }
    close(fds[1]);
    uint8_t child_nonce[12];
    ASSERT_EQ(read(fds[0], child_nonce, 12), 12);
    close(fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    Bytes parent = Seal(gcm, k, "parent", nullptr, PayloadType::kText);
    EXPECT_NE(std::memcmp(parent.data() + 12, child_nonce, 12), 0)
        << "the child reused the parent's next nonce";
    EXPECT_NE(std::memcmp(first.data() + 12, child_nonce, 12), 0);
}

// The context keeps the last key's schedule and re-keys only when the key changes:
// alternating keys, directions and failures must never mix them up.
TEST(Envelope, ReusedContextAlternatesKeysAndDirections) {
    Aes256Gcm gcm;
    Key256 k1 = TestKey(0);
    Key256 k2 = TestKey(100);
    Bytes a = Seal(gcm, k1, "under key one", nullptr);
    Bytes b = Seal(gcm, k2, "under key two", nullptr);
    Bytes c = Seal(gcm, k2, "again key two", nullptr);
    for (int round = 0; round < 3; round++) {
        EXPECT_EQ(Open(gcm, k1, a, nullptr).value(), "under key one");
        EXPECT_FALSE(Open(gcm, k2, a, nullptr).ok());  // wrong key right after the right one
        EXPECT_EQ(Open(gcm, k2, b, nullptr).value(), "under key two");
        EXPECT_EQ(Open(gcm, k2, c, nullptr).value(), "again key two");
        EXPECT_FALSE(Open(gcm, k1, c, nullptr).ok());
        Bytes tampered = c;
        tampered.back() ^= 1;
        EXPECT_FALSE(Open(gcm, k2, tampered, nullptr).ok());
        EXPECT_EQ(Open(gcm, k2, c, nullptr).value(), "again key two");  // after a failure
    }
    Aes256Gcm fresh;  // what one context sealed, another opens
    EXPECT_EQ(Open(fresh, k2, b, nullptr).value(), "under key two");
    EXPECT_EQ(Open(fresh, k1, a, nullptr).value(), "under key one");
}
