// The C++ <-> PostgreSQL error boundary.
//
// Two guards, one in each direction:
//
//  * KEEL_FUNCTION(name) defines an SQL-callable function whose body runs inside
//    InvokeGuarded(): any C++ exception is caught there, the C++ frames are unwound,
//    and only then is ereport(ERROR) raised, from a frame that owns nothing.  A
//    keel::core::Error keeps its kind (mapped to one SQLSTATE), detail and hint; a
//    PostgreSQL error captured underneath is re-raised as itself (same SQLSTATE,
//    message, detail, context).
//
//  * PgCall(fn) runs fn -- code that calls PostgreSQL and may ereport -- under
//    PG_TRY.  A PostgreSQL error becomes a C++ PgError exception, so destructors of
//    the C++ frames between here and the boundary run instead of being skipped by
//    longjmp.  fn itself must hold only plain data (no destructors): it is the part
//    a longjmp can still leave.  After a PgError, C++ code only unwinds; the
//    transaction is aborted when the boundary re-raises the error.
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

#include "bridge/pg.hpp"
#include "core/status.hpp"

namespace keel::bridge {

// A PostgreSQL error in flight through C++ frames.  The ErrorData lives in the
// memory context that was current when PgCall was entered.
class PgError : public std::exception {
  public:
    explicit PgError(ErrorData* data) : data_(data) {}
    const char* what() const noexcept override;
    ErrorData* data() const noexcept { return data_; }

  private:
    ErrorData* data_;
};

// SQLSTATE for each core error kind (the single table: src/bridge/errors.cpp).
int SqlStateFor(core::ErrorKind kind) noexcept;

using PgFunctionImpl = Datum (*)(FunctionCallInfo);
Datum InvokeGuarded(PgFunctionImpl impl, FunctionCallInfo fcinfo);

// The same boundary for an entry point that is not an SQL function (a parallel
// worker's main function): fn(arg) runs guarded, its exceptions become ereport(ERROR).
void RunGuarded(void (*fn)(void*), void* arg);

// Non-template heart of PgCall (keeps PG_TRY in one translation unit).
void CallPgGuarded(void (*fn)(void*), void* arg);

template <typename Fn>
auto PgCall(Fn&& fn) -> decltype(fn()) {
    using R = decltype(fn());
    if constexpr (std::is_void_v<R>) {
        CallPgGuarded([](void* p) { (*static_cast<std::remove_reference_t<Fn>*>(p))(); }, &fn);
    } else {
        static_assert(std::is_trivially_destructible_v<R>,
                      "PgCall returns plain data only: a longjmp may skip its destructor");
        struct Ctx {
            std::remove_reference_t<Fn>* fn;
            R result;
        } ctx{&fn, R{}};
        CallPgGuarded(
            [](void* p) {
                auto* c = static_cast<Ctx*>(p);
                c->result = (*c->fn)();
            },
            &ctx);
        return ctx.result;
    }
}

}  // namespace keel::bridge

// Defines an SQL-callable function `name` whose body is guarded.  Use:
//   KEEL_FUNCTION(keel_encrypt) { ... return PointerGetDatum(...); }
#define KEEL_FUNCTION(name)                                      \
    static Datum name##_impl(FunctionCallInfo fcinfo);           \
    extern "C" {                                                 \
    PGDLLEXPORT Datum name(PG_FUNCTION_ARGS);                    \
    PG_FUNCTION_INFO_V1(name);                                   \
    Datum name(PG_FUNCTION_ARGS) {                               \
        return keel::bridge::InvokeGuarded(name##_impl, fcinfo); \
    }                                                            \
    }                                                            \
    static Datum name##_impl([[maybe_unused]] FunctionCallInfo fcinfo)
