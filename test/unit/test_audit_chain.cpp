#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/audit_chain.hpp"

namespace chain = keel::core::chain;
using chain::Field;
using chain::Form;

namespace {
std::string Encode(std::vector<Field> f) {
    std::string out;
    chain::EncodeRow(f, &out);
    return out;
}
std::string HexOfString(const std::string& s) {
    return chain::HexOf(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
}  // namespace

TEST(AuditChain, RowEncodingIsSortedByNameAndIndependentOfInputOrder) {
    std::string a = Encode({{"b", "int4", Form::kBinary, std::string_view("\0\0\0\1", 4)},
                            {"a", "text", Form::kText, "x"}});
    std::string b = Encode({{"a", "text", Form::kText, "x"},
                            {"b", "int4", Form::kBinary, std::string_view("\0\0\0\1", 4)}});
    EXPECT_EQ(a, b);
    // Known answer: 'R', version 1, 2 fields, then a (text "x"), then b (int4 1).
    EXPECT_EQ(HexOfString(a),
              "5201"
              "00000002"
              "0001"
              "61"
              "0004"
              "74657874"
              "74"
              "00000001"
              "78"
              "0001"
              "62"
              "0004"
              "696e7434"
              "62"
              "00000004"
              "00000001");
}

TEST(AuditChain, RowEncodingSeparatesNamesTypesAndValues) {
    // Moving bytes between name and value must change the encoding.
    EXPECT_NE(Encode({{"ab", "text", Form::kText, "c"}}),
              Encode({{"a", "text", Form::kText, "bc"}}));
    EXPECT_NE(Encode({{"a", "text", Form::kText, "1"}}), Encode({{"a", "int4", Form::kText, "1"}}));
    EXPECT_NE(Encode({{"a", "text", Form::kText, "1"}}),
              Encode({{"a", "text", Form::kBinary, "1"}}));
    EXPECT_NE(Encode({}), Encode({{"a", "text", Form::kText, ""}}));
}

TEST(AuditChain, SortedRowEncoderMatchesEncodeRow) {
    // Random rows: names with bytes >= 0x80 (bytewise order), empty values, NULLs left out.
    uint32_t seed = 12345;
    auto next = [&seed]() {
        seed = seed * 1103515245u + 12345u;
        return seed >> 8;
    };
    const Form forms[] = {Form::kBinary, Form::kText, Form::kArray};
    for (int round = 0; round < 200; round++) {
        size_t ncols = next() % 12;
        std::vector<std::string> names, types, values;
        for (size_t i = 0; i < ncols; i++) {
            std::string name = "c" + std::to_string(i);
            if (next() % 3 == 0)
                name.push_back(static_cast<char>(0x80 + next() % 100));
            if (next() % 4 == 0)
                name.insert(0, "A");
            names.push_back(name);
            types.push_back(next() % 2 ? "int4" : "jsonb");
            values.push_back(std::string(next() % 300, static_cast<char>(next())));
        }
        std::vector<Field> fields;
        std::vector<std::pair<std::string, std::string>> sorted;  // name, prefix
        std::vector<size_t> order;
        for (size_t i = 0; i < ncols; i++) {
            if (next() % 5 == 0)
                continue;  // a NULL
            Form form = forms[next() % 3];
            fields.push_back(Field{names[i], types[i], form, values[i]});
            order.push_back(fields.size() - 1);
        }
        std::vector<std::string> prefixes;
        for (const Field& f : fields) {
            std::string p(chain::FieldPrefixSize(f.name, f.type_name), '\0');
            chain::WriteFieldPrefix(f.name, f.type_name, f.form, &p[0]);
            prefixes.push_back(p);
        }
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
            return chain::FieldNameLess(fields[a].name, fields[b].name);
        });
        std::vector<chain::SortedField> sf;
        for (size_t i : order)
            sf.push_back(chain::SortedField{prefixes[i], fields[i].value});
        std::string got = "stale bytes that must go";
        chain::EncodeSortedRow(sf.data(), sf.size(), &got);
        EXPECT_EQ(got, Encode(fields)) << "round " << round;
    }
}

TEST(AuditChain, DuplicateColumnNamesAreABug) {
    std::vector<Field> f = {{"a", "text", Form::kText, "1"}, {"a", "text", Form::kText, "2"}};
    std::string out;
    EXPECT_THROW(chain::EncodeRow(f, &out), keel::core::KeelException);
}

TEST(AuditChain, ArrayEncoding) {
    std::string out;
    chain::EncodeArray({1}, {2}, Form::kText, {{false, "x"}, {true, {}}}, &out);
    EXPECT_EQ(HexOfString(out),
              "00000001"
              "00000001"
              "00000002"
              "74"
              "01"
              "00000001"
              "78"
              "00");
}

TEST(AuditChain, Sha256KnownAnswer) {
    chain::Sha256 sha;
    EXPECT_EQ(chain::HexOf(sha.Of("abc", 3)),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(chain::HexOf(sha.Of("", 0)),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(AuditChain, HmacKnownAnswerRfc4231Case2) {
    chain::HmacSha256 mac(reinterpret_cast<const uint8_t*>("Jefe"), 4);
    const char* msg = "what do ya want for nothing?";
    EXPECT_EQ(chain::HexOf(mac.Of(msg, strlen(msg))),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // Reusable: the same key gives the same answer again.
    EXPECT_EQ(chain::HexOf(mac.Of(msg, strlen(msg))),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(AuditChain, LinkHashBindsEveryInput) {
    chain::Sha256 sha;
    uint8_t salt[chain::kSaltBytes] = {1, 2, 3};
    chain::Hash prev = chain::GenesisHash(), row = sha.Of("row", 3);
    chain::Hash h = chain::LinkHash(sha, salt, 0, 1, prev, row);
    // Known answer: SHA-256 of the documented layout.
    std::string layout = "keel-link-v1";
    layout.append(reinterpret_cast<const char*>(salt), sizeof salt);
    layout.append(
        "\0\0\0\0"
        "\0\0\0\0\0\0\0\1",
        12);
    layout.append(reinterpret_cast<const char*>(prev.bytes), 32);
    layout.append(reinterpret_cast<const char*>(row.bytes), 32);
    EXPECT_EQ(h, sha.Of(layout.data(), layout.size()));
    EXPECT_NE(h, chain::LinkHash(sha, salt, 1, 1, prev, row));
    EXPECT_NE(h, chain::LinkHash(sha, salt, 0, 2, prev, row));
    EXPECT_NE(h, chain::LinkHash(sha, salt, 0, 1, row, row));
    salt[0] = 9;
    EXPECT_NE(h, chain::LinkHash(sha, salt, 0, 1, prev, row));
}

TEST(AuditChain, HexRoundTrip) {
    std::string raw;
    EXPECT_TRUE(chain::ParseHex("00ffAb", &raw));
    EXPECT_EQ(raw, std::string("\x00\xff\xab", 3));
    EXPECT_FALSE(chain::ParseHex("0", &raw));
    EXPECT_FALSE(chain::ParseHex("zz", &raw));
    chain::Hash h;
    EXPECT_FALSE(chain::ParseHash("00", &h));
}

namespace {
chain::Digest SampleDigest() {
    chain::Digest d;
    d.system_identifier = 0x0102030405060708ULL;
    d.database_oid = 16384;
    d.incarnation[0] = 0xaa;
    d.chain_salt[15] = 0x55;
    d.table_name = "public.\"audit; x\"";
    d.made_at_unix_us = 1700000000000000LL;
    d.key_id = 7;
    d.key_version = 2;
    chain::Sha256 sha;
    d.heads.push_back({0, 42, sha.Of("a", 1)});
    d.heads.push_back({1, 0, chain::GenesisHash()});
    chain::HmacSha256 mac(reinterpret_cast<const uint8_t*>("k"), 1);
    std::string body = chain::DigestBody(d);
    d.mac = mac.Of(body.data(), body.size());
    return d;
}
}  // namespace

TEST(AuditChain, DigestRoundTrip) {
    chain::Digest d = SampleDigest();
    std::string text = chain::DigestText(d);
    ASSERT_EQ(text.rfind("keel-digest-v1:", 0), 0u);
    auto parsed = chain::ParseDigest(text);
    ASSERT_TRUE(parsed.ok()) << parsed.error().detail;
    const chain::Digest& p = parsed.value();
    EXPECT_EQ(p.system_identifier, d.system_identifier);
    EXPECT_EQ(p.database_oid, d.database_oid);
    EXPECT_EQ(p.table_name, d.table_name);
    EXPECT_EQ(p.made_at_unix_us, d.made_at_unix_us);
    EXPECT_EQ(p.key_id, 7u);
    EXPECT_EQ(p.key_version, 2u);
    ASSERT_EQ(p.heads.size(), 2u);
    EXPECT_EQ(p.heads[0].pos, 42u);
    EXPECT_EQ(p.heads[0].hash, d.heads[0].hash);
    EXPECT_EQ(p.mac, d.mac);
    EXPECT_EQ(chain::DigestBody(p), chain::DigestBody(d));
}

TEST(AuditChain, DigestParserRejectsMalformedInput) {
    std::string text = chain::DigestText(SampleDigest());
    EXPECT_FALSE(chain::ParseDigest("").ok());
    EXPECT_FALSE(chain::ParseDigest("keel-digest-v2:00").ok());
    EXPECT_FALSE(chain::ParseDigest("keel-digest-v1:").ok());
    EXPECT_FALSE(chain::ParseDigest(text.substr(0, text.size() - 2)).ok());
    EXPECT_FALSE(chain::ParseDigest(text + "00").ok());
    EXPECT_FALSE(chain::ParseDigest(text.substr(0, text.size() - 1) + "g").ok());
    std::string bad_magic = text;
    bad_magic[15] = '0';
    EXPECT_FALSE(chain::ParseDigest(bad_magic).ok());
    EXPECT_EQ(chain::ParseDigest("x").error().kind, keel::core::ErrorKind::kInvalidText);
}

// ---------------------------------------------------------------- multiset fingerprints

namespace {
chain::MultisetKey KeyOf(uint8_t fill) {
    uint8_t seed[chain::kMultisetKeySeedBytes];
    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = static_cast<uint8_t>(fill + 31 * i + (i >> 3));
    return chain::MultisetKey::FromSeed(seed);
}
chain::MultisetSum SumOf(const std::vector<std::string>& items, const chain::MultisetKey& key) {
    chain::MultisetSum s;
    for (const std::string& i : items)
        s.Add(key, i.data(), i.size());
    return s;
}
std::string Item(char c, size_t len = 96) {
    std::string s(len, c);
    s[len / 2] = static_cast<char>(c + 1);
    return s;
}
}  // namespace

TEST(AuditChain, MultisetSumIgnoresOrderAndMerges) {
    chain::MultisetKey key = KeyOf(1);
    std::vector<std::string> items = {Item('a'), Item('b'), Item('c'), Item('d'), Item('e')};
    chain::MultisetSum a = SumOf(items, key);
    std::vector<std::string> rev(items.rbegin(), items.rend());
    EXPECT_EQ(a, SumOf(rev, key));
    // Split between two processes, merged.
    chain::MultisetSum left = SumOf({Item('a'), Item('c')}, key);
    left.Merge(SumOf({Item('b'), Item('d'), Item('e')}, key));
    EXPECT_EQ(a, left);
}

TEST(AuditChain, MultisetSumSeesMultiplicityContentAndKey) {
    chain::MultisetKey key = KeyOf(9);
    chain::MultisetSum base = SumOf({Item('a'), Item('b')}, key);
    EXPECT_NE(base, SumOf({Item('a'), Item('b'), Item('b')}, key));  // a duplicate counts
    EXPECT_NE(base, SumOf({Item('a')}, key));
    EXPECT_NE(base, SumOf({Item('a'), Item('c')}, key));
    EXPECT_NE(base, SumOf({Item('a'), Item('b')}, KeyOf(10)));
    EXPECT_EQ(chain::MultisetSum{}, SumOf({}, key));
    // Two items whose bytes are swapped between them (a reorder of chain columns).
    std::string x = Item('x'), y = Item('y');
    std::string x2 = x.substr(0, 32) + y.substr(32), y2 = y.substr(0, 32) + x.substr(32);
    EXPECT_NE(SumOf({x, y}, key), SumOf({x2, y2}, key));
    // One bit anywhere in the item matters, also in its last, short chunk.
    for (size_t bit = 0; bit < 8 * 96; bit += 37) {
        std::string z = x;
        z[bit / 8] = static_cast<char>(z[bit / 8] ^ (1 << (bit % 8)));
        EXPECT_NE(SumOf({x}, key), SumOf({z}, key)) << bit;
    }
}

TEST(AuditChain, MultisetSumShortItems) {
    chain::MultisetKey key = KeyOf(3);
    std::string d1 = Item('p', 32), d2 = Item('q', 32);
    EXPECT_EQ(SumOf({d1, d2}, key), SumOf({d2, d1}, key));
    EXPECT_NE(SumOf({d1, d1}, key), SumOf({d1, d2}, key));
}

TEST(AuditChain, MultisetKeyValuesAreBelowThePrime) {
    uint8_t seed[chain::kMultisetKeySeedBytes];
    memset(seed, 0xff, sizeof seed);
    chain::MultisetKey k = chain::MultisetKey::FromSeed(seed);
    for (int r = 0; r < chain::kMultisetInstances; r++) {
        EXPECT_LT(k.z[r], chain::kMultisetPrime);
        for (size_t j = 0; j < chain::kMultisetChunks; j++)
            EXPECT_LT(k.a[r][j], chain::kMultisetPrime);
    }
}

TEST(AuditChain, MultisetItemTooLongIsABug) {
    chain::MultisetKey key = KeyOf(0);
    chain::MultisetSum s;
    std::string big(chain::kMultisetMaxItem + 1, 'y');
    EXPECT_THROW(s.Add(key, big.data(), big.size()), keel::core::KeelException);
}
