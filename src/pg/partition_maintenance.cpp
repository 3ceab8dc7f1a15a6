// keel.run_maintenance(): time-partition upkeep for the tables in keel.partition_config.
//
// Per registered parent, in its own subtransaction (one failing table is reported in
// its result row and does not stop the others):
//
//   1. LOCK parent SHARE UPDATE EXCLUSIVE.  Self-conflicting, so two sessions never
//      maintain one parent at once (the second waits, then finds the work done); it
//      blocks no reader or writer.  The partition bounds are then read once from the
//      relcache partition descriptor (PostgreSQL's own parse of pg_class.relpartbound),
//      and the default partition is checked for rows (block count, then one tuple).
//      Nothing to do: that is all, no SPI, no catalog write (the warm path).
//   2. Work to do: LOCK parent ACCESS EXCLUSIVE (CREATE/DROP/DETACH need it anyway),
//      then the default partition ACCESS EXCLUSIVE, then each partition retired.
//      Always parent before partitions.  Waits honour lock_timeout.
//   3. Rows in the default partition are moved into their partitions (created for
//      them), in that subtransaction: copied out, deleted, partition created, inserted
//      back through the parent; the counts must match or everything rolls back.
//      Rows that cannot move are named (ctid and key) in a 'refused' row.
//   4. Missing partitions from start_back periods back to premake ahead are created.
//   5. Partitions whose upper bound is at or before as_of - retention are dropped or
//      detached (through keel.audit_chain_retire_partition() for chained parents).
//
// Then, for a full run, every enabled keel.maintenance_task, each in a subtransaction.
#include "bridge/guard.hpp"
#include "bridge/subxact.hpp"
#include "core/partition_time.hpp"
#include "pg/gucs.hpp"

#include <map>
#include <string>
#include <vector>

extern "C" {
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "executor/tuptable.h"
#include "mb/pg_wchar.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/smgr.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/partcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

namespace keel::pg {
namespace {

namespace pt = core::parttime;
using bridge::PgCall;
using core::ErrorKind;

constexpr size_t kRowsNamed = 5;  // rows named per refused group

struct ConfigRow {
    Oid parent = InvalidOid;
    pt::Period period = pt::Period::kMonth;
    int premake = 0;
    int start_back = 0;
    bool has_retention = false;
    pt::IntervalValue retention;
    bool detach = false;
};

struct ActionRow {
    Oid parent;
    std::string action;
    std::string object;
    bool has_rows;
    int64_t rows;
    std::string detail;
};

struct PartInfo {
    Oid oid = InvalidOid;
    pt::Range range{pt::kMinusInfinity, pt::kPlusInfinity};
    // Schema-qualified, quoted; looked up when first needed (a message, a DROP), so the
    // warm path never builds a name.
    const std::string& Name() const;

  private:
    mutable std::string name_;
};

struct ParentInfo {
    Oid oid = InvalidOid;
    Oid nsp = InvalidOid;
    std::string qualified;  // quoted schema.name
    std::string schema;     // quoted
    std::string relname;    // raw
    pt::KeyType key_type = pt::KeyType::kTimestamptz;
    Oid key_typid = InvalidOid;
    std::string key_column;  // raw
    bool owner_is_me = true;
    bool has_acl = false;
    int natts = 0;
    std::vector<std::string> columns;  // quoted, non-dropped, non-generated
    std::vector<PartInfo> parts;       // non-default
    bool has_default = false;
    PartInfo def;
};

std::string Quote(const char* ident) {
    return quote_identifier(ident);
}

std::string Literal(const std::string& s) {
    const char* in = s.c_str();
    return PgCall([&] { return quote_literal_cstr(in); });
}

const char* KeyTypeName(pt::KeyType t) {
    switch (t) {
        case pt::KeyType::kDate:
            return "date";
        case pt::KeyType::kTimestamp:
            return "timestamp";
        case pt::KeyType::kTimestamptz:
            return "timestamptz";
    }
    return "timestamptz";
}

pt::Micros ToMicros(Datum d, pt::KeyType t) {
    if (t == pt::KeyType::kDate) {
        DateADT v = DatumGetDateADT(d);
        if (DATE_IS_NOBEGIN(v))
            return pt::kMinusInfinity;
        if (DATE_IS_NOEND(v))
            return pt::kPlusInfinity;
        return static_cast<pt::Micros>(v) * pt::kMicrosPerDay;
    }
    Timestamp v = DatumGetTimestamp(d);
    if (TIMESTAMP_IS_NOBEGIN(v))
        return pt::kMinusInfinity;
    if (TIMESTAMP_IS_NOEND(v))
        return pt::kPlusInfinity;
    return v;
}

std::string QualifiedName(Oid nsp, const char* relname) {
    const char* schema = PgCall([&] { return get_namespace_name(nsp); });
    return PgCall([&] { return quote_qualified_identifier(schema, relname); });
}

const std::string& PartInfo::Name() const {
    if (name_.empty()) {
        Oid rel = oid;
        const char* relname = PgCall([&] { return get_rel_name(rel); });
        Oid nsp = PgCall([&] { return get_rel_namespace(rel); });
        name_ = relname != nullptr ? QualifiedName(nsp, relname) : std::to_string(rel);
    }
    return name_;
}

std::string NameWithin(const std::string& parent, const std::string& suffix) {
    if (GetDatabaseEncoding() == PG_UTF8)
        return pt::PartitionName(parent, suffix, NAMEDATALEN - 1);
    size_t room = NAMEDATALEN - 1 - suffix.size() - 1;
    int keep = parent.size() <= room ? static_cast<int>(parent.size()) : PgCall([&] {
        return pg_mbcliplen(parent.c_str(), static_cast<int>(parent.size()),
                            static_cast<int>(room));
    });
    return parent.substr(0, keep) + "_" + suffix;
}

std::string RangeText(const pt::Range& r, pt::KeyType t) {
    return "FROM (" + pt::FormatPoint(r.lo, t) + ") TO (" + pt::FormatPoint(r.hi, t) + ")";
}

// ---- SPI ---------------------------------------------------------------------------

uint64 Exec(const std::string& sql) {
    const char* q = sql.c_str();
    int rc = PgCall([&] { return SPI_execute(q, false, 0); });
    if (rc < 0)
        core::Throw(ErrorKind::kInternal, "SPI_execute failed: " + sql);
    return SPI_processed;
}

uint64 ExecOids(const std::string& sql, Oid a, Oid b = InvalidOid) {
    const char* q = sql.c_str();
    Oid types[2] = {OIDOID, OIDOID};
    Datum values[2] = {ObjectIdGetDatum(a), ObjectIdGetDatum(b)};
    int nargs = OidIsValid(b) ? 2 : 1;
    int rc =
        PgCall([&] { return SPI_execute_with_args(q, nargs, types, values, nullptr, false, 0); });
    if (rc < 0)
        core::Throw(ErrorKind::kInternal, "SPI_execute failed: " + sql);
    return SPI_processed;
}

bool ResultBool(int row, int col) {
    bool isnull = true;
    Datum d = PgCall([&] {
        return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
    });
    return !isnull && DatumGetBool(d);
}

// ---- reading the parent --------------------------------------------------------------

ParentInfo ReadParent(Oid oid) {
    ParentInfo info;
    info.oid = oid;
    Relation rel = PgCall([&] { return relation_open(oid, NoLock); });
    if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE) {
        PgCall([&] { relation_close(rel, NoLock); });
        core::Throw(ErrorKind::kWrongObjectType, "table is no longer partitioned");
    }
    PartitionKey key = PgCall([&] { return RelationGetPartitionKey(rel); });
    if (key->strategy != PARTITION_STRATEGY_RANGE || key->partnatts != 1 ||
        key->partattrs[0] == 0) {
        PgCall([&] { relation_close(rel, NoLock); });
        core::Throw(ErrorKind::kFeatureNotSupported,
                    "table is not range-partitioned by one column");
    }
    info.key_typid = key->parttypid[0];
    switch (info.key_typid) {
        case DATEOID:
            info.key_type = pt::KeyType::kDate;
            break;
        case TIMESTAMPOID:
            info.key_type = pt::KeyType::kTimestamp;
            break;
        case TIMESTAMPTZOID:
            info.key_type = pt::KeyType::kTimestamptz;
            break;
        default:
            PgCall([&] { relation_close(rel, NoLock); });
            core::Throw(ErrorKind::kDatatypeMismatch,
                        "partition key is not timestamptz, timestamp or date");
    }
    TupleDesc desc = RelationGetDescr(rel);
    AttrNumber key_attno = key->partattrs[0];
    info.key_column = NameStr(TupleDescAttr(desc, key_attno - 1)->attname);
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute a = TupleDescAttr(desc, i);
        if (a->attisdropped || a->attgenerated)
            continue;
        info.columns.push_back(PgCall([&] { return quote_identifier(NameStr(a->attname)); }));
    }
    info.relname = RelationGetRelationName(rel);
    info.nsp = RelationGetNamespace(rel);
    info.qualified = QualifiedName(info.nsp, info.relname.c_str());
    const char* nspname = PgCall([&] { return get_namespace_name(info.nsp); });
    info.schema = Quote(nspname);
    info.owner_is_me = rel->rd_rel->relowner == GetUserId();
    info.has_acl = PgCall([&] {
        bool isnull = true;
        HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(oid));
        if (HeapTupleIsValid(tup)) {
            SysCacheGetAttr(RELOID, tup, Anum_pg_class_relacl, &isnull);
            ReleaseSysCache(tup);
        }
        return !isnull;
    });
    info.natts = desc->natts;

    PartitionDesc pd = PgCall([&] { return RelationGetPartitionDesc(rel, false); });
    PartitionBoundInfo bi = pd->boundinfo;
    std::vector<pt::Range> ranges(pd->nparts, pt::Range{pt::kMinusInfinity, pt::kPlusInfinity});
    if (bi != nullptr) {
        // Range bound info: datums[] are the distinct bounds in order; indexes[i] is the
        // partition whose upper bound is datums[i] (its lower bound is datums[i-1]).
        for (int i = 0; i < bi->ndatums; i++) {
            int p = bi->indexes[i];
            if (p < 0)
                continue;
            pt::Range& r = ranges[p];
            r.hi = bi->kind[i][0] == PARTITION_RANGE_DATUM_VALUE
                       ? ToMicros(bi->datums[i][0], info.key_type)
                   : bi->kind[i][0] == PARTITION_RANGE_DATUM_MAXVALUE ? pt::kPlusInfinity
                                                                      : pt::kMinusInfinity;
            if (i > 0) {
                r.lo = bi->kind[i - 1][0] == PARTITION_RANGE_DATUM_VALUE
                           ? ToMicros(bi->datums[i - 1][0], info.key_type)
                           : pt::kMinusInfinity;
            }
        }
    }
    int default_index = bi != nullptr ? bi->default_index : -1;
    for (int p = 0; p < pd->nparts; p++) {
        PartInfo part;
        part.oid = pd->oids[p];
        part.range = ranges[p];
        if (p == default_index) {
            info.has_default = true;
            info.def = std::move(part);
        } else {
            info.parts.push_back(std::move(part));
        }
    }
    PgCall([&] { relation_close(rel, NoLock); });
    return info;
}

// True when the default partition holds a row visible now.  The common answer (an
// empty default partition) comes from the file size alone, read through smgr under
// ACCESS SHARE: no relcache entry is built, nothing is scanned.  Otherwise one tuple
// is looked for.
bool DefaultHasRows(Oid def) {
    return PgCall([&] {
        LockRelationOid(def, AccessShareLock);
        HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(def));
        if (HeapTupleIsValid(tup)) {
            Form_pg_class c = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
            bool plain = c->relpersistence != RELPERSISTENCE_TEMP && OidIsValid(c->relfilenode);
            RelFileNode node;
            node.spcNode = OidIsValid(c->reltablespace) ? c->reltablespace : MyDatabaseTableSpace;
            node.dbNode = MyDatabaseId;
            node.relNode = c->relfilenode;
            ReleaseSysCache(tup);
            if (plain) {
                SMgrRelation smgr = smgropen(node, InvalidBackendId);
                if (smgrexists(smgr, MAIN_FORKNUM) && smgrnblocks(smgr, MAIN_FORKNUM) == 0)
                    return false;
            }
        }
        Relation rel = table_open(def, NoLock);
        bool found = false;
        if (RelationGetNumberOfBlocks(rel) > 0) {
            Snapshot snap = RegisterSnapshot(GetLatestSnapshot());
            TableScanDesc scan = table_beginscan(rel, snap, 0, nullptr);
            TupleTableSlot* slot = table_slot_create(rel, nullptr);
            found = table_scan_getnextslot(scan, ForwardScanDirection, slot);
            ExecDropSingleTupleTableSlot(slot);
            table_endscan(scan);
            UnregisterSnapshot(snap);
        }
        table_close(rel, NoLock);
        return found;
    });
}

// ---- the default partition -----------------------------------------------------------

struct NamedRows {
    int64_t count = 0;
    std::vector<std::string> examples;  // "(0,1) 2026-01-05 00:00:00"
};

struct DefaultScan {
    NamedRows nulls;
    std::map<int64_t, NamedRows> periods;  // period start day -> rows
};

DefaultScan ScanDefault(const ParentInfo& info, pt::Period period) {
    DefaultScan out;
    struct Open {
        Relation rel;
        Snapshot snap;
        TableScanDesc scan;
        TupleTableSlot* slot;
        AttrNumber attno;
    };
    const char* key = info.key_column.c_str();
    Oid def = info.def.oid;
    Open o = PgCall([&] {
        Open r{};
        r.rel = table_open(def, NoLock);
        r.attno = get_attnum(def, key);
        r.snap = RegisterSnapshot(GetLatestSnapshot());
        r.scan = table_beginscan(r.rel, r.snap, 0, nullptr);
        r.slot = table_slot_create(r.rel, nullptr);
        return r;
    });
    struct Row {
        bool got;
        bool isnull;
        Datum value;
        BlockNumber block;
        OffsetNumber offset;
    };
    for (;;) {
        Row row = PgCall([&] {
            Row r{};
            r.got = table_scan_getnextslot(o.scan, ForwardScanDirection, o.slot);
            if (r.got) {
                r.value = slot_getattr(o.slot, o.attno, &r.isnull);
                r.block = ItemPointerGetBlockNumber(&o.slot->tts_tid);
                r.offset = ItemPointerGetOffsetNumber(&o.slot->tts_tid);
            }
            return r;
        });
        if (!row.got)
            break;
        std::string ctid = "(" + std::to_string(row.block) + "," + std::to_string(row.offset) + ")";
        NamedRows* group;
        std::string example;
        if (row.isnull) {
            group = &out.nulls;
            example = ctid;
        } else {
            pt::Micros t = ToMicros(row.value, info.key_type);
            int64_t start = (t == pt::kMinusInfinity || t == pt::kPlusInfinity)
                                ? (t < 0 ? INT64_MIN : INT64_MAX)
                                : pt::PeriodFloor(pt::DayOf(t), period);
            group = &out.periods[start];
            example = ctid + " " + info.key_column + " = " + pt::FormatPoint(t, info.key_type);
        }
        group->count++;
        if (group->examples.size() < kRowsNamed)
            group->examples.push_back(example);
    }
    PgCall([&] {
        ExecDropSingleTupleTableSlot(o.slot);
        table_endscan(o.scan);
        UnregisterSnapshot(o.snap);
        table_close(o.rel, NoLock);
    });
    return out;
}

std::string NameRows(const NamedRows& rows) {
    std::string s;
    for (size_t i = 0; i < rows.examples.size(); i++) {
        if (i)
            s += ", ";
        s += rows.examples[i];
    }
    if (rows.count > static_cast<int64_t>(rows.examples.size()))
        s += ", ...";
    return s;
}

// session_replication_role = replica for the statements in scope (superusers only: see
// Maintainer::Evacuate): holds back the ON DELETE actions of foreign keys referencing
// the table while its rows move out of the default partition.
class ReplicaRole {
  public:
    explicit ReplicaRole(bool needed) {
        if (!needed)
            return;
        nest_ = PgCall([] {
            int level = NewGUCNestLevel();
            set_config_option("session_replication_role", "replica", PGC_SUSET, PGC_S_SESSION,
                              GUC_ACTION_SAVE, true, 0, false);
            return level;
        });
    }
    void Restore() {
        if (nest_ == 0)
            return;
        int level = nest_;
        nest_ = 0;
        PgCall([&] { AtEOXact_GUC(true, level); });
    }
    // On an error the subtransaction's rollback restores the setting.
    ~ReplicaRole() = default;

  private:
    int nest_ = 0;
};

// Keeps the user's triggers of the relations added quiet until Restore(): each
// relation's enabled user triggers are recorded and switched off (ALTER TABLE ONLY ...
// DISABLE TRIGGER USER, which the table's owner may do: no superuser setting needed),
// then each is switched back to exactly its former state (ENABLE, ENABLE ALWAYS,
// ENABLE REPLICA).  All inside the table's subtransaction, under its ACCESS EXCLUSIVE
// lock: no other session ever sees them off, and an error rolls the switch back with
// everything else.  Internal triggers (foreign keys) are not touched.
class QuietTriggers {
  public:
    void Add(Oid rel, const std::string& qualified) {
        ExecOids(
            "SELECT t.tgname, t.tgenabled FROM pg_catalog.pg_trigger t WHERE t.tgrelid = $1 "
            "AND NOT t.tgisinternal AND t.tgenabled <> 'D' ORDER BY t.tgname",
            rel);
        std::string enable;
        for (uint64 i = 0; i < SPI_processed; i++) {
            char* name = PgCall(
                [&] { return SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1); });
            char* state = PgCall(
                [&] { return SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2); });
            const char* how = state[0] == 'A'   ? "ENABLE ALWAYS TRIGGER "
                              : state[0] == 'R' ? "ENABLE REPLICA TRIGGER "
                                                : "ENABLE TRIGGER ";
            enable += (enable.empty() ? "" : ", ") + std::string(how) + Quote(name);
        }
        if (enable.empty())
            return;
        Exec("ALTER TABLE ONLY " + qualified + " DISABLE TRIGGER USER");
        restore_ += "ALTER TABLE ONLY " + qualified + " " + enable + ";\n";
    }
    void Restore() {
        if (!restore_.empty())
            Exec(restore_);
        restore_.clear();
    }

  private:
    std::string restore_;
};

// ---- one parent ----------------------------------------------------------------------

class Maintainer {
  public:
    Maintainer(const ConfigRow& cfg, pt::Micros as_of, std::vector<ActionRow>* out)
        : cfg_(cfg), as_of_(as_of), out_(out) {}

    void Run();

  private:
    void Emit(const std::string& action, const std::string& object, bool has_rows, int64_t rows,
              const std::string& detail) {
        out_->push_back(ActionRow{cfg_.parent, action, object, has_rows, rows, detail});
    }
    std::string PartitionNameFor(int64_t start_day) {
        return NameWithin(info_.relname, pt::PeriodSuffix(start_day, cfg_.period));
    }
    bool NameTaken(const std::string& raw_name) {
        const char* n = raw_name.c_str();
        Oid nsp = info_.nsp;
        return PgCall([&] { return OidIsValid(get_relname_relid(n, nsp)); });
    }
    std::string CreateSql(int64_t start_day, const std::string& raw_name) {
        pt::Range r = pt::PeriodRange(start_day, cfg_.period);
        int64_t end_day = pt::DayOf(r.hi);
        return "CREATE TABLE " + info_.schema + "." + Quote(raw_name.c_str()) + " PARTITION OF " +
               info_.qualified + " FOR VALUES FROM (" +
               Literal(pt::BoundLiteral(start_day, info_.key_type)) + ") TO (" +
               Literal(pt::BoundLiteral(end_day, info_.key_type)) + ")";
    }
    bool HasColumnAcl();
    void Created(const std::string& raw_name, int64_t start_day, const std::string& why);
    void LockForWork();
    void Evacuate(const pt::Plan& plan);
    void Retire(const pt::Plan& plan);

    const ConfigRow& cfg_;
    pt::Micros as_of_;
    std::vector<ActionRow>* out_;
    ParentInfo info_;
    bool locked_for_work_ = false;
    std::vector<int64_t> made_;  // period starts created in this run
    int column_acl_ = -1;        // parent has column privileges: -1 not looked at yet
};

// Whether a column of the parent carries privileges of its own (GRANT SELECT (col) ...).
// Looked at once, and only when a partition is made: the warm path never pays for it.
bool Maintainer::HasColumnAcl() {
    if (column_acl_ < 0) {
        Oid oid = info_.oid;
        int natts = info_.natts;
        column_acl_ = PgCall([&] {
            for (int i = 1; i <= natts; i++) {
                HeapTuple tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(oid), Int16GetDatum(i));
                if (!HeapTupleIsValid(tup))
                    continue;
                bool isnull = true;
                SysCacheGetAttr(ATTNUM, tup, Anum_pg_attribute_attacl, &isnull);
                ReleaseSysCache(tup);
                if (!isnull)
                    return 1;
            }
            return 0;
        });
    }
    return column_acl_ == 1;
}

void Maintainer::Created(const std::string& raw_name, int64_t start_day, const std::string& why) {
    std::string qualified = info_.schema + "." + Quote(raw_name.c_str());
    if (!info_.owner_is_me || info_.has_acl || HasColumnAcl()) {
        Exec("SELECT keel._partition_inherit_access(" + Literal(info_.qualified) + "::regclass, " +
             Literal(qualified) + "::regclass)");
    }
    made_.push_back(start_day);
    std::string detail = RangeText(pt::PeriodRange(start_day, cfg_.period), info_.key_type);
    if (!why.empty())
        detail += "; " + why;
    Emit("created", qualified, false, 0, detail);
}

void Maintainer::LockForWork() {
    if (locked_for_work_)
        return;
    Oid oid = cfg_.parent;
    PgCall([&] { LockRelationOid(oid, AccessExclusiveLock); });
    locked_for_work_ = true;
}

void Maintainer::Run() {
    Oid oid = cfg_.parent;
    PgCall([&] { LockRelationOid(oid, ShareUpdateExclusiveLock); });
    bool exists = PgCall([&] { return SearchSysCacheExists1(RELOID, ObjectIdGetDatum(oid)); });
    if (!exists) {
        PgCall([&] { UnlockRelationOid(oid, ShareUpdateExclusiveLock); });
        ExecOids("DELETE FROM keel.partition_config WHERE parent = $1::regclass", oid);
        Emit("unregistered", "", false, 0,
             "the table registered for partition maintenance no longer exists; its registration "
             "was removed");
        return;
    }
    info_ = ReadParent(oid);

    pt::PlanInput in;
    in.period = cfg_.period;
    in.premake = cfg_.premake;
    in.start_back = cfg_.start_back;
    if (cfg_.has_retention)
        in.retention = cfg_.retention;
    in.as_of = as_of_;
    for (size_t i = 0; i < info_.parts.size(); i++)
        in.partitions.push_back({info_.parts[i].range, i});
    pt::Plan plan = pt::MakePlan(in);

    // 1. Rows that landed in the default partition.
    if (info_.has_default && DefaultHasRows(info_.def.oid))
        Evacuate(plan);

    // 2. Missing partitions, back and ahead.
    std::string batch;
    std::vector<std::pair<std::string, int64_t>> batch_names;
    for (int64_t start : plan.create) {
        bool already = false;
        for (int64_t m : made_)
            already = already || m == start;
        if (already)
            continue;
        std::string name = PartitionNameFor(start);
        if (NameTaken(name)) {
            Emit("conflict", info_.schema + "." + Quote(name.c_str()), false, 0,
                 "a relation of that name exists but is not the partition " +
                     RangeText(pt::PeriodRange(start, cfg_.period), info_.key_type) +
                     "; no partition was made for that period");
            continue;
        }
        batch += CreateSql(start, name) + ";\n";
        batch_names.emplace_back(name, start);
    }
    if (!batch.empty()) {
        LockForWork();
        Exec(batch);
        for (auto& [name, start] : batch_names)
            Created(name, start, "");
    }
    for (const pt::Conflict& c : plan.conflicts) {
        std::string who;
        for (size_t id : c.overlapping)
            who += (who.empty() ? "" : ", ") + info_.parts[id].Name();
        Emit("conflict", info_.schema + "." + Quote(PartitionNameFor(c.start_day).c_str()), false,
             0,
             "the period " + RangeText(pt::PeriodRange(c.start_day, cfg_.period), info_.key_type) +
                 " is only partly covered by " + who + "; no partition was made for it");
    }

    // 3. Retention.
    if (!plan.retire.empty())
        Retire(plan);
}

void Maintainer::Evacuate(const pt::Plan& plan) {
    LockForWork();
    Oid def = info_.def.oid;
    PgCall([&] { LockRelationOid(def, AccessExclusiveLock); });
    DefaultScan scan = ScanDefault(info_, cfg_.period);

    std::vector<pt::Existing> existing;
    for (size_t i = 0; i < info_.parts.size(); i++)
        existing.push_back({info_.parts[i].range, i});

    if (scan.nulls.count > 0) {
        Emit("refused", info_.def.Name(), true, scan.nulls.count,
             "rows whose " + info_.key_column +
                 " is NULL belong to no partition and stay in the "
                 "default partition: ctid " +
                 NameRows(scan.nulls));
    }
    std::vector<std::pair<int64_t, std::string>> movable;  // period start, raw name
    int64_t total = 0;
    for (auto& [start, rows] : scan.periods) {
        if (start == INT64_MIN || start == INT64_MAX) {
            Emit("refused", info_.def.Name(), true, rows.count,
                 "rows whose " + info_.key_column + " is infinite belong to no period: ctid " +
                     NameRows(rows));
            continue;
        }
        pt::Range r = pt::PeriodRange(start, cfg_.period);
        std::vector<size_t> overlapping;
        pt::Coverage cov = pt::CoverageOf(r, existing, &overlapping);
        std::string name = PartitionNameFor(start);
        std::string why;
        if (cov != pt::Coverage::kFree) {
            std::string who;
            for (size_t id : overlapping)
                who += (who.empty() ? "" : ", ") + info_.parts[id].Name();
            why = "their period " + RangeText(r, info_.key_type) + " is partly covered by " + who;
        } else if (plan.cutoff && r.hi <= *plan.cutoff) {
            why = "their period " + RangeText(r, info_.key_type) +
                  " is older than the retention cutoff " +
                  pt::FormatPoint(*plan.cutoff, info_.key_type);
        } else if (NameTaken(name)) {
            why = "the partition name " + Quote(name.c_str()) + " is taken by another relation";
        }
        if (!why.empty()) {
            Emit("refused", info_.def.Name(), true, rows.count,
                 "rows stay in the default partition because " + why + ": ctid " + NameRows(rows));
            continue;
        }
        movable.emplace_back(start, name);
        total += rows.count;
    }
    if (movable.empty())
        return;

    // A moved row is not a new row: the user's triggers stay quiet while rows move (see
    // QuietTriggers), and so must the ON DELETE actions of foreign keys that reference
    // the table -- deleting the rows from the default partition would otherwise cascade
    // into, or fail on, the referencing tables.  Only session_replication_role = replica
    // holds those back, and it is a superuser setting (user code run by the move --
    // CHECK constraints, index expressions -- would run with foreign keys unenforced).
    Oid parent_oid = info_.oid;
    ExecOids(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint "
        "WHERE contype = 'f' AND confrelid IN ($1, $2))",
        parent_oid, def);
    bool referenced = ResultBool(0, 1);
    if (referenced && !superuser()) {
        core::Throw(
            ErrorKind::kInsufficientPrivilege,
            "moving rows out of the default partition of a table referenced by a foreign key "
            "needs a superuser",
            "Deleting the rows from the default partition would run the ON DELETE actions of "
            "the referencing tables; keel holds them back with session_replication_role = "
            "replica, which only a superuser may set.",
            "Run keel.run_maintenance() as a superuser, or let the background worker do it.");
    }

    std::string cols;
    for (const std::string& c : info_.columns)
        cols += (cols.empty() ? "" : ", ") + c;
    std::string key = Quote(info_.key_column.c_str());
    std::string type = KeyTypeName(info_.key_type);
    std::string cond;
    for (auto& [start, name] : movable) {
        pt::Range r = pt::PeriodRange(start, cfg_.period);
        cond += std::string(cond.empty() ? "" : " OR ") + "(" + key +
                " >= " + Literal(pt::BoundLiteral(start, info_.key_type)) + "::" + type + " AND " +
                key + " < " + Literal(pt::BoundLiteral(pt::DayOf(r.hi), info_.key_type)) +
                "::" + type + ")";
    }

    Exec("CREATE TEMP TABLE keel_evacuation AS SELECT " + cols + " FROM ONLY " + info_.def.Name() +
         " WITH NO DATA");
    QuietTriggers quiet;
    quiet.Add(def, info_.def.Name());
    uint64 taken = 0;
    {
        ReplicaRole role(referenced);
        taken = Exec("WITH moved AS (DELETE FROM ONLY " + info_.def.Name() + " WHERE " + cond +
                     " RETURNING " + cols +
                     ") INSERT INTO pg_temp.keel_evacuation SELECT * FROM moved");
        role.Restore();
    }
    // The partitions are made with every trigger as it was (PostgreSQL copies the
    // parent's trigger states onto the partition), and event triggers see them.
    std::string creates;
    for (auto& [start, name] : movable)
        creates += CreateSql(start, name) + ";\n";
    Exec(creates);
    quiet.Add(parent_oid, info_.qualified);
    for (auto& [start, name] : movable) {
        std::string qualified = info_.schema + "." + Quote(name.c_str());
        const char* n = name.c_str();
        Oid nsp = info_.nsp;
        Oid part = PgCall([&] { return get_relname_relid(n, nsp); });
        quiet.Add(part, qualified);
    }
    uint64 put = 0;
    {
        ReplicaRole role(referenced);
        put = Exec("INSERT INTO " + info_.qualified + " (" + cols +
                   ") OVERRIDING SYSTEM VALUE SELECT " + cols + " FROM pg_temp.keel_evacuation");
        role.Restore();
    }
    quiet.Restore();
    Exec("DROP TABLE pg_temp.keel_evacuation");
    if (taken != put || static_cast<int64_t>(taken) != total) {
        core::Throw(ErrorKind::kInternal, "rows moved out of the default partition do not add up",
                    "Deleted " + std::to_string(taken) + ", inserted " + std::to_string(put) +
                        ", expected " + std::to_string(total) + "; nothing was changed.");
    }
    for (auto& [start, name] : movable) {
        Created(name, start, "made for rows found in the default partition");
        Emit("moved", info_.schema + "." + Quote(name.c_str()), true, scan.periods[start].count,
             "rows moved out of the default partition " + info_.def.Name());
    }
}

void Maintainer::Retire(const pt::Plan& plan) {
    LockForWork();
    ExecOids(
        "SELECT pg_catalog.to_regprocedure('keel.audit_chain_retire_partition(regclass,regclass)') "
        "IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t "
        "JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
        "WHERE t.tgrelid = $1 AND n.nspname = 'keel' AND p.proname LIKE 'audit\\_chain%')",
        info_.oid);
    bool chained = ResultBool(0, 1);

    std::string drop;
    for (size_t id : plan.retire) {
        const PartInfo& p = info_.parts[id];
        Oid poid = p.oid;
        PgCall([&] { LockRelationOid(poid, AccessExclusiveLock); });
        if (chained) {
            ExecOids("SELECT keel.audit_chain_retire_partition($1::regclass, $2::regclass)",
                     info_.oid, poid);
        }
        std::string why = RangeText(p.range, info_.key_type) +
                          " ends at or before the retention cutoff " +
                          pt::FormatPoint(*plan.cutoff, info_.key_type);
        if (cfg_.detach) {
            Exec("ALTER TABLE " + info_.qualified + " DETACH PARTITION " + p.Name());
            Emit("detached", p.Name(), false, 0, why);
        } else {
            drop += (drop.empty() ? "" : ", ") + p.Name();
            Emit("dropped", p.Name(), false, 0, why);
        }
    }
    if (!drop.empty())
        Exec("DROP TABLE " + drop);
}

// ---- the run -------------------------------------------------------------------------

pt::Micros ResolveAsOf(FunctionCallInfo fcinfo, int argno) {
    if (!PG_ARGISNULL(argno))
        return PG_GETARG_TIMESTAMPTZ(argno);
    const char* setting = guc::maintenance_now;
    if (setting != nullptr && setting[0] != '\0') {
        return PgCall([&] {
            return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(setting),
                                                           ObjectIdGetDatum(InvalidOid),
                                                           Int32GetDatum(-1)));
        });
    }
    return GetCurrentTransactionStartTimestamp();
}

std::vector<ConfigRow> ReadConfig(Oid only) {
    std::string sql =
        "SELECT parent::oid, part_interval, premake, start_back, retention, retention_mode = "
        "'detach' "
        "FROM keel.partition_config";
    if (OidIsValid(only)) {
        sql += " WHERE parent = $1::regclass";
        ExecOids(sql, only);
    } else {
        sql += " ORDER BY parent::text";
        Exec(sql);
    }
    std::vector<ConfigRow> rows;
    for (uint64 i = 0; i < SPI_processed; i++) {
        struct Raw {
            Oid parent;
            char* interval;
            int premake;
            int start_back;
            bool has_retention;
            Interval retention;
            bool detach;
        };
        Raw raw = PgCall([&] {
            Raw r{};
            HeapTuple tup = SPI_tuptable->vals[i];
            TupleDesc desc = SPI_tuptable->tupdesc;
            bool isnull;
            r.parent = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
            r.interval = SPI_getvalue(tup, desc, 2);
            r.premake = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
            r.start_back = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
            Datum ret = SPI_getbinval(tup, desc, 5, &isnull);
            r.has_retention = !isnull;
            if (!isnull)
                r.retention = *DatumGetIntervalP(ret);
            r.detach = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
            return r;
        });
        ConfigRow row;
        row.parent = raw.parent;
        row.period = pt::ParsePeriod(raw.interval).ValueOrThrow();
        row.premake = raw.premake;
        row.start_back = raw.start_back;
        row.has_retention = raw.has_retention;
        row.retention = {raw.retention.month, raw.retention.day, raw.retention.time};
        row.detach = raw.detach;
        rows.push_back(row);
    }
    return rows;
}

void RunTasks(pt::Micros as_of, std::vector<ActionRow>* out) {
    Exec(
        "SELECT t.name, pg_catalog.quote_ident(n.nspname) || '.' || "
        "pg_catalog.quote_ident(p.proname) "
        "FROM keel.maintenance_task t JOIN pg_catalog.pg_proc p ON p.oid = t.fn "
        "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE t.enabled ORDER BY t.name");
    std::vector<std::pair<std::string, std::string>> tasks;
    for (uint64 i = 0; i < SPI_processed; i++) {
        char* name =
            PgCall([&] { return SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1); });
        char* fn =
            PgCall([&] { return SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2); });
        tasks.emplace_back(name, fn);
    }
    for (auto& [name, fn] : tasks) {
        int64_t affected = 0;
        bool isnull = true;
        bridge::CaughtError err;
        bool ok = bridge::RunInSubtransaction(
            [&] {
                std::string sql = "SELECT " + fn + "($1::pg_catalog.timestamptz)";
                const char* q = sql.c_str();
                Oid types[1] = {TIMESTAMPTZOID};
                Datum values[1] = {TimestampTzGetDatum(as_of)};
                int rc = PgCall(
                    [&] { return SPI_execute_with_args(q, 1, types, values, nullptr, false, 1); });
                if (rc < 0)
                    core::Throw(ErrorKind::kInternal, "SPI_execute failed: " + sql);
                Datum d = PgCall([&] {
                    return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
                });
                if (!isnull)
                    affected = DatumGetInt64(d);
            },
            &err);
        if (ok) {
            out->push_back(ActionRow{InvalidOid, "task", name, !isnull, affected, ""});
        } else {
            out->push_back(ActionRow{InvalidOid, "error", name, false, 0,
                                     err.code + ": " + err.message +
                                         (err.detail.empty() ? "" : " (" + err.detail + ")")});
        }
    }
}

void LogAction(const ActionRow& a) {
    Oid oid = a.parent;
    const char* parent = OidIsValid(oid) ? PgCall([&] { return get_rel_name(oid); }) : nullptr;
    std::string line = "keel maintenance of " + std::string(parent ? parent : "tasks") + ": " +
                       a.action + (a.object.empty() ? "" : " " + a.object) +
                       (a.has_rows ? " (" + std::to_string(a.rows) + " rows)" : "") +
                       (a.detail.empty() ? "" : ": " + a.detail);
    const char* text = line.c_str();
    int level = a.action == "error" ? WARNING : LOG;
    PgCall([&] { ereport(level, (errhidestmt(true), errmsg_internal("%s", text))); });
}

void EmitRows(FunctionCallInfo fcinfo, const std::vector<ActionRow>& actions) {
    auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    for (const ActionRow& a : actions) {
        LogAction(a);
        const char* action = a.action.c_str();
        const char* object = a.object.c_str();
        const char* detail = a.detail.c_str();
        PgCall([&] {
            Datum values[5];
            bool nulls[5] = {false, false, false, false, false};
            values[0] = ObjectIdGetDatum(a.parent);
            nulls[0] = !OidIsValid(a.parent);
            values[1] = CStringGetTextDatum(action);
            values[2] = CStringGetTextDatum(object);
            nulls[2] = object[0] == '\0';
            values[3] = Int64GetDatum(a.rows);
            nulls[3] = !a.has_rows;
            values[4] = CStringGetTextDatum(detail);
            nulls[4] = detail[0] == '\0';
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        });
    }
}

}  // namespace
}  // namespace keel::pg

KEEL_FUNCTION(keel_run_maintenance) {
    using namespace keel::pg;
    Oid only = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
    pt::Micros as_of = ResolveAsOf(fcinfo, 1);
    PgCall([&] { InitMaterializedSRF(fcinfo, 0); });

    std::vector<ActionRow> actions;
    PgCall([] {
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "SPI_connect failed");
    });
    std::vector<ConfigRow> rows = ReadConfig(only);
    if (OidIsValid(only) && rows.empty()) {
        char* name = PgCall([&] { return get_rel_name(only); });
        keel::core::Throw(ErrorKind::kUndefinedObject,
                          std::string("table \"") + (name ? name : "?") +
                              "\" is not registered for partition maintenance",
                          "", "Register it with keel.partition_by_time().");
    }
    for (const ConfigRow& row : rows) {
        keel::bridge::CaughtError err;
        size_t mark = actions.size();
        bool ok = keel::bridge::RunInSubtransaction(
            [&] {
                Maintainer m(row, as_of, &actions);
                m.Run();
            },
            &err);
        if (!ok) {
            actions.resize(mark);  // what it reported was rolled back with it
            actions.push_back(ActionRow{row.parent, "error", "", false, 0,
                                        err.code + ": " + err.message +
                                            (err.detail.empty() ? "" : " (" + err.detail + ")")});
        }
    }
    if (!OidIsValid(only))
        RunTasks(as_of, &actions);
    PgCall([] { SPI_finish(); });

    EmitRows(fcinfo, actions);
    return (Datum)0;
}

KEEL_FUNCTION(keel_partition_name) {
    using namespace keel::pg;
    std::string parent = NameStr(*PG_GETARG_NAME(0));
    text* suffix_text = PG_GETARG_TEXT_PP(1);
    std::string suffix(VARDATA_ANY(suffix_text), VARSIZE_ANY_EXHDR(suffix_text));
    if (suffix.empty() || suffix.size() > 20) {
        keel::core::Throw(ErrorKind::kInvalidParameter,
                          "partition name suffix must be 1 to 20 bytes");
    }
    std::string name = NameWithin(parent, suffix);
    const char* n = name.c_str();
    return PgCall([&] {
        Name result = static_cast<Name>(palloc0(NAMEDATALEN));
        strlcpy(NameStr(*result), n, NAMEDATALEN);
        return NameGetDatum(result);
    });
}

KEEL_FUNCTION(keel_run_maintenance_tasks) {
    using namespace keel::pg;
    pt::Micros as_of = ResolveAsOf(fcinfo, 0);
    PgCall([&] { InitMaterializedSRF(fcinfo, 0); });
    std::vector<ActionRow> actions;
    PgCall([] {
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "SPI_connect failed");
    });
    RunTasks(as_of, &actions);
    PgCall([] { SPI_finish(); });
    EmitRows(fcinfo, actions);
    return (Datum)0;
}
