// Field encryption: keel.encrypt / decrypt in three shapes (bytea, text, jsonb), the
// transparent column trigger keel.encrypt_column_trigger(), and the helpers behind
// keel.reencrypt and the decrypting views (src/sql/keel/210_encrypt.sql).
//
// Hot path: the data key comes from the backend's key cache (pg/keystore.hpp), the
// cipher context is the backend's (bridge/crypto.hpp); no SPI.
#include <cstring>
#include <string>

#include "bridge/crypto.hpp"
#include "bridge/guard.hpp"
#include "core/limits.hpp"
#include "core/envelope.hpp"
#include "pg/keystore.hpp"

extern "C" {
#include "catalog/pg_authid.h"
#include "mb/pg_wchar.h"
#include "utils/datum.h"
#include "utils/acl.h"
#include "utils/jsonb.h"
#include "utils/syscache.h"
}

namespace keel::pg {
namespace {

using core::ByteSpan;
using core::ErrorKind;
using core::PayloadType;
using core::Throw;

constexpr int kMaxAadColumns = 16;
constexpr char kDecryptRole[] = "keel_decrypt";

// ------------------------------------------------------------------ privileges

void RequireDecryptRole() {
    bool allowed = bridge::PgCall([]() -> bool {
        Oid user = GetUserId();
        if (superuser_arg(user))
            return true;
        Oid role = get_role_oid(kDecryptRole, true);
        return OidIsValid(role) && has_privs_of_role(user, role);
    });
    if (!allowed) {
        Throw(ErrorKind::kInsufficientPrivilege, "permission denied to decrypt keel ciphertext",
              "Only members of the role keel_decrypt may decrypt.",
              "An administrator can run: GRANT keel_decrypt TO <role>;");
    }
}

// ------------------------------------------------------------------ shapes

struct Plain {
    const uint8_t* data;
    size_t size;
};

ByteSpan VarSpan(const struct varlena* v) {
    return ByteSpan(reinterpret_cast<const uint8_t*>(VARDATA_ANY(v)), VARSIZE_ANY_EXHDR(v));
}

// The envelope bytes of a text-shape value (scratch owned by the caller).
core::Bytes EnvelopeFromText(ByteSpan text) {
    return core::FromTextShape(
               std::string_view(reinterpret_cast<const char*>(text.data), text.size))
        .ValueOrThrow();
}

// The envelope bytes of a jsonb-shape value: {"ct": "<base64>", "keel": 1}.
struct JsonCt {
    bool is_keel;     // an object with "keel" and "ct"
    bool version_ok;  // "keel": 1
    const char* ct;
    int ct_len;
};

JsonCt FindJsonCt(Jsonb* jb) {
    return bridge::PgCall([jb]() -> JsonCt {
        JsonCt r{false, false, nullptr, 0};
        if (!JB_ROOT_IS_OBJECT(jb))
            return r;
        JsonbValue keel, ct;
        if (getKeyJsonValueFromContainer(&jb->root, "keel", 4, &keel) == nullptr)
            return r;
        if (getKeyJsonValueFromContainer(&jb->root, "ct", 2, &ct) == nullptr ||
            ct.type != jbvString) {
            return r;
        }
        r.is_keel = true;
        r.version_ok =
            keel.type == jbvNumeric && DatumGetInt32(DirectFunctionCall1(
                                           numeric_int4, NumericGetDatum(keel.val.numeric))) == 1;
        r.ct = ct.val.string.val;
        r.ct_len = ct.val.string.len;
        return r;
    });
}

core::Bytes EnvelopeFromJsonb(Jsonb* jb) {
    JsonCt j = FindJsonCt(jb);
    if (!j.is_keel) {
        Throw(ErrorKind::kInvalidText, "value is not keel ciphertext",
              "keel's jsonb ciphertext is an object {\"ct\": \"...\", \"keel\": 1}.");
    }
    if (!j.version_ok) {
        Throw(ErrorKind::kFeatureNotSupported, "unknown keel ciphertext format version",
              "This keel understands jsonb ciphertext with \"keel\": 1.",
              "The value was written by a newer keel; upgrade the extension.");
    }
    return core::DecodeBase64(std::string_view(j.ct, j.ct_len)).ValueOrThrow();
}

static_assert(core::kMaxValueBytes == MaxAllocSize - VARHDRSZ, "one value's limit");
static_assert(core::kMaxJsonbStringBytes == JENTRY_OFFLENMASK, "one jsonb string's limit");

// Refuses, before anything is allocated, a plaintext whose ciphertext would not fit
// where it goes (SQLSTATE 54000): one PostgreSQL value (bytea, and text, which is
// base64) or one jsonb string.
void CheckCiphertextFits(PayloadType type, size_t pt_len) {
    const size_t env = core::EnvelopeSize(pt_len);
    const std::string plain = "The plaintext is " + std::to_string(pt_len) + " bytes";
    // The largest plaintexts that fit, for the hints.
    const size_t max_bytea = core::kMaxValueBytes - core::kEnvelopeOverhead;
    const size_t max_text =
        (core::kMaxValueBytes - core::kTextPrefix.size()) / 4 * 3 - core::kEnvelopeOverhead;
    switch (type) {
        case PayloadType::kBytea:
            core::CheckSize(env, core::kMaxValueBytes, "ciphertext too large",
                            "PostgreSQL allows in one value",
                            plain + "; keel adds " + std::to_string(core::kEnvelopeOverhead) +
                                " bytes of header, nonce and tag.",
                            "Keep values this large outside the database, or split them.");
            return;
        case PayloadType::kText:
            core::CheckSize(core::kTextPrefix.size() + core::Base64Size(env), core::kMaxValueBytes,
                            "text ciphertext too large", "PostgreSQL allows in one value",
                            plain +
                                "; a text ciphertext is base64, a third larger than the "
                                "bytes it encodes.",
                            "Text ciphertexts hold plaintexts of up to " +
                                std::to_string(max_text) +
                                " bytes; keel.encrypt() (bytea) holds up to " +
                                std::to_string(max_bytea) + " bytes.");
            return;
        case PayloadType::kJsonb:
            core::CheckSize(core::Base64Size(env), core::kMaxJsonbStringBytes,
                            "jsonb ciphertext too large", "jsonb allows in one string",
                            plain +
                                " of JSON text; keel's jsonb ciphertext holds it as one "
                                "base64 string.",
                            "Encrypt values this large with keel.encrypt_text(value::text), which "
                            "holds plaintexts of up to " +
                                std::to_string(max_text) + " bytes.");
            return;
    }
}

// Encrypts into the envelope bytes (C++ scratch).
core::Bytes Seal(const DataKey& key, PayloadType type, const ByteSpan* aad, ByteSpan pt) {
    CheckCiphertextFits(type, pt.size);
    core::Bytes env(core::EnvelopeSize(pt.size));
    core::SealEnvelope(bridge::BackendGcm(), key.key, key.key_id, key.version, type, aad, pt,
                       env.data());
    return env;
}

Datum ByteaResult(ByteSpan b) {
    return bridge::PgCall([b]() -> Datum {
        bytea* out = static_cast<bytea*>(palloc(VARHDRSZ + b.size));
        SET_VARSIZE(out, VARHDRSZ + b.size);
        std::memcpy(VARDATA(out), b.data, b.size);
        return PointerGetDatum(out);
    });
}

Datum TextResult(const std::string& s) {
    const char* p = s.data();
    size_t n = s.size();
    return bridge::PgCall(
        [p, n]() -> Datum { return PointerGetDatum(cstring_to_text_with_len(p, n)); });
}

Datum JsonbCiphertext(ByteSpan env) {
    std::string json = "{\"ct\": \"" + core::EncodeBase64(env) + "\", \"keel\": 1}";
    const char* p = json.c_str();
    return bridge::PgCall(
        [p]() -> Datum { return DirectFunctionCall1(jsonb_in, CStringGetDatum(p)); });
}

// Decrypts an envelope into a palloc'd varlena of the given result kind.
struct Opened {
    PayloadType type;
    struct varlena* value;  // palloc'd, VARHDRSZ + plaintext
};

Opened OpenToVarlena(ByteSpan bytes, const ByteSpan* aad) {
    core::Envelope env = core::ParseEnvelope(bytes).ValueOrThrow();
    DataKey key = KeyVersion(env.key_id, env.key_version, KeyPurpose::kEncrypt);
    size_t n = env.ciphertext.size;
    auto* out = static_cast<struct varlena*>(
        bridge::PgCall([n]() -> void* { return palloc(VARHDRSZ + n + 1); }));
    SET_VARSIZE(out, VARHDRSZ + n);
    auto ok = core::OpenEnvelope(bridge::BackendGcm(), key.key, env, aad,
                                 reinterpret_cast<uint8_t*>(VARDATA(out)));
    if (!ok.ok()) {
        bridge::PgCall([out] { pfree(out); });
        throw core::KeelException(ok.error());
    }
    return Opened{env.type, out};
}

[[noreturn]] void WrongShape(PayloadType have, const char* want_fn) {
    Throw(ErrorKind::kDatatypeMismatch,
          std::string("keel ciphertext holds a ") + core::PayloadTypeName(have) + " value",
          std::string("It cannot be decrypted by ") + want_fn + ".",
          have == PayloadType::kBytea ? "Use keel.decrypt() for bytea values."
                                      : "Use keel.decrypt_text() or keel.decrypt_jsonb().");
}

// Optional AAD argument: NULL means "no AAD".
struct AadArg {
    bool given;
    ByteSpan span;
    const ByteSpan* ptr() const { return given ? &span : nullptr; }
};

AadArg GetAad(FunctionCallInfo fcinfo, int n) {
    if (PG_NARGS() <= n || PG_ARGISNULL(n))
        return AadArg{false, ByteSpan()};
    auto* v = static_cast<struct varlena*>(bridge::PgCall(
        [fcinfo, n]() -> void* { return PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(n)); }));
    return AadArg{true, VarSpan(v)};
}

struct varlena* GetVarlena(FunctionCallInfo fcinfo, int n) {
    return static_cast<struct varlena*>(bridge::PgCall(
        [fcinfo, n]() -> void* { return PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(n)); }));
}

// A jsonb argument needs the 4-byte header form (not the packed short form).
Jsonb* GetJsonb(FunctionCallInfo fcinfo, int n) {
    return static_cast<Jsonb*>(
        bridge::PgCall([fcinfo, n]() -> void* { return PG_DETOAST_DATUM(PG_GETARG_DATUM(n)); }));
}

std::string KeyNameArg(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n))
        Throw(ErrorKind::kNullValue, "key_name must not be NULL");
    ByteSpan s = VarSpan(GetVarlena(fcinfo, n));
    return std::string(reinterpret_cast<const char*>(s.data), s.size);
}

void CheckEncoding(const struct varlena* v) {
    bridge::PgCall(
        [v] { pg_verifymbstr(VARDATA_ANY(v), static_cast<int>(VARSIZE_ANY_EXHDR(v)), false); });
}

}  // namespace
}  // namespace keel::pg

using namespace keel;
using keel::core::ByteSpan;
using keel::core::PayloadType;

// keel.encrypt(data bytea, key_name text, aad bytea DEFAULT NULL) -> bytea
KEEL_FUNCTION(keel_encrypt) {
    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    std::string name = pg::KeyNameArg(fcinfo, 1);
    pg::AadArg aad = pg::GetAad(fcinfo, 2);
    ByteSpan pt = pg::VarSpan(pg::GetVarlena(fcinfo, 0));
    pg::CheckCiphertextFits(PayloadType::kBytea, pt.size);
    pg::DataKey key = pg::ActiveKey(name.c_str(), pg::KeyPurpose::kEncrypt);
    size_t env_len = core::EnvelopeSize(pt.size);
    bytea* out = static_cast<bytea*>(
        bridge::PgCall([env_len]() -> void* { return palloc(VARHDRSZ + env_len); }));
    SET_VARSIZE(out, VARHDRSZ + env_len);
    core::SealEnvelope(bridge::BackendGcm(), key.key, key.key_id, key.version, PayloadType::kBytea,
                       aad.ptr(), pt, reinterpret_cast<uint8_t*>(VARDATA(out)));
    return PointerGetDatum(out);
}

// keel.encrypt_text(data text, key_name text, aad bytea DEFAULT NULL) -> text
KEEL_FUNCTION(keel_encrypt_text) {
    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    std::string name = pg::KeyNameArg(fcinfo, 1);
    pg::AadArg aad = pg::GetAad(fcinfo, 2);
    ByteSpan pt = pg::VarSpan(pg::GetVarlena(fcinfo, 0));
    pg::CheckCiphertextFits(PayloadType::kText, pt.size);
    pg::DataKey key = pg::ActiveKey(name.c_str(), pg::KeyPurpose::kEncrypt);
    // Envelope on the stack for small values, base64 straight into the result.
    size_t env_len = core::EnvelopeSize(pt.size);
    uint8_t small[1024];
    core::Bytes large;
    uint8_t* env = env_len <= sizeof small ? small : (large.resize(env_len), large.data());
    core::SealEnvelope(bridge::BackendGcm(), key.key, key.key_id, key.version, PayloadType::kText,
                       aad.ptr(), pt, env);
    size_t text_len = core::kTextPrefix.size() + core::Base64Size(env_len);
    text* out = static_cast<text*>(
        bridge::PgCall([text_len]() -> void* { return palloc(VARHDRSZ + text_len); }));
    SET_VARSIZE(out, VARHDRSZ + text_len);
    std::memcpy(VARDATA(out), core::kTextPrefix.data(), core::kTextPrefix.size());
    core::EncodeBase64To(core::ByteSpan(env, env_len), VARDATA(out) + core::kTextPrefix.size());
    return PointerGetDatum(out);
}

// keel.encrypt_jsonb(data jsonb, key_name text, aad bytea DEFAULT NULL) -> jsonb
KEEL_FUNCTION(keel_encrypt_jsonb) {
    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    std::string name = pg::KeyNameArg(fcinfo, 1);
    pg::AadArg aad = pg::GetAad(fcinfo, 2);
    Jsonb* jb = pg::GetJsonb(fcinfo, 0);
    char* json = static_cast<char*>(bridge::PgCall(
        [jb]() -> void* { return JsonbToCString(nullptr, &jb->root, VARSIZE(jb)); }));
    pg::DataKey key = pg::ActiveKey(name.c_str(), pg::KeyPurpose::kEncrypt);
    core::Bytes env = pg::Seal(key, PayloadType::kJsonb, aad.ptr(), ByteSpan::Of(json));
    bridge::PgCall([json] {
        OPENSSL_cleanse(json, strlen(json));
        pfree(json);
    });
    return pg::JsonbCiphertext(env);
}

// keel.decrypt(data bytea, aad bytea DEFAULT NULL) -> bytea (any payload, raw bytes)
KEEL_FUNCTION(keel_decrypt) {
    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    pg::RequireDecryptRole();
    pg::AadArg aad = pg::GetAad(fcinfo, 1);
    pg::Opened o = pg::OpenToVarlena(pg::VarSpan(pg::GetVarlena(fcinfo, 0)), aad.ptr());
    return PointerGetDatum(o.value);
}

// keel.decrypt_text(data text, aad bytea DEFAULT NULL) -> text
KEEL_FUNCTION(keel_decrypt_text) {
    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    pg::RequireDecryptRole();
    pg::AadArg aad = pg::GetAad(fcinfo, 1);
    core::Bytes env = pg::EnvelopeFromText(pg::VarSpan(pg::GetVarlena(fcinfo, 0)));
    pg::Opened o = pg::OpenToVarlena(env, aad.ptr());
    if (o.type == PayloadType::kBytea)
        pg::WrongShape(o.type, "keel.decrypt_text()");
    pg::CheckEncoding(o.value);
    return PointerGetDatum(o.value);
}

// keel.decrypt_jsonb(data jsonb, aad bytea DEFAULT NULL) -> jsonb
KEEL_FUNCTION(keel_decrypt_jsonb) {
    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    pg::RequireDecryptRole();
    pg::AadArg aad = pg::GetAad(fcinfo, 1);
    core::Bytes env = pg::EnvelopeFromJsonb(pg::GetJsonb(fcinfo, 0));
    pg::Opened o = pg::OpenToVarlena(env, aad.ptr());
    if (o.type != PayloadType::kJsonb)
        pg::WrongShape(o.type, "keel.decrypt_jsonb()");
    struct varlena* v = o.value;
    return bridge::PgCall([v]() -> Datum {
        char* s = text_to_cstring(reinterpret_cast<text*>(v));
        Datum d = DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
        OPENSSL_cleanse(s, strlen(s));
        OPENSSL_cleanse(VARDATA(v), VARSIZE(v) - VARHDRSZ);
        return d;
    });
}

// ==================================================================== columns

namespace keel::pg {
namespace {

enum class Shape { kBytea, kText, kJsonb };

Shape ShapeOf(Oid type) {
    if (type == BYTEAOID)
        return Shape::kBytea;
    if (type == JSONBOID)
        return Shape::kJsonb;
    return Shape::kText;
}

PayloadType PayloadOf(Shape s) {
    return s == Shape::kBytea ? PayloadType::kBytea
                              : (s == Shape::kJsonb ? PayloadType::kJsonb : PayloadType::kText);
}

// Column AAD: "keel column v1", then the label and each identifying value (text
// output), each as a 4-byte big-endian length and bytes (NULL: length 0xffffffff).
void AppendField(std::string& aad, const char* data, size_t len, bool is_null) {
    uint32_t n = is_null ? 0xffffffffu : static_cast<uint32_t>(len);
    for (int shift = 24; shift >= 0; shift -= 8)
        aad += static_cast<char>((n >> shift) & 0xff);
    if (!is_null)
        aad.append(data, len);
}

std::string AadPrefix(const char* label, size_t len) {
    std::string aad("keel column v1");
    AppendField(aad, label, len, false);
    return aad;
}

void AppendValue(std::string& aad, FmgrInfo* out_fn, Datum value, bool is_null) {
    if (is_null) {
        AppendField(aad, nullptr, 0, true);
        return;
    }
    char* s = static_cast<char*>(
        bridge::PgCall([out_fn, value]() -> void* { return OutputFunctionCall(out_fn, value); }));
    AppendField(aad, s, strlen(s), false);
}

// The value's shape: ciphertext envelope bytes (if it is keel ciphertext) or plaintext.
struct Classified {
    bool is_cipher;
    core::Bytes envelope;  // when is_cipher
    ByteSpan plain;        // when !is_cipher (points into the detoasted datum)
    char* json;            // jsonb plaintext as text (palloc'd), else null
};

Classified Classify(Shape shape, Datum value) {
    Classified c{false, {}, ByteSpan(), nullptr};
    auto* v = static_cast<struct varlena*>(bridge::PgCall([value, shape]() -> void* {
        return shape == Shape::kJsonb ? PG_DETOAST_DATUM(value) : PG_DETOAST_DATUM_PACKED(value);
    }));
    ByteSpan span = VarSpan(v);
    switch (shape) {
        case Shape::kBytea:
            if (core::LooksLikeEnvelope(span)) {
                c.is_cipher = true;
                c.envelope.assign(span.data, span.data + span.size);
                return c;
            }
            c.plain = span;
            return c;
        case Shape::kText: {
            std::string_view s(reinterpret_cast<const char*>(span.data), span.size);
            if (s.substr(0, core::kTextPrefix.size()) == core::kTextPrefix) {
                auto env = core::FromTextShape(s);
                if (env.ok() && core::ParseEnvelope(env.value()).ok()) {
                    c.is_cipher = true;
                    c.envelope = std::move(env).value();
                    return c;
                }
            }
            c.plain = span;
            return c;
        }
        case Shape::kJsonb: {
            Jsonb* jb = reinterpret_cast<Jsonb*>(v);
            JsonCt j = FindJsonCt(jb);
            if (j.is_keel) {
                c.is_cipher = true;
                c.envelope = EnvelopeFromJsonb(jb);
                return c;
            }
            c.json = static_cast<char*>(bridge::PgCall(
                [jb]() -> void* { return JsonbToCString(nullptr, &jb->root, VARSIZE(jb)); }));
            c.plain = ByteSpan::Of(c.json);
            return c;
        }
    }
    return c;
}

// True when the envelope authenticates under its key with this AAD (plaintext is
// decrypted into scratch and cleansed).
bool Authenticates(const core::Bytes& envelope, const std::string& aad,
                   core::SecretBytes* plain_out) {
    core::Envelope env = core::ParseEnvelope(envelope).ValueOrThrow();
    DataKey key = KeyVersion(env.key_id, env.key_version, KeyPurpose::kEncrypt);
    core::SecretBytes scratch(env.ciphertext.size + 1);
    ByteSpan a = ByteSpan::Of(aad);
    bool ok = core::OpenEnvelope(bridge::BackendGcm(), key.key, env, &a, scratch.data()).ok();
    if (ok && plain_out != nullptr) {
        scratch.resize(env.ciphertext.size);
        *plain_out = std::move(scratch);
    }
    return ok;
}

Datum SealAs(Shape shape, const DataKey& key, const std::string& aad, ByteSpan pt) {
    ByteSpan a = ByteSpan::Of(aad);
    core::Bytes env = Seal(key, PayloadOf(shape), &a, pt);
    switch (shape) {
        case Shape::kBytea:
            return ByteaResult(env);
        case Shape::kText:
            return TextResult(core::ToTextShape(env));
        case Shape::kJsonb:
            return JsonbCiphertext(env);
    }
    return Datum(0);
}

// Per-trigger plan, plain data in fn_mcxt.
struct ColumnPlan {
    Oid trigger_oid;
    Oid relid;
    int attnum;
    Oid type;
    int32 typmod;
    Shape shape;
    char key_name[NAMEDATALEN];
    char* label;
    int naad;
    int aad_attnums[kMaxAadColumns];
    FmgrInfo aad_out[kMaxAadColumns];
};

[[noreturn]] void ColumnProtocol(const char* what) {
    Throw(ErrorKind::kTriggerProtocol, std::string("keel.encrypt_column_trigger() ") + what,
          "It must be attached as BEFORE INSERT OR UPDATE FOR EACH ROW.",
          "Use keel.encrypt_column(table, column, key) to attach it.");
}

ColumnPlan* GetColumnPlan(FunctionCallInfo fcinfo, TriggerData* td) {
    auto* plan = static_cast<ColumnPlan*>(fcinfo->flinfo->fn_extra);
    Trigger* trig = td->tg_trigger;
    Relation rel = td->tg_relation;
    if (plan != nullptr && plan->trigger_oid == trig->tgoid &&
        plan->relid == RelationGetRelid(rel)) {
        return plan;
    }
    if (trig->tgnargs < 3 || trig->tgnargs > 3 + kMaxAadColumns) {
        ColumnProtocol("takes a column, a key name, a label and up to 16 AAD columns");
    }
    TupleDesc desc = RelationGetDescr(rel);
    auto attnum_of = [&](const char* name) {
        int a = bridge::PgCall([desc, name]() -> int { return SPI_fnumber(desc, name); });
        if (a <= 0) {
            Throw(ErrorKind::kUndefinedColumn,
                  std::string("column \"") + name + "\" of relation \"" +
                      RelationGetRelationName(rel) + "\" does not exist",
                  "keel.encrypt_column_trigger() was configured with it.");
        }
        return a;
    };
    int attnum = attnum_of(trig->tgargs[0]);
    if (strlen(trig->tgargs[1]) >= NAMEDATALEN)
        ColumnProtocol("got a key name that is too long");
    plan = static_cast<ColumnPlan*>(bridge::PgCall([fcinfo]() -> void* {
        return MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ColumnPlan));
    }));
    plan->attnum = attnum;
    plan->type = TupleDescAttr(desc, attnum - 1)->atttypid;
    plan->typmod = TupleDescAttr(desc, attnum - 1)->atttypmod;
    plan->shape = ShapeOf(plan->type);
    strlcpy(plan->key_name, trig->tgargs[1], NAMEDATALEN);
    const char* label = trig->tgargs[2];
    plan->label = static_cast<char*>(bridge::PgCall([fcinfo, label]() -> void* {
        return MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, label);
    }));
    plan->naad = trig->tgnargs - 3;
    for (int i = 0; i < plan->naad; i++) {
        int a = attnum_of(trig->tgargs[3 + i]);
        plan->aad_attnums[i] = a;
        Oid type = TupleDescAttr(desc, a - 1)->atttypid;
        FmgrInfo* out = &plan->aad_out[i];
        MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;
        bridge::PgCall([type, out, mcxt] {
            Oid fn;
            bool varlena;
            getTypeOutputInfo(type, &fn, &varlena);
            fmgr_info_cxt(fn, out, mcxt);
        });
    }
    plan->trigger_oid = trig->tgoid;
    plan->relid = RelationGetRelid(rel);
    fcinfo->flinfo->fn_extra = plan;
    return plan;
}

std::string RowAad(ColumnPlan* plan, TupleDesc desc, HeapTuple tuple) {
    std::string aad = AadPrefix(plan->label, strlen(plan->label));
    for (int i = 0; i < plan->naad; i++) {
        bool is_null;
        Datum v = heap_getattr(tuple, plan->aad_attnums[i], desc, &is_null);
        AppendValue(aad, &plan->aad_out[i], v, is_null);
    }
    return aad;
}

void CheckFits(ColumnPlan* plan, Datum d, Relation rel) {
    if (plan->type != VARCHAROID || plan->typmod < static_cast<int32>(VARHDRSZ))
        return;
    size_t max = static_cast<size_t>(plan->typmod) - VARHDRSZ;
    size_t len = VARSIZE_ANY_EXHDR(DatumGetPointer(d));  // ASCII: bytes == characters
    if (len > max) {
        Throw(ErrorKind::kProgramLimit,
              "encrypted value too long for column \"" +
                  std::string(
                      NameStr(TupleDescAttr(RelationGetDescr(rel), plan->attnum - 1)->attname)) +
                  "\" of type character varying(" + std::to_string(max) + ")",
              "The ciphertext is " + std::to_string(len) +
                  " characters long: " + std::to_string(core::kTextPrefix.size()) +
                  " for the prefix plus base64 of the value and 40 bytes of header and tag.",
              "Widen the column (text is best) to hold ciphertext.");
    }
}

}  // namespace
}  // namespace keel::pg

// keel.encrypt_column_trigger(): BEFORE INSERT OR UPDATE FOR EACH ROW.
// Arguments: column, key name, AAD label, identifying columns...
KEEL_FUNCTION(keel_encrypt_column_trigger) {
    using namespace keel::pg;
    if (!CALLED_AS_TRIGGER(fcinfo))
        ColumnProtocol("was not called by the trigger manager");
    auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
    TriggerEvent ev = td->tg_event;
    if (!TRIGGER_FIRED_BEFORE(ev) || !TRIGGER_FIRED_FOR_ROW(ev)) {
        ColumnProtocol("must be fired BEFORE ... FOR EACH ROW");
    }
    if (!TRIGGER_FIRED_BY_INSERT(ev) && !TRIGGER_FIRED_BY_UPDATE(ev)) {
        ColumnProtocol("must be fired by INSERT or UPDATE");
    }
    bool is_update = TRIGGER_FIRED_BY_UPDATE(ev);
    HeapTuple tuple = is_update ? td->tg_newtuple : td->tg_trigtuple;
    Relation rel = td->tg_relation;
    TupleDesc desc = RelationGetDescr(rel);
    ColumnPlan* plan = GetColumnPlan(fcinfo, td);

    bool is_null;
    Datum value = heap_getattr(tuple, plan->attnum, desc, &is_null);
    if (is_null)
        return PointerGetDatum(tuple);

    std::string aad = RowAad(plan, desc, tuple);
    Classified c = Classify(plan->shape, value);
    Datum stored;
    if (c.is_cipher) {
        if (is_update) {
            bool old_null;
            Datum old = heap_getattr(td->tg_trigtuple, plan->attnum, desc, &old_null);
            Form_pg_attribute attr = TupleDescAttr(desc, plan->attnum - 1);
            bool same_value = !old_null && bridge::PgCall([old, value, attr]() -> bool {
                return datumIsEqual(old, value, attr->attbyval, attr->attlen);
            });
            if (same_value && plan->naad == 0)
                return PointerGetDatum(tuple);
            std::string old_aad = RowAad(plan, desc, td->tg_trigtuple);
            if (same_value && old_aad == aad)
                return PointerGetDatum(tuple);
            if (Authenticates(c.envelope, aad, nullptr))
                return PointerGetDatum(tuple);
            // An identifying column changed: move the value to the row's new AAD.
            core::SecretBytes plain;
            if (Authenticates(c.envelope, old_aad, &plain)) {
                DataKey key = ActiveKey(plan->key_name, KeyPurpose::kEncrypt);
                stored = SealAs(plan->shape, key, aad, plain.span());
                CheckFits(plan, stored, rel);
                int col = plan->attnum;
                bool nulls[1] = {false};
                Datum values[1] = {stored};
                return bridge::PgCall([tuple, desc, &col, &values, &nulls]() -> Datum {
                    return PointerGetDatum(
                        heap_modify_tuple_by_cols(tuple, desc, 1, &col, values, nulls));
                });
            }
        } else if (Authenticates(c.envelope, aad, nullptr)) {
            // Already encrypted for this very row (a restore, a copy of the same row):
            // stored unchanged, never encrypted twice.
            return PointerGetDatum(tuple);
        }
        Throw(ErrorKind::kDataCorrupted,
              std::string("ciphertext in column \"") +
                  NameStr(TupleDescAttr(desc, plan->attnum - 1)->attname) + "\" of relation \"" +
                  RelationGetRelationName(rel) + "\" does not belong to this row",
              "It was encrypted for another row, column or table (its associated data differs), "
              "or it was altered.",
              "Write the plaintext instead: keel encrypts it.");
    }
    DataKey key = ActiveKey(plan->key_name, KeyPurpose::kEncrypt);
    stored = SealAs(plan->shape, key, aad, c.plain);
    if (c.json != nullptr) {
        char* json = c.json;
        bridge::PgCall([json] { OPENSSL_cleanse(json, strlen(json)); });
    }
    CheckFits(plan, stored, rel);
    int col = plan->attnum;
    bool nulls[1] = {false};
    Datum values[1] = {stored};
    return bridge::PgCall([tuple, desc, &col, &values, &nulls]() -> Datum {
        return PointerGetDatum(heap_modify_tuple_by_cols(tuple, desc, 1, &col, values, nulls));
    });
}

// keel._column_aad(label text, VARIADIC "any") -> bytea: the AAD the trigger binds,
// for decrypting views and keel.reencrypt.  (A one-argument form covers no columns.)
KEEL_FUNCTION(keel_column_aad) {
    using namespace keel::pg;
    if (PG_ARGISNULL(0))
        Throw(ErrorKind::kNullValue, "label must not be NULL");
    ByteSpan label = VarSpan(GetVarlena(fcinfo, 0));
    std::string aad = AadPrefix(reinterpret_cast<const char*>(label.data), label.size);
    int nargs = PG_NARGS();
    for (int i = 1; i < nargs; i++) {
        Oid type =
            bridge::PgCall([fcinfo, i]() -> Oid { return get_fn_expr_argtype(fcinfo->flinfo, i); });
        if (PG_ARGISNULL(i)) {
            AppendField(aad, nullptr, 0, true);
            continue;
        }
        Datum v = PG_GETARG_DATUM(i);
        char* s = static_cast<char*>(bridge::PgCall([type, v]() -> void* {
            Oid fn;
            bool varlena;
            getTypeOutputInfo(type, &fn, &varlena);
            return OidOutputFunctionCall(fn, v);
        }));
        AppendField(aad, s, strlen(s), false);
    }
    return ByteaResult(ByteSpan::Of(aad));
}

// keel._needs_reencrypt(value anyelement, key_name text) -> boolean: plaintext, or
// ciphertext made with another than the key's active version.
KEEL_FUNCTION(keel_needs_reencrypt) {
    using namespace keel::pg;
    if (PG_ARGISNULL(0))
        PG_RETURN_BOOL(false);
    Oid type = bridge::PgCall([fcinfo]() -> Oid { return get_fn_expr_argtype(fcinfo->flinfo, 0); });
    std::string name = KeyNameArg(fcinfo, 1);
    Classified c = Classify(ShapeOf(type), PG_GETARG_DATUM(0));
    if (!c.is_cipher)
        PG_RETURN_BOOL(true);
    core::Envelope env = core::ParseEnvelope(c.envelope).ValueOrThrow();
    DataKey key = ActiveKey(name.c_str(), KeyPurpose::kEncrypt);
    PG_RETURN_BOOL(env.key_id != key.key_id || env.key_version != key.version);
}

// keel._reencrypt_value(value anyelement, key_name text, aad bytea) -> anyelement:
// the value encrypted with the key's active version (decrypting it first if needed).
KEEL_FUNCTION(keel_reencrypt_value) {
    using namespace keel::pg;
    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    Oid type = bridge::PgCall([fcinfo]() -> Oid { return get_fn_expr_argtype(fcinfo->flinfo, 0); });
    Shape shape = ShapeOf(type);
    std::string name = KeyNameArg(fcinfo, 1);
    ByteSpan aad_span = VarSpan(GetVarlena(fcinfo, 2));
    std::string aad(reinterpret_cast<const char*>(aad_span.data), aad_span.size);
    Classified c = Classify(shape, PG_GETARG_DATUM(0));
    DataKey key = ActiveKey(name.c_str(), KeyPurpose::kEncrypt);
    if (!c.is_cipher)
        return SealAs(shape, key, aad, c.plain);
    core::SecretBytes plain;
    if (!Authenticates(c.envelope, aad, &plain)) {
        Throw(ErrorKind::kDataCorrupted, "keel ciphertext failed authentication",
              "The value was altered, or it does not belong to the row it is stored in.");
    }
    return SealAs(shape, key, aad, plain.span());
}
