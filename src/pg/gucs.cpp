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
