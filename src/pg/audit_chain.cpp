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

struct HeadCacheEntry {
    bool valid;
    int32 chain_id;
    int32 sub;
    LocalTransactionId lxid;
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
        if (e.valid && e.chain_id == chain_id && e.sub == sub && e.lxid == MyProc->lxid &&
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
    *e = HeadCacheEntry{true, chain_id, sub, MyProc->lxid, g_subabort_epoch, pos, hash};
}

// The sub-chain this transaction writes to (locked).  One sub-chain per transaction:
// its rows stay together.  With several sub-chains a writer takes the first free
// one, starting from one derived from its process id, and waits only if all are busy.
int32 ChooseAndLockSub(int32 chain_id, int32 nsubs) {
    for (HeadCacheEntry& e : g_heads) {
        if (e.valid && e.chain_id == chain_id && e.lxid == MyProc->lxid) {
            LockSub(chain_id, e.sub);  // held already: no lock-manager call
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
        if (TryLockSub(chain_id, s))
            return s;
    }
    LockSubSpinning(chain_id, start);
    return start;
}

// The head of a sub-chain.  Called with the sub-chain lock held: every earlier writer
// has finished or is committing (it handed the lock over at pre-commit).  The shared
// head names a committing writer's link, and this transaction then depends on it.  The
// table is read only after every committing writer has ended; SnapshotSelf then sees
// exactly the committed links plus this transaction's own (also those of the current
// command).
void ReadHead(int32 chain_id, int32 sub, const uint8* salt, uint64* pos, chain::Hash* hash) {
    HeadCacheEntry* e = FindHead(chain_id, sub);
    if (e != nullptr) {
        *pos = e->pos;
        *hash = e->hash;
        return;
    }
    TransactionId writer;
    if (SharedHeadGet(chain_id, sub, salt, pos, hash, &writer) && FollowWriter(chain_id, writer))
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

void LinkRelation(Oid* relid, Oid* index, IndexInfo** info);

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
    ReadHead(chain_id, sub, salt, pos, hash);
    return sub;
}

// A new link becomes its sub-chain's head: stored in keel.audit_link, and remembered by
// this transaction and in shared memory for the next writer.
void StoreLink(int32 chain_id, int32 sub, const uint8* salt, uint64 pos, const chain::Hash& digest,
               const chain::Hash& link, const chain::Hash& sig, uint32 key_id, uint32 key_version) {
    MarkPendingWriter(chain_id, sub);
    InsertLink(chain_id, sub, pos, digest, link, sig, key_id, key_version);
    RememberHead(chain_id, sub, pos, link);
    SharedHeadSet(chain_id, sub, salt, pos, link, GetTopTransactionId());
}

// ---------------------------------------------------------------- append trigger

[[noreturn]] void ProtocolError(const char* fn, const char* what, const char* how) {
    core::Throw(core::ErrorKind::kTriggerProtocol, std::string(fn) + " " + what,
                std::string("It must be attached ") + how + ".",
                "Use keel.enable_audit_chain(table) to attach it.");
}

AttrNumber ChainColumn(TupleDesc desc, Relation rel, const char* name, Oid* type) {
    int attnum = SPI_fnumber(desc, name);
    if (attnum <= 0) {
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                        errmsg("column \"%s\" of relation \"%s\" does not exist", name,
                               RelationGetRelationName(rel)),
                        errdetail("The audit chain writes its link hash and signature there.")));
    }
    *type = TupleDescAttr(desc, attnum - 1)->atttypid;
    return static_cast<AttrNumber>(attnum);
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
    LocalTransactionId key_checked_lxid;
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
    if (g_graveyard == nullptr)
        return;
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
        event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
        event == XACT_EVENT_PREPARE) {
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
        if (p->key_checked_lxid == MyProc->lxid) {
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
            p->key_checked_lxid = MyProc->lxid;
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
    p.key_checked_lxid = MyProc->lxid;
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
    StoreLink(chain_id, sub, plan->cfg.salt, pos, digest, link, sig, plan->key_id,
              plan->key_version);

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

// ---------------------------------------------------------------- verify

namespace keel::pg::audit {
namespace {

struct HashKey {
    size_t operator()(const chain::Hash& h) const {
        size_t v;
        memcpy(&v, h.bytes, sizeof v);
        return v;
    }
};

enum class BreakKind {
    kNone,
    kContentChanged,
    kRowDeleted,
    kRowInserted,
    kReordered,
    kBadSignature
};

const char* BreakName(BreakKind k) {
    switch (k) {
        case BreakKind::kContentChanged:
            return "content changed";
        case BreakKind::kRowDeleted:
            return "row deleted";
        case BreakKind::kRowInserted:
            return "row inserted";
        case BreakKind::kReordered:
            return "rows reordered";
        case BreakKind::kBadSignature:
            return "signature invalid";
        case BreakKind::kNone:
            break;
    }
    return "none";
}

struct Break {
    BreakKind kind = BreakKind::kNone;
    int32 sub = -1;
    int64 pos = -1;  // -1: no position (a row outside the chain)
    std::string detail;
};

struct PendingLink {
    int32 sub;
    uint64 pos;
    chain::Hash prev;
    chain::Hash sig;
};

struct PendingRow {
    ItemPointerData tid;
    Oid relid;
    bool has_cols;
    bool prev_ok;  // prev column parsed as a hash
    chain::Hash prev;
    bool sig_ok;
    chain::Hash sig;
};

// Plain-data outputs of the PostgreSQL steps (filled inside PgCall).
struct LinkRow {
    bool got;
    bool malformed;
    int32 sub;
    uint64 pos;
    chain::Hash digest;
    chain::Hash link;
    chain::Hash sig;
    uint32 key_id;
    uint32 key_version;
};

struct TableRow {
    bool got;
    int nfields;
    ItemPointerData tid;
    Oid relid;
    bool prev_null, sig_null;
    int prev_len, sig_len;
    char prev[2 * chain::kHashBytes];
    char sig[2 * chain::kHashBytes];
};

bool CopyHash(bytea* b, chain::Hash* out) {
    if (VARSIZE_ANY_EXHDR(b) != chain::kHashBytes)
        return false;
    memcpy(out->bytes, VARDATA_ANY(b), chain::kHashBytes);
    return true;
}

void CollectLeaves(Oid relid, List** out) {
    Relation rel = table_open(relid, AccessShareLock);
    if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE) {
        PartitionDesc pd = RelationGetPartitionDesc(rel, true);
        for (int i = 0; i < pd->nparts; i++)
            CollectLeaves(pd->oids[i], out);
    } else {
        *out = lappend_oid(*out, relid);
    }
    table_close(rel, NoLock);
}

std::string Tid(const ItemPointerData& tid) {
    char buf[64];
    snprintf(buf, sizeof buf, "(%u,%u)", ItemPointerGetBlockNumberNoCheck(&tid),
             ItemPointerGetOffsetNumberNoCheck(&tid));
    return buf;
}

class Verifier {
  public:
    Verifier(Oid relid, const ChainConfig& cfg) : relid_(relid), cfg_(cfg) {}

    void Run(const chain::Digest* digest);
    int64 rows_checked() const { return rows_checked_; }
    const Break& first_break() const { return best_; }

  private:
    struct SubState {
        SysScanDesc scan = nullptr;
        bool exhausted = false;
        uint64 last_pos = 0;
        chain::Hash last_hash;
        uint64 start_pos = 0;
        bool want_digest = false;
        uint64 digest_pos = 0;
        chain::Hash digest_hash;
        bool digest_seen = false;
        std::map<uint64, LinkRow> ahead;  // heap order: links read before their turn
    };

    void Report(BreakKind kind, int32 sub, int64 pos, std::string detail);
    chain::HmacSha256& Key(uint32 key_id, uint32 version);
    bool PullLink(int32 sub);  // false when the sub-chain is exhausted
    bool PullHeapLink();       // heap order: false when keel.audit_link is exhausted
    void RouteLink(const LinkRow& l);
    void DrainAhead(int32 sub);
    bool UseHeapOrder();
    void CheckLink(const LinkRow& l);
    void MatchRow(const PendingLink& l, const PendingRow& r, int64 pos);
    bool NextRow(TableRow* out);

    Oid relid_;
    ChainConfig cfg_;
    chain::Sha256 sha_;
    std::map<std::pair<uint32, uint32>, std::unique_ptr<chain::HmacSha256>> keys_;
    // The key version of the last link (consecutive links almost always share one).
    uint32 last_key_id_ = 0, last_key_version_ = 0;
    chain::HmacSha256* last_key_ = nullptr;
    std::vector<SubState> subs_;
    std::unordered_multimap<chain::Hash, PendingLink, HashKey> pending_links_;
    std::unordered_multimap<chain::Hash, PendingRow, HashKey> pending_rows_;
    // The row being paired right now: in tables stored in insertion order its link is
    // usually the next one read, and meets it here without a trip through the maps.
    bool waiting_ = false;
    bool waiting_matched_ = false;
    chain::Hash waiting_digest_;
    PendingRow waiting_row_{};
    Break best_;
    int64 rows_checked_ = 0;
    uint64 extra_breaks_ = 0;

    // PostgreSQL-side state (plain pointers, released by the transaction on error).
    Relation link_rel_ = nullptr;
    Relation link_idx_ = nullptr;
    bool heap_order_ = false;
    TableScanDesc link_scan_ = nullptr;
    bool link_scan_done_ = false;
    size_t ahead_count_ = 0;
    List* leaves_ = nullptr;
    int leaf_ = -1;
    Relation leaf_rel_ = nullptr;
    TableScanDesc leaf_scan_ = nullptr;
    RowPlan* row_plan_ = nullptr;
    Oid row_plan_rel_ = InvalidOid;
    AttrNumber hash_attnum_ = 0, sig_attnum_ = 0;
    RawField* fields_ = nullptr;
    MemoryContext row_cxt_ = nullptr;
    MemoryContext plan_cxt_ = nullptr;
};

constexpr size_t kMaxPending = 1000000;

void Verifier::Report(BreakKind kind, int32 sub, int64 pos, std::string detail) {
    bool better =
        best_.kind == BreakKind::kNone ||
        (pos >= 0 && (best_.pos < 0 || pos < best_.pos || (pos == best_.pos && sub < best_.sub)));
    if (best_.kind != BreakKind::kNone)
        extra_breaks_++;
    if (better)
        best_ = Break{kind, sub, pos, std::move(detail)};
}

chain::HmacSha256& Verifier::Key(uint32 key_id, uint32 version) {
    if (last_key_ != nullptr && key_id == last_key_id_ && version == last_key_version_)
        return *last_key_;
    auto it = keys_.find({key_id, version});
    if (it != keys_.end()) {
        last_key_id_ = key_id;
        last_key_version_ = version;
        last_key_ = it->second.get();
        return *it->second;
    }
    KeyBytes key;
    HmacKeyVersion(key_id, version, &key);
    std::unique_ptr<chain::HmacSha256> mac;
    try {
        mac = std::make_unique<chain::HmacSha256>(key.bytes, sizeof key.bytes);
    } catch (...) {
        OPENSSL_cleanse(key.bytes, sizeof key.bytes);
        throw;
    }
    OPENSSL_cleanse(key.bytes, sizeof key.bytes);
    return *keys_.emplace(std::make_pair(key_id, version), std::move(mac)).first->second;
}

// One keel.audit_link tuple (all columns NOT NULL) into plain data; one deform
// instead of a heap_getattr per column (the bytea columns defeat the offset cache).
void DecodeLink(HeapTuple tup, TupleDesc desc, LinkRow* l) {
    Datum v[8];
    bool n[8];
    Assert(desc->natts == 8);
    heap_deform_tuple(tup, desc, v, n);
    l->got = true;
    l->sub = DatumGetInt32(v[1]);
    l->pos = static_cast<uint64>(DatumGetInt64(v[2]));
    bool ok = CopyHash(DatumGetByteaPP(v[3]), &l->digest) &&
              CopyHash(DatumGetByteaPP(v[4]), &l->link) && CopyHash(DatumGetByteaPP(v[5]), &l->sig);
    l->malformed = !ok;
    l->key_id = static_cast<uint32>(DatumGetInt32(v[6]));
    l->key_version = static_cast<uint32>(DatumGetInt32(v[7]));
}

bool Verifier::PullLink(int32 sub) {
    SubState& st = subs_[sub];
    if (st.exhausted)
        return false;
    LinkRow l{};
    bridge::PgCall([&] {
        CHECK_FOR_INTERRUPTS();
        HeapTuple tup = systable_getnext_ordered(st.scan, ForwardScanDirection);
        if (tup != nullptr)
            DecodeLink(tup, RelationGetDescr(link_rel_), &l);
    });
    if (!l.got) {
        st.exhausted = true;
        return false;
    }
    CheckLink(l);
    return true;
}

// Heap order: the next link of this chain in keel.audit_link's physical order.
bool Verifier::PullHeapLink() {
    if (link_scan_done_)
        return false;
    LinkRow l{};
    bridge::PgCall([&] {
        CHECK_FOR_INTERRUPTS();
        TupleDesc desc = RelationGetDescr(link_rel_);
        for (;;) {
            HeapTuple tup = heap_getnext(link_scan_, ForwardScanDirection);
            if (tup == nullptr)
                return;
            bool isnull;
            if (DatumGetInt32(heap_getattr(tup, 1, desc, &isnull)) != cfg_.chain_id)
                continue;
            DecodeLink(tup, desc, &l);
            if (l.sub < 0 || l.sub >= cfg_.sub_chains) {
                l.got = false;  // the index scan's keys never see such a link either
                continue;
            }
            return;
        }
    });
    if (!l.got) {
        link_scan_done_ = true;
        return false;
    }
    RouteLink(l);
    return true;
}

// Links are checked in position order per sub-chain, as the index scan delivers them:
// a link that comes early in the heap waits in `ahead` until its predecessor is checked.
void Verifier::RouteLink(const LinkRow& l) {
    SubState& st = subs_[l.sub];
    if (l.pos > st.last_pos + 1) {
        st.ahead.emplace(l.pos, l);
        ahead_count_++;
        return;
    }
    CheckLink(l);
    while (!st.ahead.empty() && st.ahead.begin()->first == st.last_pos + 1) {
        CheckLink(st.ahead.begin()->second);
        st.ahead.erase(st.ahead.begin());
        ahead_count_--;
    }
}

// End of the heap scan: what still waits follows a gap; check it in order.
void Verifier::DrainAhead(int32 sub) {
    SubState& st = subs_[sub];
    for (auto& kv : st.ahead)
        CheckLink(kv.second);
    ahead_count_ -= st.ahead.size();
    st.ahead.clear();
}

void Verifier::CheckLink(const LinkRow& l) {
    SubState& st = subs_[l.sub];
    chain::Hash prev = st.last_hash;
    if (l.pos != st.last_pos + 1) {
        Report(BreakKind::kRowDeleted, l.sub, static_cast<int64>(st.last_pos + 1),
               "links " + std::to_string(st.last_pos + 1) + " to " + std::to_string(l.pos - 1) +
                   " of sub-chain " + std::to_string(l.sub) + " are missing from keel.audit_link");
    }
    if (l.malformed) {
        Report(BreakKind::kContentChanged, l.sub, static_cast<int64>(l.pos),
               "the link at position " + std::to_string(l.pos) + " is malformed");
        st.last_pos = l.pos;
        return;
    }
    chain::Hash expect =
        chain::LinkHash(sha_, cfg_.salt, static_cast<uint32>(l.sub), l.pos, prev, l.digest);
    if (l.pos == st.last_pos + 1 && expect != l.link) {
        Report(BreakKind::kContentChanged, l.sub, static_cast<int64>(l.pos),
               "the link hash at position " + std::to_string(l.pos) +
                   " does not match its predecessor and row digest");
    } else if (Key(l.key_id, l.key_version).Of(l.link.bytes, chain::kHashBytes) != l.sig) {
        Report(
            BreakKind::kBadSignature, l.sub, static_cast<int64>(l.pos),
            "the HMAC signature of the link at position " + std::to_string(l.pos) + " is invalid");
    }
    if (st.want_digest && l.pos == st.digest_pos) {
        st.digest_seen = true;
        if (l.link != st.digest_hash) {
            Report(BreakKind::kContentChanged, l.sub, static_cast<int64>(l.pos),
                   "the chain at position " + std::to_string(l.pos) +
                       " differs from the digest (the chain was rewritten)");
        }
    }
    st.last_pos = l.pos;
    st.last_hash = l.link;

    PendingLink pl{l.sub, l.pos, prev, l.sig};
    auto it = pending_rows_.empty() ? pending_rows_.end() : pending_rows_.find(l.digest);
    if (it != pending_rows_.end()) {
        MatchRow(pl, it->second, static_cast<int64>(l.pos));
        pending_rows_.erase(it);
    } else if (waiting_ && l.digest == waiting_digest_) {
        MatchRow(pl, waiting_row_, static_cast<int64>(l.pos));
        waiting_ = false;
        waiting_matched_ = true;
    } else {
        pending_links_.emplace(l.digest, pl);
    }
}

void Verifier::MatchRow(const PendingLink& l, const PendingRow& r, int64 pos) {
    if (!r.has_cols)
        return;
    if (!r.prev_ok || r.prev != l.prev) {
        Report(BreakKind::kReordered, l.sub, pos,
               "the row at position " + std::to_string(pos) +
                   " carries the previous-hash of another position");
    } else if (!r.sig_ok || r.sig != l.sig) {
        Report(BreakKind::kBadSignature, l.sub, pos,
               "the signature column of the row at position " + std::to_string(pos) +
                   " does not match its link");
    }
}

bool Verifier::NextRow(TableRow* out) {
    *out = TableRow{};
    bridge::PgCall([&] {
        CHECK_FOR_INTERRUPTS();
        MemoryContextReset(row_cxt_);
        for (;;) {
            if (leaf_scan_ == nullptr) {
                leaf_++;
                if (leaf_ >= list_length(leaves_))
                    return;
                leaf_rel_ = table_open(list_nth_oid(leaves_, leaf_), AccessShareLock);
                leaf_scan_ = table_beginscan(leaf_rel_, GetActiveSnapshot(), 0, nullptr);
                MemoryContextReset(plan_cxt_);
                row_plan_ = BuildRowPlan(RelationGetDescr(leaf_rel_), RelationGetRelid(leaf_rel_),
                                         cfg_, plan_cxt_);
                fields_ = static_cast<RawField*>(
                    MemoryContextAllocZero(plan_cxt_, sizeof(RawField) * (row_plan_->ncols + 1)));
                if (cfg_.has_columns) {
                    Oid t;
                    hash_attnum_ = ChainColumn(RelationGetDescr(leaf_rel_), leaf_rel_,
                                               NameStr(cfg_.hash_column), &t);
                    sig_attnum_ = ChainColumn(RelationGetDescr(leaf_rel_), leaf_rel_,
                                              NameStr(cfg_.signature_column), &t);
                }
            }
            HeapTuple tup = heap_getnext(leaf_scan_, ForwardScanDirection);
            if (tup == nullptr) {
                table_endscan(leaf_scan_);
                table_close(leaf_rel_, NoLock);
                leaf_scan_ = nullptr;
                continue;
            }
            TupleDesc desc = RelationGetDescr(leaf_rel_);
            MemoryContext old = MemoryContextSwitchTo(row_cxt_);
            Datum* values;
            bool* nulls;
            out->nfields = CollectFields(row_plan_, tup, desc, fields_, &values, &nulls);
            if (cfg_.has_columns) {
                out->prev_null = nulls[hash_attnum_ - 1];
                if (!out->prev_null) {
                    text* t = DatumGetTextPP(values[hash_attnum_ - 1]);
                    out->prev_len = static_cast<int>(VARSIZE_ANY_EXHDR(t));
                    memcpy(out->prev, VARDATA_ANY(t),
                           std::min<size_t>(out->prev_len, sizeof out->prev));
                }
                out->sig_null = nulls[sig_attnum_ - 1];
                if (!out->sig_null) {
                    text* t = DatumGetTextPP(values[sig_attnum_ - 1]);
                    out->sig_len = static_cast<int>(VARSIZE_ANY_EXHDR(t));
                    memcpy(out->sig, VARDATA_ANY(t),
                           std::min<size_t>(out->sig_len, sizeof out->sig));
                }
            }
            MemoryContextSwitchTo(old);
            out->tid = tup->t_self;
            out->relid = RelationGetRelid(leaf_rel_);
            out->got = true;
            return;
        }
    });
    return out->got;
}

void Verifier::Run(const chain::Digest* digest) {
    subs_.resize(static_cast<size_t>(cfg_.sub_chains));
    // Where each sub-chain starts (a retention checkpoint, or the genesis).
    for (int32 s = 0; s < cfg_.sub_chains; s++) {
        SubState& st = subs_[s];
        uint64 pos = 0;
        chain::Hash hash, sig;
        uint32 kid = 0, kver = 0;
        bool have = bridge::PgCall([&] {
            return ReadLast(StateTable::kCheckpoint, cfg_.chain_id, s, GetActiveSnapshot(), &pos,
                            &hash, &sig, &kid, &kver);
        });
        if (have) {
            st.last_pos = st.start_pos = pos;
            st.last_hash = hash;
            if (Key(kid, kver).Of(hash.bytes, chain::kHashBytes) != sig) {
                Report(BreakKind::kBadSignature, s, static_cast<int64>(pos),
                       "the retention checkpoint at position " + std::to_string(pos) +
                           " has an invalid signature");
            }
        } else {
            st.last_hash = chain::GenesisHash();
        }
        if (digest != nullptr) {
            const chain::DigestHead& h = digest->heads[s];
            if (h.pos > st.start_pos) {
                st.want_digest = true;
                st.digest_pos = h.pos;
                st.digest_hash = h.hash;
            } else if (h.pos == st.start_pos && h.pos > 0 && h.hash != st.last_hash) {
                Report(BreakKind::kContentChanged, s, static_cast<int64>(h.pos),
                       "the retention checkpoint differs from the digest");
            }
        }
    }

    bridge::PgCall([&] {
        link_rel_ = table_open(KeelRelid("audit_link"), AccessShareLock);
        link_idx_ = index_open(RelationGetPrimaryKeyIndex(link_rel_), AccessShareLock);
    });
    heap_order_ = UseHeapOrder();
    bridge::PgCall([&] {
        if (heap_order_) {
            link_scan_ = table_beginscan(link_rel_, GetActiveSnapshot(), 0, nullptr);
        } else {
            for (int32 s = 0; s < cfg_.sub_chains; s++) {
                ScanKeyData keys[2];
                ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ,
                            Int32GetDatum(cfg_.chain_id));
                ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(s));
                subs_[s].scan =
                    systable_beginscan_ordered(link_rel_, link_idx_, GetActiveSnapshot(), 2, keys);
            }
        }
        CollectLeaves(relid_, &leaves_);
        row_cxt_ =
            AllocSetContextCreate(CurrentMemoryContext, "keel verify row", ALLOCSET_DEFAULT_SIZES);
        plan_cxt_ =
            AllocSetContextCreate(CurrentMemoryContext, "keel verify plan", ALLOCSET_SMALL_SIZES);
    });

    int32 nsubs = cfg_.sub_chains;
    int32 rr = 0;
    TableRow row;
    bool overflow = false;
    while (NextRow(&row)) {
        rows_checked_++;
        chain::Hash d = HashRow(fields_, row.nfields, sha_);
        PendingRow pr{row.tid, row.relid, cfg_.has_columns, false, {}, false, {}};
        if (cfg_.has_columns) {
            pr.prev_ok = !row.prev_null && row.prev_len == 64 &&
                         chain::ParseHash(std::string_view(row.prev, 64), &pr.prev);
            pr.sig_ok = !row.sig_null && row.sig_len == 64 &&
                        chain::ParseHash(std::string_view(row.sig, 64), &pr.sig);
        }
        auto it = pending_links_.empty() ? pending_links_.end() : pending_links_.find(d);
        bool matched = false;
        if (it == pending_links_.end()) {
            // Pull links (round robin over the sub-chains) until this row's shows up.
            waiting_ = true;
            waiting_matched_ = false;
            waiting_digest_ = d;
            waiting_row_ = pr;
            int budget = 4 * nsubs;
            while (budget-- > 0) {
                bool any = false;
                if (heap_order_)
                    any = PullHeapLink();
                for (int32 k = 0; k < nsubs && !any && !heap_order_; k++) {
                    int32 s = (rr + k) % nsubs;
                    if (PullLink(s)) {
                        any = true;
                        rr = (s + 1) % nsubs;
                    }
                }
                if (!any || waiting_matched_)
                    break;
            }
            waiting_ = false;
            matched = waiting_matched_;
        }
        if (matched) {
            // paired in CheckLink
        } else if (it != pending_links_.end()) {
            MatchRow(it->second, pr, static_cast<int64>(it->second.pos));
            pending_links_.erase(it);
        } else {
            pending_rows_.emplace(d, pr);
        }
        if (pending_links_.size() + pending_rows_.size() + ahead_count_ > kMaxPending) {
            overflow = true;
            break;
        }
    }
    if (!overflow && heap_order_) {
        while (PullHeapLink()) {
            if (pending_links_.size() + pending_rows_.size() + ahead_count_ > kMaxPending) {
                overflow = true;
                break;
            }
        }
        for (int32 s = 0; s < nsubs && !overflow; s++)
            DrainAhead(s);
    }
    if (!overflow && !heap_order_) {
        for (int32 s = 0; s < nsubs; s++) {
            while (PullLink(s)) {
                if (pending_links_.size() + pending_rows_.size() > kMaxPending) {
                    overflow = true;
                    break;
                }
            }
        }
    }
    if (overflow) {
        Report(BreakKind::kRowDeleted, -1, -1,
               "verification stopped: more than " + std::to_string(kMaxPending) +
                   " rows and links do not pair up");
    }

    // What is left over: links without a row, rows without a link.
    std::vector<PendingLink> lost;
    for (auto& kv : pending_links_)
        lost.push_back(kv.second);
    std::sort(lost.begin(), lost.end(), [](const PendingLink& a, const PendingLink& b) {
        return a.pos != b.pos ? a.pos < b.pos : a.sub < b.sub;
    });
    std::vector<PendingRow> strays;
    for (auto& kv : pending_rows_)
        strays.push_back(kv.second);
    size_t paired = 0;
    for (const PendingLink& l : lost) {
        // A row whose chain columns name this link's predecessor is that link's row,
        // changed; without chain columns a stray row pairs with a lost link by count.
        bool changed = false;
        for (const PendingRow& r : strays) {
            if (r.has_cols ? (r.prev_ok && r.prev == l.prev) : paired < strays.size()) {
                changed = true;
                break;
            }
        }
        if (changed) {
            paired++;
            Report(BreakKind::kContentChanged, l.sub, static_cast<int64>(l.pos),
                   "the row at position " + std::to_string(l.pos) + " of sub-chain " +
                       std::to_string(l.sub) + " no longer hashes to its link");
        } else {
            Report(BreakKind::kRowDeleted, l.sub, static_cast<int64>(l.pos),
                   "the row at position " + std::to_string(l.pos) + " of sub-chain " +
                       std::to_string(l.sub) + " is missing");
        }
    }
    if (strays.size() > paired) {
        std::sort(strays.begin(), strays.end(), [](const PendingRow& a, const PendingRow& b) {
            return ItemPointerCompare(const_cast<ItemPointer>(&a.tid),
                                      const_cast<ItemPointer>(&b.tid)) < 0;
        });
        const PendingRow& r = strays.front();
        Report(BreakKind::kRowInserted, -1, -1,
               std::to_string(strays.size() - paired) +
                   " row(s) are not in the chain, the first at ctid " + Tid(r.tid));
    }
    if (digest != nullptr) {
        for (int32 s = 0; s < nsubs; s++) {
            SubState& st = subs_[s];
            if (st.want_digest && !st.digest_seen) {
                Report(BreakKind::kRowDeleted, s, static_cast<int64>(st.last_pos + 1),
                       "the chain ends at position " + std::to_string(st.last_pos) +
                           " but the digest names position " + std::to_string(st.digest_pos) +
                           " (the tail was truncated)");
            }
        }
    }

    bridge::PgCall([&] {
        if (link_scan_ != nullptr)
            table_endscan(link_scan_);
        for (SubState& st : subs_) {
            if (st.scan != nullptr)
                systable_endscan_ordered(st.scan);
        }
        index_close(link_idx_, AccessShareLock);
        table_close(link_rel_, AccessShareLock);
        MemoryContextDelete(row_cxt_);
        MemoryContextDelete(plan_cxt_);
    });
}

// Heap order pays when this chain's links are a good part of keel.audit_link: one
// sequential pass instead of an index step and a heap fetch per link.  Otherwise
// (many chains, this one small) the index reads only this chain's links.
bool Verifier::UseHeapOrder() {
    uint64 links = 0;
    for (int32 s = 0; s < cfg_.sub_chains; s++) {
        uint64 pos = 0;
        chain::Hash hash, sig;
        uint32 kid = 0, kver = 0;
        bool have = bridge::PgCall([&] {
            return ReadLast(StateTable::kLink, cfg_.chain_id, s, GetActiveSnapshot(), &pos, &hash,
                            &sig, &kid, &kver);
        });
        if (have && pos > subs_[s].start_pos)
            links += pos - subs_[s].start_pos;
    }
    // About 50 links fit in a page of keel.audit_link.
    constexpr uint64 kLinksPerPage = 50;
    uint64 pages = bridge::PgCall([&] { return uint64{RelationGetNumberOfBlocks(link_rel_)}; });
    return links * 3 >= pages * kLinksPerPage;
}

// The chain of a table named by the user: checks SELECT privilege (verification
// reads every row) and finds the chain id in the table's keel trigger.
int32 ResolveChain(Oid relid, const char* fn) {
    Relation rel = table_open(relid, AccessShareLock);
    AclResult acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
    if (acl != ACLCHECK_OK) {
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("permission denied for table %s", RelationGetRelationName(rel)),
                        errdetail("%s reads every row of the table.", fn)));
    }
    if (rel->rd_rel->relispartition) {
        ereport(
            ERROR,
            (errcode(ERRCODE_WRONG_OBJECT_TYPE),
             errmsg("\"%s\" is a partition of a chained table", RelationGetRelationName(rel)),
             errhint("Call %s on the partitioned table: the chain spans all its partitions.", fn)));
    }
    int32 chain_id = 0;
    TriggerDesc* trig = rel->trigdesc;
    for (int i = 0; trig != nullptr && i < trig->numtriggers; i++) {
        Trigger* t = &trig->triggers[i];
        if (strcmp(t->tgname, "zz_keel_audit_chain") == 0 && t->tgnargs == 1) {
            chain_id = pg_strtoint32(t->tgargs[0]);
        }
    }
    if (chain_id <= 0) {
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("table \"%s\" has no audit chain", RelationGetRelationName(rel)),
                        errhint("Call keel.enable_audit_chain() on it first.")));
    }
    table_close(rel, NoLock);
    return chain_id;
}

// Digest checks before the pass: signature, chain identity, shape.
chain::Digest CheckDigest(const char* text, const ChainConfig& cfg, Oid relid) {
    chain::Digest d = chain::ParseDigest(text).ValueOrThrow();
    if (memcmp(d.chain_salt, cfg.salt, chain::kSaltBytes) != 0) {
        core::Throw(core::ErrorKind::kInvalidParameter, "the digest belongs to another audit chain",
                    "It was made for \"" + d.table_name + "\", not for this table's chain.",
                    "Pass a digest that keel.audit_chain_digest() returned for this table.");
    }
    if (d.heads.size() != static_cast<size_t>(cfg.sub_chains)) {
        core::Throw(core::ErrorKind::kInvalidParameter, "the digest does not fit this chain",
                    "It lists " + std::to_string(d.heads.size()) + " sub-chains; the chain has " +
                        std::to_string(cfg.sub_chains) + ".");
    }
    KeyBytes key;
    HmacKeyVersion(d.key_id, d.key_version, &key);
    chain::Hash mac;
    {
        std::string body = chain::DigestBody(d);
        chain::HmacSha256 h(key.bytes, sizeof key.bytes);
        OPENSSL_cleanse(key.bytes, sizeof key.bytes);
        mac = h.Of(body.data(), body.size());
    }
    if (CRYPTO_memcmp(mac.bytes, d.mac.bytes, chain::kHashBytes) != 0) {
        core::Throw(core::ErrorKind::kDataCorrupted, "the digest's signature is invalid",
                    "The digest was altered or was not made with this chain's HMAC key.");
    }
    (void)relid;
    return d;
}

}  // namespace
}  // namespace keel::pg::audit

KEEL_FUNCTION(keel_verify_audit_chain) {
    if (PG_ARGISNULL(0)) {
        keel::core::Throw(keel::core::ErrorKind::kNullValue,
                          "keel.verify_audit_chain: tbl must not be NULL");
    }
    Oid relid = PG_GETARG_OID(0);
    int32 chain_id = ResolveChain(relid, "keel.verify_audit_chain()");
    ChainConfig cfg;
    LoadChainConfig(chain_id, &cfg);
    char* digest_text = PG_ARGISNULL(1) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(1));
    std::unique_ptr<keel::core::chain::Digest> digest;
    if (digest_text != nullptr) {
        digest = std::make_unique<keel::core::chain::Digest>(CheckDigest(digest_text, cfg, relid));
    }
    int64 rows;
    BreakKind kind;
    int32 sub;
    int64 pos;
    char detail[512];
    {
        Verifier v(relid, cfg);
        v.Run(digest.get());
        rows = v.rows_checked();
        kind = v.first_break().kind;
        sub = v.first_break().sub;
        pos = v.first_break().pos;
        snprintf(detail, sizeof detail, "%s", v.first_break().detail.c_str());
    }
    digest.reset();
    return keel::bridge::PgCall([&] {
        TupleDesc desc;
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) {
            elog(ERROR, "keel: verify must return a record");
        }
        desc = BlessTupleDesc(desc);
        Datum values[6];
        bool nulls[6] = {};
        bool ok = kind == BreakKind::kNone;
        values[0] = BoolGetDatum(ok);
        values[1] = Int64GetDatum(rows);
        values[2] = Int64GetDatum(pos);
        nulls[2] = ok || pos < 0;
        values[3] = CStringGetTextDatum(BreakName(kind));
        nulls[3] = ok;
        values[4] = Int32GetDatum(sub);
        nulls[4] = ok || sub < 0;
        values[5] = CStringGetTextDatum(detail);
        nulls[5] = ok;
        return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    });
}

// ---------------------------------------------------------------- digest

KEEL_FUNCTION(keel_audit_chain_digest) {
    if (PG_ARGISNULL(0)) {
        keel::core::Throw(keel::core::ErrorKind::kNullValue,
                          "keel.audit_chain_digest: tbl must not be NULL");
    }
    Oid relid = PG_GETARG_OID(0);
    int32 chain_id = ResolveChain(relid, "keel.audit_chain_digest()");
    ChainConfig cfg;
    LoadChainConfig(chain_id, &cfg);
    uint8 incarnation[16];
    if (!ReadIncarnation(incarnation)) {
        keel::core::Throw(
            keel::core::ErrorKind::kConfigError, "keel.database_incarnation is empty",
            "The digest names the database incarnation, which CREATE EXTENSION records.");
    }
    const char* qualified =
        DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));
    keel::core::chain::Digest d;
    memcpy(d.incarnation, incarnation, sizeof d.incarnation);
    d.system_identifier = GetSystemIdentifier();
    d.database_oid = MyDatabaseId;
    memcpy(d.chain_salt, cfg.salt, sizeof d.chain_salt);
    d.table_name = qualified;
    d.made_at_unix_us = GetCurrentTimestamp() +
                        (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC;
    for (int32 s = 0; s < cfg.sub_chains; s++) {
        keel::core::chain::DigestHead h;
        h.sub = static_cast<uint32>(s);
        keel::core::chain::Hash sig;
        uint32 kid, kver;
        uint64 pos = 0;
        bool found = keel::bridge::PgCall([&] {
            return ReadLast(StateTable::kLink, chain_id, s, GetActiveSnapshot(), &pos, &h.hash,
                            &sig, &kid, &kver) ||
                   ReadLast(StateTable::kCheckpoint, chain_id, s, GetActiveSnapshot(), &pos,
                            &h.hash, &sig, &kid, &kver);
        });
        h.pos = found ? pos : 0;
        if (!found)
            h.hash = keel::core::chain::GenesisHash();
        d.heads.push_back(h);
    }
    KeyBytes key;
    ActiveHmacKey(cfg.key_name, &key);
    d.key_id = key.key_id;
    d.key_version = key.version;
    {
        std::string body = keel::core::chain::DigestBody(d);
        keel::core::chain::HmacSha256 mac(key.bytes, sizeof key.bytes);
        OPENSSL_cleanse(key.bytes, sizeof key.bytes);
        d.mac = mac.Of(body.data(), body.size());
    }
    std::string text = keel::core::chain::DigestText(d);
    char* out = keel::bridge::PgCall([&] { return pstrdup(text.c_str()); });
    return keel::bridge::PgCall([&] { return CStringGetTextDatum(out); });
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

KEEL_FUNCTION(keel_audit_lock_chain) {
    int32 chain_id = PG_GETARG_INT32(0);
    ChainConfig cfg;
    LoadChainConfig(chain_id, &cfg);
    for (int32 s = 0; s < cfg.sub_chains; s++) {
        LockSub(chain_id, s);
        AwaitPendingWriters(chain_id, s, true);
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
    StoreLink(chain_id, sub, cfg.salt, pos, digest, link, sig, key.key_id, key.version);
    Datum elems[2] = {HexTextDatum(prev), HexTextDatum(sig)};
    PG_RETURN_ARRAYTYPE_P(construct_array(elems, 2, TEXTOID, -1, false, TYPALIGN_INT));
}
