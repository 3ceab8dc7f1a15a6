#include "core/audit_chain.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>

namespace keel::core::chain {
namespace {

void PutU8(std::string* out, uint8_t v) {
    out->push_back(static_cast<char>(v));
}
void PutU16(std::string* out, uint16_t v) {
    PutU8(out, static_cast<uint8_t>(v >> 8));
    PutU8(out, static_cast<uint8_t>(v));
}
void PutU32(std::string* out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8)
        PutU8(out, static_cast<uint8_t>(v >> s));
}
void PutU64(std::string* out, uint64_t v) {
    for (int s = 56; s >= 0; s -= 8)
        PutU8(out, static_cast<uint8_t>(v >> s));
}
void PutBytes(std::string* out, const void* p, size_t n) {
    out->append(static_cast<const char*>(p), n);
}

[[noreturn]] void Fail(const char* what) {
    Throw(ErrorKind::kInternal, std::string("audit chain crypto failure: ") + what);
}

class Reader {
  public:
    explicit Reader(std::string_view b) : b_(b) {}
    bool U8(uint8_t* v) {
        if (b_.size() - pos_ < 1)
            return false;
        *v = static_cast<uint8_t>(b_[pos_++]);
        return true;
    }
    bool U16(uint16_t* v) {
        uint64_t x;
        if (!Big(2, &x))
            return false;
        *v = static_cast<uint16_t>(x);
        return true;
    }
    bool U32(uint32_t* v) {
        uint64_t x;
        if (!Big(4, &x))
            return false;
        *v = static_cast<uint32_t>(x);
        return true;
    }
    bool U64(uint64_t* v) { return Big(8, v); }
    bool Bytes(void* dst, size_t n) {
        if (b_.size() - pos_ < n)
            return false;
        memcpy(dst, b_.data() + pos_, n);
        pos_ += n;
        return true;
    }
    bool Str(size_t n, std::string* s) {
        if (b_.size() - pos_ < n)
            return false;
        s->assign(b_.data() + pos_, n);
        pos_ += n;
        return true;
    }
    size_t left() const { return b_.size() - pos_; }

  private:
    bool Big(int n, uint64_t* v) {
        if (b_.size() - pos_ < static_cast<size_t>(n))
            return false;
        uint64_t x = 0;
        for (int i = 0; i < n; i++)
            x = (x << 8) | static_cast<uint8_t>(b_[pos_++]);
        *v = x;
        return true;
    }
    std::string_view b_;
    size_t pos_ = 0;
};

constexpr char kDigestMagic[8] = {'k', 'e', 'e', 'l', '-', 'd', 'g', '1'};
constexpr size_t kMaxDigestHeads = 1024;
constexpr size_t kMaxTableName = 1024;

}  // namespace

bool Hash::operator==(const Hash& o) const {
    return memcmp(bytes, o.bytes, kHashBytes) == 0;
}

// ---------------------------------------------------------------- canonical rows

void EncodeRow(std::vector<Field>& fields, std::string* out) {
    std::sort(fields.begin(), fields.end(),
              [](const Field& a, const Field& b) { return a.name < b.name; });
    for (size_t i = 1; i < fields.size(); i++) {
        if (fields[i].name == fields[i - 1].name) {
            Throw(ErrorKind::kInternal,
                  "canonical row has two columns named \"" + std::string(fields[i].name) + "\"");
        }
    }
    PutU8(out, 'R');
    PutU8(out, kRowEncodingVersion);
    PutU32(out, static_cast<uint32_t>(fields.size()));
    for (const Field& f : fields) {
        PutU16(out, static_cast<uint16_t>(f.name.size()));
        PutBytes(out, f.name.data(), f.name.size());
        PutU16(out, static_cast<uint16_t>(f.type_name.size()));
        PutBytes(out, f.type_name.data(), f.type_name.size());
        PutU8(out, static_cast<uint8_t>(f.form));
        PutU32(out, static_cast<uint32_t>(f.value.size()));
        PutBytes(out, f.value.data(), f.value.size());
    }
}

size_t FieldPrefixSize(std::string_view name, std::string_view type_name) noexcept {
    return 2 + name.size() + 2 + type_name.size() + 1;
}

void WriteFieldPrefix(std::string_view name, std::string_view type_name, Form form,
                      char* out) noexcept {
    auto put16 = [&out](size_t v) {
        out[0] = static_cast<char>(static_cast<uint8_t>(v >> 8));
        out[1] = static_cast<char>(static_cast<uint8_t>(v));
        out += 2;
    };
    put16(name.size());
    memcpy(out, name.data(), name.size());
    out += name.size();
    put16(type_name.size());
    memcpy(out, type_name.data(), type_name.size());
    out += type_name.size();
    *out = static_cast<char>(form);
}

void EncodeSortedRow(const SortedField* fields, size_t n, std::string* out) {
    size_t total = 2 + 4;
    for (size_t i = 0; i < n; i++)
        total += fields[i].prefix.size() + 4 + fields[i].value.size();
    out->resize(total);
    auto* p = reinterpret_cast<uint8_t*>(&(*out)[0]);
    auto put32 = [&p](uint32_t v) {
        p[0] = static_cast<uint8_t>(v >> 24);
        p[1] = static_cast<uint8_t>(v >> 16);
        p[2] = static_cast<uint8_t>(v >> 8);
        p[3] = static_cast<uint8_t>(v);
        p += 4;
    };
    *p++ = 'R';
    *p++ = kRowEncodingVersion;
    put32(static_cast<uint32_t>(n));
    for (size_t i = 0; i < n; i++) {
        const SortedField& f = fields[i];
        memcpy(p, f.prefix.data(), f.prefix.size());
        p += f.prefix.size();
        put32(static_cast<uint32_t>(f.value.size()));
        if (!f.value.empty())
            memcpy(p, f.value.data(), f.value.size());
        p += f.value.size();
    }
}

void EncodeArray(const std::vector<int>& lbounds, const std::vector<int>& lengths,
                 Form element_form, const std::vector<ArrayElement>& elements, std::string* out) {
    PutU32(out, static_cast<uint32_t>(lengths.size()));
    for (size_t d = 0; d < lengths.size(); d++) {
        PutU32(out, static_cast<uint32_t>(lbounds[d]));
        PutU32(out, static_cast<uint32_t>(lengths[d]));
    }
    PutU8(out, static_cast<uint8_t>(element_form));
    for (const ArrayElement& e : elements) {
        if (e.is_null) {
            PutU8(out, 0);
            continue;
        }
        PutU8(out, 1);
        PutU32(out, static_cast<uint32_t>(e.value.size()));
        PutBytes(out, e.value.data(), e.value.size());
    }
}

// ---------------------------------------------------------------- hashing

// The digest is fetched once: OpenSSL 3 would otherwise look it up (under a lock) on
// every EVP_DigestInit_ex.
Sha256::Sha256() : ctx_(EVP_MD_CTX_new()), md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)) {
    if (ctx_ == nullptr || md_ == nullptr) {
        EVP_MD_CTX_free(ctx_);
        EVP_MD_free(md_);
        Fail("no SHA-256 implementation");
    }
}
Sha256::~Sha256() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
}

Hash Sha256::Of(const void* data, size_t len) {
    Hash h;
    unsigned int n = 0;
    if (EVP_DigestInit_ex2(ctx_, md_, nullptr) != 1 || EVP_DigestUpdate(ctx_, data, len) != 1 ||
        EVP_DigestFinal_ex(ctx_, h.bytes, &n) != 1 || n != kHashBytes) {
        Fail("sha-256");
    }
    return h;
}

HmacSha256::HmacSha256(const uint8_t* key, size_t key_len) : ctx_(nullptr) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr)
        Fail("no HMAC implementation");
    ctx_ = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context keeps its own reference
    if (ctx_ == nullptr)
        throw std::bad_alloc();
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(ctx_, key, key_len, params) != 1) {
        EVP_MAC_CTX_free(ctx_);
        Fail("hmac init");
    }
}
HmacSha256::~HmacSha256() {
    EVP_MAC_CTX_free(ctx_);
}

Hash HmacSha256::Of(const void* data, size_t len) {
    Hash h;
    size_t n = 0;
    // A NULL key re-initialises with the key given at construction.
    if (EVP_MAC_init(ctx_, nullptr, 0, nullptr) != 1 ||
        EVP_MAC_update(ctx_, static_cast<const unsigned char*>(data), len) != 1 ||
        EVP_MAC_final(ctx_, h.bytes, &n, kHashBytes) != 1 || n != kHashBytes) {
        Fail("hmac");
    }
    return h;
}

// ---------------------------------------------------------------- multiset fingerprints

namespace {
// x mod 2^61 - 1 for any 128-bit x: 2^61 is 1 modulo the prime, so the 61-bit digits
// of x add up to x.
uint64_t ReduceMersenne61(unsigned __int128 x) {
    uint64_t lo = static_cast<uint64_t>(x) & kMultisetPrime;
    uint64_t mid = static_cast<uint64_t>(x >> 61) & kMultisetPrime;
    uint64_t hi = static_cast<uint64_t>(x >> 122);
    uint64_t s = lo + mid + hi;  // < 3 * 2^61: no overflow
    s = (s & kMultisetPrime) + (s >> 61);
    return s >= kMultisetPrime ? s - kMultisetPrime : s;
}
uint64_t MulMod(uint64_t a, uint64_t b) {
    return ReduceMersenne61(static_cast<unsigned __int128>(a) * b);
}
}  // namespace

MultisetKey MultisetKey::FromSeed(const uint8_t seed[kMultisetKeySeedBytes]) {
    MultisetKey k;
    size_t o = 0;
    auto next = [&] {
        uint64_t v;
        memcpy(&v, seed + o, 8);
        o += 8;
        return ReduceMersenne61(v);
    };
    for (int r = 0; r < kMultisetInstances; r++) {
        for (size_t j = 0; j < kMultisetChunks; j++)
            k.a[r][j] = next();
        k.z[r] = next();
    }
    return k;
}

void MultisetSum::Add(const MultisetKey& key, const void* item, size_t len) {
    if (len > kMultisetMaxItem)
        Throw(ErrorKind::kInternal, "multiset item of " + std::to_string(len) + " bytes");
    // 7-byte chunks, little-endian: each below 2^56, so below the prime, and distinct
    // items of one length give distinct chunk vectors.  Read as 8-byte loads from a
    // zero-padded copy.
    uint8_t padded[7 * kMultisetChunks + 1] = {};
    memcpy(padded, item, len);
    uint64_t chunk[kMultisetChunks];
    size_t n = (len + 6) / 7;
    for (size_t j = 0; j < n; j++) {
        uint64_t v;
        memcpy(&v, padded + 7 * j, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        chunk[j] = v & ((uint64_t{1} << 56) - 1);
    }
    for (int r = 0; r < kMultisetInstances; r++) {
        // 14 products below 2^117 each: their sum fits in 128 bits.
        unsigned __int128 acc = 0;
        for (size_t j = 0; j < n; j++)
            acc += static_cast<unsigned __int128>(key.a[r][j]) * chunk[j];
        uint64_t v = ReduceMersenne61(acc);
        uint64_t factor = key.z[r] >= v ? key.z[r] - v : key.z[r] + kMultisetPrime - v;
        prod[r] = MulMod(prod[r], factor);
    }
}

void MultisetSum::Merge(const MultisetSum& other) {
    for (int r = 0; r < kMultisetInstances; r++)
        prod[r] = MulMod(prod[r], other.prod[r]);
}

bool MultisetSum::operator==(const MultisetSum& o) const {
    return memcmp(prod, o.prod, sizeof prod) == 0;
}

Hash LinkHash(Sha256& sha, const uint8_t salt[kSaltBytes], uint32_t sub, uint64_t pos,
              const Hash& prev, const Hash& row_digest) {
    static constexpr char kDomain[] = "keel-link-v1";
    uint8_t buf[sizeof(kDomain) - 1 + kSaltBytes + 4 + 8 + 2 * kHashBytes];
    size_t o = 0;
    memcpy(buf + o, kDomain, sizeof(kDomain) - 1);
    o += sizeof(kDomain) - 1;
    memcpy(buf + o, salt, kSaltBytes);
    o += kSaltBytes;
    for (int s = 24; s >= 0; s -= 8)
        buf[o++] = static_cast<uint8_t>(sub >> s);
    for (int s = 56; s >= 0; s -= 8)
        buf[o++] = static_cast<uint8_t>(pos >> s);
    memcpy(buf + o, prev.bytes, kHashBytes);
    o += kHashBytes;
    memcpy(buf + o, row_digest.bytes, kHashBytes);
    o += kHashBytes;
    return sha.Of(buf, o);
}

Hash GenesisHash() {
    return Hash{};
}

// ---------------------------------------------------------------- hex

std::string HexOf(const uint8_t* data, size_t len) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s(len * 2, '0');
    for (size_t i = 0; i < len; i++) {
        s[2 * i] = kDigits[data[i] >> 4];
        s[2 * i + 1] = kDigits[data[i] & 15];
    }
    return s;
}

namespace {
// -1 for a byte that is not a hexadecimal digit.
struct HexTable {
    int8_t v[256];
    constexpr HexTable() : v() {
        for (int i = 0; i < 256; i++)
            v[i] = -1;
        for (int i = 0; i < 10; i++)
            v['0' + i] = static_cast<int8_t>(i);
        for (int i = 0; i < 6; i++) {
            v['a' + i] = static_cast<int8_t>(10 + i);
            v['A' + i] = static_cast<int8_t>(10 + i);
        }
    }
};
constexpr HexTable kHex;
inline int HexValue(char c) {
    return kHex.v[static_cast<uint8_t>(c)];
}
}  // namespace

bool ParseHex(std::string_view text, std::string* out) {
    if (text.size() % 2 != 0)
        return false;
    out->clear();
    out->reserve(text.size() / 2);
    for (size_t i = 0; i < text.size(); i += 2) {
        int hi = HexValue(text[i]), lo = HexValue(text[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out->push_back(static_cast<char>((hi << 4) | lo));
    }
    return true;
}

bool ParseHash(std::string_view hex, Hash* out) {
    if (hex.size() != 2 * kHashBytes)
        return false;
    int bad = 0;
    for (size_t i = 0; i < kHashBytes; i++) {
        int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
        bad |= hi | lo;
        out->bytes[i] = static_cast<uint8_t>((hi << 4) | (lo & 15));
    }
    return bad >= 0;
}

// ---------------------------------------------------------------- external digest

std::string DigestBody(const Digest& d) {
    std::string b;
    PutBytes(&b, kDigestMagic, sizeof kDigestMagic);
    PutU64(&b, d.system_identifier);
    PutU32(&b, d.database_oid);
    PutBytes(&b, d.incarnation, sizeof d.incarnation);
    PutBytes(&b, d.chain_salt, sizeof d.chain_salt);
    PutU16(&b, static_cast<uint16_t>(std::min(d.table_name.size(), kMaxTableName)));
    PutBytes(&b, d.table_name.data(), std::min(d.table_name.size(), kMaxTableName));
    PutU64(&b, static_cast<uint64_t>(d.made_at_unix_us));
    PutU32(&b, d.key_id);
    PutU32(&b, d.key_version);
    PutU32(&b, static_cast<uint32_t>(d.heads.size()));
    for (const DigestHead& h : d.heads) {
        PutU32(&b, h.sub);
        PutU64(&b, h.pos);
        PutBytes(&b, h.hash.bytes, kHashBytes);
    }
    return b;
}

std::string DigestText(const Digest& d) {
    std::string body = DigestBody(d);
    PutBytes(&body, d.mac.bytes, kHashBytes);
    return std::string(kDigestPrefix) +
           HexOf(reinterpret_cast<const uint8_t*>(body.data()), body.size());
}

Result<Digest> ParseDigest(std::string_view text) {
    auto bad = [](const std::string& why) {
        return MakeError(ErrorKind::kInvalidText, "invalid audit chain digest",
                         "The digest " + why + ".",
                         "Pass the text keel.audit_chain_digest() returned, unchanged.");
    };
    if (text.substr(0, kDigestPrefix.size()) != kDigestPrefix) {
        return bad("does not start with \"keel-digest-v1:\"");
    }
    std::string raw;
    if (!ParseHex(text.substr(kDigestPrefix.size()), &raw)) {
        return bad("is not hexadecimal after its prefix");
    }
    Reader r(raw);
    Digest d;
    char magic[sizeof kDigestMagic];
    uint16_t name_len = 0;
    uint64_t made = 0;
    uint32_t nheads = 0;
    if (!r.Bytes(magic, sizeof magic) || memcmp(magic, kDigestMagic, sizeof magic) != 0) {
        return bad("has a wrong magic number");
    }
    if (!r.U64(&d.system_identifier) || !r.U32(&d.database_oid) ||
        !r.Bytes(d.incarnation, sizeof d.incarnation) ||
        !r.Bytes(d.chain_salt, sizeof d.chain_salt) || !r.U16(&name_len)) {
        return bad("is truncated");
    }
    if (name_len > kMaxTableName)
        return bad("names a table longer than 1024 bytes");
    if (!r.Str(name_len, &d.table_name) || !r.U64(&made) || !r.U32(&d.key_id) ||
        !r.U32(&d.key_version) || !r.U32(&nheads)) {
        return bad("is truncated");
    }
    d.made_at_unix_us = static_cast<int64_t>(made);
    if (nheads == 0 || nheads > kMaxDigestHeads)
        return bad("has no or too many chain heads");
    if (r.left() != static_cast<size_t>(nheads) * (4 + 8 + kHashBytes) + kHashBytes) {
        return bad("has the wrong length");
    }
    d.heads.resize(nheads);
    for (uint32_t i = 0; i < nheads; i++) {
        DigestHead& h = d.heads[i];
        r.U32(&h.sub);
        r.U64(&h.pos);
        r.Bytes(h.hash.bytes, kHashBytes);
        if (h.sub != i)
            return bad("lists its sub-chains out of order");
    }
    r.Bytes(d.mac.bytes, kHashBytes);
    return d;
}

}  // namespace keel::core::chain
