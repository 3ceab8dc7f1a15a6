// The row side of verification: every row of a chained table's leaves, read in one
// process (the row-by-row verifier) or shared with parallel workers (the fast pass,
// which sums the rows into a chain::MultisetSum instead of pairing them with links).
#pragma once

#include "pg/audit_chain_rows.hpp"

extern "C" {
#include "access/parallel.h"
#include "access/relscan.h"
}

namespace keel::pg::audit {

// What a row gives the verifier (plain data, filled inside bridge::PgCall).
struct TableRow {
    bool got;
    int nfields;
    ItemPointerData tid;
    Oid relid;
    bool prev_null, sig_null;
    int prev_len, sig_len;
    char prev[2 * chain::kHashBytes];
    char sig[2 * chain::kHashBytes];
};

// Reads the rows of the leaves in order, each with its canonical fields in `fields`
// (valid until the next call).  With `pscans` set, each leaf is scanned through its
// shared parallel scan state, so the processes sharing them see each row once.  Plain
// data; every method calls PostgreSQL (use them inside bridge::PgCall).
struct RowReader {
    const ChainConfig* cfg;
    const Oid* leaves;
    int nleaves;
    char* pscans;           // parallel: base of the shared scan states, or nullptr
    const Size* pscan_off;  // offset of each leaf's state from pscans
    int leaf;
    Relation rel;
    TableScanDesc scan;
    RowPlan* plan;
    RawField* fields;
    AttrNumber hash_attnum, sig_attnum;
    MemoryContext row_cxt, plan_cxt;

    void Begin();
    bool Next(TableRow* out);
    void End();
};

// A verification's keyed item for a row or a link: the row digest, and for chains with
// columns in the row also the previous link hash and the signature.
size_t ChainItem(const chain::Hash& digest, bool has_columns, const chain::Hash& prev,
                 const chain::Hash& sig, uint8 out[chain::kMultisetMaxItem]);

struct VerifyShared;

// What one process of the row pass found.
struct RowPassSlot {
    uint64 rows;
    uint64 bad_rows;  // chain columns NULL or not a hash: only the row-by-row pass can say more
    chain::MultisetSum sum;
};

// How many workers a verification of these leaves should ask for: none for a small
// table (below min_parallel_table_scan_size), otherwise one more per tripling of its
// size, as PostgreSQL sizes a parallel scan, up to max_parallel_maintenance_workers.
int PlanVerifyWorkers(const Oid* leaves, int nleaves);

// The fast pass's row side: the leader enters parallel mode and launches the workers;
// then leader and workers read the rows together.  Launch and Finish call PostgreSQL
// (inside bridge::PgCall); RunLeader is C++ (outside).
class ParallelRowPass {
  public:
    void Launch(const ChainConfig& cfg, const Oid* leaves, int nleaves,
                const chain::MultisetKey& key, int nworkers);
    void RunLeader();
    // Waits for the workers (re-raising a worker's error), adds up what every process
    // found and leaves parallel mode.
    void Finish(RowPassSlot* total);
    int launched() const { return launched_; }

  private:
    ::ParallelContext* pcxt_ = nullptr;
    struct VerifyShared* shared_ = nullptr;
    int launched_ = 0;
};

}  // namespace keel::pg::audit
