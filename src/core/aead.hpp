// AES-256-GCM through OpenSSL EVP, with a context that is reused call after call.
// One Aes256Gcm per backend is enough: every operation sets a fresh nonce (and the key
// when it changed), so nothing but the key schedule carries over from an earlier
// (possibly aborted) call.
#pragma once

#include "core/pure.hpp"
#include "core/secure.hpp"

typedef struct evp_cipher_st EVP_CIPHER;
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace keel::core {

constexpr size_t kGcmNonceBytes = 12;  // 96-bit nonce, the GCM fast path
constexpr size_t kGcmTagBytes = 16;    // 128-bit tag

class Aes256Gcm {
  public:
    Aes256Gcm();  // throws kInternal when OpenSSL has no AES-256-GCM
    ~Aes256Gcm();
    Aes256Gcm(const Aes256Gcm&) = delete;
    Aes256Gcm& operator=(const Aes256Gcm&) = delete;

    // Encrypts pt into out (pt.size bytes) and writes the 16-byte tag.  Throws
    // kInternal only if OpenSSL itself fails.
    void Seal(const Key256& key, const uint8_t* nonce, ByteSpan aad, ByteSpan pt, uint8_t* out,
              uint8_t* tag);

    // Decrypts ct into out (ct.size bytes).  False when the tag does not verify (out
    // is then cleansed); throws kInternal only if OpenSSL itself fails.
    bool Open(const Key256& key, const uint8_t* nonce, ByteSpan aad, ByteSpan ct,
              const uint8_t* tag, uint8_t* out);

  private:
    // Sets the nonce, and the key only when it differs from the one already scheduled
    // (expanding an AES key and its GHASH table on every call cost more than the cipher).
    void Init(bool encrypt, const Key256& key, const uint8_t* nonce);

    EVP_CIPHER* cipher_ = nullptr;
    EVP_CIPHER_CTX* ctx_ = nullptr;
    bool keyed_ = false;
    uint8_t key_[kKeyBytes] = {};  // the scheduled key (cleansed by the destructor)
};

}  // namespace keel::core
