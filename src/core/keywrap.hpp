// The key store's pure part: parsing the master key, wrapping data keys under it, and
// the key-check value that tells a wrong master key at once.
//
// Wrapped data key (61 bytes):   0x01 | nonce (12) | AES-256-GCM(data key) (32) | tag (16)
//   AAD = "keel data key v1" | key_id (4, big-endian) | version (4, BE) | purpose (1)
//   so a wrapped key moved to another id, version or purpose fails to unwrap.
// Key check value (29 bytes):    0x01 | nonce (12) | tag (16)
//   the GCM tag of an empty message with AAD "keel master key check v1": it verifies
//   only under the master key that made it and reveals nothing about that key.
#pragma once

#include "core/pure.hpp"

#include <cstdint>
#include <string_view>

#include "core/aead.hpp"
#include "core/secure.hpp"
#include "core/status.hpp"

namespace keel::core {

enum class KeyPurpose : uint8_t { kEncrypt = 1, kHmac = 2 };

const char* KeyPurposeName(KeyPurpose p) noexcept;  // "encrypt" | "hmac"
Result<KeyPurpose> ParseKeyPurpose(std::string_view name);

// The text of a master key file or command output: exactly 64 hexadecimal digits,
// optionally followed by "\n" or "\r\n".  The error never quotes the text.
Result<Key256> ParseMasterKeyText(std::string_view text);

constexpr uint8_t kWrapFormat = 1;
constexpr size_t kWrappedKeyBytes = 1 + kGcmNonceBytes + kKeyBytes + kGcmTagBytes;
constexpr size_t kKeyCheckBytes = 1 + kGcmNonceBytes + kGcmTagBytes;

Bytes WrapDataKey(Aes256Gcm& gcm, const Key256& master, const Key256& data_key, uint32_t key_id,
                  uint32_t version, KeyPurpose purpose);
// Deterministic variant for known-answer tests.
Bytes WrapDataKeyWithNonce(Aes256Gcm& gcm, const Key256& master, const Key256& data_key,
                           uint32_t key_id, uint32_t version, KeyPurpose purpose,
                           const uint8_t* nonce);
// kDataCorrupted when the bytes are malformed or do not authenticate (wrong master
// key, or a wrapped key moved to another id/version/purpose).
Result<Key256> UnwrapDataKey(Aes256Gcm& gcm, const Key256& master, ByteSpan wrapped,
                             uint32_t key_id, uint32_t version, KeyPurpose purpose);

Bytes MakeKeyCheck(Aes256Gcm& gcm, const Key256& master);
// True when check was made by this master key; false otherwise (also when malformed).
bool VerifyKeyCheck(Aes256Gcm& gcm, const Key256& master, ByteSpan check);

}  // namespace keel::core
