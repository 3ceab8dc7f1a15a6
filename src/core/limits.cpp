#include "core/limits.hpp"

#include "core/status.hpp"

namespace keel::core {

void CheckSize(size_t bytes, size_t limit, std::string_view what, std::string_view limit_name,
               std::string detail, std::string hint) {
    if (bytes <= limit)
        return;
    Throw(ErrorKind::kProgramLimit,
          std::string(what) + ": " + std::to_string(bytes) + " bytes, more than the " +
              std::to_string(limit) + " bytes " + std::string(limit_name),
          std::move(detail), std::move(hint));
}

std::string ShownName(std::string_view name, size_t max_bytes) {
    if (name.size() <= max_bytes)
        return std::string(name);
    size_t cut = max_bytes;
    // Back up to the first byte of a UTF-8 character (continuation bytes are 10xxxxxx).
    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80)
        --cut;
    return std::string(name.substr(0, cut)) + "...";
}

}  // namespace keel::core
