// keel.touch_updated_at(): the BEFORE ROW trigger behind keel.enable_updated_at().
//
// Trigger arguments (written by enable_updated_at, validated on every call):
//   [0]  the column to set on UPDATE (default updated_at)
//   [1]  on_unchanged: touch | keep | skip   (what an UPDATE that changed nothing does)
//   [2]  the column to set on INSERT (empty: none)
// The per-statement plan (attribute numbers, types, the converted timestamp) lives in
// fn_extra, so the per-row cost is a tuple modification and nothing else.
#include <algorithm>

#include "bridge/guard.hpp"

extern "C" {
#include "access/tupmacs.h"
#include "access/xact.h"
#include "utils/datum.h"
#include "utils/date.h"
#include "utils/timestamp.h"
}

namespace keel::pg {
namespace {

enum class OnUnchanged : int { kTouch, kKeep, kSkip };

struct TouchColumn {
    int attnum = 0;  // 0: not configured
    Oid type = InvalidOid;
};

// Plain data in fn_mcxt: survives for the statement, freed with it.
struct TouchPlan {
    Oid trigger_oid;
    Oid relid;
    TouchColumn on_update;
    TouchColumn on_insert;
    OnUnchanged on_unchanged;
    TimestampTz converted_for;  // the transaction timestamp the cache below was made from
    bool have_converted;
    Datum as_timestamptz;
    Datum as_timestamp;
    Datum as_date;
};

[[noreturn]] void ProtocolError(const char* what) {
    core::Throw(core::ErrorKind::kTriggerProtocol, std::string("keel.touch_updated_at() ") + what,
                "It must be attached as BEFORE UPDATE (or BEFORE INSERT OR UPDATE) FOR EACH ROW.",
                "Use keel.enable_updated_at(table, column) to attach it.");
}

TouchColumn ResolveColumn(TupleDesc desc, Relation rel, const char* name) {
    int attnum = SPI_fnumber(desc, name);
    if (attnum <= 0) {
        core::Throw(core::ErrorKind::kUndefinedColumn,
                    std::string("column \"") + name + "\" of relation \"" +
                        RelationGetRelationName(rel) + "\" does not exist",
                    "keel.touch_updated_at() was told to maintain this column.");
    }
    Oid type = TupleDescAttr(desc, attnum - 1)->atttypid;
    if (type != TIMESTAMPTZOID && type != TIMESTAMPOID && type != DATEOID) {
        core::Throw(core::ErrorKind::kDatatypeMismatch,
                    std::string("column \"") + name + "\" of relation \"" +
                        RelationGetRelationName(rel) + "\" is of type " + format_type_be(type),
                    "keel.touch_updated_at() maintains timestamptz, timestamp and date columns.");
    }
    return TouchColumn{attnum, type};
}

TouchPlan* GetPlan(FunctionCallInfo fcinfo, TriggerData* trigdata) {
    auto* plan = static_cast<TouchPlan*>(fcinfo->flinfo->fn_extra);
    Trigger* trigger = trigdata->tg_trigger;
    Relation rel = trigdata->tg_relation;
    if (plan != nullptr && plan->trigger_oid == trigger->tgoid &&
        plan->relid == RelationGetRelid(rel)) {
        return plan;
    }

    if (trigger->tgnargs > 3)
        ProtocolError("takes at most three arguments");
    const char* update_col = trigger->tgnargs >= 1 ? trigger->tgargs[0] : "updated_at";
    const char* mode = trigger->tgnargs >= 2 ? trigger->tgargs[1] : "touch";
    const char* insert_col = trigger->tgnargs >= 3 ? trigger->tgargs[2] : "";

    OnUnchanged on_unchanged;
    if (strcmp(mode, "touch") == 0) {
        on_unchanged = OnUnchanged::kTouch;
    } else if (strcmp(mode, "keep") == 0) {
        on_unchanged = OnUnchanged::kKeep;
    } else if (strcmp(mode, "skip") == 0) {
        on_unchanged = OnUnchanged::kSkip;
    } else {
        core::Throw(core::ErrorKind::kInvalidParameter,
                    std::string("invalid on_unchanged mode \"") + mode + "\"",
                    "The second trigger argument must be touch, keep or skip.");
    }

    TupleDesc desc = RelationGetDescr(rel);
    TouchColumn on_update = ResolveColumn(desc, rel, update_col);
    TouchColumn on_insert = insert_col[0] ? ResolveColumn(desc, rel, insert_col) : TouchColumn{};

    plan =
        static_cast<TouchPlan*>(MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(TouchPlan)));
    plan->trigger_oid = trigger->tgoid;
    plan->relid = RelationGetRelid(rel);
    plan->on_update = on_update;
    plan->on_insert = on_insert;
    plan->on_unchanged = on_unchanged;
    fcinfo->flinfo->fn_extra = plan;
    return plan;
}

// NOW() of this transaction, as the column's type wants it.  Converted once per
// transaction and statement, not once per row.
Datum NowFor(TouchPlan* plan, Oid type) {
    TimestampTz now = GetCurrentTransactionStartTimestamp();
    if (!plan->have_converted || plan->converted_for != now) {
        plan->as_timestamptz = TimestampTzGetDatum(now);
        plan->as_timestamp = DirectFunctionCall1(timestamptz_timestamp, plan->as_timestamptz);
        plan->as_date = DirectFunctionCall1(timestamptz_date, plan->as_timestamptz);
        plan->converted_for = now;
        plan->have_converted = true;
    }
    switch (type) {
        case TIMESTAMPOID:
            return plan->as_timestamp;
        case DATEOID:
            return plan->as_date;
        default:
            return plan->as_timestamptz;
    }
}

// True when every column but the maintained one is binary-equal in both versions.
bool RowUnchanged(TupleDesc desc, HeapTuple old_tuple, HeapTuple new_tuple, int skip_attnum) {
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute attr = TupleDescAttr(desc, i);
        if (attr->attisdropped || i + 1 == skip_attnum)
            continue;
        bool old_null, new_null;
        Datum old_value = heap_getattr(old_tuple, i + 1, desc, &old_null);
        Datum new_value = heap_getattr(new_tuple, i + 1, desc, &new_null);
        if (old_null != new_null)
            return false;
        if (!old_null && !datumIsEqual(old_value, new_value, attr->attbyval, attr->attlen)) {
            return false;
        }
    }
    return true;
}

// The per-row fast path.  Every column keel maintains is fixed-width and passed by
// value, so when it is present and not NULL in the incoming tuple, the new row version
// is a byte copy of it with those 4 or 8 bytes overwritten: no deform, no form.  The
// offsets are found with PostgreSQL's own alignment macros (as nocachegetattr does).
// Returns nullptr when a column is NULL or missing (added later without a rewrite):
// the layout then changes and the caller takes heap_modify_tuple_by_cols.
HeapTuple OverwriteFixedWidth(HeapTuple tuple, TupleDesc desc, int ncols, const int* attnums,
                              const Datum* values) {
    HeapTupleHeader header = tuple->t_data;
    const bool has_nulls = HeapTupleHasNulls(tuple);
    const bits8* null_bits = header->t_bits;
    const int stored_natts = HeapTupleHeaderGetNatts(header);
    char* data = reinterpret_cast<char*>(header) + header->t_hoff;

    int last = 0;
    for (int c = 0; c < ncols; c++) {
        if (attnums[c] > stored_natts)
            return nullptr;
        if (has_nulls && att_isnull(attnums[c] - 1, null_bits))
            return nullptr;
        last = std::max(last, attnums[c]);
    }

    long offsets[2] = {-1, -1};
    long off = 0;
    for (int i = 0; i < last; i++) {
        Form_pg_attribute attr = TupleDescAttr(desc, i);
        if (has_nulls && att_isnull(i, null_bits))
            continue;
        off = att_align_pointer(off, attr->attalign, attr->attlen, data + off);
        for (int c = 0; c < ncols; c++) {
            if (attnums[c] == i + 1)
                offsets[c] = off;
        }
        off = att_addlength_pointer(off, attr->attlen, data + off);
    }

    HeapTuple copy = heap_copytuple(tuple);
    char* copy_data = reinterpret_cast<char*>(copy->t_data) + copy->t_data->t_hoff;
    for (int c = 0; c < ncols; c++) {
        Form_pg_attribute attr = TupleDescAttr(desc, attnums[c] - 1);
        store_att_byval(copy_data + offsets[c], values[c], attr->attlen);
    }
    return copy;
}

}  // namespace
}  // namespace keel::pg

KEEL_FUNCTION(keel_touch_updated_at) {
    using namespace keel::pg;
    if (!CALLED_AS_TRIGGER(fcinfo))
        ProtocolError("was not called by the trigger manager");
    auto* trigdata = reinterpret_cast<TriggerData*>(fcinfo->context);
    TriggerEvent event = trigdata->tg_event;
    if (!TRIGGER_FIRED_BEFORE(event))
        ProtocolError("must be fired BEFORE, not AFTER or INSTEAD OF");
    if (!TRIGGER_FIRED_FOR_ROW(event))
        ProtocolError("must be fired FOR EACH ROW");
    if (TRIGGER_FIRED_BY_DELETE(event) || TRIGGER_FIRED_BY_TRUNCATE(event)) {
        ProtocolError("must be fired by UPDATE or INSERT, not DELETE or TRUNCATE");
    }

    TouchPlan* plan = GetPlan(fcinfo, trigdata);
    Relation rel = trigdata->tg_relation;
    TupleDesc desc = RelationGetDescr(rel);

    int cols[2];
    Datum values[2];
    bool nulls[2] = {false, false};
    int ncols = 0;
    HeapTuple tuple;

    if (TRIGGER_FIRED_BY_INSERT(event)) {
        tuple = trigdata->tg_trigtuple;
        cols[ncols] = plan->on_update.attnum;
        values[ncols++] = NowFor(plan, plan->on_update.type);
        if (plan->on_insert.attnum != 0 && plan->on_insert.attnum != plan->on_update.attnum) {
            cols[ncols] = plan->on_insert.attnum;
            values[ncols++] = NowFor(plan, plan->on_insert.type);
        }
    } else {
        tuple = trigdata->tg_newtuple;
        if (plan->on_unchanged != OnUnchanged::kTouch &&
            RowUnchanged(desc, trigdata->tg_trigtuple, tuple, plan->on_update.attnum)) {
            if (plan->on_unchanged == OnUnchanged::kSkip)
                return PointerGetDatum(nullptr);
            bool old_null;
            cols[ncols] = plan->on_update.attnum;
            values[ncols] =
                heap_getattr(trigdata->tg_trigtuple, plan->on_update.attnum, desc, &old_null);
            nulls[ncols++] = old_null;
        } else {
            cols[ncols] = plan->on_update.attnum;
            values[ncols++] = NowFor(plan, plan->on_update.type);
        }
    }

    if (!nulls[0]) {
        HeapTuple fast = OverwriteFixedWidth(tuple, desc, ncols, cols, values);
        if (fast != nullptr)
            return PointerGetDatum(fast);
    }
    return PointerGetDatum(heap_modify_tuple_by_cols(tuple, desc, ncols, cols, values, nulls));
}
