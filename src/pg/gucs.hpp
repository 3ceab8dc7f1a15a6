#pragma once

namespace keel::pg {

// Registers every keel.* setting (one function, alphabetical, see gucs.cpp).
void RegisterGucs();

// The settings' variables (plain data owned by the GUC machinery), alphabetical.
namespace guc {
extern bool allow_blueprint_drop;
extern bool audit_chain_allow_drop;  // keel.audit_chain_allow_drop (superuser override)
extern char* audit_chain_ddl_state;  // internal to the chain guard
extern char* audit_chain_retiring;   // internal: partitions permitted to leave
extern char* blueprint_drop_state;
extern char* maintenance_databases;  // keel.maintenance_databases
extern int maintenance_interval;     // keel.maintenance_interval, seconds
extern char* maintenance_now;        // keel.maintenance_now ('' = the real clock)
extern char* maintenance_role;       // keel.maintenance_role ('' = bootstrap superuser)
extern char* master_key_command;
extern char* master_key_file;
extern int password_iterations;
extern int password_memory_kib;
extern int password_parallelism;
}  // namespace guc

}  // namespace keel::pg
