// INSERT ... ON CONFLICT DO NOTHING on an audit-chained table is refused before it runs.
//
// The append trigger links a row BEFORE INSERT, and the executor checks the arbiter
// index only after the BEFORE ROW triggers: a row skipped for a conflict has been linked
// all the same, and without an error nothing rolls its link back.  The chain would keep
// a link without a row, which verification reports as a deleted row.  (DO UPDATE is
// safe: the conflicting row's update is refused by the append-only guard, an error that
// takes the link along.)  A trigger cannot see that its INSERT has an ON CONFLICT
// clause, so the plan is checked when the executor starts.
#include "pg/audit_chain_on_conflict.hpp"

#include "bridge/pg.hpp"
#include "pg/audit_chain_rows.hpp"

extern "C" {
#include "executor/executor.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
}

namespace keel::pg::audit {
namespace {

ExecutorStart_hook_type g_prev_executor_start = nullptr;

void RefuseIfChained(PlannedStmt* stmt, Plan* plan) {
    if (plan == nullptr || !IsA(plan, ModifyTable))
        return;
    auto* mt = reinterpret_cast<ModifyTable*>(plan);
    if (mt->operation != CMD_INSERT || mt->onConflictAction != ONCONFLICT_NOTHING)
        return;
    ListCell* lc;
    foreach (lc, mt->resultRelations) {
        Oid relid = rt_fetch(lfirst_int(lc), stmt->rtable)->relid;
        if (!IsChained(relid))
            continue;
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("INSERT ... ON CONFLICT DO NOTHING is not supported on audit-chained "
                        "table \"%s\"",
                        get_rel_name(relid)),
                 errdetail("The chain links each row before the conflict check; a row skipped "
                           "for a conflict would leave its link behind."),
                 errhint("Check for the conflict first, or insert in a savepoint and roll it "
                         "back on unique_violation.")));
    }
}

void ExecutorStartGuard(QueryDesc* query, int eflags) {
    PlannedStmt* stmt = query->plannedstmt;
    if ((eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0 &&
        (stmt->commandType == CMD_INSERT || stmt->hasModifyingCTE)) {
        RefuseIfChained(stmt, stmt->planTree);
        ListCell* lc;
        foreach (lc, stmt->subplans) {
            RefuseIfChained(stmt, static_cast<Plan*>(lfirst(lc)));
        }
    }
    if (g_prev_executor_start != nullptr)
        g_prev_executor_start(query, eflags);
    else
        standard_ExecutorStart(query, eflags);
}

}  // namespace

void InstallOnConflictGuard() {
    g_prev_executor_start = ExecutorStart_hook;
    ExecutorStart_hook = ExecutorStartGuard;
}

}  // namespace keel::pg::audit
