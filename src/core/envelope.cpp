#include "core/envelope.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cstring>

namespace keel::core {

namespace {

void PutU32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}

uint32_t GetU32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// GCM AAD = header || caller AAD, in a small stack buffer when it fits.
class JoinedAad {
  public:
    JoinedAad(const uint8_t* header, const ByteSpan* aad) {
        size_t extra = aad ? aad->size : 0;
        size_t n = kEnvelopeHeaderBytes + extra;
        uint8_t* dst = n <= sizeof small_ ? small_ : (large_.resize(n), large_.data());
        std::memcpy(dst, header, kEnvelopeHeaderBytes);
        if (extra > 0)
            std::memcpy(dst + kEnvelopeHeaderBytes, aad->data, extra);
        span_ = ByteSpan(dst, n);
    }
    ByteSpan span() const { return span_; }

  private:
    uint8_t small_[256];
    Bytes large_;
    ByteSpan span_;
};

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

Error NotKeel() {
    return MakeError(ErrorKind::kInvalidText, "value is not keel ciphertext",
                     "keel ciphertext is made by keel.encrypt, keel.encrypt_text, "
                     "keel.encrypt_jsonb or an encrypted column.");
}

}  // namespace

const char* PayloadTypeName(PayloadType t) noexcept {
    switch (t) {
        case PayloadType::kText:
            return "text";
        case PayloadType::kJsonb:
            return "jsonb";
        default:
            return "bytea";
    }
}

bool LooksLikeEnvelope(ByteSpan b) {
    return b.size >= kEnvelopeOverhead && b.data[0] == kEnvelopeMagic &&
           b.data[1] == kEnvelopeVersion;
}

Result<Envelope> ParseEnvelope(ByteSpan b) {
    if (b.size == 0 || b.data[0] != kEnvelopeMagic)
        return NotKeel();
    if (b.size < 2) {
        return MakeError(ErrorKind::kDataCorrupted, "keel ciphertext is truncated",
                         "It is " + std::to_string(b.size) + " bytes long; a keel envelope has " +
                             std::to_string(kEnvelopeOverhead) + " bytes of header and tag.");
    }
    if (b.data[1] != kEnvelopeVersion) {
        return MakeError(ErrorKind::kFeatureNotSupported,
                         "unknown keel ciphertext format version " + std::to_string(b.data[1]),
                         "This keel understands format version 1.",
                         "The value was written by a newer keel; upgrade the extension.");
    }
    if (b.size < kEnvelopeOverhead) {
        return MakeError(ErrorKind::kDataCorrupted, "keel ciphertext is truncated",
                         "It is " + std::to_string(b.size) + " bytes long; a keel envelope has " +
                             std::to_string(kEnvelopeOverhead) + " bytes of header and tag.");
    }
    if ((b.data[2] & ~kFlagHasAad) != 0 || b.data[3] > static_cast<uint8_t>(PayloadType::kJsonb)) {
        return MakeError(ErrorKind::kDataCorrupted, "keel ciphertext header is corrupted",
                         "It carries flags or a payload type this format does not define.");
    }
    Envelope env;
    env.flags = b.data[2];
    env.type = static_cast<PayloadType>(b.data[3]);
    env.key_id = GetU32(b.data + 4);
    env.key_version = GetU32(b.data + 8);
    env.header = ByteSpan(b.data, kEnvelopeHeaderBytes);
    env.nonce = b.data + 12;
    env.ciphertext = ByteSpan(b.data + kEnvelopeHeaderBytes, b.size - kEnvelopeOverhead);
    env.tag = b.data + b.size - kGcmTagBytes;
    return env;
}

void SealEnvelopeWithNonce(Aes256Gcm& gcm, const Key256& key, uint32_t key_id, uint32_t key_version,
                           PayloadType type, const ByteSpan* aad, ByteSpan pt, const uint8_t* nonce,
                           uint8_t* out) {
    out[0] = kEnvelopeMagic;
    out[1] = kEnvelopeVersion;
    out[2] = aad ? kFlagHasAad : 0;
    out[3] = static_cast<uint8_t>(type);
    PutU32(out + 4, key_id);
    PutU32(out + 8, key_version);
    std::memcpy(out + 12, nonce, kGcmNonceBytes);
    JoinedAad joined(out, aad);
    gcm.Seal(key, out + 12, joined.span(), pt, out + kEnvelopeHeaderBytes,
             out + kEnvelopeHeaderBytes + pt.size);
}

namespace {

// Random nonces drawn from OpenSSL's CSPRNG 128 at a time (one RAND_bytes call costs
// microseconds here; a nonce is still 96 fresh random bits).  A forked child must never
// reuse its parent's unused nonces: a pthread_atfork handler (registered before the
// first fill) bumps a fork generation in the child, and a buffer from another generation
// is refilled.  This replaces a getpid() per call, a system call that cost more than
// the cipher.
struct NonceBuffer {
    static constexpr size_t kCount = 128;
    uint8_t bytes[kCount * kGcmNonceBytes];
    size_t next = kCount;
    unsigned generation = 0;
};

NonceBuffer g_nonces;                     // trivially constructed plain data
volatile unsigned g_fork_generation = 1;  // bumped in every forked child
pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;
bool g_atfork_failed = false;  // then no batching: every nonce straight from RAND_bytes

void OnForkChild() {
    g_fork_generation = g_fork_generation + 1;
}

void RegisterAtFork() {
    g_atfork_failed = pthread_atfork(nullptr, nullptr, OnForkChild) != 0;
}

void NextNonce(uint8_t* nonce) {
    pthread_once(&g_atfork_once, RegisterAtFork);
    if (g_atfork_failed) {
        RandomBytes(nonce, kGcmNonceBytes);
        return;
    }
    if (g_nonces.next >= NonceBuffer::kCount || g_nonces.generation != g_fork_generation) {
        RandomBytes(g_nonces.bytes, sizeof g_nonces.bytes);
        g_nonces.next = 0;
        g_nonces.generation = g_fork_generation;
    }
    uint8_t* src = g_nonces.bytes + g_nonces.next * kGcmNonceBytes;
    std::memcpy(nonce, src, kGcmNonceBytes);
    OPENSSL_cleanse(src, kGcmNonceBytes);  // each nonce is handed out once
    g_nonces.next++;
}

}  // namespace

void SealEnvelope(Aes256Gcm& gcm, const Key256& key, uint32_t key_id, uint32_t key_version,
                  PayloadType type, const ByteSpan* aad, ByteSpan pt, uint8_t* out) {
    uint8_t nonce[kGcmNonceBytes];
    NextNonce(nonce);
    SealEnvelopeWithNonce(gcm, key, key_id, key_version, type, aad, pt, nonce, out);
}

Result<bool> OpenEnvelope(Aes256Gcm& gcm, const Key256& key, const Envelope& env,
                          const ByteSpan* aad, uint8_t* out) {
    if (env.has_aad() && aad == nullptr) {
        return MakeError(ErrorKind::kDataCorrupted,
                         "keel ciphertext was encrypted with associated data, and none was given",
                         "The value is bound to associated data (AAD) that must be passed to "
                         "decrypt it.");
    }
    if (!env.has_aad() && aad != nullptr) {
        return MakeError(ErrorKind::kDataCorrupted,
                         "keel ciphertext was encrypted without associated data, and some was "
                         "given",
                         "Decrypt it without the aad argument.");
    }
    JoinedAad joined(env.header.data, aad);
    if (!gcm.Open(key, env.nonce, joined.span(), env.ciphertext, env.tag, out)) {
        return MakeError(ErrorKind::kDataCorrupted, "keel ciphertext failed authentication",
                         "Either the value was altered (tampered with or corrupted), or the "
                         "associated data (AAD) differs from the one it was encrypted with, for "
                         "example because it was copied from another row or column.");
    }
    return true;
}

size_t EncodeBase64To(ByteSpan b, char* o) {
    char* start = o;
    size_t i = 0;
    for (; i + 3 <= b.size; i += 3) {
        uint32_t v = static_cast<uint32_t>(b.data[i]) << 16 | b.data[i + 1] << 8 | b.data[i + 2];
        *o++ = kB64[v >> 18];
        *o++ = kB64[(v >> 12) & 63];
        *o++ = kB64[(v >> 6) & 63];
        *o++ = kB64[v & 63];
    }
    if (i < b.size) {
        uint32_t v = static_cast<uint32_t>(b.data[i]) << 16;
        if (i + 1 < b.size)
            v |= b.data[i + 1] << 8;
        *o++ = kB64[v >> 18];
        *o++ = kB64[(v >> 12) & 63];
        *o++ = i + 1 < b.size ? kB64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    return static_cast<size_t>(o - start);
}

std::string EncodeBase64(ByteSpan b) {
    std::string out;
    out.reserve((b.size + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= b.size; i += 3) {
        uint32_t v = static_cast<uint32_t>(b.data[i]) << 16 | b.data[i + 1] << 8 | b.data[i + 2];
        out += kB64[v >> 18];
        out += kB64[(v >> 12) & 63];
        out += kB64[(v >> 6) & 63];
        out += kB64[v & 63];
    }
    if (i < b.size) {
        uint32_t v = static_cast<uint32_t>(b.data[i]) << 16;
        if (i + 1 < b.size)
            v |= b.data[i + 1] << 8;
        out += kB64[v >> 18];
        out += kB64[(v >> 12) & 63];
        out += i + 1 < b.size ? kB64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

Result<Bytes> DecodeBase64(std::string_view s) {
    // 0-63: digit value; 64: '='; 255: not base64.
    static const auto kTable = [] {
        struct T {
            uint8_t v[256];
        } t{};
        for (auto& x : t.v)
            x = 255;
        for (int i = 0; i < 64; i++)
            t.v[static_cast<uint8_t>(kB64[i])] = static_cast<uint8_t>(i);
        t.v[static_cast<uint8_t>('=')] = 64;
        return t;
    }();
    if (s.size() % 4 != 0)
        return NotKeel();
    if (s.empty())
        return Bytes();
    const auto* in = reinterpret_cast<const uint8_t*>(s.data());
    size_t n = s.size();
    size_t pad = (in[n - 1] == '=') + (in[n - 2] == '=');
    Bytes out(n / 4 * 3 - pad);
    uint8_t* o = out.data();
    for (size_t i = 0; i < n; i += 4) {
        uint32_t a = kTable.v[in[i]], b = kTable.v[in[i + 1]], c = kTable.v[in[i + 2]],
                 d = kTable.v[in[i + 3]];
        bool last = i + 4 == n;
        if ((a | b) >= 64)
            return NotKeel();
        if (!last || pad == 0) {
            if ((c | d) >= 64)
                return NotKeel();
            uint32_t w = a << 18 | b << 12 | c << 6 | d;
            *o++ = static_cast<uint8_t>(w >> 16);
            *o++ = static_cast<uint8_t>(w >> 8);
            *o++ = static_cast<uint8_t>(w);
        } else if (pad == 1) {
            // Canonical only: the bits that padding leaves over must be zero.
            if (c >= 64 || d != 64 || (c & 0x3) != 0)
                return NotKeel();
            uint32_t w = a << 18 | b << 12 | c << 6;
            *o++ = static_cast<uint8_t>(w >> 16);
            *o++ = static_cast<uint8_t>(w >> 8);
        } else {
            if (c != 64 || d != 64 || (b & 0xf) != 0)
                return NotKeel();
            *o++ = static_cast<uint8_t>((a << 18 | b << 12) >> 16);
        }
    }
    return out;
}

std::string ToTextShape(ByteSpan envelope) {
    return std::string(kTextPrefix) + EncodeBase64(envelope);
}

Result<Bytes> FromTextShape(std::string_view s) {
    if (s.substr(0, kTextPrefix.size()) != kTextPrefix) {
        // "keel<digits>:" with another number is a format we do not know yet.
        if (s.substr(0, 4) == "keel") {
            size_t i = 4;
            while (i < s.size() && i < 12 && s[i] >= '0' && s[i] <= '9')
                i++;
            if (i > 4 && i < s.size() && s[i] == ':') {
                return MakeError(
                    ErrorKind::kFeatureNotSupported,
                    "unknown keel ciphertext format version " + std::string(s.substr(4, i - 4)),
                    "This keel understands format version 1.",
                    "The value was written by a newer keel; upgrade the extension.");
            }
        }
        return NotKeel();
    }
    return DecodeBase64(s.substr(kTextPrefix.size()));
}

}  // namespace keel::core
