// Included first by every core header: fails the build if a PostgreSQL header got
// into the pure core before it (postgres.h defines PG_VERSION_NUM via pg_config.h).
#pragma once
#if defined(PG_VERSION_NUM) && defined(KEEL_PURE_CORE)
#error "src/core must not include PostgreSQL headers"
#endif
