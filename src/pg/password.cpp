// keel.hash_password / verify_password / password_needs_rehash (argon2id, PHC) and
// keel.issue_api_key / hash_api_key / hash_token (SHA-256 hex).
#include <string>

#include "bridge/guard.hpp"
#include "core/password.hpp"
#include "pg/gucs.hpp"

namespace keel::pg {
namespace {

using core::ErrorKind;

core::Argon2Params CurrentParams() {
    core::Argon2Params p;
    p.memory_kib = static_cast<uint32_t>(guc::password_memory_kib);
    p.iterations = static_cast<uint32_t>(guc::password_iterations);
    p.parallelism = static_cast<uint32_t>(guc::password_parallelism);
    return p;
}

std::string_view TextArg(FunctionCallInfo fcinfo, int n, const char* what) {
    if (PG_ARGISNULL(n))
        core::Throw(ErrorKind::kNullValue, std::string(what) + " must not be NULL");
    auto* t = static_cast<text*>(bridge::PgCall(
        [fcinfo, n]() -> void* { return PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(n)); }));
    return std::string_view(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

Datum TextDatum(const std::string& s) {
    const char* p = s.data();
    size_t n = s.size();
    return bridge::PgCall(
        [p, n]() -> Datum { return PointerGetDatum(cstring_to_text_with_len(p, n)); });
}

}  // namespace
}  // namespace keel::pg

using namespace keel;

KEEL_FUNCTION(keel_hash_password) {
    std::string_view pw = pg::TextArg(fcinfo, 0, "password");
    return pg::TextDatum(core::HashPassword(pw, pg::CurrentParams()));
}

KEEL_FUNCTION(keel_verify_password) {
    std::string_view pw = pg::TextArg(fcinfo, 0, "password");
    std::string_view hash = pg::TextArg(fcinfo, 1, "hash");
    PG_RETURN_BOOL(core::VerifyPassword(pw, hash).ValueOrThrow());
}

KEEL_FUNCTION(keel_password_needs_rehash) {
    std::string_view hash = pg::TextArg(fcinfo, 0, "hash");
    PG_RETURN_BOOL(core::NeedsRehash(hash, pg::CurrentParams()).ValueOrThrow());
}

KEEL_FUNCTION(keel_hash_api_key) {
    return pg::TextDatum(core::Sha256Hex(pg::TextArg(fcinfo, 0, "api key")));
}

KEEL_FUNCTION(keel_hash_token) {
    return pg::TextDatum(core::Sha256Hex(pg::TextArg(fcinfo, 0, "token")));
}

// keel.issue_api_key(prefix text) -> (api_key, key_prefix, key_hash)
KEEL_FUNCTION(keel_issue_api_key) {
    std::string_view prefix = pg::TextArg(fcinfo, 0, "prefix");
    bool ok = !prefix.empty() && prefix.size() <= 5;
    for (char c : prefix) {
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
    }
    if (!ok) {
        core::Throw(core::ErrorKind::kInvalidParameter, "invalid API key prefix",
                    "A prefix is 1 to 5 letters or digits, for example \"sk\" or \"tpp\".");
    }
    std::string key = std::string(prefix) + "_" + core::RandomToken(32);
    std::string display = key.substr(0, prefix.size() + 1 + 4);  // <= 10 characters
    std::string hash = core::Sha256Hex(key);
    std::string parts[3] = {key, display, hash};
    Datum values[3];
    for (int i = 0; i < 3; i++)
        values[i] = pg::TextDatum(parts[i]);
    Datum result = bridge::PgCall([fcinfo, &values]() -> Datum {
        TupleDesc desc;
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) {
            elog(ERROR, "keel.issue_api_key must return a composite");
        }
        desc = BlessTupleDesc(desc);
        bool nulls[3] = {false, false, false};
        return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    });
    OPENSSL_cleanse(parts[0].data(), parts[0].size());
    OPENSSL_cleanse(key.data(), key.size());
    return result;
}
