#!/usr/bin/env bash
# Audit chain: keel.enable_audit_chain against the peers' PL/pgSQL + pgcrypto chain
# (../shared/peers/audit_chain.sql), in one cluster.
#  1. (unless SKIP_PGBENCH) the peers' section 2 through run.sh: pgbench INSERT TPS at 1
#     and 2 clients for plain / peer / keel / keel with 4 sub-chains (keel4: columns in
#     the row; keel4b: the chain kept beside the table), the bulk chained
#     load and keel's verify of a VERIFY_ROWS-row chain, plus the peers' tamper check;
#  2. backend CPU time (less sensitive to a shared machine than wall time), best of
#     TRIALS: CPU_ROWS single-row transactions (one INSERT + COMMIT each, in a
#     procedure) per variant, and verify of the chain by keel (VERIFY_ROWS rows) and by
#     the peer (PEER_VERIFY_ROWS rows, VERIFY_ROWS by default), keel in one process and
#     with its parallel pass, CPU and wall time; and the WAL each one-row transaction
#     writes.
#  3. the machine's CPU per transaction with CPU2_CLIENTS pgbench clients (2), plain
#     against CPU2_VARIANTS (the scaling mode of 4, both forms), CPU2_TRIALS trials
#     (TRIALS), with the same trials' tps.
# Usage: test/bench/audit_chain.sh   (DURATION TRIALS VERIFY_ROWS CPU_ROWS BENCH_PORT settable;
#        SKIP_PGBENCH=1 skips part 1, SKIP_VERIFY=1 the verification in part 2)
set -euo pipefail
. "$(dirname "$0")/cluster.sh"
cd "$KEEL_ROOT"
DURATION="${DURATION:-5}"; TRIALS="${TRIALS:-3}"; VERIFY_ROWS="${VERIFY_ROWS:-1000000}"
# The issue measures verification on 1M rows: the peer verifies as many rows as keel.
CPU_ROWS="${CPU_ROWS:-20000}"; PEER_VERIFY_ROWS="${PEER_VERIFY_ROWS:-$VERIFY_ROWS}"
VARIANTS="plain= peer=audit_chain_trigger() keel=keel:1 keel4=keel:4 keel4b=keel-beside:4"

bench_start
if [ -z "${SKIP_PGBENCH:-}" ]; then
    SECTIONS=2 DURATION="$DURATION" TRIALS="$TRIALS" VERIFY_ROWS="$VERIFY_ROWS" AUDIT_DIAG_VARIANTS="" \
        AUDIT_VARIANTS="$VARIANTS" AUDIT_CHAIN_CALL=keel:1 \
        AUDIT_VERIFY_SQL="SELECT * FROM keel.verify_audit_chain('audit_events')" \
        bench_peers audit_chain test/bench/keel_audit_chain.sql
fi

PSQL=("$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d peerbench)
if [ -n "${SKIP_PGBENCH:-}" ]; then
    "$BIN/createdb" peerbench
    "${PSQL[@]}" -c "ALTER DATABASE peerbench SET peerbench.audit_hmac_key = 'peerbench-hmac-key-not-a-secret-0123456789abcdef'"
    for f in harness.sql audit_chain.sql; do "${PSQL[@]}" -f "$KEEL_ROOT/../shared/peers/$f" >/dev/null; done
    "${PSQL[@]}" -f test/bench/keel_audit_chain.sql >/dev/null
fi
"${PSQL[@]}" <<'SQL'
SELECT audit_chain_setup(false);
-- n transactions of one INSERT each (the pgbench row, as a procedure: no network, no parse).
CREATE OR REPLACE PROCEDURE bench_one_row_txns(n int) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. n LOOP
        INSERT INTO audit_events (request_id, user_id, session_id, personality_id, event_type, event_level, payload)
        VALUES ('req-' || i, gen_random_uuid(), gen_random_uuid(), 'assistant-v1', 'TOOL_CALL', 'info',
                '{"tool": "web_search", "status": "ok", "latency_ms": 412, "model": "gpt-4o-mini", "tokens": {"prompt": 1532, "completion": 287}, "args": {"query": "postgresql partition maintenance best practices", "top_k": 5, "safe": true}, "client": {"ip": "203.0.113.42", "ua": "CozyEngine/1.4 (linux; x86_64)"}, "trace": "7f3a9c2e5b1d4e8f9a0b1c2d3e4f5a6b"}');
        COMMIT;
    END LOOP;
END $$;
SQL
# bench_cpu cannot CALL a transaction-controlling procedure inside its own
# transaction, so the CPU is read around a separate psql statement in one session.
# Printed: CPU seconds of the backend plus its parallel workers (reaped children of the
# postmaster, which also counts any other child that ended meanwhile), then wall seconds.
cpu_of() {  # sql -> "cpu wall"
    "${PSQL[@]}" <<SQL | tail -1
SELECT pg_backend_pid() AS pid, split_part(pg_read_file('postmaster.pid'), E'\n', 1) AS pm \gset
SELECT (f[12]::bigint + f[13]::bigint) AS t0 FROM regexp_split_to_array(split_part(pg_read_file('/proc/' || :pid || '/stat'), ') ', 2), ' ') f \gset
SELECT (f[14]::bigint + f[15]::bigint) AS c0 FROM regexp_split_to_array(split_part(pg_read_file('/proc/' || :pm || '/stat'), ') ', 2), ' ') f \gset
SELECT extract(epoch FROM clock_timestamp()) AS w0 \gset
$1
SELECT extract(epoch FROM clock_timestamp()) - :w0 AS wall \gset
SELECT (f[14]::bigint + f[15]::bigint) - :c0 AS workers FROM regexp_split_to_array(split_part(pg_read_file('/proc/' || :pm || '/stat'), ') ', 2), ' ') f \gset
SELECT ((f[12]::bigint + f[13]::bigint) - :t0 + :workers) / 100.0 || ' ' || round(:wall, 3) FROM regexp_split_to_array(split_part(pg_read_file('/proc/' || :pid || '/stat'), ') ', 2), ' ') f;
SQL
}
declare -A BEST WAL
# keep_best KEY VALUE: BEST[KEY] becomes VALUE if it is unset or VALUE is smaller.
keep_best() { if [ -z "${BEST[$1]:-}" ] || awk -v a="$2" -v b="${BEST[$1]}" 'BEGIN{exit !(a<b)}'; then BEST[$1]="$2"; fi; }
names=(); calls=()
for v in $VARIANTS; do names+=("${v%%=*}"); calls+=("${v#*=}"); done
n=${#names[@]}
say "CPU: $CPU_ROWS one-row transactions per variant, best of $TRIALS"
for ((t = 0; t < TRIALS; t++)); do
    for ((j = 0; j < n; j++)); do
        i=$(((j + t) % n)); label="${names[$i]}"
        "${PSQL[@]}" -c "SELECT audit_chain_set_trigger('${calls[$i]}')" -c "SELECT audit_chain_reset()" -c "CHECKPOINT" >/dev/null
        lsn="$("${PSQL[@]}" -c "SELECT pg_current_wal_insert_lsn()")"
        s="$(cpu_of "CALL bench_one_row_txns($CPU_ROWS);" | awk '{printf "%.2f", $1}')"
        WAL[$label]="$("${PSQL[@]}" -c "SELECT round(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$lsn') / $CPU_ROWS)")"
        note "trial $((t + 1)) $label: ${s}s CPU, ${WAL[$label]} bytes of WAL per transaction"
        keep_best "$label" "$s"
    done
done
# Machine CPU per transaction at CPU2_CLIENTS clients (2 by default), plain against the
# scaling mode of 4: with every CPU busy, throughput is what the CPUs
# give divided by the CPU each transaction takes, pgbench's own share included, so the
# ratio of CPU per transaction estimates the throughput ratio.  It moves less with the
# machine's neighbours than tps does: time stolen by the hypervisor, idle and I/O wait
# are left out (/proc/stat: user + nice + system + irq + softirq).  Only for variants
# that keep every CPU busy: one chain's writers (keel's default mode, the peer) wait for
# each other, and their CPU per transaction says nothing of their throughput.
CPU2_CLIENTS="${CPU2_CLIENTS:-2}"; CPU2_TRIALS="${CPU2_TRIALS:-$TRIALS}"; CPU2_VARIANTS="${CPU2_VARIANTS:-plain= keel4=keel:4 keel4b=keel-beside:4}"
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
declare -A CPU2 TPS2
c2names=(); c2calls=()
for v in $CPU2_VARIANTS; do c2names+=("${v%%=*}"); c2calls+=("${v#*=}"); done
say "machine CPU per transaction at $CPU2_CLIENTS clients, ${DURATION}s each, $CPU2_TRIALS trials"
for ((t = 0; t < CPU2_TRIALS; t++)); do
    for ((j = 0; j < ${#c2names[@]}; j++)); do
        i=$(((j + t) % ${#c2names[@]})); label="${c2names[$i]}"
        "${PSQL[@]}" -c "SELECT audit_chain_set_trigger('${c2calls[$i]}')" -c "SELECT audit_chain_reset()" -c "CHECKPOINT" >/dev/null
        b0="$(busy_ticks)"
        out="$(PGDATABASE=peerbench "$BIN/pgbench" -n -M prepared -c "$CPU2_CLIENTS" -j "$CPU2_CLIENTS" -T "$DURATION" \
            -f "$KEEL_ROOT/../shared/peers/pgbench/audit_insert.sql" 2>&1)"
        b1="$(busy_ticks)"
        n="$(echo "$out" | awk '/number of transactions actually processed/{split($NF, a, "/"); print a[1]}')"
        us="$(awk -v a="$b0" -v b="$b1" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", (b - a) * 1e6 / hz / n}')"
        tps="$(echo "$out" | awk '/^tps = /{printf "%.0f", $3}')"
        note "trial $((t + 1)) $label: $tps tps, $us us of machine CPU per transaction"
        CPU2[$label]="${CPU2[$label]:-} $us"
        TPS2[$label]="${TPS2[$label]:-} $tps"
    done
done
# The median of the numbers in $1 (separated by blanks).
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# "a1 a2 ..." "b1 b2 ..." -> "a1/b1 a2/b2 ..."
same_trial_ratios() { paste <(echo $1 | tr ' ' '\n') <(echo $2 | tr ' ' '\n') | awk '{printf "%s ", $1 / $2}'; }
CPU2_SUMMARY="$(
    echo "Machine CPU per transaction at $CPU2_CLIENTS clients (us, median of $CPU2_TRIALS trials of ${DURATION}s; the trials follow):"
    for l in "${c2names[@]}"; do
        printf -- '- %s: %.1f (%s)\n' "$l" "$(median "${CPU2[$l]}")" "$(echo ${CPU2[$l]} | tr ' ' '\n' | sort -n | paste -sd, | sed 's/,/, /g')"
    done
    if [ -n "${CPU2[plain]:-}" ]; then
        for l in "${c2names[@]}"; do
            [ "$l" = plain ] && continue
            ratios="$(same_trial_ratios "${CPU2[plain]}" "${CPU2[$l]}")"
            printf -- '- plain / %s (the throughput ratio it implies, median of same-trial ratios): %.3f\n' "$l" "$(median "$ratios")"
            ratios="$(same_trial_ratios "${TPS2[$l]}" "${TPS2[plain]}")"
            printf -- '- %s / plain tps, the same trials (median of same-trial ratios): %.3f (%s)\n' "$l" "$(median "$ratios")" \
                "$(echo $ratios | tr ' ' '\n' | awk '{printf "%s%.3f", (NR > 1 ? ", " : ""), $1}')"
        done
    fi
)"
echo "$CPU2_SUMMARY"

if [ -z "${SKIP_VERIFY:-}" ]; then
    say "CPU: verify (keel on $VERIFY_ROWS rows, peer on $PEER_VERIFY_ROWS rows), best of $TRIALS"
    "${PSQL[@]}" -c "SELECT audit_chain_set_trigger('keel:1')" -c "SELECT audit_chain_reset()" >/dev/null
    "${PSQL[@]}" -c "CALL audit_chain_load($VERIFY_ROWS, 100)" -c "VACUUM ANALYZE audit_events" -c "VACUUM ANALYZE keel.audit_link" -c "CHECKPOINT" >/dev/null
    sync
    # Each chain is verified after VACUUM, a CHECKPOINT and a sync (a CHECKPOINT leaves
    # its writes in the kernel's page cache, whose writeback would otherwise run during
    # the first seconds of verification), so the load's writes are not measured as its
    # verification.
    # keel verifies in one process (max_parallel_maintenance_workers = 0) and with its
    # parallel pass (the server's default of 2 workers): CPU for both, wall time too.
    for ((t = 0; t < TRIALS; t++)); do
        read -r s w < <(cpu_of "SET max_parallel_maintenance_workers = 0; SELECT ok FROM keel.verify_audit_chain('audit_events');")
        note "trial $((t + 1)) keel verify, one process: ${s}s CPU, ${w}s wall"
        keep_best "kverify" "$s"
        read -r s w < <(cpu_of "SELECT ok FROM keel.verify_audit_chain('audit_events');")
        note "trial $((t + 1)) keel verify, parallel: ${s}s CPU (leader + workers), ${w}s wall"
        keep_best "kpverify" "$w"
    done
    "${PSQL[@]}" -c "SELECT audit_chain_set_trigger('audit_chain_trigger()')" -c "SELECT audit_chain_reset()" >/dev/null
    "${PSQL[@]}" -c "CALL audit_chain_load($PEER_VERIFY_ROWS, 100)" -c "VACUUM ANALYZE audit_events" -c "CHECKPOINT" >/dev/null
    sync
    for ((t = 0; t < TRIALS; t++)); do
        read -r s w < <(cpu_of "SELECT ok FROM audit_chain_verify();")
        note "trial $((t + 1)) peer verify: ${s}s CPU, ${w}s wall"
        keep_best "pverifyw" "$w"
        keep_best "pverify" "$s"
    done
fi
"${PSQL[@]}" -c "SELECT audit_chain_set_trigger(NULL)" >/dev/null
{
    echo "| variant | best backend CPU for $CPU_ROWS one-row transactions (s) | CPU per transaction (us) | chain cost per row (us) | WAL per transaction (bytes, last trial) |"
    echo "|---|---|---|---|---|"
    for l in "${names[@]}"; do
        awk -v l="$l" -v s="${BEST[$l]}" -v b="${BEST[plain]}" -v n="$CPU_ROWS" -v w="${WAL[$l]}" \
            'BEGIN{printf "| %s | %.2f | %.1f | %s | %s |\n", l, s, s/n*1e6, (l=="plain")?"baseline":sprintf("%.1f", (s-b)/n*1e6), w}'
    done
    awk -v k="${BEST[keel]}" -v p="${BEST[peer]}" -v b="${BEST[plain]}" \
        'BEGIN{printf "\nkeel chain cost / peer chain cost = %.2f\n", (k-b)/(p-b)}'
    if [ -z "${SKIP_VERIFY:-}" ]; then
        awk -v kv="${BEST[kverify]}" -v pv="${BEST[pverify]}" -v kn="$VERIFY_ROWS" -v pn="$PEER_VERIFY_ROWS" \
            'BEGIN{printf "verify CPU: keel %.2fs for %d rows = %.0f rows/s; peer %.2fs for %d rows = %.0f rows/s; ratio %.1fx\n", kv, kn, kn/kv, pv, pn, pn/pv, (kn/kv)/(pn/pv)}'
        awk -v kw="${BEST[kpverify]}" -v pw="${BEST[pverifyw]}" -v kn="$VERIFY_ROWS" -v pn="$PEER_VERIFY_ROWS" \
            'BEGIN{printf "verify wall: keel (parallel pass) %.2fs for %d rows = %.0f rows/s; peer %.2fs for %d rows = %.0f rows/s; ratio %.1fx\n", kw, kn, kn/kw, pw, pn, pn/pw, (kn/kw)/(pn/pw)}'
    fi
    echo
    echo "$CPU2_SUMMARY"
} | tee test/bench/out/audit_chain_cpu.md
