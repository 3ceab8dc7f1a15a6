// keel's background worker: with shared_preload_libraries = 'keel', a launcher
// ("keel maintenance launcher") wakes every keel.maintenance_interval and, for each
// database in keel.maintenance_databases, starts one short-lived worker ("keel
// maintenance worker") that runs keel.run_maintenance() parent by parent, each in a
// transaction of its own (short locks), then the maintenance tasks.  A database that
// fails (missing, keel not installed, an error) is logged and the next one is served.
// The launcher re-reads settings on SIGHUP, stops on SIGTERM, and is restarted by the
// postmaster after a crash (bgw_restart_time).  Empty keel.maintenance_databases (the
// default): the launcher sleeps and does nothing else.
//
// These are process entry points: no C++ object with a destructor lives here.
#include "bridge/pg.hpp"
#include "bridge/subxact.hpp"
#include "pg/gucs.hpp"
#include "pg/maintenance_worker.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/extension.h"
#include "nodes/pg_list.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"
#include "utils/wait_event.h"

PGDLLEXPORT void keel_maintenance_launcher_main(Datum arg);
PGDLLEXPORT void keel_maintenance_worker_main(Datum arg);
}

namespace keel::pg {

namespace {

constexpr long kIdleSleepMs = 60L * 1000L;

void FillCommon(BackgroundWorker* w, const char* function) {
    memset(w, 0, sizeof(*w));
    w->bgw_start_time = BgWorkerStart_RecoveryFinished;
    snprintf(w->bgw_library_name, BGW_MAXLEN, "keel");
    snprintf(w->bgw_function_name, BGW_MAXLEN, "%s", function);
}

// Starts the worker for one database and waits until it has finished.
void ServeDatabase(const char* dbname) {
    BackgroundWorker w;
    FillCommon(&w, "keel_maintenance_worker_main");
    w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    w.bgw_restart_time = BGW_NEVER_RESTART;
    snprintf(w.bgw_name, BGW_MAXLEN, "keel maintenance worker for database %s", dbname);
    snprintf(w.bgw_type, BGW_MAXLEN, "keel maintenance worker");
    strlcpy(w.bgw_extra, dbname, BGW_EXTRALEN);
    w.bgw_notify_pid = MyProcPid;

    BackgroundWorkerHandle* handle = nullptr;
    if (!RegisterDynamicBackgroundWorker(&w, &handle)) {
        ereport(WARNING,
                (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                 errmsg("keel could not start a maintenance worker for database \"%s\"", dbname),
                 errhint("Raise max_worker_processes.")));
        return;
    }
    pid_t pid;
    if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
        return;
    WaitForBackgroundWorkerShutdown(handle);
}

void RunRound() {
    MemoryContext round =
        AllocSetContextCreate(TopMemoryContext, "keel maintenance round", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(round);
    char* raw = pstrdup(guc::maintenance_databases ? guc::maintenance_databases : "");
    List* names = NIL;
    if (!SplitGUCList(raw, ',', &names)) {
        ereport(WARNING, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                          errmsg("invalid list syntax in keel.maintenance_databases")));
        names = NIL;
    }
    ListCell* lc;
    foreach (lc, names) {
        if (ShutdownRequestPending)
            break;
        const char* db = static_cast<const char*>(lfirst(lc));
        if (db[0] != '\0')
            ServeDatabase(db);
    }
    MemoryContextSwitchTo(old);
    MemoryContextDelete(round);
}

bool HaveDatabases() {
    return guc::maintenance_databases != nullptr && guc::maintenance_databases[0] != '\0';
}

// ---- the worker --------------------------------------------------------------------

struct WorkerState {
    Oid* parents;
    int nparents;
    Oid current;
    bool installed;
};

void ReadParents(void* arg) {
    auto* st = static_cast<WorkerState*>(arg);
    st->installed = OidIsValid(get_extension_oid("keel", true));
    if (!st->installed)
        return;
    pgstat_report_activity(STATE_RUNNING, "keel: reading keel.partition_config");
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    SPI_execute("SELECT parent::oid FROM keel.partition_config ORDER BY parent::text", true, 0);
    st->nparents = static_cast<int>(SPI_processed);
    st->parents = static_cast<Oid*>(
        MemoryContextAllocZero(TopMemoryContext, sizeof(Oid) * (st->nparents + 1)));
    for (int i = 0; i < st->nparents; i++) {
        bool isnull;
        st->parents[i] = DatumGetObjectId(
            SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
    }
    SPI_finish();
}

void MaintainParent(void* arg) {
    auto* st = static_cast<WorkerState*>(arg);
    pgstat_report_activity(STATE_RUNNING, "SELECT keel.run_maintenance(parent)");
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    Oid types[1] = {OIDOID};
    Datum values[1] = {ObjectIdGetDatum(st->current)};
    SPI_execute_with_args("SELECT count(*) FROM keel.run_maintenance($1::regclass)", 1, types,
                          values, nullptr, false, 0);
    SPI_finish();
}

void RunTasks(void*) {
    pgstat_report_activity(STATE_RUNNING, "SELECT keel.run_maintenance_tasks()");
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    SPI_execute("SELECT count(*) FROM keel.run_maintenance_tasks()", false, 0);
    SPI_finish();
}

}  // namespace

void RegisterMaintenanceLauncher() {
    BackgroundWorker w;
    FillCommon(&w, "keel_maintenance_launcher_main");
    // A connection to no database (as the logical replication launcher does): it makes
    // the launcher visible in pg_stat_activity and lets it hear (SIGUSR1) when a
    // worker it started has ended.
    w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    w.bgw_restart_time = 10;  // seconds; after a crash the postmaster starts it again
    snprintf(w.bgw_name, BGW_MAXLEN, "keel maintenance launcher");
    snprintf(w.bgw_type, BGW_MAXLEN, "keel maintenance launcher");
    RegisterBackgroundWorker(&w);
}

}  // namespace keel::pg

void keel_maintenance_launcher_main(Datum) {
    using namespace keel::pg;
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
    ereport(LOG, (errmsg("keel maintenance launcher started")));

    TimestampTz last_round = 0;
    bool ran = false;
    while (!ShutdownRequestPending) {
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        long sleep_ms = kIdleSleepMs;
        if (HaveDatabases()) {
            TimestampTz now = GetCurrentTimestamp();
            TimestampTz due =
                ran ? TimestampTzPlusMilliseconds(
                          last_round, static_cast<int64>(guc::maintenance_interval) * 1000)
                    : now;
            if (now >= due) {
                last_round = now;
                ran = true;
                RunRound();
                due = TimestampTzPlusMilliseconds(
                    last_round, static_cast<int64>(guc::maintenance_interval) * 1000);
                now = GetCurrentTimestamp();
            }
            long left_ms = static_cast<long>((due - now) / 1000);
            sleep_ms = left_ms < 0 ? 0 : (left_ms < kIdleSleepMs ? left_ms : kIdleSleepMs);
        }
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, sleep_ms,
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
    ereport(LOG, (errmsg("keel maintenance launcher shutting down")));
    proc_exit(0);
}

void keel_maintenance_worker_main(Datum) {
    using namespace keel::pg;
    char dbname[BGW_EXTRALEN];
    strlcpy(dbname, MyBgworkerEntry->bgw_extra, BGW_EXTRALEN);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    const char* role = guc::maintenance_role != nullptr && guc::maintenance_role[0] != '\0'
                           ? guc::maintenance_role
                           : nullptr;
    BackgroundWorkerInitializeConnection(dbname, role, 0);
    pgstat_report_appname("keel maintenance");

    WorkerState st{};
    if (!keel::bridge::RunInOwnTransaction(ReadParents, &st))
        proc_exit(1);
    if (!st.installed) {
        ereport(LOG, (errmsg("keel maintenance: extension keel is not installed in database \"%s\"",
                             dbname)));
        proc_exit(0);
    }
    int failed = 0;
    for (int i = 0; i < st.nparents && !ShutdownRequestPending; i++) {
        CHECK_FOR_INTERRUPTS();
        st.current = st.parents[i];
        if (!keel::bridge::RunInOwnTransaction(MaintainParent, &st))
            failed++;
    }
    if (!keel::bridge::RunInOwnTransaction(RunTasks, &st))
        failed++;
    pgstat_report_activity(STATE_IDLE, nullptr);
    if (failed > 0) {
        ereport(LOG, (errmsg("keel maintenance in database \"%s\": %d of %d steps failed", dbname,
                             failed, st.nparents + 1)));
    }
    proc_exit(0);
}
