#include "bridge/subxact.hpp"

#include "bridge/guard.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

namespace keel::bridge {

namespace {

std::string UnpackSqlState(int sqlstate) {
    return unpack_sql_state(sqlstate);
}

}  // namespace

bool RunInSubtransaction(const std::function<void()>& fn, CaughtError* error) {
    MemoryContext caller_context = CurrentMemoryContext;
    ResourceOwner caller_owner = CurrentResourceOwner;

    PgCall([] { BeginInternalSubTransaction(nullptr); });
    MemoryContextSwitchTo(caller_context);

    bool ok = false;
    ErrorData* pg_error = nullptr;
    try {
        fn();
        ok = true;
    } catch (const PgError& e) {
        pg_error = e.data();
        error->sqlstate = pg_error->sqlerrcode;
        error->message = pg_error->message ? pg_error->message : "";
        error->detail = pg_error->detail ? pg_error->detail : "";
    } catch (const core::KeelException& e) {
        error->sqlstate = SqlStateFor(e.error().kind);
        error->message = e.error().message;
        error->detail = e.error().detail;
    }

    if (ok) {
        PgCall([] { ReleaseCurrentSubTransaction(); });
    } else {
        PgCall([] { RollbackAndReleaseCurrentSubTransaction(); });
        error->code = UnpackSqlState(error->sqlstate);
    }
    MemoryContextSwitchTo(caller_context);
    CurrentResourceOwner = caller_owner;

    if (pg_error != nullptr && pg_error->sqlerrcode == ERRCODE_QUERY_CANCELED) {
        throw PgError(pg_error);
    }
    return ok;
}

}  // namespace keel::bridge

namespace keel::bridge {

bool RunInOwnTransaction(void (*fn)(void*), void* arg) {
    MemoryContext caller_context = CurrentMemoryContext;
    volatile bool ok = true;
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    PG_TRY();
    {
        fn(arg);
        PopActiveSnapshot();
        CommitTransactionCommand();
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_context);
        EmitErrorReport();
        FlushErrorState();
        AbortCurrentTransaction();
        ok = false;
    }
    PG_END_TRY();
    MemoryContextSwitchTo(caller_context);
    return ok;
}

}  // namespace keel::bridge
