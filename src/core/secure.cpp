#include "core/secure.hpp"

#include <openssl/rand.h>

#include "core/status.hpp"

namespace keel::core {

void SecretBytes::resize(size_t n) {
    if (n < bytes_.size())
        OPENSSL_cleanse(bytes_.data() + n, bytes_.size() - n);
    if (n > bytes_.capacity()) {
        // Growing reallocates: move through a cleansed copy so no stale copy remains.
        Bytes grown(n);
        for (size_t i = 0; i < bytes_.size(); i++)
            grown[i] = bytes_[i];
        if (!bytes_.empty())
            OPENSSL_cleanse(bytes_.data(), bytes_.size());
        bytes_.swap(grown);
        return;
    }
    bytes_.resize(n);
}

void RandomBytes(uint8_t* buf, size_t n) {
    if (n == 0)
        return;
    if (RAND_bytes(buf, static_cast<int>(n)) != 1) {
        Throw(ErrorKind::kInternal, "could not generate random bytes",
              "OpenSSL's random number generator failed.");
    }
}

bool SecretEquals(ByteSpan a, ByteSpan b) {
    if (a.size != b.size)
        return false;
    if (a.size == 0)
        return true;
    return CRYPTO_memcmp(a.data, b.data, a.size) == 0;
}

std::string ToHex(ByteSpan b) {
    static const char kDigits[] = "0123456789abcdef";
    std::string out;
    out.resize(b.size * 2);
    for (size_t i = 0; i < b.size; i++) {
        out[2 * i] = kDigits[b.data[i] >> 4];
        out[2 * i + 1] = kDigits[b.data[i] & 0xf];
    }
    return out;
}

}  // namespace keel::core
