#include "bridge/guard.hpp"

#include <cstring>
#include <new>

namespace keel::bridge {

namespace {

// Error text is copied into fixed buffers on the boundary's own frame while the
// exception is still alive: nothing here allocates, so nothing can ereport (and
// longjmp) out of a catch block.
constexpr size_t kTextMax = 2048;

void CopyText(char* dst, const std::string& src) noexcept {
    size_t n = std::min(src.size(), kTextMax - 1);
    std::memcpy(dst, src.data(), n);
    dst[n] = '\0';
}

void CopyText(char* dst, const char* src) noexcept {
    size_t n = strnlen(src, kTextMax - 1);
    std::memcpy(dst, src, n);
    dst[n] = '\0';
}

}  // namespace

const char* PgError::what() const noexcept {
    return data_ && data_->message ? data_->message : "PostgreSQL error";
}

Datum InvokeGuarded(PgFunctionImpl impl, FunctionCallInfo fcinfo) {
    struct Call {
        PgFunctionImpl impl;
        FunctionCallInfo fcinfo;
        Datum result;
    } call{impl, fcinfo, Datum{0}};
    RunGuarded(
        [](void* p) {
            auto* c = static_cast<Call*>(p);
            c->result = c->impl(c->fcinfo);
        },
        &call);
    return call.result;
}

void RunGuarded(void (*fn)(void*), void* arg) {
    ErrorData* pg_error = nullptr;
    int sqlstate = 0;
    char message[kTextMax];
    char detail[kTextMax];
    char hint[kTextMax];
    message[0] = detail[0] = hint[0] = '\0';

    try {
        fn(arg);
        return;
    } catch (const PgError& e) {
        pg_error = e.data();
    } catch (const core::KeelException& e) {
        sqlstate = SqlStateFor(e.error().kind);
        CopyText(message, e.error().message);
        CopyText(detail, e.error().detail);
        CopyText(hint, e.error().hint);
    } catch (const std::bad_alloc&) {
        sqlstate = ERRCODE_OUT_OF_MEMORY;
        CopyText(message, "out of memory");
    } catch (const std::exception& e) {
        sqlstate = ERRCODE_INTERNAL_ERROR;
        CopyText(message, "internal error in keel: ");
        size_t used = strlen(message);
        CopyText(message + used, e.what());
        CopyText(hint, "This is a bug in keel; please report it.");
    } catch (...) {
        sqlstate = ERRCODE_INTERNAL_ERROR;
        CopyText(message, "internal error in keel: unknown exception");
        CopyText(hint, "This is a bug in keel; please report it.");
    }

    // Every C++ frame below this one is gone; raising now skips no destructor.
    if (pg_error != nullptr)
        ReThrowError(pg_error);
    ereport(ERROR,
            (errcode(sqlstate), errmsg_internal("%s", message),
             detail[0] ? errdetail_internal("%s", detail) : 0, hint[0] ? errhint("%s", hint) : 0));
    pg_unreachable();
}

void CallPgGuarded(void (*fn)(void*), void* arg) {
    MemoryContext caller_context = CurrentMemoryContext;
    ErrorData* volatile captured = nullptr;

    PG_TRY();
    { fn(arg); }
    PG_CATCH();
    {
        // Copy out of ErrorContext into the caller's context, then reset the error
        // machinery: the error is re-raised by InvokeGuarded once C++ has unwound.
        MemoryContextSwitchTo(caller_context);
        captured = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();

    if (captured != nullptr)
        throw PgError(captured);
}

}  // namespace keel::bridge
