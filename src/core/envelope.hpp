// keel's ciphertext envelope, version 1 (binary; the text and jsonb shapes wrap it).
//
//   offset  size  field
//   0       1     magic 0xCE
//   1       1     format version (1)
//   2       1     flags: bit 0 = caller AAD was given; other bits must be 0
//   3       1     payload type: 0 bytea, 1 text, 2 jsonb (what decrypt returns)
//   4       4     key id (big-endian)
//   8       4     key version (big-endian)
//   12      12    nonce (random, 96 bits)
//   24      n     AES-256-GCM ciphertext (n = plaintext length)
//   24+n    16    tag (128 bits)
//
// The 24-byte header is authenticated: GCM AAD = header || caller AAD.  A header is
// fixed-size, so the concatenation is unambiguous.
//
// Text shape: "keel1:" + base64(envelope).  JSONB shape: {"ct": "<base64>", "keel": 1}.
#pragma once

#include "core/pure.hpp"

#include <cstdint>
#include <string>
#include <string_view>

#include "core/aead.hpp"
#include "core/secure.hpp"
#include "core/status.hpp"

namespace keel::core {

enum class PayloadType : uint8_t { kBytea = 0, kText = 1, kJsonb = 2 };
const char* PayloadTypeName(PayloadType t) noexcept;

constexpr uint8_t kEnvelopeMagic = 0xCE;
constexpr uint8_t kEnvelopeVersion = 1;
constexpr size_t kEnvelopeHeaderBytes = 24;
constexpr size_t kEnvelopeOverhead = kEnvelopeHeaderBytes + kGcmTagBytes;
constexpr uint8_t kFlagHasAad = 1;
constexpr std::string_view kTextPrefix = "keel1:";

struct Envelope {
    uint8_t flags = 0;
    PayloadType type = PayloadType::kBytea;
    uint32_t key_id = 0;
    uint32_t key_version = 0;
    ByteSpan header;  // the 24 header bytes (AAD prefix)
    const uint8_t* nonce = nullptr;
    ByteSpan ciphertext;  // without the tag
    const uint8_t* tag = nullptr;
    bool has_aad() const { return (flags & kFlagHasAad) != 0; }
};

// Cheap test used to skip already-encrypted values: magic, version and length.
bool LooksLikeEnvelope(ByteSpan b);

// Parses (does not authenticate).  Errors, each distinct:
//   not keel ciphertext (kInvalidText), unknown format version (kFeatureNotSupported),
//   truncated (kDataCorrupted), unknown flags or payload type (kDataCorrupted).
Result<Envelope> ParseEnvelope(ByteSpan b);

// Size of the envelope for a plaintext of n bytes.
inline size_t EnvelopeSize(size_t n) {
    return n + kEnvelopeOverhead;
}

// Writes the envelope into out (EnvelopeSize(pt.size) bytes).  aad may be null (no
// caller AAD); an empty non-null AAD counts as given.
void SealEnvelope(Aes256Gcm& gcm, const Key256& key, uint32_t key_id, uint32_t key_version,
                  PayloadType type, const ByteSpan* aad, ByteSpan pt, uint8_t* out);
// Deterministic variant for tests.
void SealEnvelopeWithNonce(Aes256Gcm& gcm, const Key256& key, uint32_t key_id, uint32_t key_version,
                           PayloadType type, const ByteSpan* aad, ByteSpan pt, const uint8_t* nonce,
                           uint8_t* out);

// Authenticates and decrypts into out (env.ciphertext.size bytes).  Errors: AAD given
// but the value was made without (or the reverse), and authentication failure
// (tampered bytes or different AAD) -- all kDataCorrupted with distinct messages.
Result<bool> OpenEnvelope(Aes256Gcm& gcm, const Key256& key, const Envelope& env,
                          const ByteSpan* aad, uint8_t* out);

// Text shape helpers (base64 is standard, with padding, no line breaks).
std::string EncodeBase64(ByteSpan b);
inline size_t Base64Size(size_t n) {
    return (n + 2) / 3 * 4;
}
size_t EncodeBase64To(ByteSpan b, char* out);  // writes Base64Size(b.size) chars
Result<Bytes> DecodeBase64(std::string_view s);
std::string ToTextShape(ByteSpan envelope);
// kInvalidText when s is not "keel1:<base64>"; kFeatureNotSupported for "keelN:" N != 1.
Result<Bytes> FromTextShape(std::string_view s);

}  // namespace keel::core
