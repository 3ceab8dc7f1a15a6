// Refuses INSERT ... ON CONFLICT DO NOTHING on an audit-chained table (see the .cpp).
#pragma once

namespace keel::pg::audit {

// Installs the ExecutorStart hook (from _PG_init, in every backend that loads keel).
void InstallOnConflictGuard();

}  // namespace keel::pg::audit
