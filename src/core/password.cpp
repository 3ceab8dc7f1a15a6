#include "core/password.hpp"

#include <argon2.h>
#include <openssl/evp.h>

#include <vector>

namespace keel::core {

namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

Error Malformed(const std::string& why) {
    return MakeError(ErrorKind::kInvalidText, "invalid argon2id password hash",
                     "The value is not a PHC string made by keel.hash_password: " + why + ".");
}

// Unpadded standard base64 length check and decode size (alphabet A-Z a-z 0-9 + /).
bool IsB64(std::string_view s) {
    if (s.empty() || s.size() % 4 == 1)
        return false;
    for (char c : s) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/';
        if (!ok)
            return false;
    }
    return true;
}

bool ParseU32(std::string_view s, uint32_t* out) {
    if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (v > 0xffffffffu)
        return false;
    *out = static_cast<uint32_t>(v);
    return true;
}

bool Expect(std::string_view& s, std::string_view prefix) {
    if (s.substr(0, prefix.size()) != prefix)
        return false;
    s.remove_prefix(prefix.size());
    return true;
}

std::string_view Until(std::string_view& s, char sep, bool* found) {
    size_t i = s.find(sep);
    *found = i != std::string_view::npos;
    std::string_view head = s.substr(0, *found ? i : s.size());
    s.remove_prefix(*found ? i + 1 : s.size());
    return head;
}

}  // namespace

Result<PhcHash> ParsePhc(std::string_view phc) {
    if (phc.empty() || phc[0] != '$')
        return Malformed("it does not start with $");
    std::string_view s = phc;
    s.remove_prefix(1);
    bool found;
    std::string_view alg = Until(s, '$', &found);
    if (!found)
        return Malformed("it has no parameters");
    if (alg != "argon2id") {
        return MakeError(
            ErrorKind::kFeatureNotSupported,
            "password hash algorithm \"" + std::string(alg.substr(0, 16)) + "\" is not supported",
            "keel verifies argon2id hashes only.",
            "Have the user log in through the old scheme once and store "
            "keel.hash_password() of the password.");
    }
    PhcHash out;
    std::string_view ver = Until(s, '$', &found);
    if (!found || !Expect(ver, "v=") || !ParseU32(ver, &out.version) || out.version != 19) {
        return Malformed("the version field must be v=19");
    }
    std::string_view params = Until(s, '$', &found);
    if (!found)
        return Malformed("it has no salt");
    if (!Expect(params, "m="))
        return Malformed("the parameters must be m=,t=,p=");
    bool comma;
    std::string_view m = Until(params, ',', &comma);
    if (!comma || !ParseU32(m, &out.params.memory_kib) || !Expect(params, "t=")) {
        return Malformed("the parameters must be m=,t=,p=");
    }
    std::string_view t = Until(params, ',', &comma);
    if (!comma || !ParseU32(t, &out.params.iterations) || !Expect(params, "p=") ||
        !ParseU32(params, &out.params.parallelism)) {
        return Malformed("the parameters must be m=,t=,p=");
    }
    if (out.params.iterations < 1 || out.params.parallelism < 1 || out.params.parallelism > 255 ||
        out.params.memory_kib < 8 * out.params.parallelism) {
        return Malformed("its parameters are out of range");
    }
    std::string_view salt = Until(s, '$', &found);
    if (!found || !IsB64(salt))
        return Malformed("the salt is not base64");
    if (!IsB64(s))
        return Malformed("the hash is not base64");
    out.salt_len = salt.size() * 3 / 4;
    out.hash_len = s.size() * 3 / 4;
    if (out.salt_len < 8 || out.hash_len < 16 || out.hash_len > 64) {
        return Malformed("its salt or hash has an unusual length");
    }
    return out;
}

std::string HashPassword(std::string_view password, const Argon2Params& params) {
    uint8_t salt[kSaltBytes];
    RandomBytes(salt, sizeof salt);
    size_t len = argon2_encodedlen(params.iterations, params.memory_kib, params.parallelism,
                                   kSaltBytes, kHashBytes, Argon2_id);
    std::string encoded(len, '\0');
    int rc = argon2id_hash_encoded(params.iterations, params.memory_kib, params.parallelism,
                                   password.data(), password.size(), salt, kSaltBytes, kHashBytes,
                                   encoded.data(), encoded.size());
    if (rc != ARGON2_OK) {
        Throw(rc == ARGON2_MEMORY_ALLOCATION_ERROR ? ErrorKind::kProgramLimit
                                                   : ErrorKind::kInvalidParameter,
              std::string("argon2id hashing failed: ") + argon2_error_message(rc));
    }
    encoded.resize(encoded.find('\0') == std::string::npos ? encoded.size() : encoded.find('\0'));
    return encoded;
}

Result<bool> VerifyPassword(std::string_view password, std::string_view phc) {
    auto parsed = ParsePhc(phc);
    if (!parsed.ok())
        return parsed.error();
    std::string encoded(phc);  // libargon2 wants a NUL-terminated string
    int rc = argon2id_verify(encoded.c_str(), password.data(), password.size());
    if (rc == ARGON2_OK)
        return true;
    if (rc == ARGON2_VERIFY_MISMATCH)
        return false;
    if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) {
        return MakeError(ErrorKind::kProgramLimit, "argon2id verification ran out of memory");
    }
    return Malformed(argon2_error_message(rc));
}

Result<bool> NeedsRehash(std::string_view phc, const Argon2Params& params) {
    auto parsed = ParsePhc(phc);
    if (!parsed.ok()) {
        if (parsed.error().kind == ErrorKind::kFeatureNotSupported)
            return true;
        return parsed.error();
    }
    const Argon2Params& p = parsed.value().params;
    return p.memory_kib < params.memory_kib || p.iterations < params.iterations ||
           p.parallelism < params.parallelism || parsed.value().hash_len < kHashBytes;
}

std::string Sha256Hex(std::string_view data) {
    uint8_t md[32];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1 || len != 32) {
        Throw(ErrorKind::kInternal, "OpenSSL SHA-256 failed");
    }
    return ToHex(ByteSpan(md, sizeof md));
}

std::string RandomToken(size_t n) {
    static const char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    SecretBytes raw(n);
    RandomBytes(raw.data(), n);
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | raw.data()[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kUrl[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out += kUrl[(acc << (6 - bits)) & 63];
    return out;
}

}  // namespace keel::core
