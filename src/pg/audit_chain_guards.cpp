// keel._audit_chain_detach_concurrently(): the ddl_command_start event trigger that
// refuses ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY on an audit-chained table.
//
// A concurrent detach commits its first half before the command ends, so the
// ddl_command_end guard (src/sql/keel/310_audit_chain_guards.sql) would run in a
// second transaction and could no longer undo it; and it cannot run inside the
// transaction in which keel.audit_chain_retire_partition() permits a retirement. So it
// is refused before anything happens.  Only the parse tree says "CONCURRENTLY", which
// is why this guard is C++ and the others are PL/pgSQL.
#include "bridge/guard.hpp"
#include "pg/audit_chain_rows.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "commands/event_trigger.h"
#include "nodes/parsenodes.h"
}

namespace keel::pg {
namespace {

// The relation an ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY names, or
// InvalidOid for any other command.
Oid ConcurrentDetachTarget(Node* parsetree) {
    if (parsetree == nullptr || !IsA(parsetree, AlterTableStmt))
        return InvalidOid;
    auto* stmt = reinterpret_cast<AlterTableStmt*>(parsetree);
    bool concurrent = false;
    ListCell* lc;
    foreach (lc, stmt->cmds) {
        auto* cmd = static_cast<AlterTableCmd*>(lfirst(lc));
        if (cmd->subtype == AT_DetachPartition && cmd->def != nullptr &&
            reinterpret_cast<PartitionCmd*>(cmd->def)->concurrent)
            concurrent = true;
    }
    if (!concurrent || stmt->relation == nullptr)
        return InvalidOid;
    return RangeVarGetRelid(stmt->relation, NoLock, true);
}

}  // namespace
}  // namespace keel::pg

KEEL_FUNCTION(keel_audit_chain_detach_concurrently) {
    using keel::bridge::PgCall;
    using keel::core::ErrorKind;
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo)) {
        keel::core::Throw(
            ErrorKind::kTriggerProtocol,
            "keel._audit_chain_detach_concurrently() must be called as an event trigger");
    }
    auto* data = reinterpret_cast<EventTriggerData*>(fcinfo->context);
    Node* parsetree = data->parsetree;
    Oid relid = PgCall([&] { return keel::pg::ConcurrentDetachTarget(parsetree); });
    if (!OidIsValid(relid))
        PG_RETURN_VOID();
    if (!PgCall([&] { return keel::pg::audit::IsChained(relid); }))
        PG_RETURN_VOID();
    const char* name = PgCall([&] { return get_rel_name(relid); });
    keel::core::Throw(
        ErrorKind::kFeatureNotSupported,
        std::string("cannot detach a partition of audit-chained table \"") +
            (name != nullptr ? name : "?") + "\" concurrently",
        "DETACH PARTITION CONCURRENTLY commits half-way, so it cannot run in the transaction in "
        "which keel.audit_chain_retire_partition() checkpoints the partition.",
        "In one transaction, call keel.audit_chain_retire_partition(parent, partition) and then "
        "ALTER TABLE ... DETACH PARTITION without CONCURRENTLY.");
}
