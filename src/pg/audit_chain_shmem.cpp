#include "pg/audit_chain_shmem.hpp"

#include <cstring>

extern "C" {
#include "access/xact.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
}

namespace keel::pg::audit {
namespace {

constexpr long kMaxHeads = 4096;
constexpr int kMaxWritten = 16;

struct HeadKey {
    Oid database;
    int32 chain_id;
    int32 sub;
};

struct HeadEntry {
    HeadKey key;
    bool valid;
    uint8 salt[core::chain::kSaltBytes];  // a chain id reused after DROP/CREATE EXTENSION misses
    // keel.audit_link's OID: a dump restored over the database (pg_restore --clean: DROP
    // and CREATE EXTENSION, then the old rows) brings back the same chain id and salt with
    // an older head, but always in a new keel.audit_link, so the entry misses.
    Oid link_rel;
    uint64 pos;
    uint8 hash[core::chain::kHashBytes];
    FullTransactionId writer;
};

HTAB* g_heads = nullptr;
LWLock* g_lock = nullptr;
shmem_request_hook_type g_prev_request = nullptr;
shmem_startup_hook_type g_prev_startup = nullptr;

// Entries this backend wrote in the current transaction: invalidated if it aborts.
HeadKey g_written[kMaxWritten];
int g_nwritten = 0;
bool g_overflow = false;  // wrote more chains than tracked: stop caching until xact end
bool g_callbacks = false;

void ShmemRequest() {
    if (g_prev_request != nullptr)
        g_prev_request();
    RequestAddinShmemSpace(hash_estimate_size(kMaxHeads, sizeof(HeadEntry)));
    RequestNamedLWLockTranche("keel_audit_chain_heads", 1);
}

void ShmemStartup() {
    if (g_prev_startup != nullptr)
        g_prev_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    HASHCTL info;
    memset(&info, 0, sizeof info);
    info.keysize = sizeof(HeadKey);
    info.entrysize = sizeof(HeadEntry);
    g_heads = ShmemInitHash("keel audit chain heads", kMaxHeads, kMaxHeads, &info,
                            HASH_ELEM | HASH_BLOBS);
    g_lock = &(GetNamedLWLockTranche("keel_audit_chain_heads"))->lock;
    LWLockRelease(AddinShmemInitLock);
}

HeadKey KeyOf(int32 chain_id, int32 sub) {
    HeadKey k;
    memset(&k, 0, sizeof k);
    k.database = MyDatabaseId;
    k.chain_id = chain_id;
    k.sub = sub;
    return k;
}

void InvalidateKeys(const HeadKey* keys, int n) {
    if (g_heads == nullptr || n == 0)
        return;
    LWLockAcquire(g_lock, LW_EXCLUSIVE);
    for (int i = 0; i < n; i++) {
        auto* e = static_cast<HeadEntry*>(hash_search(g_heads, &keys[i], HASH_FIND, nullptr));
        if (e != nullptr)
            e->valid = false;
    }
    LWLockRelease(g_lock);
}

void InvalidateWritten() {
    InvalidateKeys(g_written, g_nwritten);
}

// Runs before the transaction's locks are released (AbortTransaction and
// AbortSubTransaction call these callbacks first).
void OnXact(XactEvent event, void*) {
    switch (event) {
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
            SharedHeadAbortWritten();
            break;
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
        case XACT_EVENT_PREPARE:
            g_nwritten = 0;
            g_overflow = false;
            break;
        default:
            break;
    }
}

void OnSubXact(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
    // Conservative: whatever this transaction cached may belong to the aborted part.
    if (event == SUBXACT_EVENT_ABORT_SUB)
        InvalidateWritten();
}

}  // namespace

void SharedHeadAbortWritten() {
    InvalidateWritten();
    g_nwritten = 0;
    g_overflow = false;
}

void RequestHeadCacheShmem() {
    g_prev_request = shmem_request_hook;
    shmem_request_hook = ShmemRequest;
    g_prev_startup = shmem_startup_hook;
    shmem_startup_hook = ShmemStartup;
}

bool SharedHeadGet(int32 chain_id, int32 sub, const uint8* salt, Oid link_rel, uint64* pos,
                   core::chain::Hash* hash, FullTransactionId* writer) {
    if (g_heads == nullptr || g_overflow)
        return false;
    HeadKey k = KeyOf(chain_id, sub);
    bool found = false;
    LWLockAcquire(g_lock, LW_SHARED);
    auto* e = static_cast<HeadEntry*>(hash_search(g_heads, &k, HASH_FIND, nullptr));
    if (e != nullptr && e->valid && memcmp(e->salt, salt, sizeof e->salt) == 0 &&
        e->link_rel == link_rel) {
        *pos = e->pos;
        memcpy(hash->bytes, e->hash, sizeof e->hash);
        *writer = e->writer;
        found = true;
    }
    LWLockRelease(g_lock);
    return found;
}

void SharedHeadSet(int32 chain_id, int32 sub, const uint8* salt, Oid link_rel, uint64 pos,
                   const core::chain::Hash& hash, FullTransactionId writer) {
    if (g_heads == nullptr)
        return;
    if (!g_callbacks) {
        RegisterXactCallback(OnXact, nullptr);
        RegisterSubXactCallback(OnSubXact, nullptr);
        g_callbacks = true;
    }
    HeadKey k = KeyOf(chain_id, sub);
    if (g_overflow) {
        // The entry still names the head before this link: it must not be followed.
        InvalidateKeys(&k, 1);
        return;
    }
    bool tracked = false;
    for (int i = 0; i < g_nwritten && !tracked; i++) {
        tracked = memcmp(&g_written[i], &k, sizeof k) == 0;
    }
    if (!tracked) {
        if (g_nwritten == kMaxWritten) {
            // Too many chains in one transaction to track (an abort could not undo what
            // it shared): from now on share no head of this transaction.
            InvalidateWritten();
            InvalidateKeys(&k, 1);
            g_overflow = true;
            return;
        }
        g_written[g_nwritten++] = k;
    }
    LWLockAcquire(g_lock, LW_EXCLUSIVE);
    auto* e = static_cast<HeadEntry*>(hash_search(g_heads, &k, HASH_ENTER_NULL, nullptr));
    if (e != nullptr) {
        e->valid = true;
        memcpy(e->salt, salt, sizeof e->salt);
        e->link_rel = link_rel;
        e->pos = pos;
        memcpy(e->hash, hash.bytes, sizeof e->hash);
        e->writer = writer;
    }
    LWLockRelease(g_lock);
}

}  // namespace keel::pg::audit
