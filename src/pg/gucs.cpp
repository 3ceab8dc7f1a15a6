// Every keel.* setting is registered here, in alphabetical order, and the keel.
// prefix is reserved so a typo such as `SET keel.mastr_key_file` is an error.
#include "pg/gucs.hpp"

#include "bridge/pg.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace keel::pg {

// GUC variables are plain data (no constructors at dlopen).
bool g_allow_blueprint_drop = false;
char* g_blueprint_drop_state = nullptr;

void RegisterGucs() {
    DefineCustomBoolVariable(
        "keel.allow_blueprint_drop",
        "Lets DROP EXTENSION drop a keel blueprint whose tables hold rows.",
        "Set it with SET LOCAL for the one transaction that drops the blueprint, or call "
        "keel.drop_blueprint(name, force => true).",
        &g_allow_blueprint_drop, false, PGC_USERSET, 0, nullptr, nullptr, nullptr);

    DefineCustomStringVariable(
        "keel.blueprint_drop_state",
        "Internal to keel's drop guard: the blueprints holding rows when a DROP started.",
        nullptr, &g_blueprint_drop_state, "", PGC_USERSET,
        GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_NO_RESET_ALL | GUC_DISALLOW_IN_FILE, nullptr,
        nullptr, nullptr);

    MarkGUCPrefixReserved("keel");
}

}  // namespace keel::pg
