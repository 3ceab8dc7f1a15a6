// keel.verify_audit_chain() and keel.audit_chain_digest(): the proofs a chained
// table's owner can take out of the database.
//
// Verification has two passes.  The fast one (big tables, when parallel workers are
// allowed) checks every link in order in the leader while the workers and then the
// leader read the rows, and compares the two sides as keyed multiset sums
// (chain::MultisetSum): equal sums mean every row has exactly its link.  It cannot say
// which row broke, so any difference sends the verification to the row-by-row pass,
// which pairs each row with its link and reports the first break with its kind.
#include <openssl/crypto.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bridge/guard.hpp"
#include "pg/audit_chain_rows.hpp"
#include "pg/audit_chain_verify_pass.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xlog.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "partitioning/partdesc.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

using namespace keel::pg::audit;

namespace keel::pg::audit {
namespace {

struct HashKey {
    size_t operator()(const chain::Hash& h) const {
        size_t v;
        memcpy(&v, h.bytes, sizeof v);
        return v;
    }
};

enum class BreakKind {
    kNone,
    kContentChanged,
    kRowDeleted,
    kRowInserted,
    kReordered,
    kBadSignature
};

const char* BreakName(BreakKind k) {
    switch (k) {
        case BreakKind::kContentChanged:
            return "content changed";
        case BreakKind::kRowDeleted:
            return "row deleted";
        case BreakKind::kRowInserted:
            return "row inserted";
        case BreakKind::kReordered:
            return "rows reordered";
        case BreakKind::kBadSignature:
            return "signature invalid";
        case BreakKind::kNone:
            break;
    }
    return "none";
}

struct Break {
    BreakKind kind = BreakKind::kNone;
    int32 sub = -1;
    int64 pos = -1;  // -1: no position (a row outside the chain)
    std::string detail;
};

struct PendingLink {
    int32 sub;
    uint64 pos;
    chain::Hash prev;
    chain::Hash sig;
};

struct PendingRow {
    ItemPointerData tid;
    Oid relid;
    bool has_cols;
    bool prev_ok;  // prev column parsed as a hash
    chain::Hash prev;
    bool sig_ok;
    chain::Hash sig;
};

// Plain-data outputs of the PostgreSQL steps (filled inside PgCall).
struct LinkRow {
    bool got;
    bool malformed;
    int32 sub;
    uint64 pos;
    chain::Hash digest;
    chain::Hash link;
    chain::Hash sig;
    uint32 key_id;
    uint32 key_version;
};

bool CopyHash(bytea* b, chain::Hash* out) {
    if (VARSIZE_ANY_EXHDR(b) != chain::kHashBytes)
        return false;
    memcpy(out->bytes, VARDATA_ANY(b), chain::kHashBytes);
    return true;
}

void CollectLeaves(Oid relid, List** out) {
    Relation rel = table_open(relid, AccessShareLock);
    if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE) {
        PartitionDesc pd = RelationGetPartitionDesc(rel, true);
        for (int i = 0; i < pd->nparts; i++)
            CollectLeaves(pd->oids[i], out);
    } else {
        *out = lappend_oid(*out, relid);
    }
    table_close(rel, NoLock);
}

std::vector<Oid> Leaves(Oid relid) {
    List* list = bridge::PgCall([&] {
        List* l = NIL;
        CollectLeaves(relid, &l);
        return l;
    });
    std::vector<Oid> out;
    for (int i = 0; i < list_length(list); i++)
        out.push_back(list_nth_oid(list, i));
    bridge::PgCall([&] { list_free(list); });
    return out;
}

std::string Tid(const ItemPointerData& tid) {
    char buf[64];
    snprintf(buf, sizeof buf, "(%u,%u)", ItemPointerGetBlockNumberNoCheck(&tid),
             ItemPointerGetOffsetNumberNoCheck(&tid));
    return buf;
}

class Verifier {
  public:
    // leaves: the chained table's partitions (or the table), collected once by the caller.
    Verifier(const std::vector<Oid>& leaves, const ChainConfig& cfg) : cfg_(cfg), leaves_(leaves) {}

    // Row by row: pairs every row with its link and reports the first break precisely.
    void Run(const chain::Digest* digest);
    // The fast pass: links checked in order by this process while parallel workers (and
    // then this process) sum the rows; true when the rows and the links carry the same
    // items and nothing broke.  False says only that Run must look row by row.
    bool RunFast(const chain::Digest* digest, int nworkers);
    int64 rows_checked() const { return rows_checked_; }
    int workers_launched() const { return workers_launched_; }
    const Break& first_break() const { return best_; }

  private:
    struct SubState {
        SysScanDesc scan = nullptr;
        bool exhausted = false;
        uint64 last_pos = 0;
        chain::Hash last_hash;
        uint64 start_pos = 0;
        bool want_digest = false;
        uint64 digest_pos = 0;
        chain::Hash digest_hash;
        bool digest_seen = false;
        std::map<uint64, LinkRow> ahead;  // heap order: links read before their turn
    };

    void Begin(const chain::Digest* digest);
    bool PullAllLinks();  // false on overflow
    void CheckDigestSeen();
    void End();
    void Report(BreakKind kind, int32 sub, int64 pos, std::string detail);
    chain::HmacSha256& Key(uint32 key_id, uint32 version);
    bool PullLink(int32 sub);  // false when the sub-chain is exhausted
    bool PullHeapLink();       // heap order: false when keel.audit_link is exhausted
    void RouteLink(const LinkRow& l);
    void DrainAhead(int32 sub);
    bool UseHeapOrder();
    void CheckLink(const LinkRow& l);
    void MatchRow(const PendingLink& l, const PendingRow& r, int64 pos);
    bool NextRow(TableRow* out);

    ChainConfig cfg_;
    chain::Sha256 sha_;
    std::map<std::pair<uint32, uint32>, std::unique_ptr<chain::HmacSha256>> keys_;
    // The key version of the last link (consecutive links almost always share one).
    uint32 last_key_id_ = 0, last_key_version_ = 0;
    chain::HmacSha256* last_key_ = nullptr;
    std::vector<SubState> subs_;
    std::unordered_multimap<chain::Hash, PendingLink, HashKey> pending_links_;
    std::unordered_multimap<chain::Hash, PendingRow, HashKey> pending_rows_;
    // The row being paired right now: in tables stored in insertion order its link is
    // usually the next one read, and meets it here without a trip through the maps.
    bool waiting_ = false;
    bool waiting_matched_ = false;
    chain::Hash waiting_digest_;
    PendingRow waiting_row_{};
    Break best_;
    int64 rows_checked_ = 0;
    // The fast pass: links are summed under this key instead of paired with rows.
    const chain::MultisetKey* sum_key_ = nullptr;
    chain::MultisetSum link_sum_;
    uint64 links_summed_ = 0;
    int workers_launched_ = 0;
    uint64 extra_breaks_ = 0;

    // PostgreSQL-side state (plain pointers, released by the transaction on error).
    Relation link_rel_ = nullptr;
    Relation link_idx_ = nullptr;
    bool heap_order_ = false;
    TableScanDesc link_scan_ = nullptr;
    bool link_scan_done_ = false;
    size_t ahead_count_ = 0;
    std::vector<Oid> leaves_;
    RowReader reader_{};
};

constexpr size_t kMaxPending = 1000000;

void Verifier::Report(BreakKind kind, int32 sub, int64 pos, std::string detail) {
    bool better =
        best_.kind == BreakKind::kNone ||
        (pos >= 0 && (best_.pos < 0 || pos < best_.pos || (pos == best_.pos && sub < best_.sub)));
    if (best_.kind != BreakKind::kNone)
        extra_breaks_++;
    if (better)
        best_ = Break{kind, sub, pos, std::move(detail)};
}

chain::HmacSha256& Verifier::Key(uint32 key_id, uint32 version) {
    if (last_key_ != nullptr && key_id == last_key_id_ && version == last_key_version_)
        return *last_key_;
    auto it = keys_.find({key_id, version});
    if (it != keys_.end()) {
        last_key_id_ = key_id;
        last_key_version_ = version;
        last_key_ = it->second.get();
        return *it->second;
    }
    KeyBytes key;
    HmacKeyVersion(key_id, version, &key);
    std::unique_ptr<chain::HmacSha256> mac;
    try {
        mac = std::make_unique<chain::HmacSha256>(key.bytes, sizeof key.bytes);
    } catch (...) {
        OPENSSL_cleanse(key.bytes, sizeof key.bytes);
        throw;
    }
    OPENSSL_cleanse(key.bytes, sizeof key.bytes);
    return *keys_.emplace(std::make_pair(key_id, version), std::move(mac)).first->second;
}

// One keel.audit_link tuple (all columns NOT NULL) into plain data; one deform
// instead of a heap_getattr per column (the bytea columns defeat the offset cache).
void DecodeLink(HeapTuple tup, TupleDesc desc, LinkRow* l) {
    Datum v[8];
    bool n[8];
    Assert(desc->natts == 8);
    heap_deform_tuple(tup, desc, v, n);
    l->got = true;
    l->sub = DatumGetInt32(v[1]);
    l->pos = static_cast<uint64>(DatumGetInt64(v[2]));
    bool ok = CopyHash(DatumGetByteaPP(v[3]), &l->digest) &&
              CopyHash(DatumGetByteaPP(v[4]), &l->link) && CopyHash(DatumGetByteaPP(v[5]), &l->sig);
    l->malformed = !ok;
    l->key_id = static_cast<uint32>(DatumGetInt32(v[6]));
    l->key_version = static_cast<uint32>(DatumGetInt32(v[7]));
}

bool Verifier::PullLink(int32 sub) {
    SubState& st = subs_[sub];
    if (st.exhausted)
        return false;
    LinkRow l{};
    bridge::PgCall([&] {
        CHECK_FOR_INTERRUPTS();
        HeapTuple tup = systable_getnext_ordered(st.scan, ForwardScanDirection);
        if (tup != nullptr)
            DecodeLink(tup, RelationGetDescr(link_rel_), &l);
    });
    if (!l.got) {
        st.exhausted = true;
        return false;
    }
    CheckLink(l);
    return true;
}

// Heap order: the next link of this chain in keel.audit_link's physical order.
bool Verifier::PullHeapLink() {
    if (link_scan_done_)
        return false;
    LinkRow l{};
    bridge::PgCall([&] {
        CHECK_FOR_INTERRUPTS();
        TupleDesc desc = RelationGetDescr(link_rel_);
        for (;;) {
            HeapTuple tup = heap_getnext(link_scan_, ForwardScanDirection);
            if (tup == nullptr)
                return;
            bool isnull;
            if (DatumGetInt32(heap_getattr(tup, 1, desc, &isnull)) != cfg_.chain_id)
                continue;
            DecodeLink(tup, desc, &l);
            if (l.sub < 0 || l.sub >= cfg_.sub_chains) {
                l.got = false;  // the index scan's keys never see such a link either
                continue;
            }
            return;
        }
    });
    if (!l.got) {
        link_scan_done_ = true;
        return false;
    }
    RouteLink(l);
    return true;
}

// Links are checked in position order per sub-chain, as the index scan delivers them:
// a link that comes early in the heap waits in `ahead` until its predecessor is checked.
void Verifier::RouteLink(const LinkRow& l) {
    SubState& st = subs_[l.sub];
    if (l.pos > st.last_pos + 1) {
        st.ahead.emplace(l.pos, l);
        ahead_count_++;
        return;
    }
    CheckLink(l);
    while (!st.ahead.empty() && st.ahead.begin()->first == st.last_pos + 1) {
        CheckLink(st.ahead.begin()->second);
        st.ahead.erase(st.ahead.begin());
        ahead_count_--;
    }
}

// End of the heap scan: what still waits follows a gap; check it in order.
void Verifier::DrainAhead(int32 sub) {
    SubState& st = subs_[sub];
    for (auto& kv : st.ahead)
        CheckLink(kv.second);
    ahead_count_ -= st.ahead.size();
    st.ahead.clear();
}

void Verifier::CheckLink(const LinkRow& l) {
    SubState& st = subs_[l.sub];
    chain::Hash prev = st.last_hash;
    if (l.pos != st.last_pos + 1) {
        Report(BreakKind::kRowDeleted, l.sub, static_cast<int64>(st.last_pos + 1),
               "links " + std::to_string(st.last_pos + 1) + " to " + std::to_string(l.pos - 1) +
                   " of sub-chain " + std::to_string(l.sub) + " are missing from keel.audit_link");
    }
    if (l.malformed) {
        Report(BreakKind::kContentChanged, l.sub, static_cast<int64>(l.pos),
               "the link at position " + std::to_string(l.pos) + " is malformed");
        st.last_pos = l.pos;
        return;
    }
    chain::Hash expect =
        chain::LinkHash(sha_, cfg_.salt, static_cast<uint32>(l.sub), l.pos, prev, l.digest);
    if (l.pos == st.last_pos + 1 && expect != l.link) {
        Report(BreakKind::kContentChanged, l.sub, static_cast<int64>(l.pos),
               "the link hash at position " + std::to_string(l.pos) +
                   " does not match its predecessor and row digest");
    } else if (Key(l.key_id, l.key_version).Of(l.link.bytes, chain::kHashBytes) != l.sig) {
        Report(
            BreakKind::kBadSignature, l.sub, static_cast<int64>(l.pos),
            "the HMAC signature of the link at position " + std::to_string(l.pos) + " is invalid");
    }
    if (st.want_digest && l.pos == st.digest_pos) {
        st.digest_seen = true;
        if (l.link != st.digest_hash) {
            Report(BreakKind::kContentChanged, l.sub, static_cast<int64>(l.pos),
                   "the chain at position " + std::to_string(l.pos) +
                       " differs from the digest (the chain was rewritten)");
        }
    }
    st.last_pos = l.pos;
    st.last_hash = l.link;

    if (sum_key_ != nullptr) {
        uint8 item[chain::kMultisetMaxItem];
        link_sum_.Add(*sum_key_, item, ChainItem(l.digest, cfg_.has_columns, prev, l.sig, item));
        links_summed_++;
        return;
    }
    PendingLink pl{l.sub, l.pos, prev, l.sig};
    auto it = pending_rows_.empty() ? pending_rows_.end() : pending_rows_.find(l.digest);
    if (it != pending_rows_.end()) {
        MatchRow(pl, it->second, static_cast<int64>(l.pos));
        pending_rows_.erase(it);
    } else if (waiting_ && l.digest == waiting_digest_) {
        MatchRow(pl, waiting_row_, static_cast<int64>(l.pos));
        waiting_ = false;
        waiting_matched_ = true;
    } else {
        pending_links_.emplace(l.digest, pl);
    }
}

void Verifier::MatchRow(const PendingLink& l, const PendingRow& r, int64 pos) {
    if (!r.has_cols)
        return;
    if (!r.prev_ok || r.prev != l.prev) {
        Report(BreakKind::kReordered, l.sub, pos,
               "the row at position " + std::to_string(pos) +
                   " carries the previous-hash of another position");
    } else if (!r.sig_ok || r.sig != l.sig) {
        Report(BreakKind::kBadSignature, l.sub, pos,
               "the signature column of the row at position " + std::to_string(pos) +
                   " does not match its link");
    }
}

bool Verifier::NextRow(TableRow* out) {
    return bridge::PgCall([&] {
        CHECK_FOR_INTERRUPTS();
        return reader_.Next(out);
    });
}

void Verifier::Begin(const chain::Digest* digest) {
    subs_.resize(static_cast<size_t>(cfg_.sub_chains));
    // Where each sub-chain starts (a retention checkpoint, or the genesis).
    for (int32 s = 0; s < cfg_.sub_chains; s++) {
        SubState& st = subs_[s];
        uint64 pos = 0;
        chain::Hash hash, sig;
        uint32 kid = 0, kver = 0;
        bool have = bridge::PgCall([&] {
            return ReadLast(StateTable::kCheckpoint, cfg_.chain_id, s, GetActiveSnapshot(), &pos,
                            &hash, &sig, &kid, &kver);
        });
        if (have) {
            st.last_pos = st.start_pos = pos;
            st.last_hash = hash;
            if (Key(kid, kver).Of(hash.bytes, chain::kHashBytes) != sig) {
                Report(BreakKind::kBadSignature, s, static_cast<int64>(pos),
                       "the retention checkpoint at position " + std::to_string(pos) +
                           " has an invalid signature");
            }
        } else {
            st.last_hash = chain::GenesisHash();
        }
        if (digest != nullptr) {
            const chain::DigestHead& h = digest->heads[s];
            if (h.pos > st.start_pos) {
                st.want_digest = true;
                st.digest_pos = h.pos;
                st.digest_hash = h.hash;
            } else if (h.pos == st.start_pos && h.pos > 0 && h.hash != st.last_hash) {
                Report(BreakKind::kContentChanged, s, static_cast<int64>(h.pos),
                       "the retention checkpoint differs from the digest");
            }
        }
    }

    bridge::PgCall([&] {
        link_rel_ = table_open(KeelRelid("audit_link"), AccessShareLock);
        link_idx_ = index_open(RelationGetPrimaryKeyIndex(link_rel_), AccessShareLock);
    });
    heap_order_ = UseHeapOrder();
    bridge::PgCall([&] {
        if (heap_order_) {
            link_scan_ = table_beginscan(link_rel_, GetActiveSnapshot(), 0, nullptr);
        } else {
            for (int32 s = 0; s < cfg_.sub_chains; s++) {
                ScanKeyData keys[2];
                ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ,
                            Int32GetDatum(cfg_.chain_id));
                ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(s));
                subs_[s].scan =
                    systable_beginscan_ordered(link_rel_, link_idx_, GetActiveSnapshot(), 2, keys);
            }
        }
    });
}

// Every remaining link, in order: heap order routes them through `ahead`.
bool Verifier::PullAllLinks() {
    if (heap_order_) {
        while (PullHeapLink()) {
            if (pending_links_.size() + pending_rows_.size() + ahead_count_ > kMaxPending)
                return false;
        }
        for (int32 s = 0; s < cfg_.sub_chains; s++)
            DrainAhead(s);
        return true;
    }
    for (int32 s = 0; s < cfg_.sub_chains; s++) {
        while (PullLink(s)) {
            if (pending_links_.size() + pending_rows_.size() > kMaxPending)
                return false;
        }
    }
    return true;
}

void Verifier::CheckDigestSeen() {
    for (int32 s = 0; s < cfg_.sub_chains; s++) {
        SubState& st = subs_[s];
        if (st.want_digest && !st.digest_seen) {
            Report(BreakKind::kRowDeleted, s, static_cast<int64>(st.last_pos + 1),
                   "the chain ends at position " + std::to_string(st.last_pos) +
                       " but the digest names position " + std::to_string(st.digest_pos) +
                       " (the tail was truncated)");
        }
    }
}

void Verifier::End() {
    bridge::PgCall([&] {
        if (link_scan_ != nullptr)
            table_endscan(link_scan_);
        link_scan_ = nullptr;
        for (SubState& st : subs_) {
            if (st.scan != nullptr)
                systable_endscan_ordered(st.scan);
            st.scan = nullptr;
        }
        index_close(link_idx_, AccessShareLock);
        table_close(link_rel_, AccessShareLock);
    });
}

bool Verifier::RunFast(const chain::Digest* digest, int nworkers) {
    uint8 seed[chain::kMultisetKeySeedBytes];
    bridge::PgCall([&] {
        if (!pg_strong_random(seed, sizeof seed))
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                            errmsg("could not generate a random verification key")));
    });
    chain::MultisetKey key = chain::MultisetKey::FromSeed(seed);
    OPENSSL_cleanse(seed, sizeof seed);
    sum_key_ = &key;
    Begin(digest);
    ParallelRowPass pass;
    bridge::PgCall([&] {
        pass.Launch(cfg_, leaves_.data(), static_cast<int>(leaves_.size()), key, nworkers);
    });
    workers_launched_ = pass.launched();
    // The links are this process's part while the workers read rows; then it helps.
    bool complete = PullAllLinks();
    pass.RunLeader();
    RowPassSlot rows;
    bridge::PgCall([&] { pass.Finish(&rows); });
    End();
    if (digest != nullptr)
        CheckDigestSeen();
    OPENSSL_cleanse(&key, sizeof key);
    sum_key_ = nullptr;
    rows_checked_ = static_cast<int64>(rows.rows);
    return complete && best_.kind == BreakKind::kNone && rows.bad_rows == 0 &&
           rows.rows == links_summed_ && rows.sum == link_sum_;
}

void Verifier::Run(const chain::Digest* digest) {
    Begin(digest);
    reader_.cfg = &cfg_;
    reader_.leaves = leaves_.data();
    reader_.nleaves = static_cast<int>(leaves_.size());
    bridge::PgCall([&] { reader_.Begin(); });

    int32 nsubs = cfg_.sub_chains;
    int32 rr = 0;
    TableRow row;
    bool overflow = false;
    while (NextRow(&row)) {
        rows_checked_++;
        chain::Hash d = HashRow(reader_.fields, row.nfields, sha_);
        PendingRow pr{row.tid, row.relid, cfg_.has_columns, false, {}, false, {}};
        if (cfg_.has_columns) {
            pr.prev_ok = !row.prev_null && row.prev_len == 64 &&
                         chain::ParseHash(std::string_view(row.prev, 64), &pr.prev);
            pr.sig_ok = !row.sig_null && row.sig_len == 64 &&
                        chain::ParseHash(std::string_view(row.sig, 64), &pr.sig);
        }
        auto it = pending_links_.empty() ? pending_links_.end() : pending_links_.find(d);
        bool matched = false;
        if (it == pending_links_.end()) {
            // Pull links (round robin over the sub-chains) until this row's shows up.
            waiting_ = true;
            waiting_matched_ = false;
            waiting_digest_ = d;
            waiting_row_ = pr;
            int budget = 4 * nsubs;
            while (budget-- > 0) {
                bool any = false;
                if (heap_order_)
                    any = PullHeapLink();
                for (int32 k = 0; k < nsubs && !any && !heap_order_; k++) {
                    int32 s = (rr + k) % nsubs;
                    if (PullLink(s)) {
                        any = true;
                        rr = (s + 1) % nsubs;
                    }
                }
                if (!any || waiting_matched_)
                    break;
            }
            waiting_ = false;
            matched = waiting_matched_;
        }
        if (matched) {
            // paired in CheckLink
        } else if (it != pending_links_.end()) {
            MatchRow(it->second, pr, static_cast<int64>(it->second.pos));
            pending_links_.erase(it);
        } else {
            pending_rows_.emplace(d, pr);
        }
        if (pending_links_.size() + pending_rows_.size() + ahead_count_ > kMaxPending) {
            overflow = true;
            break;
        }
    }
    if (!overflow)
        overflow = !PullAllLinks();
    if (overflow) {
        Report(BreakKind::kRowDeleted, -1, -1,
               "verification stopped: more than " + std::to_string(kMaxPending) +
                   " rows and links do not pair up");
    }

    // What is left over: links without a row, rows without a link.
    std::vector<PendingLink> lost;
    for (auto& kv : pending_links_)
        lost.push_back(kv.second);
    std::sort(lost.begin(), lost.end(), [](const PendingLink& a, const PendingLink& b) {
        return a.pos != b.pos ? a.pos < b.pos : a.sub < b.sub;
    });
    std::vector<PendingRow> strays;
    for (auto& kv : pending_rows_)
        strays.push_back(kv.second);
    size_t paired = 0;
    for (const PendingLink& l : lost) {
        // A row whose chain columns name this link's predecessor is that link's row,
        // changed; without chain columns a stray row pairs with a lost link by count.
        bool changed = false;
        for (const PendingRow& r : strays) {
            if (r.has_cols ? (r.prev_ok && r.prev == l.prev) : paired < strays.size()) {
                changed = true;
                break;
            }
        }
        if (changed) {
            paired++;
            Report(BreakKind::kContentChanged, l.sub, static_cast<int64>(l.pos),
                   "the row at position " + std::to_string(l.pos) + " of sub-chain " +
                       std::to_string(l.sub) + " no longer hashes to its link");
        } else {
            Report(BreakKind::kRowDeleted, l.sub, static_cast<int64>(l.pos),
                   "the row at position " + std::to_string(l.pos) + " of sub-chain " +
                       std::to_string(l.sub) + " is missing");
        }
    }
    if (strays.size() > paired) {
        std::sort(strays.begin(), strays.end(), [](const PendingRow& a, const PendingRow& b) {
            return ItemPointerCompare(const_cast<ItemPointer>(&a.tid),
                                      const_cast<ItemPointer>(&b.tid)) < 0;
        });
        const PendingRow& r = strays.front();
        Report(BreakKind::kRowInserted, -1, -1,
               std::to_string(strays.size() - paired) +
                   " row(s) are not in the chain, the first at ctid " + Tid(r.tid));
    }
    if (digest != nullptr)
        CheckDigestSeen();
    bridge::PgCall([&] { reader_.End(); });
    End();
}

// Heap order pays when this chain's links are a good part of keel.audit_link: one
// sequential pass instead of an index step and a heap fetch per link.  Otherwise
// (many chains, this one small) the index reads only this chain's links.
bool Verifier::UseHeapOrder() {
    uint64 links = 0;
    for (int32 s = 0; s < cfg_.sub_chains; s++) {
        uint64 pos = 0;
        chain::Hash hash, sig;
        uint32 kid = 0, kver = 0;
        bool have = bridge::PgCall([&] {
            return ReadLast(StateTable::kLink, cfg_.chain_id, s, GetActiveSnapshot(), &pos, &hash,
                            &sig, &kid, &kver);
        });
        if (have && pos > subs_[s].start_pos)
            links += pos - subs_[s].start_pos;
    }
    // About 50 links fit in a page of keel.audit_link.
    constexpr uint64 kLinksPerPage = 50;
    uint64 pages = bridge::PgCall([&] { return uint64{RelationGetNumberOfBlocks(link_rel_)}; });
    return links * 3 >= pages * kLinksPerPage;
}

// The chain of a table named by the user: checks SELECT privilege (verification
// reads every row) and finds the chain id in the table's keel trigger.
int32 ResolveChain(Oid relid, const char* fn) {
    Relation rel = table_open(relid, AccessShareLock);
    AclResult acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
    if (acl != ACLCHECK_OK) {
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("permission denied for table %s", RelationGetRelationName(rel)),
                        errdetail("%s reads every row of the table.", fn)));
    }
    if (rel->rd_rel->relispartition) {
        ereport(
            ERROR,
            (errcode(ERRCODE_WRONG_OBJECT_TYPE),
             errmsg("\"%s\" is a partition of a chained table", RelationGetRelationName(rel)),
             errhint("Call %s on the partitioned table: the chain spans all its partitions.", fn)));
    }
    int32 chain_id = 0;
    TriggerDesc* trig = rel->trigdesc;
    for (int i = 0; trig != nullptr && i < trig->numtriggers; i++) {
        Trigger* t = &trig->triggers[i];
        if (strcmp(t->tgname, kChainTrigger) == 0 && t->tgnargs == 1) {
            chain_id = pg_strtoint32(t->tgargs[0]);
        }
    }
    if (chain_id <= 0) {
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("table \"%s\" has no audit chain", RelationGetRelationName(rel)),
                        errhint("Call keel.enable_audit_chain() on it first.")));
    }
    table_close(rel, NoLock);
    return chain_id;
}

// Digest checks before the pass: signature, chain identity, shape.
chain::Digest CheckDigest(const char* text, const ChainConfig& cfg, Oid relid) {
    chain::Digest d = chain::ParseDigest(text).ValueOrThrow();
    if (memcmp(d.chain_salt, cfg.salt, chain::kSaltBytes) != 0) {
        core::Throw(core::ErrorKind::kInvalidParameter, "the digest belongs to another audit chain",
                    "It was made for \"" + d.table_name + "\", not for this table's chain.",
                    "Pass a digest that keel.audit_chain_digest() returned for this table.");
    }
    if (d.heads.size() != static_cast<size_t>(cfg.sub_chains)) {
        core::Throw(core::ErrorKind::kInvalidParameter, "the digest does not fit this chain",
                    "It lists " + std::to_string(d.heads.size()) + " sub-chains; the chain has " +
                        std::to_string(cfg.sub_chains) + ".");
    }
    KeyBytes key;
    HmacKeyVersion(d.key_id, d.key_version, &key);
    chain::Hash mac;
    {
        std::string body = chain::DigestBody(d);
        chain::HmacSha256 h(key.bytes, sizeof key.bytes);
        OPENSSL_cleanse(key.bytes, sizeof key.bytes);
        mac = h.Of(body.data(), body.size());
    }
    if (CRYPTO_memcmp(mac.bytes, d.mac.bytes, chain::kHashBytes) != 0) {
        core::Throw(core::ErrorKind::kDataCorrupted, "the digest's signature is invalid",
                    "The digest was altered or was not made with this chain's HMAC key.");
    }
    (void)relid;
    return d;
}

// The chained table named by argument 0 of fn (NULL is 22004) and its chain.
Oid TableArgChain(FunctionCallInfo fcinfo, const char* fn, ChainConfig* cfg) {
    if (PG_ARGISNULL(0))
        core::Throw(core::ErrorKind::kNullValue, std::string(fn) + ": tbl must not be NULL");
    Oid relid = PG_GETARG_OID(0);
    char call[NAMEDATALEN + 16];  // plain data: ResolveChain may raise
    snprintf(call, sizeof call, "%s()", fn);
    LoadChainConfig(ResolveChain(relid, call), cfg);
    return relid;
}

}  // namespace
}  // namespace keel::pg::audit

KEEL_FUNCTION(keel_verify_audit_chain) {
    ChainConfig cfg;
    Oid relid = TableArgChain(fcinfo, "keel.verify_audit_chain", &cfg);
    char* digest_text = PG_ARGISNULL(1) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(1));
    std::unique_ptr<keel::core::chain::Digest> digest;
    if (digest_text != nullptr) {
        digest = std::make_unique<keel::core::chain::Digest>(CheckDigest(digest_text, cfg, relid));
    }
    int64 rows;
    BreakKind kind;
    int32 sub;
    int64 pos;
    char detail[512];
    bool proven = false;
    std::vector<Oid> leaves = Leaves(relid);
    {
        int nworkers = keel::bridge::PgCall(
            [&] { return PlanVerifyWorkers(leaves.data(), static_cast<int>(leaves.size())); });
        if (nworkers > 0) {
            Verifier fast(leaves, cfg);
            proven = fast.RunFast(digest.get(), nworkers);
            rows = fast.rows_checked();
            int launched = fast.workers_launched();
            keel::bridge::PgCall([&] {
                elog(DEBUG1, proven ? "keel: audit chain verified in one parallel pass"
                                    : "keel: the parallel pass found a difference; verifying "
                                      "row by row");
                elog(DEBUG2, "keel: the parallel pass had %d of %d workers", launched, nworkers);
            });
        }
    }
    if (proven) {
        kind = BreakKind::kNone;
        sub = -1;
        pos = -1;
        detail[0] = '\0';
    } else {
        Verifier v(leaves, cfg);
        v.Run(digest.get());
        rows = v.rows_checked();
        kind = v.first_break().kind;
        sub = v.first_break().sub;
        pos = v.first_break().pos;
        snprintf(detail, sizeof detail, "%s", v.first_break().detail.c_str());
    }
    digest.reset();
    return keel::bridge::PgCall([&] {
        TupleDesc desc;
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) {
            elog(ERROR, "keel: verify must return a record");
        }
        desc = BlessTupleDesc(desc);
        Datum values[6];
        bool nulls[6] = {};
        bool ok = kind == BreakKind::kNone;
        values[0] = BoolGetDatum(ok);
        values[1] = Int64GetDatum(rows);
        values[2] = Int64GetDatum(pos);
        nulls[2] = ok || pos < 0;
        values[3] = CStringGetTextDatum(BreakName(kind));
        nulls[3] = ok;
        values[4] = Int32GetDatum(sub);
        nulls[4] = ok || sub < 0;
        values[5] = CStringGetTextDatum(detail);
        nulls[5] = ok;
        return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    });
}

// ---------------------------------------------------------------- digest

KEEL_FUNCTION(keel_audit_chain_digest) {
    ChainConfig cfg;
    Oid relid = TableArgChain(fcinfo, "keel.audit_chain_digest", &cfg);
    int32 chain_id = cfg.chain_id;
    uint8 incarnation[16];
    if (!ReadIncarnation(incarnation)) {
        keel::core::Throw(
            keel::core::ErrorKind::kConfigError, "keel.database_incarnation is empty",
            "The digest names the database incarnation, which CREATE EXTENSION records.");
    }
    const char* qualified =
        DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));
    keel::core::chain::Digest d;
    memcpy(d.incarnation, incarnation, sizeof d.incarnation);
    d.system_identifier = GetSystemIdentifier();
    d.database_oid = MyDatabaseId;
    memcpy(d.chain_salt, cfg.salt, sizeof d.chain_salt);
    d.table_name = qualified;
    d.made_at_unix_us = GetCurrentTimestamp() +
                        (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC;
    for (int32 s = 0; s < cfg.sub_chains; s++) {
        keel::core::chain::DigestHead h;
        h.sub = static_cast<uint32>(s);
        keel::core::chain::Hash sig;
        uint32 kid, kver;
        uint64 pos = 0;
        bool found = keel::bridge::PgCall([&] {
            return ReadLast(StateTable::kLink, chain_id, s, GetActiveSnapshot(), &pos, &h.hash,
                            &sig, &kid, &kver) ||
                   ReadLast(StateTable::kCheckpoint, chain_id, s, GetActiveSnapshot(), &pos,
                            &h.hash, &sig, &kid, &kver);
        });
        h.pos = found ? pos : 0;
        if (!found)
            h.hash = keel::core::chain::GenesisHash();
        d.heads.push_back(h);
    }
    KeyBytes key;
    ActiveHmacKey(cfg.key_name, &key);
    d.key_id = key.key_id;
    d.key_version = key.version;
    {
        std::string body = keel::core::chain::DigestBody(d);
        keel::core::chain::HmacSha256 mac(key.bytes, sizeof key.bytes);
        OPENSSL_cleanse(key.bytes, sizeof key.bytes);
        d.mac = mac.Of(body.data(), body.size());
    }
    std::string text = keel::core::chain::DigestText(d);
    char* out = keel::bridge::PgCall([&] { return pstrdup(text.c_str()); });
    return keel::bridge::PgCall([&] { return CStringGetTextDatum(out); });
}
