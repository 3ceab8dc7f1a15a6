// libFuzzer target: the PHC (argon2id) string parser must reject hostile input cleanly;
// whatever it accepts has sane parameters.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/password.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view s(reinterpret_cast<const char*>(data), size);
    auto r = keel::core::ParsePhc(s);
    if (r.ok()) {
        const auto& p = r.value().params;
        if (p.iterations < 1 || p.parallelism < 1 || p.memory_kib < 8 * p.parallelism)
            abort();
        if (r.value().hash_len > 64)
            abort();
    }
    return 0;
}
