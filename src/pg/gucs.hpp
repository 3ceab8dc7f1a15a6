#pragma once

namespace keel::pg {

// Registers every keel.* setting (one function, alphabetical, see gucs.cpp).
void RegisterGucs();

// Setting variables (plain data, owned by the GUC machinery).
extern char* g_maintenance_databases;  // keel.maintenance_databases
extern int g_maintenance_interval;     // keel.maintenance_interval, seconds
extern char* g_maintenance_now;        // keel.maintenance_now ('' = the real clock)
extern char* g_maintenance_role;       // keel.maintenance_role ('' = bootstrap superuser)

}  // namespace keel::pg
