// Module entry: the magic block and _PG_init.  Per-backend state is created here,
// never by static constructors (they would run at dlopen, maybe in the postmaster).
#include "bridge/pg.hpp"
#include "pg/audit_chain_on_conflict.hpp"
#include "pg/audit_chain_shmem.hpp"
#include "pg/gucs.hpp"
#include "pg/maintenance_worker.hpp"

extern "C" {
#include "miscadmin.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

void _PG_init(void) {
    keel::pg::RegisterGucs();
    keel::pg::audit::InstallOnConflictGuard();
    if (process_shared_preload_libraries_in_progress) {
        keel::pg::RegisterMaintenanceLauncher();
        keel::pg::audit::RequestHeadCacheShmem();
    }
}
}
