// Every keel.* setting is registered here, in alphabetical order, and the keel.
// prefix is reserved so a typo such as `SET keel.mastr_key_file` is an error.
#include "pg/gucs.hpp"

#include "bridge/pg.hpp"
#include "pg/keystore.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace keel::pg {

namespace guc {
bool allow_blueprint_drop = false;
bool audit_chain_allow_drop = false;
char* audit_chain_ddl_state = nullptr;
char* audit_chain_retiring = nullptr;
char* blueprint_drop_state = nullptr;
char* maintenance_databases = nullptr;
int maintenance_interval = 3600;
char* maintenance_now = nullptr;
char* maintenance_role = nullptr;
char* master_key_command = nullptr;
char* master_key_file = nullptr;
int password_iterations = 2;
int password_memory_kib = 19456;
int password_parallelism = 1;
}  // namespace guc

namespace {

// Assign hooks must not fail: they only mark the key cache for a flush.
void MasterKeyAssign(const char*, void*) {
    MasterKeySettingChanged();
}

}  // namespace

void RegisterGucs() {
    DefineCustomBoolVariable(
        "keel.allow_blueprint_drop",
        "Lets DROP EXTENSION drop a keel blueprint whose tables hold rows.",
        "Set it with SET LOCAL for the one transaction that drops the blueprint, or call "
        "keel.drop_blueprint(name, force => true).",
        &guc::allow_blueprint_drop, false, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable(
        "keel.audit_chain_allow_drop",
        "Lets DROP drop an audit-chained table whose chain holds rows (superusers only).",
        "Set it with SET LOCAL for the one transaction that drops the table; otherwise run "
        "keel.disable_audit_chain(table, forget => true) first.",
        &guc::audit_chain_allow_drop, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable(
        "keel.audit_chain_ddl_state",
        "Internal to keel's chain guard: the chained relations when a DDL command started.",
        nullptr, &guc::audit_chain_ddl_state, "", PGC_USERSET,
        GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_NO_RESET_ALL | GUC_DISALLOW_IN_FILE, nullptr,
        nullptr, nullptr);
    DefineCustomStringVariable(
        "keel.audit_chain_retiring",
        "Internal to keel's chain guard: partitions keel.audit_chain_retire_partition() "
        "checkpointed in this transaction.",
        nullptr, &guc::audit_chain_retiring, "", PGC_SUSET,
        GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_NO_RESET_ALL | GUC_DISALLOW_IN_FILE, nullptr,
        nullptr, nullptr);
    DefineCustomStringVariable(
        "keel.blueprint_drop_state",
        "Internal to keel's drop guard: the blueprints holding rows when a DROP started.", nullptr,
        &guc::blueprint_drop_state, "", PGC_USERSET,
        GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_NO_RESET_ALL | GUC_DISALLOW_IN_FILE, nullptr,
        nullptr, nullptr);
    DefineCustomStringVariable(
        "keel.maintenance_databases",
        "Databases in which keel's background worker runs keel.run_maintenance().",
        "A comma-separated list of database names; empty (the default) leaves the worker idle. "
        "Needs shared_preload_libraries = 'keel'.",
        &guc::maintenance_databases, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("keel.maintenance_interval",
                            "Time between two maintenance runs of the background worker.", nullptr,
                            &guc::maintenance_interval, 3600, 1, 7 * 24 * 3600, PGC_SIGHUP,
                            GUC_UNIT_S, nullptr, nullptr, nullptr);
    DefineCustomStringVariable(
        "keel.maintenance_now",
        "The time partition maintenance takes as now (for tests); empty uses the real clock.",
        "Any timestamptz literal. keel.run_maintenance(as_of => ...) takes precedence.",
        &guc::maintenance_now, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable(
        "keel.maintenance_role", "The role keel's background worker runs maintenance as.",
        "Empty (the default) means the bootstrap superuser.", &guc::maintenance_role, "",
        PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable(
        "keel.master_key_command",
        "Shell command that prints keel's master key (64 hexadecimal characters).",
        "The hook for a key management service. Use either this or keel.master_key_file.",
        &guc::master_key_command, "", PGC_SUSET, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE, nullptr,
        MasterKeyAssign, nullptr);
    DefineCustomStringVariable(
        "keel.master_key_file",
        "File holding keel's 256-bit master key as 64 hexadecimal characters.",
        "The file must not be readable by group or others. Make one with: openssl rand -hex 32.",
        &guc::master_key_file, "", PGC_SUSET, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE, nullptr,
        MasterKeyAssign, nullptr);

    DefineCustomIntVariable(
        "keel.password_iterations", "argon2id time cost (passes) of keel.hash_password.",
        "OWASP's minimum with 19 MiB of memory is 2.", &guc::password_iterations, 2, 1, 100,
        PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "keel.password_memory_kib", "argon2id memory cost of keel.hash_password, in KiB.",
        "OWASP's recommendation is 19456 (19 MiB) with 2 iterations.", &guc::password_memory_kib,
        19456, 1024, 4194304, PGC_SUSET, GUC_UNIT_KB, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "keel.password_parallelism", "argon2id lanes (parallelism) of keel.hash_password.", nullptr,
        &guc::password_parallelism, 1, 1, 16, PGC_SUSET, 0, nullptr, nullptr, nullptr);

    MarkGUCPrefixReserved("keel");
}

}  // namespace keel::pg
