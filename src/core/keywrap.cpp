#include "core/keywrap.hpp"

#include <cstring>

namespace keel::core {

namespace {

constexpr char kWrapLabel[] = "keel data key v1";
constexpr char kCheckLabel[] = "keel master key check v1";

Bytes WrapAad(uint32_t key_id, uint32_t version, KeyPurpose purpose) {
    Bytes aad(kWrapLabel, kWrapLabel + sizeof kWrapLabel - 1);
    for (uint32_t v : {key_id, version}) {
        for (int shift = 24; shift >= 0; shift -= 8)
            aad.push_back(static_cast<uint8_t>(v >> shift));
    }
    aad.push_back(static_cast<uint8_t>(purpose));
    return aad;
}

int HexDigit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

}  // namespace

const char* KeyPurposeName(KeyPurpose p) noexcept {
    return p == KeyPurpose::kHmac ? "hmac" : "encrypt";
}

Result<KeyPurpose> ParseKeyPurpose(std::string_view name) {
    if (name == "encrypt")
        return KeyPurpose::kEncrypt;
    if (name == "hmac")
        return KeyPurpose::kHmac;
    return MakeError(ErrorKind::kInvalidParameter,
                     "invalid key purpose \"" + std::string(name) + "\"",
                     "A key's purpose is encrypt (for keel.encrypt and encrypted columns) or "
                     "hmac (for signatures such as the audit chain's).");
}

Result<Key256> ParseMasterKeyText(std::string_view text) {
    if (text.size() >= 2 && text.substr(text.size() - 2) == "\r\n") {
        text.remove_suffix(2);
    } else if (!text.empty() && text.back() == '\n') {
        text.remove_suffix(1);
    }
    Error bad = MakeError(ErrorKind::kConfigError, "master key is not a 256-bit hexadecimal key",
                          "It must be exactly 64 hexadecimal characters, optionally followed by a "
                          "newline.",
                          "Make one with: openssl rand -hex 32");
    if (text.size() != 2 * kKeyBytes)
        return bad;
    Key256 key;
    for (size_t i = 0; i < kKeyBytes; i++) {
        int hi = HexDigit(text[2 * i]);
        int lo = HexDigit(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return bad;  // key's destructor cleanses the partial key
        key.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return key;
}

Bytes WrapDataKeyWithNonce(Aes256Gcm& gcm, const Key256& master, const Key256& data_key,
                           uint32_t key_id, uint32_t version, KeyPurpose purpose,
                           const uint8_t* nonce) {
    Bytes out(kWrappedKeyBytes);
    out[0] = kWrapFormat;
    std::memcpy(out.data() + 1, nonce, kGcmNonceBytes);
    Bytes aad = WrapAad(key_id, version, purpose);
    gcm.Seal(master, nonce, aad, ByteSpan(data_key.bytes, kKeyBytes),
             out.data() + 1 + kGcmNonceBytes, out.data() + 1 + kGcmNonceBytes + kKeyBytes);
    return out;
}

Bytes WrapDataKey(Aes256Gcm& gcm, const Key256& master, const Key256& data_key, uint32_t key_id,
                  uint32_t version, KeyPurpose purpose) {
    uint8_t nonce[kGcmNonceBytes];
    RandomBytes(nonce, sizeof nonce);
    return WrapDataKeyWithNonce(gcm, master, data_key, key_id, version, purpose, nonce);
}

Result<Key256> UnwrapDataKey(Aes256Gcm& gcm, const Key256& master, ByteSpan wrapped,
                             uint32_t key_id, uint32_t version, KeyPurpose purpose) {
    if (wrapped.size != kWrappedKeyBytes || wrapped.data[0] != kWrapFormat) {
        return MakeError(ErrorKind::kDataCorrupted, "wrapped data key is malformed",
                         "The key store holds a value that keel did not write.");
    }
    Bytes aad = WrapAad(key_id, version, purpose);
    Key256 key;
    const uint8_t* nonce = wrapped.data + 1;
    const uint8_t* ct = nonce + kGcmNonceBytes;
    if (!gcm.Open(master, nonce, aad, ByteSpan(ct, kKeyBytes), ct + kKeyBytes, key.bytes)) {
        return MakeError(ErrorKind::kDataCorrupted, "data key could not be unwrapped",
                         "The master key is not the one that wrapped this data key, or the key "
                         "store was altered.");
    }
    return key;
}

Bytes MakeKeyCheck(Aes256Gcm& gcm, const Key256& master) {
    Bytes out(kKeyCheckBytes);
    out[0] = kWrapFormat;
    RandomBytes(out.data() + 1, kGcmNonceBytes);
    uint8_t none[1];
    gcm.Seal(master, out.data() + 1, ByteSpan::Of(kCheckLabel), ByteSpan(), none,
             out.data() + 1 + kGcmNonceBytes);
    return out;
}

bool VerifyKeyCheck(Aes256Gcm& gcm, const Key256& master, ByteSpan check) {
    if (check.size != kKeyCheckBytes || check.data[0] != kWrapFormat)
        return false;
    uint8_t none[1];
    return gcm.Open(master, check.data + 1, ByteSpan::Of(kCheckLabel), ByteSpan(),
                    check.data + 1 + kGcmNonceBytes, none);
}

}  // namespace keel::core
