// Every keel.* setting is registered here, in alphabetical order, and the keel.
// prefix is reserved so a typo such as `SET keel.mastr_key_file` is an error.
#include "pg/gucs.hpp"

#include "bridge/pg.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace keel::pg {

char* g_maintenance_databases = nullptr;
int g_maintenance_interval = 3600;
char* g_maintenance_now = nullptr;
char* g_maintenance_role = nullptr;

void RegisterGucs() {
    DefineCustomStringVariable(
        "keel.maintenance_databases",
        "Databases in which keel's background worker runs keel.run_maintenance().",
        "A comma-separated list of database names; empty (the default) leaves the worker idle. "
        "Needs shared_preload_libraries = 'keel'.",
        &g_maintenance_databases, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("keel.maintenance_interval",
                            "Time between two maintenance runs of the background worker.", nullptr,
                            &g_maintenance_interval, 3600, 1, 7 * 24 * 3600, PGC_SIGHUP, GUC_UNIT_S,
                            nullptr, nullptr, nullptr);
    DefineCustomStringVariable(
        "keel.maintenance_now",
        "The time partition maintenance takes as now (for tests); empty uses the real clock.",
        "Any timestamptz literal. keel.run_maintenance(as_of => ...) takes precedence.",
        &g_maintenance_now, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("keel.maintenance_role",
                               "The role keel's background worker runs maintenance as.",
                               "Empty (the default) means the bootstrap superuser.",
                               &g_maintenance_role, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    MarkGUCPrefixReserved("keel");
}

}  // namespace keel::pg
