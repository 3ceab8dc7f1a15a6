// keel._boundary_selftest(kind): proves the error boundary from SQL.  Each kind fails
// from deep inside C++ frames that own heap memory, so a test can show that the
// ERROR arrives with the right SQLSTATE, that destructors ran (live objects return
// to zero) and that repeating it leaves the backend's memory flat.
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bridge/guard.hpp"

namespace keel::pg {
namespace {

// Counts live instances so SQL can check that unwinding destroyed them.
int64 g_live_sentinels = 0;

struct Sentinel {
    std::vector<std::string> payload;
    Sentinel() : payload(16, std::string(64, 'k')) { ++g_live_sentinels; }
    ~Sentinel() { --g_live_sentinels; }
    Sentinel(const Sentinel&) = delete;
    Sentinel& operator=(const Sentinel&) = delete;
};

int Deep(const std::string& kind, int depth) {
    auto sentinel = std::make_unique<Sentinel>();
    if (depth > 0)
        return Deep(kind, depth - 1) + static_cast<int>(sentinel->payload.size());

    if (kind == "keel") {
        core::Throw(core::ErrorKind::kInvalidParameter, "boundary self-test: keel error",
                    "Thrown 8 frames deep in C++.", "Nothing to do: this is a test.");
    }
    if (kind == "std")
        throw std::runtime_error("boundary self-test: std exception");
    if (kind == "oom")
        throw std::bad_alloc();
    if (kind == "pg") {
        // A PostgreSQL ERROR (division_by_zero) raised while Sentinels are alive.
        int32 zero = sentinel->payload.empty() ? 1 : 0;
        return bridge::PgCall([zero]() -> int32 {
            return DatumGetInt32(
                DirectFunctionCall2(int4div, Int32GetDatum(1), Int32GetDatum(zero)));
        });
    }
    if (kind == "none")
        return 0;
    core::Throw(core::ErrorKind::kInvalidParameter, "unknown self-test kind \"" + kind + "\"", {},
                "Use keel, std, oom, pg or none.");
}

}  // namespace
}  // namespace keel::pg

KEEL_FUNCTION(keel_boundary_selftest) {
    if (PG_ARGISNULL(0)) {
        keel::core::Throw(keel::core::ErrorKind::kNullValue, "kind must not be NULL");
    }
    std::string kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
    PG_RETURN_INT32(keel::pg::Deep(kind, 8));
}

KEEL_FUNCTION(keel_boundary_live_objects) {
    PG_RETURN_INT64(keel::pg::g_live_sentinels);
}
