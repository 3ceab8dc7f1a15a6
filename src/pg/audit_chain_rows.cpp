#include "pg/audit_chain_rows.hpp"

#include <sched.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "bridge/guard.hpp"
#include "pg/audit_chain_shmem.hpp"
#include "pg/keystore.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "catalog/pg_namespace.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "storage/lock.h"
#include "storage/s_lock.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
#include "access/transam.h"
#include "utils/syscache.h"
#include "utils/uuid.h"
}

namespace keel::pg::audit {
namespace {

constexpr uint16 kLockField4 = 0x6b;  // 'k': keel's advisory lock space (SQL uses 1 and 2)

const char* TypeName(Oid type) {
    HeapTuple tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
    if (!HeapTupleIsValid(tp))
        elog(ERROR, "cache lookup failed for type %u", type);
    const char* name = pstrdup(NameStr(reinterpret_cast<Form_pg_type>(GETSTRUCT(tp))->typname));
    ReleaseSysCache(tp);
    return name;
}

Enc ClassifyScalar(Oid base) {
    switch (base) {
        case INT2OID:
            return Enc::kInt2;
        case INT4OID:
        case DATEOID:
            return Enc::kInt4;
        case INT8OID:
        case TIMESTAMPOID:
        case TIMESTAMPTZOID:
        case TIMEOID:
            return Enc::kInt8;
        case OIDOID:
            return Enc::kOid;
        case BOOLOID:
            return Enc::kBool;
        case FLOAT4OID:
            return Enc::kFloat4;
        case FLOAT8OID:
            return Enc::kFloat8;
        case UUIDOID:
            return Enc::kUuid;
        case BYTEAOID:
            return Enc::kBytea;
        case TEXTOID:
        case VARCHAROID:
        case BPCHAROID:
        case JSONOID:
        case XMLOID:
            return Enc::kTextRaw;
        case JSONBOID:  // its binary form: canonical (sorted, unique keys)
            return Enc::kBytea;
        case NAMEOID:
            return Enc::kName;
        case CHAROID:
            return Enc::kChar;
        case NUMERICOID:
        case INTERVALOID:
        case TIMETZOID:
        case INETOID:
        case CIDROID:
        case MACADDROID:
        case MACADDR8OID:
        case CASHOID:
            return Enc::kSend;
        default:
            return Enc::kOut;
    }
}

chain::Form FormOf(Enc e) {
    switch (e) {
        case Enc::kTextRaw:
        case Enc::kName:
        case Enc::kChar:
        case Enc::kOut:
            return chain::Form::kText;
        case Enc::kArray:
            return chain::Form::kArray;
        default:
            return chain::Form::kBinary;
    }
}

void SetFunction(Enc enc, Oid type, FmgrInfo* fn, MemoryContext mcxt) {
    Oid func;
    bool varlena;
    if (enc == Enc::kSend) {
        getTypeBinaryOutputInfo(type, &func, &varlena);
        fmgr_info_cxt(func, fn, mcxt);
    } else if (enc == Enc::kOut) {
        getTypeOutputInfo(type, &func, &varlena);
        fmgr_info_cxt(func, fn, mcxt);
    }
}

void PutBE(char* p, uint64 v, int n) {
    for (int i = n - 1; i >= 0; i--) {
        p[i] = static_cast<char>(v & 0xff);
        v >>= 8;
    }
}

// Bytes of one scalar value: fixed-size values go to `small` (8 bytes), others are
// pointed at in the tuple or palloc'd in the current context.
void EncodeScalar(Enc enc, FmgrInfo* fn, Datum value, char* small, const char** data, uint32* len) {
    switch (enc) {
        case Enc::kInt2:
            PutBE(small, static_cast<uint16>(DatumGetInt16(value)), 2);
            *data = small, *len = 2;
            return;
        case Enc::kInt4:
            PutBE(small, static_cast<uint32>(DatumGetInt32(value)), 4);
            *data = small, *len = 4;
            return;
        case Enc::kOid:
            PutBE(small, DatumGetObjectId(value), 4);
            *data = small, *len = 4;
            return;
        case Enc::kInt8:
            PutBE(small, static_cast<uint64>(DatumGetInt64(value)), 8);
            *data = small, *len = 8;
            return;
        case Enc::kBool:
            small[0] = DatumGetBool(value) ? 1 : 0;
            *data = small, *len = 1;
            return;
        case Enc::kFloat4: {
            float4 f = DatumGetFloat4(value);
            uint32 bits;
            memcpy(&bits, &f, 4);
            PutBE(small, bits, 4);
            *data = small, *len = 4;
            return;
        }
        case Enc::kFloat8: {
            float8 f = DatumGetFloat8(value);
            uint64 bits;
            memcpy(&bits, &f, 8);
            PutBE(small, bits, 8);
            *data = small, *len = 8;
            return;
        }
        case Enc::kUuid:
            *data = reinterpret_cast<const char*>(DatumGetUUIDP(value)->data);
            *len = UUID_LEN;
            return;
        case Enc::kBytea:
        case Enc::kTextRaw: {
            struct varlena* v = PG_DETOAST_DATUM_PACKED(value);
            *data = VARDATA_ANY(v);
            *len = VARSIZE_ANY_EXHDR(v);
            return;
        }
        case Enc::kName:
            *data = NameStr(*DatumGetName(value));
            *len = strlen(*data);
            return;
        case Enc::kChar:
            small[0] = DatumGetChar(value);
            *data = small, *len = 1;
            return;
        case Enc::kSend: {
            bytea* b = SendFunctionCall(fn, value);
            *data = VARDATA(b);
            *len = VARSIZE(b) - VARHDRSZ;
            return;
        }
        case Enc::kOut:
            *data = OutputFunctionCall(fn, value);
            *len = strlen(*data);
            return;
        case Enc::kArray:
            break;
    }
    elog(ERROR, "keel: unexpected audit chain column encoding");
}

// keel's array encoding (documented in docs/audit_chain.md), built here because the
// element bytes come from PostgreSQL; the layout mirrors core::chain::EncodeArray.
void EncodeArrayValue(const ColumnPlan& c, Datum value, const char** data, uint32* len) {
    ArrayType* arr = DatumGetArrayTypeP(value);
    int ndim = ARR_NDIM(arr);
    int* dims = ARR_DIMS(arr);
    int* lbs = ARR_LBOUND(arr);
    Datum* elems;
    bool* nulls;
    int n;
    deconstruct_array(arr, c.elem_type, c.elem_len, c.elem_byval, c.elem_align, &elems, &nulls, &n);
    StringInfoData s;
    initStringInfo(&s);
    char b4[4];
    PutBE(b4, static_cast<uint32>(ndim), 4);
    appendBinaryStringInfo(&s, b4, 4);
    for (int d = 0; d < ndim; d++) {
        PutBE(b4, static_cast<uint32>(lbs[d]), 4);
        appendBinaryStringInfo(&s, b4, 4);
        PutBE(b4, static_cast<uint32>(dims[d]), 4);
        appendBinaryStringInfo(&s, b4, 4);
    }
    appendStringInfoChar(&s, static_cast<char>(FormOf(c.elem_enc)));
    FmgrInfo* fn = const_cast<FmgrInfo*>(&c.fn);
    for (int i = 0; i < n; i++) {
        if (nulls[i]) {
            appendStringInfoChar(&s, 0);
            continue;
        }
        const char* ed;
        uint32 el;
        char small[8];
        EncodeScalar(c.elem_enc, fn, elems[i], small, &ed, &el);
        appendStringInfoChar(&s, 1);
        PutBE(b4, el, 4);
        appendBinaryStringInfo(&s, b4, 4);
        appendBinaryStringInfo(&s, ed, static_cast<int>(el));
    }
    *data = s.data;
    *len = static_cast<uint32>(s.len);
}

int CompareColumnNames(const void* a, const void* b) {
    return strcmp(static_cast<const ColumnPlan*>(a)->name, static_cast<const ColumnPlan*>(b)->name);
}

Oid KeelNamespace() {
    return get_namespace_oid("keel", false);
}

}  // namespace

Oid KeelRelid(const char* name) {
    Oid relid = get_relname_relid(name, KeelNamespace());
    if (!OidIsValid(relid))
        elog(ERROR, "keel: relation keel.%s is missing", name);
    return relid;
}

bool IsChained(Oid relid) {
    return OidIsValid(get_trigger_oid(relid, kChainTrigger, true));
}

void LoadChainConfig(int32 chain_id, ChainConfig* out) {
    memset(out, 0, sizeof *out);
    // Read directly (no SPI): inserting roles need no privilege on keel.audit_chain.
    Relation rel = table_open(KeelRelid("audit_chain"), AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(chain_id));
    SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, nullptr, 1, &key);
    HeapTuple tup = systable_getnext(scan);
    if (tup == nullptr) {
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("audit chain %d does not exist", chain_id),
                        errhint("Attach the chain with keel.enable_audit_chain().")));
    }
    // chain_id, table_name, hash_column, signature_column, key_name, sub_chains, salt,
    // enabled_at, tbl
    TupleDesc desc = RelationGetDescr(rel);
    bool isnull;
    out->chain_id = chain_id;
    Datum h = heap_getattr(tup, 3, desc, &isnull);
    out->has_columns = !isnull;
    if (!isnull) {
        namestrcpy(&out->hash_column, NameStr(*DatumGetName(h)));
        namestrcpy(&out->signature_column,
                   NameStr(*DatumGetName(heap_getattr(tup, 4, desc, &isnull))));
    }
    text* key_name = DatumGetTextPP(heap_getattr(tup, 5, desc, &isnull));
    text_to_cstring_buffer(key_name, out->key_name, sizeof out->key_name);
    out->sub_chains = DatumGetInt32(heap_getattr(tup, 6, desc, &isnull));
    bytea* salt = DatumGetByteaPP(heap_getattr(tup, 7, desc, &isnull));
    if (VARSIZE_ANY_EXHDR(salt) != chain::kSaltBytes || out->sub_chains < 1) {
        elog(ERROR, "keel: audit chain %d is malformed", chain_id);
    }
    memcpy(out->salt, VARDATA_ANY(salt), chain::kSaltBytes);
    Datum tbl = desc->natts >= 9 ? heap_getattr(tup, 9, desc, &isnull) : (isnull = true, 0);
    out->relid = isnull ? InvalidOid : DatumGetObjectId(tbl);
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
}

bool ReadIncarnation(uint8 out[16]) {
    Relation rel = table_open(KeelRelid("database_incarnation"), AccessShareLock);
    SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, nullptr, 0, nullptr);
    HeapTuple tup = systable_getnext(scan);
    bool found = tup != nullptr;
    if (found) {
        bool isnull;
        Datum u = heap_getattr(tup, 1, RelationGetDescr(rel), &isnull);
        memcpy(out, DatumGetUUIDP(u)->data, 16);
    }
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
    return found;
}

RowPlan* BuildRowPlan(TupleDesc desc, Oid relid, const ChainConfig& cfg, MemoryContext mcxt) {
    MemoryContext old = MemoryContextSwitchTo(mcxt);
    auto* plan = static_cast<RowPlan*>(
        palloc0(offsetof(RowPlan, cols) + sizeof(ColumnPlan) * (desc->natts + 1)));
    plan->relid = relid;
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute a = TupleDescAttr(desc, i);
        if (a->attisdropped || a->attgenerated)
            continue;
        const char* name = NameStr(a->attname);
        if (cfg.has_columns && (strcmp(name, NameStr(cfg.hash_column)) == 0 ||
                                strcmp(name, NameStr(cfg.signature_column)) == 0)) {
            continue;
        }
        ColumnPlan& c = plan->cols[plan->ncols++];
        c.attnum = a->attnum;
        c.name = pstrdup(name);
        Oid base = getBaseType(a->atttypid);
        char typtype = get_typtype(base);
        Oid elem = get_element_type(base);
        if (OidIsValid(elem)) {
            elem = getBaseType(elem);
            if (get_typtype(elem) == TYPTYPE_COMPOSITE || get_typtype(elem) == TYPTYPE_PSEUDO) {
                typtype = TYPTYPE_COMPOSITE;
            }
        }
        if (typtype == TYPTYPE_COMPOSITE || typtype == TYPTYPE_PSEUDO) {
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("column \"%s\" of relation \"%s\" has a composite type", name,
                                   get_rel_name(relid)),
                            errdetail("The canonical row encoding covers scalar, enum, domain and "
                                      "array columns.")));
        }
        if (OidIsValid(elem)) {
            c.enc = Enc::kArray;
            c.elem_type = elem;
            c.elem_enc = ClassifyScalar(elem);
            get_typlenbyvalalign(get_element_type(base), &c.elem_len, &c.elem_byval, &c.elem_align);
            c.elem_type = get_element_type(base);
            SetFunction(c.elem_enc, c.elem_type, &c.fn, mcxt);
            c.type_name = TypeName(elem);
        } else {
            c.enc = ClassifyScalar(base);
            SetFunction(c.enc, a->atttypid, &c.fn, mcxt);
            c.type_name = TypeName(base);
        }
    }
    for (int i = 0; i < plan->ncols; i++) {
        ColumnPlan& c = plan->cols[i];
        chain::Form form = FormOf(c.enc);
        size_t n = chain::FieldPrefixSize(c.name, c.type_name);
        char* prefix = static_cast<char*>(palloc(n));
        chain::WriteFieldPrefix(c.name, c.type_name, form, prefix);
        c.prefix = prefix;
        c.prefix_len = static_cast<uint32>(n);
    }
    // The canonical encoding's order (bytewise by name, as strcmp compares), once per plan.
    qsort(plan->cols, static_cast<size_t>(plan->ncols), sizeof(ColumnPlan), CompareColumnNames);
    MemoryContextSwitchTo(old);
    return plan;
}

int CollectFields(const RowPlan* plan, HeapTuple tuple, TupleDesc desc, RawField* out,
                  Datum** values_out, bool** nulls_out) {
    // One deform per row (heap_getattr per column would walk the tuple again and again).
    auto* values = static_cast<Datum*>(palloc(sizeof(Datum) * desc->natts));
    auto* nulls = static_cast<bool*>(palloc(sizeof(bool) * desc->natts));
    heap_deform_tuple(tuple, desc, values, nulls);
    if (values_out != nullptr)
        *values_out = values;
    if (nulls_out != nullptr)
        *nulls_out = nulls;
    int n = 0;
    for (int i = 0; i < plan->ncols; i++) {
        const ColumnPlan& c = plan->cols[i];
        if (nulls[c.attnum - 1])
            continue;
        Datum v = values[c.attnum - 1];
        RawField& f = out[n++];
        f.prefix = c.prefix;
        f.prefix_len = c.prefix_len;
        if (c.enc == Enc::kArray) {
            EncodeArrayValue(c, v, &f.data, &f.len);
        } else {
            EncodeScalar(c.enc, const_cast<FmgrInfo*>(&c.fn), v, f.inline_bytes, &f.data, &f.len);
        }
    }
    return n;
}

chain::Hash HashRow(const RawField* fields, int n, chain::Sha256& sha) {
    // Reused across rows (a backend hashes one row at a time): no allocation per row.
    // A buffer grown by an unusually large row is given back afterwards.
    static std::vector<chain::SortedField> f;
    static std::string encoded;
    constexpr size_t kKeepBytes = size_t{1} << 20;
    f.resize(static_cast<size_t>(n));
    for (int i = 0; i < n; i++) {
        f[i].prefix = std::string_view(fields[i].prefix, fields[i].prefix_len);
        f[i].value = std::string_view(fields[i].data, fields[i].len);
    }
    chain::EncodeSortedRow(f.data(), f.size(), &encoded);
    chain::Hash h = sha.Of(encoded.data(), encoded.size());
    if (encoded.capacity() > kKeepBytes)
        std::string().swap(encoded);
    return h;
}

// ---------------------------------------------------------------- keys
//
// From the key store (src/pg/keystore.hpp): C++ calls that throw, so never inside
// bridge::PgCall.  The 32 bytes are copied out and the DataKey cleanses its own.

void ActiveHmacKey(const char* name, KeyBytes* out) {
    DataKey k = ActiveKey(name, KeyPurpose::kHmac);
    out->key_id = k.key_id;
    out->version = k.version;
    memcpy(out->bytes, k.key.bytes, sizeof out->bytes);
}

void HmacKeyVersion(uint32 key_id, uint32 version, KeyBytes* out) {
    DataKey k = KeyVersion(key_id, version, KeyPurpose::kHmac);
    out->key_id = k.key_id;
    out->version = k.version;
    memcpy(out->bytes, k.key.bytes, sizeof out->bytes);
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

// ---------------------------------------------------------------- locks and state

// Sub-chain locks are heavyweight locks in keel's advisory space, taken at session
// level and released by keel itself: on commit at pre-commit (XACT_EVENT_PRE_COMMIT,
// after the last row of the transaction is linked, before the commit record), on abort
// after the aborted links are invisible and the shared head has been invalidated.  The
// next writer may so link to a head whose transaction is still committing; it records
// that transaction as its predecessor and, at its own pre-commit, waits for it to end
// and fails with 40001 if it aborted (commit dependency).  So chain order stays commit
// order, and a link never survives the link it follows, while the next writer no longer
// waits for the whole of the previous one's commit (its WAL record, its proc array
// update, the wake-up of the WAL writer, resource cleanup) before it can link.
//
// Such a committing predecessor's link is not visible to SnapshotSelf, so a writer that
// must read the head from the table (no shared head: after a restart, an abort, or
// without shared_preload_libraries) first waits for every writer of the sub-chain that
// has handed the lock over and not finished: each appending transaction holds a
// transaction-level ShareLock on the sub-chain's "pending" tag until it ends, and the
// table reader takes it in ExclusiveLock for the moment of its read.
//
// A rolled-back savepoint keeps the sub-chain lock (its transaction goes on); PREPARE
// TRANSACTION hands it over at pre-prepare like a commit (successors wait for COMMIT or
// ROLLBACK PREPARED).  More sub-chains in one transaction than tracked here are locked
// at transaction level and kept to the end, as before.
namespace {
constexpr uint16 kPendingField4 = 0x6c;  // 'l': "a link of this sub-chain may be pending"
constexpr int kMaxHeldSubs = 32;
constexpr int kMaxPredecessors = 32;
struct HeldSub {
    int32 chain_id;
    int32 sub;
};
struct Predecessor {
    int32 chain_id;
    TransactionId xid;
    SubTransactionId subxact;  // that followed it (a rolled-back one drops the dependency)
};
HeldSub g_held[kMaxHeldSubs];
int g_nheld = 0;
Predecessor g_preds[kMaxPredecessors];
int g_npreds = 0;
bool g_lock_callback = false;

void SubLockTag(LOCKTAG* tag, int32 chain_id, int32 sub, uint16 field4 = kLockField4) {
    SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, static_cast<uint32>(chain_id),
                         static_cast<uint32>(sub), field4);
}

bool HeldBySession(int32 chain_id, int32 sub) {
    for (int i = 0; i < g_nheld; i++) {
        if (g_held[i].chain_id == chain_id && g_held[i].sub == sub)
            return true;
    }
    return false;
}

void ReleaseHeldSubs() {
    for (int i = 0; i < g_nheld; i++) {
        LOCKTAG tag;
        SubLockTag(&tag, g_held[i].chain_id, g_held[i].sub);
        (void)LockRelease(&tag, ExclusiveLock, true);
    }
    g_nheld = 0;
}

// Waits until the transaction that wrote the link this one follows has ended; raises
// 40001 if it aborted.  The predecessor is normally finishing its commit already (at two
// clients it was still in progress at a third of the pre-commits, for about 45 us), so
// this retries for a while before it sleeps on the transaction's lock; it checks the
// proc array only every few microseconds, since each check takes ProcArrayLock, which
// the predecessor needs exclusively to end (a contended try sends it to the slower
// group path).
void AwaitPredecessor(const Predecessor& p) {
    if (TransactionIdIsInProgress(p.xid)) {
        instr_time start, now;
        INSTR_TIME_SET_CURRENT(start);
        for (;;) {
            for (int k = 0; k < 400; k++)
                SPIN_DELAY();
            if (!TransactionIdIsInProgress(p.xid))
                break;
            INSTR_TIME_SET_CURRENT(now);
            INSTR_TIME_SUBTRACT(now, start);
            if (INSTR_TIME_GET_MICROSEC(now) > 200) {
                XactLockTableWait(p.xid, nullptr, nullptr, XLTW_None);
                break;
            }
        }
    }
    if (!TransactionIdDidCommit(p.xid)) {
        ereport(ERROR,
                (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                 errmsg("could not commit: the transaction before this one in an audit chain "
                        "rolled back"),
                 errdetail("Transaction %u appended the link that this transaction's first link "
                           "in audit chain %d follows, and rolled back after its commit had "
                           "begun.",
                           p.xid, p.chain_id),
                 errhint("Retry the transaction.")));
    }
}

void AwaitPredecessors() {
    while (g_npreds > 0) {
        Predecessor p = g_preds[--g_npreds];
        AwaitPredecessor(p);
    }
}

void OnXactLocks(XactEvent event, void*) {
    switch (event) {
        case XACT_EVENT_PRE_COMMIT:
        case XACT_EVENT_PRE_PREPARE:
            ReleaseHeldSubs();  // hand over: no more links come from this transaction
            AwaitPredecessors();
            break;
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
        case XACT_EVENT_PREPARE:
            ReleaseHeldSubs();  // nothing left normally
            g_npreds = 0;
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
            SharedHeadAbortWritten();  // before anyone else can read the head
            ReleaseHeldSubs();
            g_npreds = 0;
            break;
        default:
            break;
    }
}

// A rolled-back subtransaction takes its links along, and with them its reason to
// depend on the writers it followed: the transaction reads those heads again if it
// appends again (and depends on them again, or reads the table once they have ended).
// Without this, a transaction whose only link after a writer rolled back to a savepoint
// failed with 40001 when that writer rolled back.
void OnSubXactLocks(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void*) {
    if (event == SUBXACT_EVENT_COMMIT_SUB) {
        for (int i = 0; i < g_npreds; i++) {
            if (g_preds[i].subxact == sub)
                g_preds[i].subxact = parent;
        }
    } else if (event == SUBXACT_EVENT_ABORT_SUB) {
        int n = 0;
        for (int i = 0; i < g_npreds; i++) {
            if (g_preds[i].subxact != sub)
                g_preds[n++] = g_preds[i];
        }
        g_npreds = n;
    }
}

void EnsureLockCallback() {
    if (!g_lock_callback) {
        RegisterXactCallback(OnXactLocks, nullptr);
        RegisterSubXactCallback(OnSubXactLocks, nullptr);
        g_lock_callback = true;
    }
}

// Takes the lock (waiting or not); true when it is held afterwards.  Without hand-over
// it is a transaction-level lock, held to the end as before the hand-over existed.
bool AcquireSub(int32 chain_id, int32 sub, bool dont_wait, bool handover) {
    if (HeldBySession(chain_id, sub))
        return true;
    EnsureLockCallback();
    LOCKTAG tag;
    SubLockTag(&tag, chain_id, sub);
    bool session = handover && g_nheld < kMaxHeldSubs;
    if (LockAcquire(&tag, ExclusiveLock, session, dont_wait) == LOCKACQUIRE_NOT_AVAIL)
        return false;
    if (session)
        g_held[g_nheld++] = HeldSub{chain_id, sub};
    return true;
}
}  // namespace

bool FollowWriter(int32 chain_id, FullTransactionId full_writer, bool handover) {
    if (!FullTransactionIdIsValid(full_writer))
        return true;
    // A chain idle for 2^31 transactions (days on a busy server, with no restart): the
    // writer's 32-bit id now means another transaction, or one not yet begun, whose
    // status lookup fails, and every append with it.  Such a writer has ended: no
    // transaction lives through 2^31 others (PostgreSQL stops assigning ids well before,
    // to avoid wraparound).  Closer than that, the 32-bit comparisons below are sound:
    // RecentXmin and the commit log's horizon are within 2^31 of next for the same reason.
    uint64 next = U64FromFullTransactionId(ReadNextFullTransactionId());
    if (next - U64FromFullTransactionId(full_writer) >= (uint64{1} << 31))
        return false;  // also a writer "after" next: never made by this cluster
    TransactionId writer = XidFromFullTransactionId(full_writer);
    if (TransactionIdIsCurrentTransactionId(writer))
        return true;
    for (int i = 0; i < g_npreds; i++) {
        if (g_preds[i].xid == writer)
            return true;
    }
    // Usually the writer ended before this transaction's snapshot: nothing to wait for.
    // But the head of a chain left idle for a million transactions or so may name a
    // writer whose status vacuum has since truncated from the commit log (looking it up
    // would fail, and so would every append until a restart): the table has the head.
    if (TransactionIdPrecedes(writer, RecentXmin)) {
        LWLockAcquire(XactTruncationLock, LW_SHARED);
        bool committed = !TransactionIdPrecedes(writer, ShmemVariableCache->oldestClogXid) &&
                         TransactionIdDidCommit(writer);
        LWLockRelease(XactTruncationLock);
        return committed;
    }
    // The commit log is not enough: a writer marked committed there is still in the
    // proc array until it ends, and new snapshots do not see it yet.  Were this
    // transaction to commit first, a snapshot taken meanwhile (a verification, or the
    // REPEATABLE READ snapshot of a pg_dump) would see this link without the one it
    // follows.  So it depends on the writer as on any committing one; at pre-commit it
    // has usually ended (AwaitPredecessor), and the proc array is checked only then.
    // (Without hand-over the writer kept the sub-chain lock until it had left the proc
    // array, so the commit log is enough.)
    if (TransactionIdDidCommit(writer)) {
        if (!handover)
            return true;
    } else if (!TransactionIdIsInProgress(writer)) {
        return TransactionIdDidCommit(writer);  // committed meanwhile: nothing to wait for
    }
    EnsureLockCallback();
    Predecessor p{chain_id, writer, GetCurrentSubTransactionId()};
    if (g_npreds == kMaxPredecessors) {
        AwaitPredecessor(p);  // no room to defer the wait: wait now
        return true;
    }
    g_preds[g_npreds++] = p;
    return true;
}

void MarkPendingWriter(int32 chain_id, int32 sub) {
    LOCKTAG tag;
    SubLockTag(&tag, chain_id, sub, kPendingField4);
    (void)LockAcquire(&tag, ShareLock, false, false);
}

void AwaitPendingWriters(int32 chain_id, int32 sub, bool keep) {
    LOCKTAG tag;
    SubLockTag(&tag, chain_id, sub, kPendingField4);
    (void)LockAcquire(&tag, ExclusiveLock, false, false);
    if (!keep)
        (void)LockRelease(&tag, ExclusiveLock, false);
}

void LockSub(int32 chain_id, int32 sub, bool handover) {
    (void)AcquireSub(chain_id, sub, false, handover);
}

// A heavyweight lock wait sleeps and is woken by the holder's release: a signal, the
// deadlock timer and a context switch on each side, which on a virtual machine costs
// more than the rest of a short audit transaction (one-row transactions from two
// clients spent more time handing the lock over than holding it).  The chain lock is
// held only until the holder commits, usually tens of microseconds, so a writer first
// retries without queueing for a while and only then queues and sleeps.  The lock and
// its semantics are the same either way (a conditional acquire that fails leaves no
// trace); only how a writer waits changes.  How long it retries adapts per backend: a
// retry that ended in the lock lengthens the next one, one that ended in a sleep anyway
// (a long transaction holds the lock, or the machine is overloaded) halves it.
namespace {
constexpr int64 kSpinMaxMicros = 400;
constexpr int64 kSpinMinMicros = 25;
int64 g_spin_micros = kSpinMaxMicros;
}  // namespace

void LockSubSpinning(int32 chain_id, int32 sub, bool handover) {
    if (TryLockSub(chain_id, sub, handover))
        return;
    instr_time start, now;
    INSTR_TIME_SET_CURRENT(start);
    for (int round = 0;; round++) {
        if (round < 32) {
            for (int k = 0; k < 50; k++)
                SPIN_DELAY();
        } else {
            sched_yield();  // the holder may be waiting for this CPU
        }
        CHECK_FOR_INTERRUPTS();
        if (TryLockSub(chain_id, sub, handover)) {
            g_spin_micros = std::min(kSpinMaxMicros, g_spin_micros * 2);
            return;
        }
        INSTR_TIME_SET_CURRENT(now);
        INSTR_TIME_SUBTRACT(now, start);
        if (static_cast<int64>(INSTR_TIME_GET_MICROSEC(now)) > g_spin_micros)
            break;
    }
    g_spin_micros = std::max(kSpinMinMicros, g_spin_micros / 2);
    LockSub(chain_id, sub, handover);
}

bool TryLockSub(int32 chain_id, int32 sub, bool handover) {
    return AcquireSub(chain_id, sub, true, handover);
}

bool ReadLast(StateTable which, int32 chain_id, int32 sub, Snapshot snapshot, uint64* pos,
              chain::Hash* hash, chain::Hash* signature, uint32* key_id, uint32* key_version) {
    Relation rel = table_open(
        KeelRelid(which == StateTable::kLink ? "audit_link" : "audit_checkpoint"), AccessShareLock);
    Relation idx = index_open(RelationGetPrimaryKeyIndex(rel), AccessShareLock);
    ScanKeyData keys[2];
    ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(chain_id));
    ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(sub));
    SysScanDesc scan = systable_beginscan_ordered(rel, idx, snapshot, 2, keys);
    HeapTuple tup = systable_getnext_ordered(scan, BackwardScanDirection);
    bool found = tup != nullptr;
    if (found) {
        TupleDesc desc = RelationGetDescr(rel);
        // audit_link:       chain_id, sub, pos, row_digest, link_hash, signature, key_id,
        // key_version audit_checkpoint: chain_id, sub, pos, link_hash, signature, key_id,
        // key_version, ...
        int h = which == StateTable::kLink ? 5 : 4;
        bool isnull;
        *pos = static_cast<uint64>(DatumGetInt64(heap_getattr(tup, 3, desc, &isnull)));
        bytea* b = DatumGetByteaPP(heap_getattr(tup, h, desc, &isnull));
        bytea* s = DatumGetByteaPP(heap_getattr(tup, h + 1, desc, &isnull));
        if (VARSIZE_ANY_EXHDR(b) != chain::kHashBytes ||
            VARSIZE_ANY_EXHDR(s) != chain::kHashBytes) {
            ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                            errmsg("audit chain %d has a malformed head at position " UINT64_FORMAT,
                                   chain_id, *pos)));
        }
        memcpy(hash->bytes, VARDATA_ANY(b), chain::kHashBytes);
        memcpy(signature->bytes, VARDATA_ANY(s), chain::kHashBytes);
        *key_id = static_cast<uint32>(DatumGetInt32(heap_getattr(tup, h + 2, desc, &isnull)));
        *key_version = static_cast<uint32>(DatumGetInt32(heap_getattr(tup, h + 3, desc, &isnull)));
    }
    systable_endscan_ordered(scan);
    index_close(idx, AccessShareLock);
    table_close(rel, AccessShareLock);
    return found;
}

}  // namespace keel::pg::audit
