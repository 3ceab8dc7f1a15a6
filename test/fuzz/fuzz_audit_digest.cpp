// libFuzzer target: keel's audit chain digest parser must never crash, and whatever
// it accepts must re-serialise to the same body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/audit_chain.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    namespace chain = keel::core::chain;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto parsed = chain::ParseDigest(text);
    if (parsed.ok()) {
        std::string again = chain::DigestText(parsed.value());
        auto reparsed = chain::ParseDigest(again);
        if (!reparsed.ok() ||
            chain::DigestBody(reparsed.value()) != chain::DigestBody(parsed.value())) {
            abort();
        }
    }
    return 0;
}
