// Shared-memory cache of audit chain heads (only with shared_preload_libraries = 'keel';
// without it every lookup misses and the head is read from keel.audit_link).
//
// An entry is written only by the holder of the sub-chain lock, right after it appended
// a link; if that transaction (or a subtransaction of it) aborts, the entry is
// invalidated (before the lock is released, when it still holds it).  So a valid entry
// names the head that the next lock holder must follow: the last committed link, or
// the link of a transaction that handed the lock over at pre-commit and is committing
// (its successors wait for it before they commit).  After a restart the cache is empty.
#pragma once

#include "bridge/pg.hpp"
#include "core/audit_chain.hpp"

namespace keel::pg::audit {

void RequestHeadCacheShmem();  // from _PG_init, while preloading
// salt: the chain's salt (kSaltBytes); an entry made for another chain with the same id misses.
// link_rel: the OID of keel.audit_link; an entry made before the extension was dropped and
// created again (a dump restored over the database) misses, even for the same chain and salt.
// writer: the top-level transaction that appended the head link (it may still be
// committing: the sub-chain lock is handed over at pre-commit, see audit_chain_rows.hpp),
// with its epoch: a chain may stay idle, its entry untouched, for more than 2^31
// transactions, after which the 32-bit id names some other transaction.
bool SharedHeadGet(int32 chain_id, int32 sub, const uint8* salt, Oid link_rel, uint64* pos,
                   core::chain::Hash* hash, FullTransactionId* writer);
void SharedHeadSet(int32 chain_id, int32 sub, const uint8* salt, Oid link_rel, uint64 pos,
                   const core::chain::Hash& hash, FullTransactionId writer);
// Invalidates the entries this transaction wrote (it is aborting).  The sub-chain locks
// call it before they are released; the cache's own abort callback does it too.
void SharedHeadAbortWritten();

}  // namespace keel::pg::audit
