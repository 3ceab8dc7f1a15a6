// The key store: master key loading and checking, the per-backend cache of unwrapped
// data keys, and the internal SQL functions behind keel.create_key / rotate_key /
// rewrap_keys (src/sql/keel/200_keys.sql).  See pg/keystore.hpp for the contract.
#include "pg/keystore.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "bridge/crypto.hpp"
#include "bridge/guard.hpp"
#include "core/limits.hpp"
#include "pg/gucs.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "storage/fd.h"
#include "utils/inval.h"
#include "utils/snapmgr.h"
}

namespace keel::pg {

namespace {

using core::ErrorKind;
using core::Key256;
using core::Throw;

constexpr int kCacheSlots = 64;
constexpr int kNameMax = NAMEDATALEN;  // key names are at most 63 bytes (CHECK in the table)

// keel.data_keys columns, in table order (200_keys.sql).
enum KeyColumn {
    kColKeyId = 1,
    kColName,
    kColPurpose,
    kColVersion,
    kColWrapped,
    kColState,
    kNumKeyColumns = 7
};

struct Slot {
    bool used;
    bool active;
    KeyPurpose purpose;
    uint32_t key_id;
    uint32_t version;
    uint64_t last_use;
    int name_len;
    char name[kNameMax];
    uint8_t bytes[core::kKeyBytes];
};

// Plain data in TopMemoryContext (no constructor runs at dlopen).
struct Cache {
    Oid keys_relid;
    bool callback_registered;
    uint64_t tick;
    Slot slots[kCacheSlots];
};

Cache* g_cache = nullptr;
bool g_flush_pending = false;

void FlushCache() {
    if (g_cache == nullptr)
        return;
    OPENSSL_cleanse(g_cache->slots, sizeof g_cache->slots);
    std::memset(g_cache->slots, 0, sizeof g_cache->slots);
    g_cache->keys_relid = InvalidOid;
    g_flush_pending = false;
}

// Relcache callback: any invalidation of keel.data_keys (sent by keel._keys_changed()
// on create/rotate/destroy/rewrap, also replayed locally when such a transaction
// aborts) or a full reset flushes the cache.  Touches only our own memory.
void KeysInvalidated(Datum, Oid relid) {
    if (g_cache == nullptr)
        return;
    if (relid == InvalidOid || relid == g_cache->keys_relid || g_cache->keys_relid == InvalidOid) {
        FlushCache();
    }
}

Cache* GetCache() {
    if (g_flush_pending)
        FlushCache();
    if (g_cache == nullptr) {
        g_cache = static_cast<Cache*>(bridge::PgCall(
            []() -> void* { return MemoryContextAllocZero(TopMemoryContext, sizeof(Cache)); }));
    }
    if (!g_cache->callback_registered) {
        bridge::PgCall([] { CacheRegisterRelcacheCallback(KeysInvalidated, 0); });
        g_cache->callback_registered = true;
    }
    return g_cache;
}

Oid KeelTableOid(const char* relname) {
    return bridge::PgCall([relname]() -> Oid {
        Oid nsp = get_namespace_oid("keel", true);
        return OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;
    });
}

Oid KeysRelid(Cache* cache) {
    if (!OidIsValid(cache->keys_relid)) {
        Oid relid = KeelTableOid("data_keys");
        if (!OidIsValid(relid)) {
            Throw(ErrorKind::kUndefinedObject, "keel key store table keel.data_keys does not exist",
                  {}, "Install the extension with CREATE EXTENSION keel.");
        }
        cache->keys_relid = relid;
    }
    return cache->keys_relid;
}

// Reads every row of a keel table under the active snapshot, without SPI and without
// an ACL check (the functions that call this decide who may).  visit() copies what it
// needs into plain data; it runs inside PgCall, so it must own nothing.
template <typename Visit>
void ScanTable(Oid relid, Visit&& visit) {
    bridge::PgCall([&] {
        Relation rel = table_open(relid, AccessShareLock);
        bool pushed = false;
        if (!ActiveSnapshotSet()) {
            PushActiveSnapshot(GetTransactionSnapshot());
            pushed = true;
        }
        TupleDesc desc = RelationGetDescr(rel);
        Datum values[16];
        bool nulls[16];
        if (desc->natts > 16)
            elog(ERROR, "keel: unexpected layout of %s", RelationGetRelationName(rel));
        TableScanDesc scan = table_beginscan(rel, GetActiveSnapshot(), 0, nullptr);
        HeapTuple tuple;
        while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
            heap_deform_tuple(tuple, desc, values, nulls);
            visit(values, nulls, desc->natts);
        }
        table_endscan(scan);
        if (pushed)
            PopActiveSnapshot();
        table_close(rel, AccessShareLock);
    });
}

bool TextEquals(Datum d, const char* s, size_t len) {
    text* t = DatumGetTextPP(d);
    return VARSIZE_ANY_EXHDR(t) == len && std::memcmp(VARDATA_ANY(t), s, len) == 0;
}

// One keel.data_keys row, as plain data.
struct KeyRow {
    bool found;
    bool destroyed;
    bool active;
    KeyPurpose purpose;
    uint32_t key_id;
    uint32_t version;
    int name_len;
    char name[kNameMax];
    int wrapped_len;
    uint8_t wrapped[core::kWrappedKeyBytes];
};

void CopyRow(const Datum* values, const bool* nulls, KeyRow* row) {
    row->found = true;
    row->key_id = DatumGetUInt32(values[kColKeyId - 1]);
    row->version = DatumGetUInt32(values[kColVersion - 1]);
    row->purpose =
        TextEquals(values[kColPurpose - 1], "hmac", 4) ? KeyPurpose::kHmac : KeyPurpose::kEncrypt;
    row->active = TextEquals(values[kColState - 1], "active", 6);
    row->destroyed = TextEquals(values[kColState - 1], "destroyed", 9) || nulls[kColWrapped - 1];
    text* name = DatumGetTextPP(values[kColName - 1]);
    row->name_len = static_cast<int>(std::min<size_t>(VARSIZE_ANY_EXHDR(name), kNameMax - 1));
    std::memcpy(row->name, VARDATA_ANY(name), row->name_len);
    row->name[row->name_len] = '\0';
    row->wrapped_len = 0;
    if (!nulls[kColWrapped - 1]) {
        bytea* w = DatumGetByteaPP(values[kColWrapped - 1]);
        size_t n = VARSIZE_ANY_EXHDR(w);
        if (n <= sizeof row->wrapped) {
            std::memcpy(row->wrapped, VARDATA_ANY(w), n);
            row->wrapped_len = static_cast<int>(n);
        } else {
            row->wrapped_len = -1;  // malformed: reported by UnwrapDataKey
        }
    }
}

// ------------------------------------------------------------------ master key

[[noreturn]] void NoMasterKey() {
    Throw(ErrorKind::kConfigError, "keel.master_key_file is not set",
          "The key store needs a master key, and neither keel.master_key_file nor "
          "keel.master_key_command is configured.",
          "Put the path of a file (mode 0600) holding 64 hexadecimal characters, made for "
          "example with \"openssl rand -hex 32\", in keel.master_key_file in postgresql.conf and "
          "reload the configuration.");
}

// Reads a key file: regular, owned by us, no group/other permission, short.
void ReadKeyFile(const char* path, const char* setting, char* buf, size_t cap, size_t* len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        Throw(ErrorKind::kConfigError,
              "could not open master key file \"" + core::ShownName(path, core::kShownPathBytes) +
                  "\": " + strerror(err),
              std::string("The file is named by ") + setting + ".",
              "Check the path and that the server's operating-system user can read the file.");
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        Throw(ErrorKind::kConfigError,
              std::string("master key file \"") + path + "\" is not a regular file",
              std::string("The file is named by ") + setting + ".");
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        close(fd);
        char mode[8];
        snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        Throw(ErrorKind::kConfigError,
              std::string("master key file \"") + path + "\" is accessible by group or others",
              std::string("Its permissions are ") + mode +
                  "; keel refuses a key file that anyone but its owner can read.",
              std::string("Run: chmod 600 ") + path);
    }
    ssize_t n = read(fd, buf, cap);
    int err = errno;
    close(fd);
    if (n < 0) {
        Throw(ErrorKind::kConfigError, "could not read master key file \"" +
                                           core::ShownName(path, core::kShownPathBytes) +
                                           "\": " + strerror(err));
    }
    *len = static_cast<size_t>(n);
}

struct CommandOutput {
    const char* command;
    char* buf;
    size_t cap;
    size_t len;
    int status;
    bool open_failed;
};

void RunKeyCommand(CommandOutput* out) {
    bridge::PgCall([out] {
        FILE* pipe = OpenPipeStream(out->command, "r");
        if (pipe == nullptr) {
            out->open_failed = true;
            return;
        }
        out->len = fread(out->buf, 1, out->cap, pipe);
        // Drain anything beyond cap so the command is not killed by SIGPIPE mid-way.
        char sink[256];
        while (fread(sink, 1, sizeof sink, pipe) > 0) {
            out->len = out->cap;
        }
        OPENSSL_cleanse(sink, sizeof sink);
        out->status = ClosePipeStream(pipe);
    });
}

Key256 ParseOrThrow(const char* buf, size_t len, const std::string& source) {
    auto parsed = core::ParseMasterKeyText(std::string_view(buf, len));
    if (!parsed.ok()) {
        Throw(ErrorKind::kConfigError, source + " does not hold a 256-bit key",
              parsed.error().detail, parsed.error().hint);
    }
    return parsed.value();
}

// The master key named by an explicit file (rewrap's new key) or by the settings.
Key256 ReadMasterKey(const char* explicit_file) {
    char buf[160];
    size_t len = 0;
    std::string source;
    struct Cleanser {
        char* b;
        ~Cleanser() { OPENSSL_cleanse(b, 160); }
    } cleanser{buf};

    const char* file = explicit_file ? explicit_file : guc::master_key_file;
    const char* command = explicit_file ? nullptr : guc::master_key_command;
    bool have_file = file != nullptr && file[0] != '\0';
    bool have_command = command != nullptr && command[0] != '\0';
    if (have_file && have_command) {
        Throw(ErrorKind::kConfigError,
              "keel.master_key_file and keel.master_key_command are both set",
              "Only one source of the master key may be configured.",
              "Empty one of the two settings and reload the configuration.");
    }
    if (have_file) {
        ReadKeyFile(file, explicit_file ? "the argument" : "keel.master_key_file", buf, sizeof buf,
                    &len);
        source = std::string("master key file \"") + file + "\"";
    } else if (have_command) {
        CommandOutput out{command, buf, sizeof buf, 0, 0, false};
        RunKeyCommand(&out);
        if (out.open_failed) {
            Throw(ErrorKind::kConfigError, "could not run keel.master_key_command",
                  std::string("The command could not be started: ") + strerror(errno) + ".");
        }
        if (out.status != 0) {
            Throw(ErrorKind::kConfigError, "keel.master_key_command failed",
                  "The command exited with a non-zero status; its output was ignored.");
        }
        len = out.len;
        source = "the output of keel.master_key_command";
    } else {
        NoMasterKey();
    }
    return ParseOrThrow(buf, len, source);
}

struct CheckRow {
    bool found;
    int len;
    uint8_t bytes[core::kKeyCheckBytes];
};

// The configured master key, verified against keel.key_check (when a check exists).
Key256 LoadMasterKey() {
    Key256 master = ReadMasterKey(nullptr);
    Oid check_relid = KeelTableOid("key_check");
    if (!OidIsValid(check_relid))
        return master;
    CheckRow check{};
    ScanTable(check_relid, [&check](const Datum* values, const bool* nulls, int natts) {
        if (natts < 2 || nulls[1])
            return;
        bytea* b = DatumGetByteaPP(values[1]);
        size_t n = VARSIZE_ANY_EXHDR(b);
        check.found = true;
        check.len = n <= sizeof check.bytes ? static_cast<int>(n) : 0;
        std::memcpy(check.bytes, VARDATA_ANY(b), check.len);
    });
    if (check.found &&
        !core::VerifyKeyCheck(bridge::BackendGcm(), master,
                              core::ByteSpan(check.bytes, static_cast<size_t>(check.len)))) {
        Throw(ErrorKind::kConfigError, "master key does not match the key store",
              "The key check value stored in keel.key_check was made with a different master "
              "key: keel.master_key_file (or keel.master_key_command) names the wrong key.",
              "Configure the master key this database was created with. To change the master "
              "key on purpose, use keel.rewrap_keys() while the old one is still configured.");
    }
    return master;
}

// ------------------------------------------------------------------ cache

Slot* FindSlot(Cache* cache, bool by_name, const char* name, size_t name_len, uint32_t key_id,
               uint32_t version) {
    for (Slot& s : cache->slots) {
        if (!s.used)
            continue;
        bool hit = by_name ? (s.active && static_cast<size_t>(s.name_len) == name_len &&
                              std::memcmp(s.name, name, name_len) == 0)
                           : (s.key_id == key_id && s.version == version);
        if (hit) {
            s.last_use = ++cache->tick;
            return &s;
        }
    }
    return nullptr;
}

Slot* Insert(Cache* cache, const KeyRow& row, const Key256& key) {
    Slot* victim = &cache->slots[0];
    for (Slot& s : cache->slots) {
        if (!s.used) {
            victim = &s;
            break;
        }
        if (s.last_use < victim->last_use)
            victim = &s;
    }
    victim->used = true;
    victim->active = row.active;
    victim->purpose = row.purpose;
    victim->key_id = row.key_id;
    victim->version = row.version;
    victim->last_use = ++cache->tick;
    victim->name_len = row.name_len;
    std::memcpy(victim->name, row.name, sizeof victim->name);
    std::memcpy(victim->bytes, key.bytes, core::kKeyBytes);
    return victim;
}

DataKey FromSlot(const Slot& s, KeyPurpose wanted) {
    if (s.purpose != wanted) {
        Throw(ErrorKind::kWrongObjectType,
              std::string("key \"") + s.name + "\" is an " + core::KeyPurposeName(s.purpose) +
                  " key, not an " + core::KeyPurposeName(wanted) + " key",
              "A key serves one purpose: encrypt (keel.encrypt, encrypted columns) or hmac "
              "(signatures).",
              std::string("Create a key for this use with keel.create_key(name, '") +
                  core::KeyPurposeName(wanted) + "').");
    }
    DataKey k;
    k.key_id = s.key_id;
    k.version = s.version;
    k.purpose = s.purpose;
    std::memcpy(k.key.bytes, s.bytes, core::kKeyBytes);
    return k;
}

Slot* LoadRow(Cache* cache, const KeyRow& row) {
    if (row.destroyed) {
        Throw(ErrorKind::kUndefinedObject,
              std::string("key \"") + row.name + "\" version " + std::to_string(row.version) +
                  " has been destroyed",
              "Data encrypted with a destroyed key version cannot be decrypted any more.");
    }
    Key256 master = LoadMasterKey();
    auto unwrapped = core::UnwrapDataKey(
        bridge::BackendGcm(), master,
        core::ByteSpan(row.wrapped, row.wrapped_len < 0 ? core::kWrappedKeyBytes + 1
                                                        : static_cast<size_t>(row.wrapped_len)),
        row.key_id, row.version, row.purpose);
    if (!unwrapped.ok()) {
        Throw(ErrorKind::kDataCorrupted,
              std::string("data key \"") + row.name + "\" version " + std::to_string(row.version) +
                  " could not be unwrapped",
              unwrapped.error().detail);
    }
    return Insert(cache, row, unwrapped.value());
}

// A key read from the table, for a caller that wants `purpose`.  The purpose is checked
// before unwrapping, so a wrong call costs no master-key read.
DataKey FromRow(Cache* cache, const KeyRow& row, KeyPurpose purpose) {
    if (row.purpose != purpose) {
        Slot probe{};
        probe.purpose = row.purpose;
        std::memcpy(probe.name, row.name, sizeof probe.name);
        FromSlot(probe, purpose);  // throws the wrong-purpose error
    }
    return FromSlot(*LoadRow(cache, row), purpose);
}

}  // namespace

DataKey ActiveKey(const char* name, KeyPurpose purpose) {
    Cache* cache = GetCache();
    size_t name_len = strlen(name);
    if (Slot* s = FindSlot(cache, true, name, name_len, 0, 0))
        return FromSlot(*s, purpose);

    KeyRow row{};
    bool any_version = false;
    ScanTable(KeysRelid(cache), [&](const Datum* values, const bool* nulls, int natts) {
        if (natts < kNumKeyColumns || !TextEquals(values[kColName - 1], name, name_len))
            return;
        any_version = true;
        if (TextEquals(values[kColState - 1], "active", 6))
            CopyRow(values, nulls, &row);
    });
    if (!row.found) {
        // A name argument can be megabytes long: show its start only.
        std::string quoted = "\"" + core::ShownName(std::string_view(name, name_len)) + "\"";
        if (any_version) {
            Throw(ErrorKind::kUndefinedObject, "key " + quoted + " has no active version", {},
                  "Make one with keel.rotate_key(" + quoted + ").");
        }
        Throw(ErrorKind::kUndefinedObject, "key " + quoted + " does not exist", {},
              "Create it with keel.create_key(), or see the keel.keys view for existing keys.");
    }
    return FromRow(cache, row, purpose);
}

DataKey KeyVersion(uint32_t key_id, uint32_t version, KeyPurpose purpose) {
    Cache* cache = GetCache();
    if (Slot* s = FindSlot(cache, false, nullptr, 0, key_id, version))
        return FromSlot(*s, purpose);

    KeyRow row{};
    ScanTable(KeysRelid(cache), [&](const Datum* values, const bool* nulls, int natts) {
        if (natts < kNumKeyColumns)
            return;
        if (DatumGetUInt32(values[kColKeyId - 1]) == key_id &&
            DatumGetUInt32(values[kColVersion - 1]) == version) {
            CopyRow(values, nulls, &row);
        }
    });
    if (!row.found) {
        Throw(ErrorKind::kUndefinedObject,
              "key id " + std::to_string(key_id) + " version " + std::to_string(version) +
                  " does not exist in the key store",
              "The value was made with a key this database does not have.",
              "Restore keel.data_keys from the database the value came from.");
    }
    return FromRow(cache, row, purpose);
}

void MasterKeySettingChanged() {
    g_flush_pending = true;
}

}  // namespace keel::pg

// ------------------------------------------------------------------ SQL functions
// Internal: called only by the SECURITY DEFINER functions of 200_keys.sql.

namespace {

using keel::core::Bytes;

Datum BytesDatum(const Bytes& b) {
    return keel::bridge::PgCall([&b]() -> Datum {
        bytea* out = static_cast<bytea*>(palloc(VARHDRSZ + b.size()));
        SET_VARSIZE(out, VARHDRSZ + b.size());
        std::memcpy(VARDATA(out), b.data(), b.size());
        return PointerGetDatum(out);
    });
}

std::string TextArg(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n)) {
        keel::core::Throw(keel::core::ErrorKind::kNullValue, "argument must not be NULL");
    }
    text* t = PG_GETARG_TEXT_PP(n);
    return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

keel::core::KeyPurpose PurposeArg(FunctionCallInfo fcinfo, int n) {
    return keel::core::ParseKeyPurpose(TextArg(fcinfo, n)).ValueOrThrow();
}

}  // namespace

// keel._new_wrapped_key(key_id int, version int, purpose text) -> bytea
// A fresh random data key, returned only wrapped under the (verified) master key.
KEEL_FUNCTION(keel_new_wrapped_key) {
    using namespace keel;
    uint32_t key_id = static_cast<uint32_t>(PG_GETARG_INT32(0));
    uint32_t version = static_cast<uint32_t>(PG_GETARG_INT32(1));
    core::KeyPurpose purpose = PurposeArg(fcinfo, 2);
    core::Key256 master = pg::LoadMasterKey();
    core::Key256 fresh;
    core::RandomBytes(fresh.bytes, core::kKeyBytes);
    return BytesDatum(
        core::WrapDataKey(bridge::BackendGcm(), master, fresh, key_id, version, purpose));
}

// keel._rewrap_key(key_id, version, purpose, wrapped bytea, new_master_key_file text) -> bytea
KEEL_FUNCTION(keel_rewrap_key) {
    using namespace keel;
    uint32_t key_id = static_cast<uint32_t>(PG_GETARG_INT32(0));
    uint32_t version = static_cast<uint32_t>(PG_GETARG_INT32(1));
    core::KeyPurpose purpose = PurposeArg(fcinfo, 2);
    bytea* wrapped = PG_GETARG_BYTEA_PP(3);
    std::string new_file = TextArg(fcinfo, 4);
    core::Key256 master = pg::LoadMasterKey();
    core::Key256 next = pg::ReadMasterKey(new_file.c_str());
    auto key =
        core::UnwrapDataKey(bridge::BackendGcm(), master,
                            core::ByteSpan(reinterpret_cast<const uint8_t*>(VARDATA_ANY(wrapped)),
                                           VARSIZE_ANY_EXHDR(wrapped)),
                            key_id, version, purpose);
    if (!key.ok()) {
        core::Throw(core::ErrorKind::kDataCorrupted,
                    "data key id " + std::to_string(key_id) + " version " +
                        std::to_string(version) + " could not be unwrapped",
                    key.error().detail);
    }
    return BytesDatum(
        core::WrapDataKey(bridge::BackendGcm(), next, key.value(), key_id, version, purpose));
}

// keel._master_key_check(new_master_key_file text DEFAULT NULL) -> bytea
// The key check value for the configured (and verified) master key, or for the key
// in the given file.
KEEL_FUNCTION(keel_master_key_check) {
    using namespace keel;
    core::Key256 master;
    if (PG_ARGISNULL(0)) {
        master = pg::LoadMasterKey();
    } else {
        std::string file = TextArg(fcinfo, 0);
        master = pg::ReadMasterKey(file.c_str());
    }
    return BytesDatum(core::MakeKeyCheck(bridge::BackendGcm(), master));
}

// keel._keys_changed() -> void: tells every backend (at commit; this one at once, and
// again if the transaction aborts) that keel.data_keys changed.
KEEL_FUNCTION(keel_keys_changed) {
    using namespace keel;
    Oid relid = pg::KeelTableOid("data_keys");
    bridge::PgCall([relid] {
        if (OidIsValid(relid))
            CacheInvalidateRelcacheByRelid(relid);
    });
    PG_RETURN_VOID();
}
