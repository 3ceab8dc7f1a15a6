// keel_blueprint_drop_tables(): the ddl_command_start event trigger of DROP EXTENSION that
// drops the released tables of each blueprint the statement drops
// (src/sql/keel/520_blueprint_release.sql says why blueprints release tables).
//
// A released table is no longer an extension member, so DROP EXTENSION would leave it
// behind, or refuse because its foreign keys reference the blueprint's member tables.
// Which extensions a DROP EXTENSION names is in its parse tree only, which PL/pgSQL
// cannot see; the work itself is done by keel._drop_released_tables() through SPI.
// No C++ object with a destructor is alive here, so PostgreSQL errors pass straight up.
#include "bridge/guard.hpp"

extern "C" {
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "nodes/parsenodes.h"
}

namespace {

void DropReleased(const char* ext, bool cascade) {
    Oid types[2] = {NAMEOID, BOOLOID};
    Datum values[2] = {DirectFunctionCall1(namein, CStringGetDatum(ext)), BoolGetDatum(cascade)};
    int rc = SPI_execute_with_args("SELECT keel._drop_released_tables($1, $2)", 2, types, values,
                                   nullptr, false, 0);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "keel: dropping the released tables of \"%s\" failed: %s", ext,
             SPI_result_code_string(rc));
}

}  // namespace

KEEL_FUNCTION(keel_blueprint_drop_tables) {
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo)) {
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("keel._blueprint_drop_tables() was not called as an event trigger")));
    }
    auto* trigdata = reinterpret_cast<EventTriggerData*>(fcinfo->context);
    if (trigdata->parsetree == nullptr || !IsA(trigdata->parsetree, DropStmt))
        PG_RETURN_VOID();
    auto* stmt = reinterpret_cast<DropStmt*>(trigdata->parsetree);
    if (stmt->removeType != OBJECT_EXTENSION)
        PG_RETURN_VOID();
    bool cascade = stmt->behavior == DROP_CASCADE;
    bool keel_too = false;
    ListCell* lc;
    foreach (lc, stmt->objects) {
        const char* name = strVal(lfirst(lc));
        if (strcmp(name, "keel") == 0)
            keel_too = true;
    }

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    if (keel_too && cascade) {
        // keel with CASCADE takes every blueprint with it.
        int rc = SPI_execute(
            "SELECT keel._drop_released_tables(b, true) FROM keel._blueprint_extensions() b",
            false, 0);
        if (rc != SPI_OK_SELECT)
            elog(ERROR, "keel: dropping the released tables of the blueprints failed: %s",
                 SPI_result_code_string(rc));
    } else {
        foreach (lc, stmt->objects) {
            const char* name = strVal(lfirst(lc));
            if (strcmp(name, "keel") != 0 && OidIsValid(get_extension_oid(name, true)))
                DropReleased(name, cascade);
        }
    }
    SPI_finish();
    PG_RETURN_VOID();
}
