// The audit chain's PostgreSQL side, shared by the trigger, the verifier and the
// digest: chain configuration, canonical row collection (heap tuple -> fields), HMAC
// keys, sub-chain locks, head lookup and link insertion.  Everything here is plain
// data and C-style calls, so it can run in frames that PostgreSQL may longjmp out of.
#pragma once

#include "bridge/pg.hpp"
#include "core/audit_chain.hpp"

namespace keel::pg::audit {

namespace chain = keel::core::chain;

// The append trigger that keel.enable_audit_chain() creates (src/sql/keel/300_audit_chain.sql).
inline constexpr char kChainTrigger[] = "zz_keel_audit_chain";
// Whether relid carries that trigger: a chained table, or a partition of one.
bool IsChained(Oid relid);

// One column of the canonical encoding, resolved once per relation.
enum class Enc : uint8_t {
    kInt2,
    kInt4,
    kInt8,
    kOid,
    kBool,
    kFloat4,
    kFloat8,
    kUuid,     // fixed binary, big-endian
    kBytea,    // raw bytes
    kTextRaw,  // text-like varlena: raw bytes in the server encoding
    kName,
    kChar,
    kSend,   // the type's binary send function (settings-independent types)
    kOut,    // the type's output function
    kArray,  // keel's array encoding, elements by elem_enc
};

struct ColumnPlan {
    AttrNumber attnum;
    const char* name;
    const char* type_name;  // typname of the base type (the element type for arrays)
    const char* prefix;     // the encoding's constant part (chain::WriteFieldPrefix)
    uint32 prefix_len;
    Enc enc;
    Enc elem_enc;  // for kArray
    Oid elem_type;
    int16 elem_len;
    bool elem_byval;
    char elem_align;
    FmgrInfo fn;  // send/output function (of the element for arrays)
};

// Columns sorted by name (the canonical encoding's order), so rows need no sorting.
struct RowPlan {
    Oid relid;
    int ncols;
    ColumnPlan cols[FLEXIBLE_ARRAY_MEMBER];
};

// A field as collected from a tuple, in name order (bytes palloc'd in the current
// context, or in inline_bytes for fixed-size values).
struct RawField {
    const char* prefix;  // the column's ColumnPlan::prefix
    uint32 prefix_len;
    const char* data;
    uint32 len;
    char inline_bytes[8];
};

struct ChainConfig {
    int32 chain_id;
    int32 sub_chains;
    uint8 salt[chain::kSaltBytes];
    bool has_columns;
    NameData hash_column;
    NameData signature_column;
    char key_name[NAMEDATALEN * 2];
    Oid relid;  // the chained table (InvalidOid: not recorded)
};

// Reads keel.audit_chain directly; raises if the chain does not exist.
void LoadChainConfig(int32 chain_id, ChainConfig* out);
// The random id of this database incarnation (keel.database_incarnation).
bool ReadIncarnation(uint8 out[16]);

// Builds the per-relation column plan in mcxt; excluded columns (the chain's own)
// and generated columns are left out.  Raises for unsupported column types.
RowPlan* BuildRowPlan(TupleDesc desc, Oid relid, const ChainConfig& cfg, MemoryContext mcxt);

// Collects the non-NULL fields of a tuple (out must have room for plan->ncols); the
// deformed tuple is palloc'd in the current context and optionally returned.
int CollectFields(const RowPlan* plan, HeapTuple tuple, TupleDesc desc, RawField* out,
                  Datum** values_out = nullptr, bool** nulls_out = nullptr);

// The attribute number of a chain column (previous hash or signature) of rel, and its
// type; raises 42703 when the column is missing.
AttrNumber ChainColumn(TupleDesc desc, Relation rel, const char* name, Oid* type);

// SHA-256 of the canonical encoding (C++ inside, no PostgreSQL calls).
chain::Hash HashRow(const RawField* fields, int n, chain::Sha256& sha);

// HMAC keys (32 bytes) from the key store.  C++ calls that throw (never call them
// inside bridge::PgCall).  The caller cleanses `bytes` with OPENSSL_cleanse.
struct KeyBytes {
    uint32 key_id;
    uint32 version;
    uint8 bytes[32];
};
void ActiveHmacKey(const char* name, KeyBytes* out);
void HmacKeyVersion(uint32 key_id, uint32 version, KeyBytes* out);

// Sub-chain locks: a position is owned from the first link of a transaction to its
// pre-commit (then handed over, see the .cpp) or its abort.
// handover: released at pre-commit with a commit dependency (chains of one sub-chain,
// where every writer waits for the one before); otherwise held to the end of the
// transaction (the scaling mode, whose writers rarely meet: the hand-over's extra
// bookkeeping would cost them more than it saves).
void LockSub(int32 chain_id, int32 sub, bool handover = true);
bool TryLockSub(int32 chain_id, int32 sub, bool handover = true);
// LockSub, retrying without queueing for a short while first (see the .cpp).
void LockSubSpinning(int32 chain_id, int32 sub, bool handover = true);
// The head just read (from shared memory) was appended by `writer`: this transaction
// waits for it at pre-commit and fails with 40001 if it aborted.  False when `writer`
// has aborted already (the entry is about to be invalidated), or is so old that the
// commit log no longer knows, or that its 32-bit id has wrapped around: read the table
// instead.
// handover: the chain hands its sub-chains over at pre-commit (see LockSub).
bool FollowWriter(int32 chain_id, FullTransactionId full_writer, bool handover);
// Called by each transaction that appends to a sub-chain (held to its end).
void MarkPendingWriter(int32 chain_id, int32 sub);
// Waits until every transaction that appended to the sub-chain and handed its lock over
// has ended, so the table shows the true head; keep: hold that to the end of the
// transaction (no new link can begin to commit before it).
void AwaitPendingWriters(int32 chain_id, int32 sub, bool keep);

// Last (highest position) row of keel.audit_link or keel.audit_checkpoint for a
// sub-chain under the given snapshot.  False when there is none.
enum class StateTable { kLink, kCheckpoint };
bool ReadLast(StateTable which, int32 chain_id, int32 sub, Snapshot snapshot, uint64* pos,
              chain::Hash* hash, chain::Hash* signature, uint32* key_id, uint32* key_version);

Oid KeelRelid(const char* name);

}  // namespace keel::pg::audit
