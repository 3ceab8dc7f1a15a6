// Byte containers for secrets and the one source of randomness.  Key material lives
// in Key256 (cleansed on destruction, also when an exception unwinds the frame) and
// never in a std::string, whose copies nobody cleans up.
#pragma once

#include "core/pure.hpp"

#include <openssl/crypto.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keel::core {

using Bytes = std::vector<uint8_t>;

// A read-only view of bytes (C++17 has no std::span).
struct ByteSpan {
    const uint8_t* data = nullptr;
    size_t size = 0;

    ByteSpan() = default;
    ByteSpan(const uint8_t* d, size_t n) : data(d), size(n) {}
    ByteSpan(const Bytes& b) : data(b.data()), size(b.size()) {}  // NOLINT: implicit by design
    static ByteSpan Of(std::string_view s) {
        return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    }
};

constexpr size_t kKeyBytes = 32;  // every keel key (master, encrypt, hmac) is 256 bits

// A 256-bit key.  Copies are independent and each is cleansed when destroyed.
struct Key256 {
    uint8_t bytes[kKeyBytes] = {};

    Key256() = default;
    Key256(const Key256& other) { *this = other; }
    Key256& operator=(const Key256& other) {
        for (size_t i = 0; i < kKeyBytes; i++)
            bytes[i] = other.bytes[i];
        return *this;
    }
    ~Key256() { OPENSSL_cleanse(bytes, sizeof bytes); }
    void Cleanse() { OPENSSL_cleanse(bytes, sizeof bytes); }
};

// A byte buffer that is cleansed when destroyed (for plaintext of keys and values).
class SecretBytes {
  public:
    SecretBytes() = default;
    explicit SecretBytes(size_t n) : bytes_(n) {}
    SecretBytes(const SecretBytes&) = delete;
    SecretBytes& operator=(const SecretBytes&) = delete;
    SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {}
    SecretBytes& operator=(SecretBytes&& other) noexcept {
        if (this != &other) {
            if (!bytes_.empty())
                OPENSSL_cleanse(bytes_.data(), bytes_.size());
            bytes_ = std::move(other.bytes_);
        }
        return *this;
    }
    ~SecretBytes() {
        if (!bytes_.empty())
            OPENSSL_cleanse(bytes_.data(), bytes_.size());
    }
    uint8_t* data() { return bytes_.data(); }
    const uint8_t* data() const { return bytes_.data(); }
    size_t size() const { return bytes_.size(); }
    void resize(size_t n);  // cleanses what it drops
    ByteSpan span() const { return ByteSpan(bytes_.data(), bytes_.size()); }

  private:
    Bytes bytes_;
};

// Fills buf from OpenSSL's CSPRNG; throws kInternal if the generator fails.
void RandomBytes(uint8_t* buf, size_t n);

// Constant-time equality of two equal-length buffers (false when the lengths differ).
bool SecretEquals(ByteSpan a, ByteSpan b);

// Lower-case hexadecimal of bytes.
std::string ToHex(ByteSpan b);

}  // namespace keel::core
