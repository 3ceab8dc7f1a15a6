// argon2id password hashing (libargon2) in PHC string format, and SHA-256 hashing of
// API keys and session tokens.
//
//   $argon2id$v=19$m=<KiB>,t=<iterations>,p=<lanes>$<salt b64>$<hash b64>
//   (base64 without padding, as the PHC format and libargon2 write it)
#pragma once

#include "core/pure.hpp"

#include <cstdint>
#include <string>
#include <string_view>

#include "core/secure.hpp"
#include "core/status.hpp"

namespace keel::core {

struct Argon2Params {
    uint32_t memory_kib = 19456;  // OWASP (2023+): argon2id m=19 MiB, t=2, p=1
    uint32_t iterations = 2;
    uint32_t parallelism = 1;
};

struct PhcHash {
    Argon2Params params;
    uint32_t version = 0;
    size_t salt_len = 0;
    size_t hash_len = 0;
};

// Parses an argon2id PHC string.  kInvalidText for anything malformed,
// kFeatureNotSupported for another algorithm ($2b$ bcrypt, $argon2i$, ...).  Never
// quotes the hash in the message.
Result<PhcHash> ParsePhc(std::string_view phc);

// 16 random bytes of salt, 32 bytes of hash.
std::string HashPassword(std::string_view password, const Argon2Params& params);

// Constant-time comparison (libargon2 recomputes and compares in constant time).
Result<bool> VerifyPassword(std::string_view password, std::string_view phc);

// True when the hash was made with weaker parameters than params.
Result<bool> NeedsRehash(std::string_view phc, const Argon2Params& params);

// Lower-case hex SHA-256 of the bytes (64 characters).
std::string Sha256Hex(std::string_view data);

// base64url without padding of n random bytes.
std::string RandomToken(size_t n);

}  // namespace keel::core
