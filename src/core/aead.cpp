#include "core/aead.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>

#include <climits>

#include "core/status.hpp"

namespace keel::core {

namespace {

[[noreturn]] void OpenSslFailed(const char* what) {
    Throw(ErrorKind::kInternal, std::string("OpenSSL AES-256-GCM failed: ") + what);
}

void CheckLength(size_t n) {
    if (n > static_cast<size_t>(INT_MAX)) {
        Throw(ErrorKind::kProgramLimit, "value too large to encrypt",
              "AES-256-GCM input is limited to 2 GB.");
    }
}

}  // namespace

Aes256Gcm::Aes256Gcm() {
    // An explicit fetch: OpenSSL 3 then skips the provider lookup on every init.
    cipher_ = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    ctx_ = EVP_CIPHER_CTX_new();
    if (cipher_ == nullptr || ctx_ == nullptr) {
        EVP_CIPHER_free(cipher_);
        EVP_CIPHER_CTX_free(ctx_);
        OpenSslFailed("cipher unavailable");
    }
    // Bind the cipher once; each operation then only sets key and nonce.
    if (EVP_EncryptInit_ex(ctx_, cipher_, nullptr, nullptr, nullptr) != 1) {
        EVP_CIPHER_free(cipher_);
        EVP_CIPHER_CTX_free(ctx_);
        OpenSslFailed("init");
    }
}

Aes256Gcm::~Aes256Gcm() {
    EVP_CIPHER_CTX_free(ctx_);  // cleanses the key schedule
    EVP_CIPHER_free(cipher_);
    OPENSSL_cleanse(key_, sizeof key_);
}

void Aes256Gcm::Init(bool encrypt, const Key256& key, const uint8_t* nonce) {
    bool same = keyed_ && CRYPTO_memcmp(key_, key.bytes, kKeyBytes) == 0;
    const uint8_t* k = same ? nullptr : key.bytes;
    if (!same) {
        keyed_ = false;  // until the new key is scheduled
    }
    int rc = encrypt ? EVP_EncryptInit_ex(ctx_, nullptr, nullptr, k, nonce)
                     : EVP_DecryptInit_ex(ctx_, nullptr, nullptr, k, nonce);
    if (rc != 1)
        OpenSslFailed("init");
    if (!same) {
        std::memcpy(key_, key.bytes, kKeyBytes);
        keyed_ = true;
    }
}

void Aes256Gcm::Seal(const Key256& key, const uint8_t* nonce, ByteSpan aad, ByteSpan pt,
                     uint8_t* out, uint8_t* tag) {
    CheckLength(pt.size);
    CheckLength(aad.size);
    int len = 0;
    Init(true, key, nonce);
    if (aad.size > 0 &&
        EVP_EncryptUpdate(ctx_, nullptr, &len, aad.data, static_cast<int>(aad.size)) != 1) {
        OpenSslFailed("aad");
    }
    if (pt.size > 0 &&
        EVP_EncryptUpdate(ctx_, out, &len, pt.data, static_cast<int>(pt.size)) != 1) {
        OpenSslFailed("update");
    }
    if (EVP_EncryptFinal_ex(ctx_, out + pt.size, &len) != 1)
        OpenSslFailed("final");
    if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagBytes), tag) != 1) {
        OpenSslFailed("tag");
    }
}

bool Aes256Gcm::Open(const Key256& key, const uint8_t* nonce, ByteSpan aad, ByteSpan ct,
                     const uint8_t* tag, uint8_t* out) {
    CheckLength(ct.size);
    CheckLength(aad.size);
    int len = 0;
    Init(false, key, nonce);
    if (aad.size > 0 &&
        EVP_DecryptUpdate(ctx_, nullptr, &len, aad.data, static_cast<int>(aad.size)) != 1) {
        OpenSslFailed("aad");
    }
    if (ct.size > 0 &&
        EVP_DecryptUpdate(ctx_, out, &len, ct.data, static_cast<int>(ct.size)) != 1) {
        OpenSslFailed("update");
    }
    if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagBytes),
                            const_cast<uint8_t*>(tag)) != 1) {
        OpenSslFailed("tag");
    }
    if (EVP_DecryptFinal_ex(ctx_, out + ct.size, &len) != 1) {
        if (ct.size > 0)
            OPENSSL_cleanse(out, ct.size);
        return false;
    }
    return true;
}

}  // namespace keel::core
