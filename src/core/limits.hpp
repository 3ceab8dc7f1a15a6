// Size limits keel checks before it allocates, so that an over-large value is a clear
// ERROR with SQLSTATE 54000 (program_limit_exceeded) that names the limit, rather than
// PostgreSQL's generic "invalid memory alloc request size" (XX000); and the way a
// user-supplied name is shown in an error message (never echoed whole).
#pragma once

#include "core/pure.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace keel::core {

// The most bytes one PostgreSQL value holds: MaxAllocSize (1 GB - 1) less the 4-byte
// varlena header.  src/bridge checks at compile time that it matches the server's.
constexpr size_t kMaxValueBytes = size_t{0x3fffffff} - 4;

// The most bytes of one jsonb string (JENTRY_OFFLENMASK, 256 MB - 1).
constexpr size_t kMaxJsonbStringBytes = size_t{0x0fffffff};

// The longest text keel.cjk_parser takes (32 MB).  PostgreSQL keeps one array entry
// per token while it builds a tsvector or a headline; CJK text makes about one token
// per character, so much longer texts would overrun PostgreSQL's 1 GB allocation limit.
constexpr size_t kMaxCjkTextBytes = size_t{32} << 20;

// Throws ErrorKind::kProgramLimit when bytes > limit:
//   message  "<what>: <bytes> bytes, more than the <limit> bytes <limit_name>"
// e.g. "ciphertext too large: 1073741844 bytes, more than the 1073741819 bytes
// PostgreSQL allows in one value".
// with the given detail and hint.
void CheckSize(size_t bytes, size_t limit, std::string_view what, std::string_view limit_name,
               std::string detail = {}, std::string hint = {});

// A user-supplied name as an error message shows it: the whole name when it has at most
// kShownNameBytes bytes, else its first bytes (cut on a UTF-8 character boundary) and
// "..." -- a 10 MB name never ends up whole in a message or in the server log.
// File paths are shown up to kShownPathBytes (PostgreSQL's MAXPGPATH): a real path is
// always shorter, and the whole path is what the user needs to see.
constexpr size_t kShownNameBytes = 64;
constexpr size_t kShownPathBytes = 1024;
std::string ShownName(std::string_view name, size_t max_bytes = kShownNameBytes);

}  // namespace keel::core
