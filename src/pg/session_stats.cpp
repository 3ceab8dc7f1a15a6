// keel_session_stats(): the AFTER ROW trigger on CozyEngine's messages that keeps the
// seed's redundant sessions.message_count, total_tokens and last_message_at true.
//
// Trigger argument [0]: the sessions table, in the schema of the messages table.
//
// What counts is a live message (deleted_at IS NULL): message_count is their number,
// total_tokens the sum of their message_metadata->>'token_count' (absent = 0) and
// last_message_at the latest created_at.  Each change is an increment on the session
// row, so the row lock serialises writers of one session:
//   add     UPDATE sessions SET count + 1, tokens + n, last = GREATEST(last, created_at)
//   remove  UPDATE sessions SET count - 1, tokens - n ... RETURNING last
//   and, when the removed message was the latest, a second statement that recomputes
//   last from the index (session_id, created_at) WHERE deleted_at IS NULL.  That second
//   statement runs after the first one holds the session row's lock and takes a fresh
//   snapshot (READ COMMITTED), so it sees every committed message of the session and no
//   concurrent writer can be half-way: correct under concurrent inserts and soft deletes
//   (test/isolation/specs/cozyengine_session_stats.spec).
//
// The three statements are prepared once per backend and trigger (a small cache of SPI
// plans, revalidated by the plan cache after DDL); per row the trigger only reads four
// attributes and executes one or two plans.
#include "bridge/guard.hpp"

extern "C" {
#include "utils/datum.h"
#include "utils/rls.h"
#include "utils/timestamp.h"
}

namespace keel::pg {
namespace {

struct StatsPlans {
    Oid trigger_oid;  // InvalidOid: free slot
    SPIPlanPtr add;
    SPIPlanPtr remove;
    SPIPlanPtr recompute;
};

// Plain data, zero-initialised: no constructor runs at dlopen.
constexpr int kPlanSlots = 16;
StatsPlans g_plans[kPlanSlots];
int g_next_slot = 0;

// Attribute numbers of the messages table, per statement (fn_extra).
struct StatsColumns {
    Oid trigger_oid;
    Oid relid;
    int session_id;
    int deleted_at;
    int created_at;
    int metadata;
};

[[noreturn]] void ProtocolError(const char* what) {
    core::Throw(core::ErrorKind::kTriggerProtocol,
                std::string("keel session statistics trigger ") + what,
                "It must be attached AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW on the "
                "messages table, with the sessions table as its argument.");
}

int RequireColumn(TupleDesc desc, Relation rel, const char* name, Oid type) {
    int attnum = SPI_fnumber(desc, name);
    if (attnum <= 0) {
        core::Throw(core::ErrorKind::kUndefinedColumn,
                    std::string("column \"") + name + "\" of relation \"" +
                        RelationGetRelationName(rel) + "\" does not exist",
                    "The session statistics trigger reads session_id, deleted_at, created_at "
                    "and message_metadata.");
    }
    if (TupleDescAttr(desc, attnum - 1)->atttypid != type) {
        core::Throw(
            core::ErrorKind::kDatatypeMismatch,
            std::string("column \"") + name + "\" of relation \"" + RelationGetRelationName(rel) +
                "\" is of type " + format_type_be(TupleDescAttr(desc, attnum - 1)->atttypid),
            std::string("The session statistics trigger needs ") + format_type_be(type) + ".");
    }
    return attnum;
}

StatsColumns* GetColumns(FunctionCallInfo fcinfo, TriggerData* trigdata) {
    auto* cols = static_cast<StatsColumns*>(fcinfo->flinfo->fn_extra);
    Relation rel = trigdata->tg_relation;
    if (cols != nullptr && cols->trigger_oid == trigdata->tg_trigger->tgoid &&
        cols->relid == RelationGetRelid(rel)) {
        return cols;
    }
    TupleDesc desc = RelationGetDescr(rel);
    StatsColumns found{};
    found.trigger_oid = trigdata->tg_trigger->tgoid;
    found.relid = RelationGetRelid(rel);
    found.session_id = RequireColumn(desc, rel, "session_id", UUIDOID);
    found.deleted_at = RequireColumn(desc, rel, "deleted_at", TIMESTAMPOID);
    found.created_at = RequireColumn(desc, rel, "created_at", TIMESTAMPOID);
    found.metadata = RequireColumn(desc, rel, "message_metadata", JSONBOID);
    cols = static_cast<StatsColumns*>(
        MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(StatsColumns)));
    *cols = found;
    fcinfo->flinfo->fn_extra = cols;
    return cols;
}

SPIPlanPtr Prepare(const char* sql, int nargs, Oid* types) {
    SPIPlanPtr plan = SPI_prepare(sql, nargs, types);
    if (plan == nullptr) {
        elog(ERROR, "keel session statistics: SPI_prepare failed: %s",
             SPI_result_code_string(SPI_result));
    }
    SPI_keepplan(plan);
    return plan;
}

// Runs inside SPI (connected) and PgCall: plain data only.
StatsPlans* GetPlans(TriggerData* trigdata) {
    Oid tgoid = trigdata->tg_trigger->tgoid;
    for (auto& slot : g_plans) {
        if (slot.trigger_oid == tgoid)
            return &slot;
    }
    Relation rel = trigdata->tg_relation;
    const char* schema = quote_identifier(get_namespace_name(RelationGetNamespace(rel)));
    const char* child = quote_identifier(RelationGetRelationName(rel));
    const char* parent = quote_identifier(trigdata->tg_trigger->tgargs[0]);

    // $1 session id, $2 message_metadata, $3 created_at.  Everything qualified: the plans
    // must not depend on the caller's search_path.
    Oid types[3] = {UUIDOID, JSONBOID, TIMESTAMPOID};
    const char* tokens =
        "COALESCE(($2 OPERATOR(pg_catalog.->>) 'token_count'::pg_catalog.text)::pg_catalog.int4, "
        "0)";
    char* add_sql = psprintf(
        "UPDATE %s.%s SET message_count = message_count OPERATOR(pg_catalog.+) 1, "
        "total_tokens = COALESCE(total_tokens, 0) OPERATOR(pg_catalog.+) %s, "
        "last_message_at = GREATEST(last_message_at, $3) WHERE id OPERATOR(pg_catalog.=) $1",
        schema, parent, tokens);
    char* remove_sql = psprintf(
        "UPDATE %s.%s SET message_count = message_count OPERATOR(pg_catalog.-) 1, "
        "total_tokens = COALESCE(total_tokens, 0) OPERATOR(pg_catalog.-) %s "
        "WHERE id OPERATOR(pg_catalog.=) $1 RETURNING last_message_at",
        schema, parent, tokens);
    char* recompute_sql = psprintf(
        "UPDATE %s.%s s SET last_message_at = (SELECT pg_catalog.max(m.created_at) FROM %s.%s m "
        "WHERE m.session_id OPERATOR(pg_catalog.=) $1 AND m.deleted_at IS NULL) "
        "WHERE s.id OPERATOR(pg_catalog.=) $1",
        schema, parent, schema, child);

    StatsPlans fresh{};
    fresh.trigger_oid = tgoid;
    fresh.add = Prepare(add_sql, 3, types);
    fresh.remove = Prepare(remove_sql, 3, types);
    fresh.recompute = Prepare(recompute_sql, 1, types);

    StatsPlans* slot = &g_plans[g_next_slot];
    g_next_slot = (g_next_slot + 1) % kPlanSlots;
    if (slot->trigger_oid != InvalidOid) {
        SPI_freeplan(slot->add);
        SPI_freeplan(slot->remove);
        SPI_freeplan(slot->recompute);
    }
    *slot = fresh;
    return slot;
}

struct MessageRow {
    bool live;
    Datum session_id;
    Datum created_at;
    Datum metadata;
    bool metadata_null;
};

MessageRow ReadRow(HeapTuple tuple, TupleDesc desc, const StatsColumns* cols) {
    MessageRow row{};
    bool isnull;
    heap_getattr(tuple, cols->deleted_at, desc, &isnull);
    row.live = isnull;
    row.session_id = heap_getattr(tuple, cols->session_id, desc, &isnull);
    if (isnull)
        row.live = false;  // NOT NULL in the seed; a NULL counts nowhere
    row.created_at = heap_getattr(tuple, cols->created_at, desc, &isnull);
    if (isnull)
        row.live = false;
    row.metadata = heap_getattr(tuple, cols->metadata, desc, &row.metadata_null);
    return row;
}

void Execute(SPIPlanPtr plan, const MessageRow& row, bool want_result) {
    Datum values[3] = {row.session_id, row.metadata, row.created_at};
    char nulls[3] = {' ', row.metadata_null ? 'n' : ' ', ' '};
    int rc = SPI_execute_plan(plan, values, nulls, false, want_result ? 1 : 0);
    if (rc != SPI_OK_UPDATE && rc != SPI_OK_UPDATE_RETURNING) {
        elog(ERROR, "keel session statistics: unexpected SPI result %s",
             SPI_result_code_string(rc));
    }
}

void Add(StatsPlans* plans, const MessageRow& row) {
    Execute(plans->add, row, false);
}

void Remove(StatsPlans* plans, const MessageRow& row) {
    Execute(plans->remove, row, true);
    if (SPI_processed != 1)
        return;  // the session is gone (cascading delete)
    bool isnull;
    Datum last = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    // Only when the removed message was (one of) the latest can last_message_at change.
    if (isnull || DatumGetTimestamp(row.created_at) >= DatumGetTimestamp(last)) {
        Execute(plans->recompute, row, false);
    }
}

bool SameDatum(Datum a, Datum b, int16 len, bool byval) {
    return datumIsEqual(a, b, byval, len);
}

}  // namespace
}  // namespace keel::pg

KEEL_FUNCTION(keel_session_stats) {
    using namespace keel::pg;
    if (!CALLED_AS_TRIGGER(fcinfo))
        ProtocolError("was not called by the trigger manager");
    auto* trigdata = reinterpret_cast<TriggerData*>(fcinfo->context);
    TriggerEvent event = trigdata->tg_event;
    if (!TRIGGER_FIRED_AFTER(event))
        ProtocolError("must be fired AFTER");
    if (!TRIGGER_FIRED_FOR_ROW(event))
        ProtocolError("must be fired FOR EACH ROW");
    if (TRIGGER_FIRED_BY_TRUNCATE(event))
        ProtocolError("cannot handle TRUNCATE");
    if (trigdata->tg_trigger->tgnargs != 1)
        ProtocolError("takes exactly one argument");

    // A pg_dump restore (its script sets row_security = off, as keel.blueprint_restoring()
    // checks) loads sessions with their counters already right: adding the restored
    // messages again would count them twice.
    if (!row_security)
        return PointerGetDatum(nullptr);

    StatsColumns* cols = GetColumns(fcinfo, trigdata);
    TupleDesc desc = RelationGetDescr(trigdata->tg_relation);

    keel::bridge::PgCall([&] {
        bool has_old = !TRIGGER_FIRED_BY_INSERT(event);
        bool has_new = !TRIGGER_FIRED_BY_DELETE(event);
        MessageRow old_row{}, new_row{};
        if (has_old)
            old_row = ReadRow(trigdata->tg_trigtuple, desc, cols);
        if (has_new) {
            new_row = ReadRow(
                TRIGGER_FIRED_BY_UPDATE(event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple,
                desc, cols);
        }
        bool remove_old = has_old && old_row.live;
        bool add_new = has_new && new_row.live;
        if (remove_old && add_new) {
            // An UPDATE that leaves the counted values alone costs nothing.
            Form_pg_attribute meta = TupleDescAttr(desc, cols->metadata - 1);
            bool same_meta = old_row.metadata_null == new_row.metadata_null &&
                             (old_row.metadata_null || SameDatum(old_row.metadata, new_row.metadata,
                                                                 meta->attlen, meta->attbyval));
            if (same_meta && old_row.created_at == new_row.created_at &&
                SameDatum(old_row.session_id, new_row.session_id, 16, false)) {
                return;
            }
        }
        if (!remove_old && !add_new)
            return;

        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "keel session statistics: SPI_connect failed");
        StatsPlans* plans = GetPlans(trigdata);
        if (remove_old)
            Remove(plans, old_row);
        if (add_new)
            Add(plans, new_row);
        SPI_finish();
    });
    return PointerGetDatum(nullptr);
}
