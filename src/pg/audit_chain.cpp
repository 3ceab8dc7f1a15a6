// The audit chain's SQL entry points: the append trigger, the refusal trigger, the
// streaming verifier, the signed digest and two helpers for the retention path.
//
// Concurrency (docs/audit_chain.md): a writer takes the sub-chain's lock (a
// transaction-level heavyweight lock in keel's advisory space) BEFORE it reads the
// head, and keeps it until commit or abort.  So positions are handed out in commit
// order per sub-chain, no two writers see the same head (no fork), and an aborted
// writer's link disappears with its row before the next writer reads the head (no gap).
#include <openssl/crypto.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bridge/guard.hpp"
#include "bridge/owned.hpp"
#include "pg/audit_chain_rows.hpp"
#include "pg/audit_chain_shmem.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "partitioning/partdesc.h"
#include "storage/bufmgr.h"
#include "storage/proc.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/acl.h"
#include "utils/uuid.h"
}

namespace keel::pg::audit {
namespace {

// ---------------------------------------------------------------- backend state
//
// Plain data only.  Which sub-chain this transaction appends to, and the head it
// last wrote (valid while this transaction holds the sub-chain lock, i.e. for the
// rest of the transaction, unless a subtransaction that may have written rolled back).
constexpr int kCacheSlots = 16;

// The transactions this backend has ended (XactCallback counts them): what the caches
// that hold for one transaction are keyed by.  Not MyProc->lxid: a pooled backend comes
// round to the same 32-bit local id after 2^32 transactions (days at a high rate), and
// an entry left from then would pass as this transaction's: a head at an old position,
// whose link would fork the chain wherever retention had deleted the one that used to
// stop it.
uint64 g_xact_serial = 1;

struct HeadCacheEntry {
    bool valid;
    int32 chain_id;
    int32 sub;
    uint64 xact;
    uint64 subabort_epoch;
    uint64 pos;
    chain::Hash hash;
};

HeadCacheEntry g_heads[kCacheSlots];
int g_next_slot = 0;
uint64 g_subabort_epoch = 0;

void SubXactCallback(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
    if (event == SUBXACT_EVENT_ABORT_SUB)
        g_subabort_epoch++;
}

HeadCacheEntry* FindHead(int32 chain_id, int32 sub) {
    for (HeadCacheEntry& e : g_heads) {
        if (e.valid && e.chain_id == chain_id && e.sub == sub && e.xact == g_xact_serial &&
            e.subabort_epoch == g_subabort_epoch) {
            return &e;
        }
    }
    return nullptr;
}

void RememberHead(int32 chain_id, int32 sub, uint64 pos, const chain::Hash& hash) {
    HeadCacheEntry* e = FindHead(chain_id, sub);
    if (e == nullptr) {
        e = &g_heads[g_next_slot];
        g_next_slot = (g_next_slot + 1) % kCacheSlots;
    }
    *e = HeadCacheEntry{true, chain_id, sub, g_xact_serial, g_subabort_epoch, pos, hash};
}

// The sub-chain this transaction writes to (locked).  One sub-chain per transaction:
// its rows stay together.  With several sub-chains a writer takes the first free
// one, starting from one derived from its process id, and waits only if all are busy.
int32 ChooseAndLockSub(int32 chain_id, int32 nsubs) {
    for (HeadCacheEntry& e : g_heads) {
        if (e.valid && e.chain_id == chain_id && e.xact == g_xact_serial) {
            LockSub(chain_id, e.sub, nsubs <= 1);  // held already: no lock-manager call
            return e.sub;
        }
    }
    if (nsubs <= 1) {
        LockSubSpinning(chain_id, 0);
        return 0;
    }
    int32 start = MyProcPid % nsubs;
    for (int32 k = 0; k < nsubs; k++) {
        int32 s = (start + k) % nsubs;
        if (TryLockSub(chain_id, s, false))
            return s;
    }
    LockSubSpinning(chain_id, start, false);
    return start;
}

void LinkRelation(Oid* relid, Oid* index, IndexInfo** info);

// The OID of keel.audit_link (cached): it names the shared heads of this incarnation of
// keel's tables, see SharedHeadGet.
Oid LinkRelid() {
    Oid relid, index;
    IndexInfo* info;
    LinkRelation(&relid, &index, &info);
    return relid;
}

// The head of a sub-chain.  Called with the sub-chain lock held: every earlier writer
// has finished or is committing (it handed the lock over at pre-commit).  The shared
// head names a committing writer's link, and this transaction then depends on it.  The
// table is read only after every committing writer has ended; SnapshotSelf then sees
// exactly the committed links plus this transaction's own (also those of the current
// command).
void ReadHead(int32 chain_id, int32 nsubs, int32 sub, const uint8* salt, uint64* pos,
              chain::Hash* hash) {
    HeadCacheEntry* e = FindHead(chain_id, sub);
    if (e != nullptr) {
        *pos = e->pos;
        *hash = e->hash;
        return;
    }
    FullTransactionId writer;
    if (SharedHeadGet(chain_id, sub, salt, LinkRelid(), pos, hash, &writer) &&
        FollowWriter(chain_id, writer, nsubs <= 1))
        return;
    AwaitPendingWriters(chain_id, sub, false);
    chain::Hash sig;
    uint32 kid, kver;
    if (ReadLast(StateTable::kLink, chain_id, sub, SnapshotSelf, pos, hash, &sig, &kid, &kver)) {
        return;
    }
    if (ReadLast(StateTable::kCheckpoint, chain_id, sub, SnapshotSelf, pos, hash, &sig, &kid,
                 &kver)) {
        return;
    }
    *pos = 0;
    *hash = chain::GenesisHash();
}

Datum ByteaDatum(const uint8* data, size_t len) {
    bytea* b = static_cast<bytea*>(palloc(VARHDRSZ + len));
    SET_VARSIZE(b, VARHDRSZ + len);
    memcpy(VARDATA(b), data, len);
    return PointerGetDatum(b);
}

void InsertLink(int32 chain_id, int32 sub, uint64 pos, const chain::Hash& digest,
                const chain::Hash& link, const chain::Hash& sig, uint32 key_id,
                uint32 key_version) {
    Oid relid, index;
    IndexInfo* info;
    LinkRelation(&relid, &index, &info);
    Relation rel = table_open(relid, RowExclusiveLock);
    Relation idx = index_open(index, RowExclusiveLock);
    Datum values[8] = {Int32GetDatum(chain_id),
                       Int32GetDatum(sub),
                       Int64GetDatum(static_cast<int64>(pos)),
                       ByteaDatum(digest.bytes, chain::kHashBytes),
                       ByteaDatum(link.bytes, chain::kHashBytes),
                       ByteaDatum(sig.bytes, chain::kHashBytes),
                       Int32GetDatum(static_cast<int32>(key_id)),
                       Int32GetDatum(static_cast<int32>(key_version))};
    bool nulls[8] = {};
    HeapTuple tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
    simple_heap_insert(rel, tup);
    bool inulls[3] = {};
    (void)index_insert(idx, values, inulls, &tup->t_self, rel, UNIQUE_CHECK_YES, false, info);
    index_close(idx, RowExclusiveLock);
    table_close(rel, RowExclusiveLock);
}

// The head a new link follows: the sub-chain this transaction appends to, locked until
// commit, and its position and hash.  Returns the sub-chain.
int32 LockHead(int32 chain_id, int32 nsubs, const uint8* salt, uint64* pos, chain::Hash* hash) {
    int32 sub = ChooseAndLockSub(chain_id, nsubs);
    ReadHead(chain_id, nsubs, sub, salt, pos, hash);
    return sub;
}

// A new link becomes its sub-chain's head: stored in keel.audit_link, and remembered by
// this transaction and in shared memory for the next writer.
void StoreLink(int32 chain_id, int32 nsubs, int32 sub, const uint8* salt, uint64 pos,
               const chain::Hash& digest, const chain::Hash& link, const chain::Hash& sig,
               uint32 key_id, uint32 key_version) {
    if (nsubs <= 1)
        MarkPendingWriter(chain_id, sub);  // it will hand the sub-chain over at pre-commit
    InsertLink(chain_id, sub, pos, digest, link, sig, key_id, key_version);
    RememberHead(chain_id, sub, pos, link);
    SharedHeadSet(chain_id, sub, salt, LinkRelid(), pos, link, GetTopFullTransactionId());
}

// ---------------------------------------------------------------- append trigger

[[noreturn]] void ProtocolError(const char* fn, const char* what, const char* how) {
    core::Throw(core::ErrorKind::kTriggerProtocol, std::string(fn) + " " + what,
                std::string("It must be attached ") + how + ".",
                "Use keel.enable_audit_chain(table) to attach it.");
}

// Per-backend cache of what a chained relation needs per row, so a one-row INSERT
// costs no SPI, no catalog lookups and no OpenSSL set-up.  Chain configuration never
// changes after enable_audit_chain() (a chain id is never reused), so entries are
// dropped only by a relcache invalidation of the relation (ALTER TABLE, DROP, trigger
// changes) or of everything.  Each entry owns a memory context; its C++ objects die
// with it (bridge::NewOwnedBy).
struct AppendPlan {
    bool valid;
    Oid relid;
    int32 chain_id;
    ChainConfig cfg;
    RowPlan* rows;
    AttrNumber hash_attnum;
    AttrNumber sig_attnum;
    RawField* fields;
    MemoryContext cxt;
    MemoryContext row_cxt;
    chain::Sha256* sha;
    // The HMAC context of the key version last used (re-checked once per transaction).
    uint32 key_id;
    uint32 key_version;
    uint64 key_checked_xact;  // g_xact_serial
    chain::HmacSha256* hmac;
    MemoryContext key_cxt;
};

constexpr int kPlanSlots = 16;
AppendPlan g_plans[kPlanSlots];
int g_next_plan = 0;
bool g_relcache_callback = false;
Oid g_link_relid = InvalidOid;
Oid g_link_index = InvalidOid;
IndexInfo* g_link_index_info = nullptr;

// A dropped plan may still be in use by the trigger call that is running (a relcache
// invalidation is processed when that call opens keel.audit_link), so its context is
// not deleted at once: it moves to a graveyard that is emptied at transaction end.
MemoryContext g_graveyard = nullptr;

void XactCallback(XactEvent event, void*) {
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
        event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
        event == XACT_EVENT_PREPARE) {
        g_xact_serial++;
        if (g_graveyard != nullptr)
            MemoryContextReset(g_graveyard);
    }
}

MemoryContext Graveyard();

void DropPlan(AppendPlan& p) {
    if (p.valid && p.cxt != nullptr)
        MemoryContextSetParent(p.cxt, Graveyard());
    p = AppendPlan{};
}

void RelcacheCallback(Datum, Oid relid) {
    for (AppendPlan& p : g_plans) {
        if (p.valid && (relid == InvalidOid || relid == p.relid))
            DropPlan(p);
    }
    if (relid == InvalidOid || relid == g_link_relid) {
        g_link_relid = g_link_index = InvalidOid;
        g_link_index_info = nullptr;  // lives in TopMemoryContext: a few bytes, rarely
    }
}

void EnsureCallbacks() {
    if (g_relcache_callback)
        return;
    CacheRegisterRelcacheCallback(RelcacheCallback, PointerGetDatum(nullptr));
    RegisterSubXactCallback(SubXactCallback, nullptr);
    RegisterXactCallback(XactCallback, nullptr);
    g_relcache_callback = true;
}

void LinkRelation(Oid* relid, Oid* index, IndexInfo** info) {
    if (!OidIsValid(g_link_relid)) {
        Oid r = KeelRelid("audit_link");
        Relation rel = table_open(r, AccessShareLock);
        Oid i = RelationGetPrimaryKeyIndex(rel);
        Relation idx = index_open(i, AccessShareLock);
        MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
        g_link_index_info = BuildIndexInfo(idx);
        MemoryContextSwitchTo(old);
        index_close(idx, AccessShareLock);
        table_close(rel, AccessShareLock);
        g_link_relid = r;
        g_link_index = i;
    }
    *relid = g_link_relid;
    *index = g_link_index;
    *info = g_link_index_info;
}

// The active HMAC key of the chain, as an OpenSSL context (rebuilt when the version changes).
MemoryContext Graveyard() {
    if (g_graveyard == nullptr) {
        g_graveyard = AllocSetContextCreate(TopMemoryContext, "keel audit chain retired plans",
                                            ALLOCSET_SMALL_SIZES);
    }
    return g_graveyard;
}

// Gives p an HMAC context for `key` (no PostgreSQL call here that could process an
// invalidation).  The previous key context goes to the graveyard.
void InstallKey(AppendPlan* p, const KeyBytes& key) {
    if (p->hmac != nullptr && key.key_id == p->key_id && key.version == p->key_version)
        return;
    if (p->key_cxt != nullptr)
        MemoryContextSetParent(p->key_cxt, Graveyard());
    p->hmac = nullptr;
    p->key_cxt = AllocSetContextCreate(p->cxt, "keel audit key", ALLOCSET_SMALL_SIZES);
    p->hmac = bridge::NewOwnedBy<chain::HmacSha256>(p->key_cxt, key.bytes, sizeof key.bytes);
    p->key_id = key.key_id;
    p->key_version = key.version;
}

// A chain links rows of the table it was enabled on and of that table's partitions,
// nothing else: whoever may create a trigger on a table of their own cannot push rows
// into somebody else's chain by naming its id.
void RequireOwnChain(Oid relid, const ChainConfig& cfg) {
    if (!OidIsValid(cfg.relid) || cfg.relid == relid)
        return;
    if (get_rel_relispartition(relid)) {
        List* ancestors = get_partition_ancestors(relid);
        bool mine = list_member_oid(ancestors, cfg.relid);
        list_free(ancestors);
        if (mine)
            return;
    }
    const char* owner = get_rel_name(cfg.relid);
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("the audit chain of relation \"%s\" cannot link rows of relation \"%s\"",
                           owner != nullptr ? owner : "(dropped)", get_rel_name(relid)),
                    errdetail("The chain was enabled on another table; its trigger was copied or "
                              "created by hand."),
                    errhint("Use keel.enable_audit_chain() on this table.")));
}

AppendPlan* FindPlan(Oid relid, int32 chain_id) {
    for (AppendPlan& p : g_plans) {
        if (p.valid && p.relid == relid && p.chain_id == chain_id)
            return &p;
    }
    return nullptr;
}

// A copy of the relation's plan.  The copy stays usable for the whole trigger call even
// if an invalidation drops the cached entry meanwhile (its memory then waits in the
// graveyard until the transaction ends).  The active key is re-checked once per
// transaction (key rotation takes effect at the next transaction).
void GetAppendPlan(TriggerData* td, AppendPlan* out) {
    Relation rel = td->tg_relation;
    Oid relid = RelationGetRelid(rel);
    EnsureCallbacks();
    if (td->tg_trigger->tgnargs != 1) {
        ProtocolError("keel.audit_chain_append()", "takes exactly one argument (the chain id)",
                      "BEFORE INSERT FOR EACH ROW by keel.enable_audit_chain()");
    }
    const char* arg = td->tg_trigger->tgargs[0];
    char* end = nullptr;
    long parsed = strtol(arg, &end, 10);
    if (end == arg || *end != '\0' || parsed <= 0 || parsed > PG_INT32_MAX) {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("invalid audit chain id \"%s\"", arg)));
    }
    int32 chain_id = static_cast<int32>(parsed);
    KeyBytes key;
    if (AppendPlan* p = FindPlan(relid, chain_id)) {
        if (p->key_checked_xact == g_xact_serial) {
            *out = *p;
            return;
        }
        char key_name[sizeof p->cfg.key_name];
        memcpy(key_name, p->cfg.key_name, sizeof key_name);
        ActiveHmacKey(key_name, &key);  // may process invalidations: look the plan up again
        if ((p = FindPlan(relid, chain_id)) != nullptr) {
            try {
                InstallKey(p, key);
            } catch (...) {
                OPENSSL_cleanse(key.bytes, sizeof key.bytes);
                throw;
            }
            OPENSSL_cleanse(key.bytes, sizeof key.bytes);
            p->key_checked_xact = g_xact_serial;
            *out = *p;
            return;
        }
        OPENSSL_cleanse(key.bytes, sizeof key.bytes);
    }

    // Built aside (an invalidation cannot touch it) in a context that stays in the
    // graveyard, freed at transaction end, unless the build completes.
    AppendPlan p{};
    p.cxt = AllocSetContextCreate(Graveyard(), "keel audit chain plan", ALLOCSET_SMALL_SIZES);
    p.relid = relid;
    LoadChainConfig(chain_id, &p.cfg);
    RequireOwnChain(relid, p.cfg);
    TupleDesc desc = RelationGetDescr(rel);
    p.rows = BuildRowPlan(desc, relid, p.cfg, p.cxt);
    if (p.cfg.has_columns) {
        Oid type;
        p.hash_attnum = ChainColumn(desc, rel, NameStr(p.cfg.hash_column), &type);
        p.sig_attnum = ChainColumn(desc, rel, NameStr(p.cfg.signature_column), &type);
    }
    p.fields = static_cast<RawField*>(
        MemoryContextAllocZero(p.cxt, sizeof(RawField) * (p.rows->ncols + 1)));
    p.row_cxt = AllocSetContextCreate(p.cxt, "keel audit row", ALLOCSET_SMALL_SIZES);
    p.sha = bridge::NewOwnedBy<chain::Sha256>(p.cxt);
    ActiveHmacKey(p.cfg.key_name, &key);
    try {
        InstallKey(&p, key);
    } catch (...) {
        OPENSSL_cleanse(key.bytes, sizeof key.bytes);
        throw;
    }
    OPENSSL_cleanse(key.bytes, sizeof key.bytes);
    p.key_checked_xact = g_xact_serial;
    p.chain_id = chain_id;
    p.valid = true;
    MemoryContextSetParent(p.cxt, TopMemoryContext);
    AppendPlan& slot = g_plans[g_next_plan];
    g_next_plan = (g_next_plan + 1) % kPlanSlots;
    DropPlan(slot);
    slot = p;
    *out = p;
}

Datum HexTextDatum(const chain::Hash& h) {
    static constexpr char kDigits[] = "0123456789abcdef";
    char buf[2 * chain::kHashBytes];
    for (size_t i = 0; i < chain::kHashBytes; i++) {
        buf[2 * i] = kDigits[h.bytes[i] >> 4];
        buf[2 * i + 1] = kDigits[h.bytes[i] & 15];
    }
    return PointerGetDatum(cstring_to_text_with_len(buf, sizeof buf));
}

}  // namespace
}  // namespace keel::pg::audit

using namespace keel::pg::audit;

KEEL_FUNCTION(keel_audit_chain_append) {
    const char* fn = "keel.audit_chain_append()";
    if (!CALLED_AS_TRIGGER(fcinfo)) {
        ProtocolError(fn, "was not called by the trigger manager", "as a trigger");
    }
    auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
    TriggerEvent ev = td->tg_event;
    if (!TRIGGER_FIRED_BEFORE(ev) || !TRIGGER_FIRED_FOR_ROW(ev) || !TRIGGER_FIRED_BY_INSERT(ev)) {
        ProtocolError(fn, "must be fired BEFORE INSERT FOR EACH ROW",
                      "BEFORE INSERT FOR EACH ROW by keel.enable_audit_chain()");
    }
    AppendPlan plan_copy;
    GetAppendPlan(td, &plan_copy);
    AppendPlan* plan = &plan_copy;
    TupleDesc desc = RelationGetDescr(td->tg_relation);
    HeapTuple tuple = td->tg_trigtuple;

    MemoryContext old = MemoryContextSwitchTo(plan->row_cxt);
    int n = CollectFields(plan->rows, tuple, desc, plan->fields);
    MemoryContextSwitchTo(old);
    chain::Hash digest = HashRow(plan->fields, n, *plan->sha);
    MemoryContextReset(plan->row_cxt);

    int32 chain_id = plan->cfg.chain_id;
    uint64 head_pos;
    chain::Hash prev;
    int32 sub = LockHead(chain_id, plan->cfg.sub_chains, plan->cfg.salt, &head_pos, &prev);
    uint64 pos = head_pos + 1;
    chain::Hash link =
        chain::LinkHash(*plan->sha, plan->cfg.salt, static_cast<uint32>(sub), pos, prev, digest);
    chain::Hash sig = plan->hmac->Of(link.bytes, chain::kHashBytes);
    StoreLink(chain_id, plan->cfg.sub_chains, sub, plan->cfg.salt, pos, digest, link, sig,
              plan->key_id, plan->key_version);

    if (!plan->cfg.has_columns)
        return PointerGetDatum(tuple);
    int cols[2] = {plan->hash_attnum, plan->sig_attnum};
    Datum values[2] = {HexTextDatum(prev), HexTextDatum(sig)};
    bool nulls[2] = {false, false};
    return PointerGetDatum(heap_modify_tuple_by_cols(tuple, desc, 2, cols, values, nulls));
}

KEEL_FUNCTION(keel_audit_chain_refuse) {
    if (!CALLED_AS_TRIGGER(fcinfo)) {
        ProtocolError("keel.audit_chain_refuse()", "was not called by the trigger manager",
                      "as a trigger");
    }
    auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
    TriggerEvent ev = td->tg_event;
    const char* what = TRIGGER_FIRED_BY_UPDATE(ev)     ? "update"
                       : TRIGGER_FIRED_BY_DELETE(ev)   ? "delete from"
                       : TRIGGER_FIRED_BY_TRUNCATE(ev) ? "truncate"
                                                       : "modify";
    ereport(ERROR,
            (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
             errmsg("cannot %s \"%s\": it is an append-only audit chain", what,
                    RelationGetRelationName(td->tg_relation)),
             errdetail("keel.enable_audit_chain() made this table append-only; its rows are "
                       "linked by SHA-256 hashes and HMAC signatures."),
             errhint("Old partitions leave through keel.audit_chain_retire_partition() and DROP "
                     "or DETACH; nothing else may change or remove a row.")));
    PG_RETURN_NULL();
}

// ---------------------------------------------------------------- retention helpers

// The row plan of keel._audit_row_digest(), kept in fn_extra for the calls of one query
// (retention and chaining existing rows call it once per row): rebuilt when the chain or
// the row type changes (tupDesc_identifier changes with every ALTER of the table).
struct RowDigestCache {
    int32 chain_id;
    Oid type;
    int32 typmod;
    uint64 tupdesc_id;
    RowPlan* plan;
    RawField* fields;
};

KEEL_FUNCTION(keel_audit_row_digest) {
    int32 chain_id = PG_GETARG_INT32(0);
    Datum composite = PG_GETARG_DATUM(1);
    HeapTupleHeader th = DatumGetHeapTupleHeader(composite);
    Oid tupType = HeapTupleHeaderGetTypeId(th);
    int32 tupTypmod = HeapTupleHeaderGetTypMod(th);
    TupleDesc desc = lookup_rowtype_tupdesc(tupType, tupTypmod);
    uint64 tupdesc_id = tupType == RECORDOID
                            ? 0
                            : lookup_type_cache(tupType, TYPECACHE_TUPDESC)->tupDesc_identifier;
    auto* cache = static_cast<RowDigestCache*>(fcinfo->flinfo->fn_extra);
    RowDigestCache once{};
    if (tupdesc_id == 0) {
        cache = &once;  // an anonymous record type: nothing to key a cache on
    }
    if (cache == nullptr || cache->chain_id != chain_id || cache->type != tupType ||
        cache->typmod != tupTypmod || cache->tupdesc_id != tupdesc_id) {
        ChainConfig cfg;
        LoadChainConfig(chain_id, &cfg);
        MemoryContext mcxt = cache == &once ? CurrentMemoryContext : fcinfo->flinfo->fn_mcxt;
        if (cache == nullptr) {
            cache = static_cast<RowDigestCache*>(MemoryContextAllocZero(mcxt, sizeof *cache));
            fcinfo->flinfo->fn_extra = cache;
        }
        cache->chain_id = 0;  // not valid until built
        cache->plan = BuildRowPlan(desc, get_typ_typrelid(tupType), cfg, mcxt);
        cache->fields = static_cast<RawField*>(
            MemoryContextAllocZero(mcxt, sizeof(RawField) * (cache->plan->ncols + 1)));
        cache->type = tupType;
        cache->typmod = tupTypmod;
        cache->tupdesc_id = tupdesc_id;
        cache->chain_id = chain_id;
    }
    HeapTupleData tuple;
    tuple.t_len = HeapTupleHeaderGetDatumLength(th);
    ItemPointerSetInvalid(&tuple.t_self);
    tuple.t_tableOid = InvalidOid;
    tuple.t_data = th;
    int n = CollectFields(cache->plan, &tuple, desc, cache->fields);
    ReleaseTupleDesc(desc);
    keel::core::chain::Hash h;
    {
        keel::core::chain::Sha256 sha;
        h = HashRow(cache->fields, n, sha);
    }
    bytea* out = static_cast<bytea*>(palloc(VARHDRSZ + keel::core::chain::kHashBytes));
    SET_VARSIZE(out, VARHDRSZ + keel::core::chain::kHashBytes);
    memcpy(VARDATA(out), h.bytes, keel::core::chain::kHashBytes);
    PG_RETURN_BYTEA_P(out);
}

namespace {
// The position of a sub-chain's head (its last link, else its last checkpoint) as the
// snapshot sees it; 0 when empty.
uint64 HeadPosition(int32 chain_id, int32 sub, Snapshot snapshot) {
    uint64 link_pos = 0, checkpoint_pos = 0;
    chain::Hash hash, sig;
    uint32 kid, kver;
    (void)ReadLast(StateTable::kLink, chain_id, sub, snapshot, &link_pos, &hash, &sig, &kid, &kver);
    (void)ReadLast(StateTable::kCheckpoint, chain_id, sub, snapshot, &checkpoint_pos, &hash, &sig,
                   &kid, &kver);
    return std::max(link_pos, checkpoint_pos);
}
}  // namespace

KEEL_FUNCTION(keel_audit_lock_chain) {
    int32 chain_id = PG_GETARG_INT32(0);
    ChainConfig cfg;
    LoadChainConfig(chain_id, &cfg);
    for (int32 s = 0; s < cfg.sub_chains; s++) {
        // Held like a writer of this chain holds it: the scaling mode keeps it to the end
        // (its followers rely on that, see FollowWriter).
        LockSub(chain_id, s, cfg.sub_chains <= 1);
        AwaitPendingWriters(chain_id, s, true);
    }
    // The caller (the retention path) reads the chain and the partition with its own
    // snapshot.  In REPEATABLE READ or SERIALIZABLE that snapshot may predate links that
    // committed before the locks were granted: it would checkpoint an old head and drop
    // rows appended since, whose links would then have no row (a hole).  Chain order is
    // commit order, so any such link makes the true head (SnapshotSelf, every committed
    // writer having ended) lie past the snapshot's head.
    if (IsolationUsesXactSnapshot()) {
        Snapshot snapshot = GetTransactionSnapshot();
        for (int32 s = 0; s < cfg.sub_chains; s++) {
            if (HeadPosition(chain_id, s, SnapshotSelf) != HeadPosition(chain_id, s, snapshot)) {
                ereport(ERROR,
                        (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                         errmsg("could not serialize access: an audit chain changed after this "
                                "transaction's snapshot was taken"),
                         errdetail("Sub-chain %d of audit chain %d has links that this "
                                   "transaction's snapshot does not show.",
                                   s, chain_id),
                         errhint("Retry the transaction, or run it at READ COMMITTED.")));
            }
        }
    }
    PG_RETURN_VOID();
}

// keel._audit_chain_link_digest(chain_id, digest bytea) -> text[] {previous link hash,
// signature} in hex: appends one link for a row whose canonical digest is given, exactly
// as the append trigger would for an inserted row.  keel.enable_audit_chain() uses it to
// chain the rows a table already holds, one by one in the order the caller chose.
KEEL_FUNCTION(keel_audit_chain_link_digest) {
    int32 chain_id = PG_GETARG_INT32(0);
    bytea* d = PG_GETARG_BYTEA_PP(1);
    if (VARSIZE_ANY_EXHDR(d) != keel::core::chain::kHashBytes) {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("a row digest must be %d bytes, not %d",
                               static_cast<int>(keel::core::chain::kHashBytes),
                               static_cast<int>(VARSIZE_ANY_EXHDR(d)))));
    }
    keel::core::chain::Hash digest;
    memcpy(digest.bytes, VARDATA_ANY(d), keel::core::chain::kHashBytes);
    ChainConfig cfg;
    LoadChainConfig(chain_id, &cfg);
    EnsureCallbacks();
    uint64 head_pos;
    keel::core::chain::Hash prev;
    int32 sub = LockHead(chain_id, cfg.sub_chains, cfg.salt, &head_pos, &prev);
    uint64 pos = head_pos + 1;
    KeyBytes key;
    ActiveHmacKey(cfg.key_name, &key);
    keel::core::chain::Hash link, sig;
    {
        keel::core::chain::Sha256 sha;
        link =
            keel::core::chain::LinkHash(sha, cfg.salt, static_cast<uint32>(sub), pos, prev, digest);
        keel::core::chain::HmacSha256 mac(key.bytes, sizeof key.bytes);
        OPENSSL_cleanse(key.bytes, sizeof key.bytes);
        sig = mac.Of(link.bytes, keel::core::chain::kHashBytes);
    }
    StoreLink(chain_id, cfg.sub_chains, sub, cfg.salt, pos, digest, link, sig, key.key_id,
              key.version);
    Datum elems[2] = {HexTextDatum(prev), HexTextDatum(sig)};
    PG_RETURN_ARRAYTYPE_P(construct_array(elems, 2, TEXTOID, -1, false, TYPALIGN_INT));
}
