// Every keel.* setting is registered here, in alphabetical order, and the keel.
// prefix is reserved so a typo such as `SET keel.mastr_key_file` is an error.
#include "pg/gucs.hpp"

#include "bridge/pg.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace keel::pg {

void RegisterGucs() {
    MarkGUCPrefixReserved("keel");
}

}  // namespace keel::pg
