// Subtransactions for C++ code: run a piece of work so that its failure rolls back
// only that piece (the way a PL/pgSQL EXCEPTION block does), and report the error as
// a value.  Used where one failing item must not stop the others (partition upkeep
// of many tables, maintenance tasks).
#pragma once

#include <functional>
#include <string>

namespace keel::bridge {

struct CaughtError {
    int sqlstate = 0;  // PostgreSQL's packed SQLSTATE
    std::string code;  // the five characters, e.g. 55P03
    std::string message;
    std::string detail;
};

// Runs fn inside an internal subtransaction.  Returns true when fn succeeded (the
// subtransaction is committed into the caller's transaction).  When fn fails with a
// PostgreSQL error or a keel::core error, the subtransaction is rolled back (its
// locks, catalog changes and rows are gone), *error says why, and false is returned.
// A query cancel (statement_timeout, pg_cancel_backend) is rethrown, not swallowed.
bool RunInSubtransaction(const std::function<void()>& fn, CaughtError* error);

}  // namespace keel::bridge

namespace keel::bridge {

// For background workers: runs fn(arg) in a transaction of its own.  An ERROR is
// reported to the log, the transaction aborted, and false returned, so the worker
// goes on with its next item.  fn holds plain data only (it may be left by longjmp).
bool RunInOwnTransaction(void (*fn)(void*), void* arg);

}  // namespace keel::bridge
