// The row side of verification (see audit_chain_verify_pass.hpp).  The parallel pass
// uses PostgreSQL's parallel contexts as a parallel index build does: the leader puts
// one shared scan state per leaf into dynamic shared memory, workers attach with the
// leader's snapshot, and every process reads blocks from the same scans until they run
// out, so each row is read by exactly one process.
#include "pg/audit_chain_verify_pass.hpp"

#include <unistd.h>

#include <algorithm>

#include "bridge/guard.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "optimizer/paths.h"
#include "storage/bufmgr.h"
#include "storage/shm_toc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

PGDLLEXPORT void keel_audit_verify_worker(dsm_segment* seg, shm_toc* toc);
}

namespace keel::pg::audit {

// ---------------------------------------------------------------- reading rows

void RowReader::Begin() {
    leaf = -1;
    rel = nullptr;
    scan = nullptr;
    row_cxt =
        AllocSetContextCreate(CurrentMemoryContext, "keel verify row", ALLOCSET_DEFAULT_SIZES);
    plan_cxt =
        AllocSetContextCreate(CurrentMemoryContext, "keel verify plan", ALLOCSET_SMALL_SIZES);
}

bool RowReader::Next(TableRow* out) {
    *out = TableRow{};
    MemoryContextReset(row_cxt);
    for (;;) {
        if (scan == nullptr) {
            leaf++;
            if (leaf >= nleaves)
                return false;
            rel = table_open(leaves[leaf], AccessShareLock);
            if (pscans != nullptr) {
                scan = table_beginscan_parallel(
                    rel, reinterpret_cast<ParallelTableScanDesc>(pscans + pscan_off[leaf]));
            } else {
                scan = table_beginscan(rel, GetActiveSnapshot(), 0, nullptr);
            }
            MemoryContextReset(plan_cxt);
            plan = BuildRowPlan(RelationGetDescr(rel), RelationGetRelid(rel), *cfg, plan_cxt);
            fields = static_cast<RawField*>(
                MemoryContextAllocZero(plan_cxt, sizeof(RawField) * (plan->ncols + 1)));
            if (cfg->has_columns) {
                Oid t;
                hash_attnum =
                    ChainColumn(RelationGetDescr(rel), rel, NameStr(cfg->hash_column), &t);
                sig_attnum =
                    ChainColumn(RelationGetDescr(rel), rel, NameStr(cfg->signature_column), &t);
            }
        }
        HeapTuple tup = heap_getnext(scan, ForwardScanDirection);
        if (tup == nullptr) {
            table_endscan(scan);
            table_close(rel, NoLock);
            scan = nullptr;
            rel = nullptr;
            continue;
        }
        TupleDesc desc = RelationGetDescr(rel);
        MemoryContext old = MemoryContextSwitchTo(row_cxt);
        Datum* values;
        bool* nulls;
        out->nfields = CollectFields(plan, tup, desc, fields, &values, &nulls);
        if (cfg->has_columns) {
            out->prev_null = nulls[hash_attnum - 1];
            if (!out->prev_null) {
                text* t = DatumGetTextPP(values[hash_attnum - 1]);
                out->prev_len = static_cast<int>(VARSIZE_ANY_EXHDR(t));
                memcpy(out->prev, VARDATA_ANY(t),
                       std::min<size_t>(out->prev_len, sizeof out->prev));
            }
            out->sig_null = nulls[sig_attnum - 1];
            if (!out->sig_null) {
                text* t = DatumGetTextPP(values[sig_attnum - 1]);
                out->sig_len = static_cast<int>(VARSIZE_ANY_EXHDR(t));
                memcpy(out->sig, VARDATA_ANY(t), std::min<size_t>(out->sig_len, sizeof out->sig));
            }
        }
        MemoryContextSwitchTo(old);
        out->tid = tup->t_self;
        out->relid = RelationGetRelid(rel);
        out->got = true;
        return true;
    }
}

void RowReader::End() {
    if (scan != nullptr) {
        table_endscan(scan);
        table_close(rel, NoLock);
        scan = nullptr;
    }
    MemoryContextDelete(row_cxt);
    MemoryContextDelete(plan_cxt);
}

size_t ChainItem(const chain::Hash& digest, bool has_columns, const chain::Hash& prev,
                 const chain::Hash& sig, uint8 out[chain::kMultisetMaxItem]) {
    memcpy(out, digest.bytes, chain::kHashBytes);
    if (!has_columns)
        return chain::kHashBytes;
    memcpy(out + chain::kHashBytes, prev.bytes, chain::kHashBytes);
    memcpy(out + 2 * chain::kHashBytes, sig.bytes, chain::kHashBytes);
    return 3 * chain::kHashBytes;
}

// ---------------------------------------------------------------- the parallel pass

// Keys of the dynamic shared memory table of contents (PostgreSQL's own keys live at
// the top of the 64-bit space).
constexpr uint64 kTocShared = UINT64CONST(0x4B45454C00000001);
constexpr uint64 kTocLeaves = UINT64CONST(0x4B45454C00000002);
constexpr uint64 kTocOffsets = UINT64CONST(0x4B45454C00000003);
constexpr uint64 kTocSlots = UINT64CONST(0x4B45454C00000004);
constexpr uint64 kTocScans = UINT64CONST(0x4B45454C00000005);

struct VerifyShared {
    ChainConfig cfg;
    chain::MultisetKey key;
    int nleaves;
    int nslots;  // the leader's is slot 0, worker i's is slot i + 1
};

namespace {

struct PassView {
    VerifyShared* shared;
    Oid* leaves;
    Size* offsets;
    RowPassSlot* slots;
    char* scans;
};

PassView Lookup(shm_toc* toc) {
    PassView v;
    v.shared = static_cast<VerifyShared*>(shm_toc_lookup(toc, kTocShared, false));
    v.leaves = static_cast<Oid*>(shm_toc_lookup(toc, kTocLeaves, false));
    v.offsets = static_cast<Size*>(shm_toc_lookup(toc, kTocOffsets, false));
    v.slots = static_cast<RowPassSlot*>(shm_toc_lookup(toc, kTocSlots, false));
    v.scans = static_cast<char*>(shm_toc_lookup(toc, kTocScans, false));
    return v;
}

// One process's share: rows read from the shared scans, hashed and summed.
void RowPass(const PassView& v, RowPassSlot* slot) {
    const VerifyShared* sh = v.shared;
    chain::Sha256 sha;
    RowPassSlot mine{};
    RowReader r{};
    r.cfg = &sh->cfg;
    r.leaves = v.leaves;
    r.nleaves = sh->nleaves;
    r.pscans = v.scans;
    r.pscan_off = v.offsets;
    bridge::PgCall([&] { r.Begin(); });
    TableRow row;
    uint8 item[chain::kMultisetMaxItem];
    while (bridge::PgCall([&] {
        CHECK_FOR_INTERRUPTS();
        return r.Next(&row);
    })) {
        chain::Hash d = HashRow(r.fields, row.nfields, sha);
        chain::Hash prev, sig;
        if (sh->cfg.has_columns) {
            bool ok = !row.prev_null && row.prev_len == 64 &&
                      chain::ParseHash(std::string_view(row.prev, 64), &prev) && !row.sig_null &&
                      row.sig_len == 64 && chain::ParseHash(std::string_view(row.sig, 64), &sig);
            if (!ok)
                mine.bad_rows++;
        }
        mine.sum.Add(sh->key, item, ChainItem(d, sh->cfg.has_columns, prev, sig, item));
        mine.rows++;
    }
    bridge::PgCall([&] { r.End(); });
    *slot = mine;
}

void WorkerMain(void* arg) {
    PassView v = Lookup(static_cast<shm_toc*>(arg));
    RowPass(v, &v.slots[ParallelWorkerNumber + 1]);
}

}  // namespace

int PlanVerifyWorkers(const Oid* leaves, int nleaves) {
    if (max_parallel_maintenance_workers <= 0 || IsInParallelMode() || !IsUnderPostmaster)
        return 0;
    uint64 pages = 0;
    bool local = false;  // temporary tables live in this backend's buffers only
    for (int i = 0; i < nleaves; i++) {
        Relation rel = table_open(leaves[i], AccessShareLock);
        pages += RelationGetNumberOfBlocks(rel);
        local = local || RelationUsesLocalBuffers(rel);
        table_close(rel, NoLock);
    }
    if (local)
        return 0;
    uint64 threshold = static_cast<uint64>(std::max(min_parallel_table_scan_size, 1));
    if (pages < threshold)
        return 0;
    int workers = 1;
    while (pages >= threshold * 3 && workers < max_parallel_maintenance_workers) {
        workers++;
        threshold *= 3;
    }
    // The pass is CPU-bound: more processes than CPUs only take turns (the leader is
    // one of them).  A machine that reports one CPU keeps PostgreSQL's own sizing.
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu >= 2)
        workers = std::min<int>(workers, static_cast<int>(ncpu - 1));
    return std::min(workers, max_parallel_maintenance_workers);
}

void ParallelRowPass::Launch(const ChainConfig& cfg, const Oid* leaves, int nleaves,
                             const chain::MultisetKey& key, int nworkers) {
    Snapshot snapshot = GetActiveSnapshot();
    EnterParallelMode();
    pcxt_ = CreateParallelContext("keel", "keel_audit_verify_worker", nworkers);

    Size* offsets = static_cast<Size*>(palloc(sizeof(Size) * std::max(nleaves, 1)));
    Size scans_size = 0;
    for (int i = 0; i < nleaves; i++) {
        Relation rel = table_open(leaves[i], AccessShareLock);
        offsets[i] = scans_size;
        scans_size += MAXALIGN(table_parallelscan_estimate(rel, snapshot));
        table_close(rel, NoLock);
    }
    int nslots = nworkers + 1;
    shm_toc_estimate_chunk(&pcxt_->estimator, sizeof(VerifyShared));
    shm_toc_estimate_chunk(&pcxt_->estimator, sizeof(Oid) * std::max(nleaves, 1));
    shm_toc_estimate_chunk(&pcxt_->estimator, sizeof(Size) * std::max(nleaves, 1));
    shm_toc_estimate_chunk(&pcxt_->estimator, sizeof(RowPassSlot) * nslots);
    shm_toc_estimate_chunk(&pcxt_->estimator, std::max<Size>(scans_size, 1));
    shm_toc_estimate_keys(&pcxt_->estimator, 5);
    InitializeParallelDSM(pcxt_);

    shared_ = static_cast<VerifyShared*>(shm_toc_allocate(pcxt_->toc, sizeof(VerifyShared)));
    shared_->cfg = cfg;
    shared_->key = key;
    shared_->nleaves = nleaves;
    shared_->nslots = nslots;
    Oid* sh_leaves =
        static_cast<Oid*>(shm_toc_allocate(pcxt_->toc, sizeof(Oid) * std::max(nleaves, 1)));
    Size* sh_offsets =
        static_cast<Size*>(shm_toc_allocate(pcxt_->toc, sizeof(Size) * std::max(nleaves, 1)));
    auto* slots =
        static_cast<RowPassSlot*>(shm_toc_allocate(pcxt_->toc, sizeof(RowPassSlot) * nslots));
    char* scans = static_cast<char*>(shm_toc_allocate(pcxt_->toc, std::max<Size>(scans_size, 1)));
    for (int i = 0; i < nleaves; i++) {
        sh_leaves[i] = leaves[i];
        sh_offsets[i] = offsets[i];
        Relation rel = table_open(leaves[i], AccessShareLock);
        table_parallelscan_initialize(
            rel, reinterpret_cast<ParallelTableScanDesc>(scans + offsets[i]), snapshot);
        table_close(rel, NoLock);
    }
    for (int i = 0; i < nslots; i++)
        slots[i] = RowPassSlot{};
    pfree(offsets);
    shm_toc_insert(pcxt_->toc, kTocShared, shared_);
    shm_toc_insert(pcxt_->toc, kTocLeaves, sh_leaves);
    shm_toc_insert(pcxt_->toc, kTocOffsets, sh_offsets);
    shm_toc_insert(pcxt_->toc, kTocSlots, slots);
    shm_toc_insert(pcxt_->toc, kTocScans, scans);

    LaunchParallelWorkers(pcxt_);
    launched_ = pcxt_->nworkers_launched;
}

void ParallelRowPass::RunLeader() {
    PassView v = bridge::PgCall([&] { return Lookup(pcxt_->toc); });
    RowPass(v, &v.slots[0]);
}

void ParallelRowPass::Finish(RowPassSlot* total) {
    WaitForParallelWorkersToFinish(pcxt_);
    PassView v = Lookup(pcxt_->toc);
    *total = RowPassSlot{};
    // Slots of workers that were never launched stay empty.
    for (int i = 0; i < v.shared->nslots; i++) {
        total->rows += v.slots[i].rows;
        total->bad_rows += v.slots[i].bad_rows;
        total->sum.Merge(v.slots[i].sum);
    }
    DestroyParallelContext(pcxt_);
    pcxt_ = nullptr;
    ExitParallelMode();
}

}  // namespace keel::pg::audit

void keel_audit_verify_worker(dsm_segment*, shm_toc* toc) {
    keel::bridge::RunGuarded(keel::pg::audit::WorkerMain, toc);
}
