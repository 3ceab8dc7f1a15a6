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
char* blueprint_drop_state = nullptr;
char* master_key_command = nullptr;
char* master_key_file = nullptr;
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
    DefineCustomStringVariable(
        "keel.blueprint_drop_state",
        "Internal to keel's drop guard: the blueprints holding rows when a DROP started.",
        nullptr, &guc::blueprint_drop_state, "", PGC_USERSET,
        GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_NO_RESET_ALL | GUC_DISALLOW_IN_FILE, nullptr,
        nullptr, nullptr);
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

    MarkGUCPrefixReserved("keel");
}

}  // namespace keel::pg
