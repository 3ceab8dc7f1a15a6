// The tamper-evident audit chain, pure part: the canonical row encoding, the link
// hash, the HMAC signature and the signed external digest.  No PostgreSQL here; the
// bridge turns a heap tuple into Fields and calls these.  Every byte format is
// documented in docs/audit_chain.md (and fixed: changing one is a new version).
#pragma once

#include "core/pure.hpp"
#include "core/status.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_mac_ctx_st EVP_MAC_CTX;
typedef struct evp_md_st EVP_MD;

namespace keel::core::chain {

constexpr size_t kHashBytes = 32;  // SHA-256 / HMAC-SHA-256
constexpr size_t kSaltBytes = 16;  // per-chain random identity
constexpr uint8_t kRowEncodingVersion = 1;

struct Hash {
    uint8_t bytes[kHashBytes] = {};
    bool operator==(const Hash& o) const;
    bool operator!=(const Hash& o) const { return !(*this == o); }
};

// ---------------------------------------------------------------- canonical rows
//
// A row is the set of its non-NULL columns, sorted by column name (bytewise), each
// with the name of its (base) type, a form and the value's bytes.  Omitting NULLs
// keeps old rows valid when a nullable column is added; sorting by name makes the
// encoding independent of attribute numbers, so it is the same in every partition
// and after a dump/restore.
enum class Form : uint8_t {
    kBinary = 'b',  // the type's binary send format (session settings do not matter)
    kText = 't',    // text in the server encoding (output function or raw varlena text)
    kArray = 'a',   // keel's own array encoding, see EncodeArray
};

struct Field {
    std::string_view name;
    std::string_view type_name;
    Form form = Form::kBinary;
    std::string_view value;
};

// Appends the canonical encoding of the fields (any order in; sorted inside) to out.
// Two fields with the same name are a bug in the caller (kInternal).
void EncodeRow(std::vector<Field>& fields, std::string* out);

// The same encoding, for a caller that knows its columns once and rows many times
// (the trigger and the verifier): each column's constant part (name, type name, form)
// is made once by WriteFieldPrefix, the columns are sorted once by SortFieldNames' order,
// and EncodeSortedRow writes a row without sorting or per-field bookkeeping.  The bytes
// are identical to EncodeRow's (test_audit_chain.cpp checks it).
//   prefix = u16 len | name | u16 len | type name | u8 form
// (No allocation, no exception: the bridge calls these while building a column plan.)
size_t FieldPrefixSize(std::string_view name, std::string_view type_name) noexcept;
void WriteFieldPrefix(std::string_view name, std::string_view type_name, Form form,
                      char* out) noexcept;
// The order EncodeRow sorts by (bytewise on the name); true when a sorts before b.
inline bool FieldNameLess(std::string_view a, std::string_view b) {
    return a < b;
}
struct SortedField {
    std::string_view prefix;  // WriteFieldPrefix of the column
    std::string_view value;
};
// Replaces out's contents with the canonical row of fields[0..n), which must be sorted
// by name (FieldNameLess) with no name twice: the caller's invariant, not checked.
void EncodeSortedRow(const SortedField* fields, size_t n, std::string* out);

struct ArrayElement {
    bool is_null = false;
    std::string_view value;
};
// Array value: ndim, (lower bound, length) per dimension, element form, elements.
void EncodeArray(const std::vector<int>& lbounds, const std::vector<int>& lengths,
                 Form element_form, const std::vector<ArrayElement>& elements, std::string* out);

// ---------------------------------------------------------------- hashing
class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    Hash Of(const void* data, size_t len);

  private:
    EVP_MD_CTX* ctx_;
    EVP_MD* md_;
};

class HmacSha256 {
  public:
    HmacSha256(const uint8_t* key, size_t key_len);
    ~HmacSha256();
    HmacSha256(const HmacSha256&) = delete;
    HmacSha256& operator=(const HmacSha256&) = delete;
    Hash Of(const void* data, size_t len);

  private:
    EVP_MAC_CTX* ctx_;
};

// link_hash(pos) = SHA-256("keel-link-v1" || salt || be32 sub || be64 pos || prev || row_digest)
Hash LinkHash(Sha256& sha, const uint8_t salt[kSaltBytes], uint32_t sub, uint64_t pos,
              const Hash& prev, const Hash& row_digest);
// The hash before position 1 of every sub-chain: 32 zero bytes.
Hash GenesisHash();

// ---------------------------------------------------------------- multiset fingerprints
//
// The verifier's parallel pass proves that the table's rows and the chain's links carry
// the same multiset of items (row digest, previous link, signature) without pairing
// them one by one.  Each side multiplies (z - <a, x>) over its items x, modulo the
// prime p = 2^61 - 1, where x is cut into 7-byte chunks, <a, x> is their inner product
// with the coefficients a, and z and a are drawn at random for that one verification
// and never shown.  Two such products are kept, each under its own z and a.  For two
// different multisets of at most n items the products differ as polynomials in z and
// a (distinct items give distinct linear factors), so by the Schwartz-Zippel lemma one
// product agrees with probability at most n / p, and both with at most (n / p)^2:
// about 2^-82 for a million rows.  Nobody can aim for a collision without the key.
// Plain data: fingerprints live in shared memory and are merged across processes.
constexpr size_t kMultisetMaxItem = 3 * kHashBytes;
constexpr size_t kMultisetChunks = (kMultisetMaxItem + 6) / 7;
constexpr int kMultisetInstances = 2;
constexpr uint64_t kMultisetPrime = (uint64_t{1} << 61) - 1;
// Random bytes a key is made from (8 per coefficient and per z).
constexpr size_t kMultisetKeySeedBytes = 8 * kMultisetInstances * (kMultisetChunks + 1);

struct MultisetKey {
    uint64_t a[kMultisetInstances][kMultisetChunks];
    uint64_t z[kMultisetInstances];
    // Each value reduced modulo the prime (the bias is below 2^-58).
    static MultisetKey FromSeed(const uint8_t seed[kMultisetKeySeedBytes]);
};

struct MultisetSum {
    uint64_t prod[kMultisetInstances] = {1, 1};

    // Adds one item (at most kMultisetMaxItem bytes; longer is a bug: kInternal).  All
    // items of one comparison must have the same length.
    void Add(const MultisetKey& key, const void* item, size_t len);
    void Merge(const MultisetSum& other);
    bool operator==(const MultisetSum& o) const;
    bool operator!=(const MultisetSum& o) const { return !(*this == o); }
};

// ---------------------------------------------------------------- hex
std::string HexOf(const uint8_t* data, size_t len);
inline std::string HexOf(const Hash& h) {
    return HexOf(h.bytes, kHashBytes);
}
// Lower- or upper-case; false on a bad character or an odd length.
bool ParseHex(std::string_view text, std::string* out);
bool ParseHash(std::string_view hex, Hash* out);

// ---------------------------------------------------------------- external digest
struct DigestHead {
    uint32_t sub = 0;
    uint64_t pos = 0;  // 0: empty sub-chain (head is the genesis or the checkpoint hash)
    Hash hash;
};

struct Digest {
    uint64_t system_identifier = 0;
    uint32_t database_oid = 0;
    uint8_t incarnation[16] = {};
    uint8_t chain_salt[kSaltBytes] = {};
    std::string table_name;  // as regclass printed it, informational
    int64_t made_at_unix_us = 0;
    uint32_t key_id = 0;
    uint32_t key_version = 0;
    std::vector<DigestHead> heads;
    Hash mac;  // HMAC-SHA-256 over Body()
};

constexpr std::string_view kDigestPrefix = "keel-digest-v1:";

// The bytes the digest's HMAC covers (documented in docs/audit_chain.md).
std::string DigestBody(const Digest& d);
// kDigestPrefix + hex(body || mac).
std::string DigestText(const Digest& d);
// Parses DigestText; kInvalidText on any malformed input.  Does not check the mac.
Result<Digest> ParseDigest(std::string_view text);

}  // namespace keel::core::chain
