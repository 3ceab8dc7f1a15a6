// Per-backend OpenSSL state shared by keel's crypto entry points.
#pragma once

#include "core/aead.hpp"

namespace keel::bridge {

// The backend's AES-256-GCM context, created on first use and kept for the life of
// the process.  Every operation re-keys it, so a call that was aborted by an ERROR
// leaves nothing behind that the next call could trip over; the key schedule is
// cleansed when the process exits.
core::Aes256Gcm& BackendGcm();

}  // namespace keel::bridge
