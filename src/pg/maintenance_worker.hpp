#pragma once

namespace keel::pg {

// Registers the launcher; call from _PG_init only while shared_preload_libraries is
// being processed.
void RegisterMaintenanceLauncher();

}  // namespace keel::pg
