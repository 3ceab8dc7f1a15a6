// The one place PostgreSQL's C headers enter C++.  Everything under src/bridge and
// src/pg includes this instead of postgres.h.
#pragma once

// PostgreSQL 15 leaves PGDLLEXPORT empty on ELF platforms; keel builds with
// -fvisibility=hidden, so the symbols the server looks up must be marked here.
#ifndef PGDLLEXPORT
#define PGDLLEXPORT __attribute__((visibility("default")))
#endif

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}

// Older headers define these as macros, which collide with <algorithm>.
#ifdef Min
#undef Min
#endif
#ifdef Max
#undef Max
#endif
