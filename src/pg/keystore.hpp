// keel's key store, for engine code that needs a data key (encryption, the audit
// chain's HMAC signatures, ...).
//
//   #include "pg/keystore.hpp"
//
//   // Sign with the active version of a named HMAC key:
//   keel::pg::DataKey k = keel::pg::ActiveKey("audit", keel::pg::KeyPurpose::kHmac);
//   HMAC(EVP_sha256(), k.key.bytes, keel::pg::DataKey::kSize, ...);
//   // store k.key_id and k.version beside the signature, then later verify with
//   keel::pg::DataKey old = keel::pg::KeyVersion(key_id, version, keel::pg::KeyPurpose::kHmac);
//
// Rules:
//  * Call these only from C++ code running under KEEL_FUNCTION (src/bridge/guard.hpp):
//    failures are thrown (core::KeelException with a proper error kind, or a
//    bridge::PgError), and the boundary turns them into the right ERROR.  Errors:
//      - no master key configured             F0000 "keel.master_key_file is not set"
//      - master key file unreadable, bad, or group/other-readable            F0000
//      - master key differs from the one the key store was made with         F0000
//      - unknown key name / key id+version                                   42704
//      - key version destroyed                                               42704
//      - key exists with the other purpose                                   42809
//  * DataKey is a copy of 32 key bytes; its destructor cleanses them (also when an
//    exception unwinds your frame).  Do not copy the bytes anywhere else, and never
//    put them in an error message, a NOTICE, SQL text or a table.
//  * Unwrapped keys are cached per backend (at most 64, least recently used evicted).
//    The cache is flushed (and cleansed) when keel.data_keys changes (create, rotate,
//    destroy, rewrap: a relcache invalidation of that table, so other backends see it
//    at their next transaction), when a keel.master_key_* setting changes, and when a
//    transaction that changed keys aborts.  A lookup that hits costs a few string
//    compares; a miss reads keel.data_keys directly (no SPI, no ACL check: callers
//    need no privilege on the table) and unwraps with the master key.
//  * Key ids are stable across pg_dump/restore (keel.data_keys is dumped with them).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/keywrap.hpp"
#include "core/secure.hpp"

namespace keel::pg {

using core::KeyPurpose;

struct DataKey {
    static constexpr size_t kSize = core::kKeyBytes;  // 32 bytes, for AES-256 and HMAC-SHA-256

    uint32_t key_id = 0;   // stable id of the named key (same for all its versions)
    uint32_t version = 0;  // 1, 2, ... (keel.rotate_key adds one)
    KeyPurpose purpose = KeyPurpose::kEncrypt;
    core::Key256 key;  // key.bytes[0..31]; cleansed when this object dies
};

// The active (newest, usable for new data) version of the named key.
DataKey ActiveKey(const char* name, KeyPurpose purpose);

// One specific version, as recorded next to data made with it (decrypt, verify).
DataKey KeyVersion(uint32_t key_id, uint32_t version, KeyPurpose purpose);

// Called by the GUC assign hooks of keel.master_key_file / keel.master_key_command:
// only marks the cache for a flush (assign hooks must not fail).
void MasterKeySettingChanged();

}  // namespace keel::pg
