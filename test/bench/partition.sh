#!/usr/bin/env bash
# Partition maintenance, keel against pg_partman 4.7 and against the bare-DDL floor, all
# in ONE run on ONE throwaway cluster, trials interleaved (each trial runs every variant,
# in an order rotated from trial to trial), ratios taken inside each trial.
#
#   BENCH_PORT=55454 TRIALS=5 test/bench/partition.sh
#
# The steps are those of section 5 of ../shared/peers/run.sh (same SQL contract, the
# peer_pm_* functions of ../shared/peers/partman.sql): PM_TABLES parents shaped like the
# seed's audit_events (7 indexes incl. GIN), registered with PM_BACK months back and
# premake 3, PM_ROWS_PER_MONTH rows per month, then premake 3 -> 6 (cold: 3 partitions
# to make per table), nothing to do (warm), retention 6 months with drop (retention:
# 6 partitions to drop per table), nothing to do again (warm2).  Each timed step is one
# call in a fresh backend (as in run.sh), divided by PM_TABLES.
#
# Variants (VARIANTS, default "partman keel floor"):
#   partman  ../shared/peers/partman.sql as shipped (pg_partman 4.7 create_parent /
#            run_maintenance)
#   keel     + test/bench/partition_keel.sql (keel.partition_by_time / keel.run_maintenance)
#   floor    + test/bench/partition_floor.sql: no tool, only the DDL any tool must run
#            (CREATE TABLE ... PARTITION OF per missing month, DROP TABLE per expired one),
#            the statement list computed before the clock starts and run as one string
# keel is installed in the database from the start for all three (see below).
# Report: test/bench/out/partition.md (and partition.tsv with every measurement).
set -euo pipefail
. "$(dirname "$0")/cluster.sh"
cd "$KEEL_ROOT"

TRIALS="${TRIALS:-3}"
VARIANTS="${VARIANTS:-partman keel floor}"
PM_TABLES="${PM_TABLES:-50}"
PM_BACK="${PM_BACK:-12}"
PM_ROWS_PER_MONTH="${PM_ROWS_PER_MONTH:-20}"
PEERS="${KEEL_PEERS:-$KEEL_ROOT/../shared/peers}"
[ -f "$PEERS/partman.sql" ] || die "peer benchmarks not found in $PEERS"
OUT="$KEEL_ROOT/test/bench/out"
mkdir -p "$OUT"
TSV="$OUT/partition.tsv"
MD="$OUT/partition.md"

bench_start
export PGDATABASE=peerbench
PSQL="$BIN/psql"
q() { "$PSQL" -X -v ON_ERROR_STOP=1 -Atq "$@"; }
qf() { "$PSQL" -X -v ON_ERROR_STOP=1 -q -f "$1" >/dev/null; }
q -d postgres -c "CREATE DATABASE peerbench"
qf "$PEERS/harness.sql"
# keel is in the database for every variant (from the start, not from keel's first
# turn), so its event triggers (partition registrations, the audit chain's DDL guards)
# run for every variant's DDL alike, as they would in any database that has keel.
q -c "CREATE EXTENSION keel"

load_variant() {
    qf "$PEERS/partman.sql"
    case "$1" in
        partman) ;;
        keel) qf test/bench/partition_keel.sql ;;
        floor) qf test/bench/partition_keel.sql; qf test/bench/partition_floor.sql ;;
        *) die "unknown variant $1" ;;
    esac
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date +%s)
printf 'trial\tvariant\tstep\tseconds_per_table\tpartitions_changed\n' >"$TSV"
# The floor works out its statements before the clock starts (see partition_floor.sql).
prepare() { if [ "$v" = floor ]; then q -c "SELECT peer_pm_prepare()" >/dev/null; fi; }
read -r -a V <<<"$VARIANTS"
n=${#V[@]}
for ((t = 1; t <= TRIALS; t++)); do
    for ((i = 0; i < n; i++)); do
        v=${V[$(((i + t - 1) % n))]}
        load_variant "$v"
        q -c "SELECT peer_pm_teardown()" >/dev/null
        reg=$(q -c "CALL peer_pm_setup($PM_TABLES, $PM_BACK, 3, NULL)")
        q -c "SELECT peer_pm_fill($PM_ROWS_PER_MONTH, $PM_BACK)" >/dev/null
        q -c "CHECKPOINT" >/dev/null
        p0=$(q -c "SELECT peer_pm_partitions()")
        q -c "SELECT peer_pm_set_premake(6)" >/dev/null
        prepare
        cold=$(q -c "SELECT peer_time_sql('SELECT peer_pm_maintenance()')")
        p1=$(q -c "SELECT peer_pm_partitions()")
        prepare
        warm=$(q -c "SELECT peer_time_sql('SELECT peer_pm_maintenance()')")
        p2=$(q -c "SELECT peer_pm_partitions()")
        q -c "SELECT peer_pm_set_retention('6 months')" >/dev/null
        prepare
        ret=$(q -c "SELECT peer_time_sql('SELECT peer_pm_maintenance()')")
        p3=$(q -c "SELECT peer_pm_partitions()")
        prepare
        warm2=$(q -c "SELECT peer_time_sql('SELECT peer_pm_maintenance()')")
        p4=$(q -c "SELECT peer_pm_partitions()")
        q -c "SELECT peer_pm_teardown()" >/dev/null
        per() { awk -v s="$1" -v n="$PM_TABLES" 'BEGIN{printf "%.6f", s/n}'; }
        {
            printf '%s\t%s\tregister\t%s\t%s\n' "$t" "$v" "$(per "$reg")" "$p0"
            printf '%s\t%s\tcold\t%s\t%s\n' "$t" "$v" "$(per "$cold")" "$((p1 - p0))"
            printf '%s\t%s\twarm\t%s\t%s\n' "$t" "$v" "$(per "$warm")" "$((p2 - p1))"
            printf '%s\t%s\tretention\t%s\t%s\n' "$t" "$v" "$(per "$ret")" "$((p3 - p2))"
            printf '%s\t%s\twarm2\t%s\t%s\n' "$t" "$v" "$(per "$warm2")" "$((p4 - p3))"
        } >>"$TSV"
        say "trial $t $v: register $(per "$reg") cold $(per "$cold") (+$((p1 - p0))) warm $(per "$warm") (+$((p2 - p1))) retention $(per "$ret") ($((p3 - p2))) warm2 $(per "$warm2") s/table"
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
T_END=$(date +%s)

# Per step: median per variant (per-trial values), and the ratios partman/keel,
# floor/keel's overhead, partman/floor as medians of the ratios inside each trial.
TABLE=$("$PSQL" -X -v ON_ERROR_STOP=1 -Atq <<EOSQL
CREATE TEMP TABLE m (trial int, variant text, step text, s float8, changed int);
\copy m FROM '$TSV' WITH (FORMAT csv, DELIMITER E'\t', HEADER true)
CREATE FUNCTION pg_temp.ms(v float8) RETURNS text LANGUAGE sql AS
  \$\$ SELECT CASE WHEN v IS NULL THEN '-' WHEN v >= 0.1 THEN round((v * 1000)::numeric, 0)::text
                  ELSE round((v * 1000)::numeric, 2)::text END \$\$;
CREATE FUNCTION pg_temp.x(v float8) RETURNS text LANGUAGE sql AS
  \$\$ SELECT CASE WHEN v IS NULL THEN '-' ELSE to_char(v, 'FM9990.00') || 'x' END \$\$;
WITH steps(step, ord, label) AS (VALUES ('cold', 1, 'cold: make 3'), ('warm', 2, 'warm: nothing to do'),
         ('retention', 3, 'retention: drop 6'), ('warm2', 4, 'warm, retention set'),
         ('register', 5, 'register (12 back + 3 ahead)')),
v AS (
  SELECT step, variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY s) AS med,
         string_agg(pg_temp.ms(s), ', ' ORDER BY trial) AS trials, min(changed) AS cmin, max(changed) AS cmax
  FROM m GROUP BY step, variant),
r AS (
  SELECT a.step,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY p.s / k.s) AS partman_keel,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY k.s / f.s) AS keel_floor,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY p.s / f.s) AS partman_floor
  FROM (SELECT DISTINCT step, trial FROM m) a
  LEFT JOIN m p ON p.step = a.step AND p.trial = a.trial AND p.variant = 'partman'
  LEFT JOIN m k ON k.step = a.step AND k.trial = a.trial AND k.variant = 'keel'
  LEFT JOIN m f ON f.step = a.step AND f.trial = a.trial AND f.variant = 'floor'
  GROUP BY a.step)
SELECT string_agg(format('| %s | %s ms (%s) | %s ms (%s) | %s ms (%s) | **%s** | %s | %s |',
         s.label,
         pg_temp.ms(vp.med), vp.trials, pg_temp.ms(vk.med), vk.trials, pg_temp.ms(vf.med), vf.trials,
         pg_temp.x(r.partman_keel), pg_temp.x(r.keel_floor), pg_temp.x(r.partman_floor)), E'\n' ORDER BY s.ord)
FROM steps s JOIN r ON r.step = s.step
LEFT JOIN v vp ON vp.step = s.step AND vp.variant = 'partman'
LEFT JOIN v vk ON vk.step = s.step AND vk.variant = 'keel'
LEFT JOIN v vf ON vf.step = s.step AND vf.variant = 'floor';
EOSQL
)
CHANGED=$("$PSQL" -X -v ON_ERROR_STOP=1 -Atq <<EOSQL
CREATE TEMP TABLE m (trial int, variant text, step text, s float8, changed int);
\copy m FROM '$TSV' WITH (FORMAT csv, DELIMITER E'\t', HEADER true)
SELECT string_agg(format('%s %s: %s', variant, step, cs), '; ' ORDER BY variant, step)
FROM (SELECT variant, step, string_agg(DISTINCT changed::text, '/') AS cs FROM m
      WHERE step <> 'register' GROUP BY variant, step) x;
EOSQL
)
VERSION=$(q -c "SELECT current_setting('server_version') || ', pg_partman ' || (SELECT extversion FROM pg_extension WHERE extname = 'pg_partman') || ', keel ' || (SELECT extversion FROM pg_extension WHERE extname = 'keel')")
{
    echo "# Partition maintenance: keel vs pg_partman vs bare DDL (one run, interleaved)"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $((T_END - T_START)) s, PostgreSQL $VERSION; $PM_TABLES tables,"
    echo "TRIALS=$TRIALS, variant order rotated per trial. Load average at start $LOAD_START, at end $LOAD_END"
    echo "($(nproc) cores). Per table, median of the trials (per-trial values in brackets); ratios are"
    echo "medians of the ratios taken inside each trial."
    echo
    echo "| step | pg_partman 4.7 | keel | floor (bare DDL) | partman / keel | keel / floor | partman / floor |"
    echo "|---|---|---|---|---|---|---|"
    echo "$TABLE"
    echo
    echo "Partitions made (+) or dropped (-) per step, all trials: $CHANGED"
} >"$MD"
cat "$MD"
