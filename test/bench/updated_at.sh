#!/usr/bin/env bash
# updated_at trigger: keel.touch_updated_at against the seeds' PL/pgSQL trigger and
# contrib moddatetime, in one run.
#  1. the peers' pgbench section (single-row UPDATE by email, TPS), all four variants;
#  2. the trigger's CPU cost where it shows: a bulk UPDATE of every row of a 500k-row
#     seed-shaped table, variants rotated each trial, VACUUM before each, best of TRIALS,
#     timed as the backend's CPU time (less sensitive to a shared machine than wall time).
# Usage: test/bench/updated_at.sh   (DURATION=10 TRIALS=5 BENCH_PORT=55433 settable)
set -euo pipefail
. "$(dirname "$0")/cluster.sh"
cd "$KEEL_ROOT"
DURATION="${DURATION:-10}"; TRIALS="${TRIALS:-7}"; BULK_ROWS="${BULK_ROWS:-500000}"
VARIANTS=("none=" "plpgsql=update_updated_at_column()" "moddatetime=moddatetime(updated_at)"
          "keel=keel.touch_updated_at()")

# Bulk variants add a near-no-op C trigger (suppress_redundant_updates_trigger: every row
# changes, so it compares and returns NEW) to show the trigger manager's own share.
BULK_VARIANTS=("${VARIANTS[@]}" "c_noop=suppress_redundant_updates_trigger()")

bench_start
[ -n "${SKIP_PGBENCH:-}" ] || SECTIONS=1 DURATION="$DURATION" TRIALS=3 UA_VARIANTS="${VARIANTS[*]}" \
    bench_peers updated_at test/bench/keel.sql

say "bulk UPDATE of $BULK_ROWS rows, best of $TRIALS per variant (backend CPU time)"
PSQL=("$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d peerbench)
if [ -n "${SKIP_PGBENCH:-}" ]; then
    "$BIN/createdb" peerbench
    for f in "$KEEL_ROOT/../shared/peers/updated_at.sql" test/bench/keel.sql; do "${PSQL[@]}" -f "$f" >/dev/null; done
fi
# Seed-shaped rows, HOT-friendly (fillfactor 50, only the primary key indexed), so the
# per-row cost is mostly the trigger machinery and the trigger itself.
"${PSQL[@]}" <<SQL
DROP TABLE IF EXISTS ua_bulk;
CREATE TABLE ua_bulk (id int PRIMARY KEY, email varchar(255) NOT NULL, plan_type varchar(50) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())
    WITH (fillfactor = 50);
INSERT INTO ua_bulk SELECT k, 'user' || k || '@example.com', 'free', now(), now()
FROM generate_series(1, $BULK_ROWS) k;
CREATE FUNCTION ua_bulk_cpu(q text) RETURNS double precision LANGUAGE plpgsql AS \$\$
DECLARE f text[]; t0 bigint; t1 bigint;
BEGIN
    f := regexp_split_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ');
    t0 := f[12]::bigint + f[13]::bigint;
    EXECUTE q;
    f := regexp_split_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ');
    t1 := f[12]::bigint + f[13]::bigint;
    RETURN (t1 - t0) / 100.0;   -- clock ticks (USER_HZ = 100) -> seconds
END \$\$;
SQL
declare -A BEST
n=${#BULK_VARIANTS[@]}
for ((t = 0; t < TRIALS; t++)); do
    for ((j = 0; j < n; j++)); do
        v="${BULK_VARIANTS[$(((j + t) % n))]}"; label="${v%%=*}"; call="${v#*=}"
        "${PSQL[@]}" -c "DROP TRIGGER IF EXISTS bench_touch ON ua_bulk" >/dev/null
        [ -z "$call" ] || "${PSQL[@]}" -c "CREATE TRIGGER bench_touch BEFORE UPDATE ON ua_bulk FOR EACH ROW EXECUTE FUNCTION $call" >/dev/null
        "${PSQL[@]}" -c "VACUUM ua_bulk" >/dev/null
        s="$("${PSQL[@]}" -c "SELECT ua_bulk_cpu('UPDATE ua_bulk SET plan_type = CASE plan_type WHEN ''free'' THEN ''team'' ELSE ''free'' END')")"
        note "trial $((t + 1)) $label: ${s}s CPU"
        if [ -z "${BEST[$label]:-}" ] || awk -v a="$s" -v b="${BEST[$label]}" 'BEGIN{exit !(a<b)}'; then
            BEST[$label]="$s"
        fi
    done
done
{
    echo "| variant | best backend CPU for UPDATE of $BULK_ROWS rows (s) | trigger cost per row (us) |"
    echo "|---|---|---|"
    for v in "${BULK_VARIANTS[@]}"; do
        l="${v%%=*}"
        awk -v l="$l" -v s="${BEST[$l]}" -v b="${BEST[none]}" -v n="$BULK_ROWS" \
            'BEGIN{printf "| %s | %.2f | %s |\n", l, s, (l=="none")?"baseline":sprintf("%.2f", (s-b)/n*1e6)}'
    done
    awk -v k="${BEST[keel]}" -v p="${BEST[plpgsql]}" -v m="${BEST[moddatetime]}" -v b="${BEST[none]}" \
        -v c="${BEST[c_noop]}" \
        'BEGIN{printf "\nkeel cost / PL/pgSQL cost = %.2f; keel / moddatetime = %.2f; keel above a no-op C trigger / PL/pgSQL above it = %.2f\n", (k-b)/(p-b), (k-b)/(m-b), (k-c)/(p-c)}'
} | tee test/bench/out/updated_at_bulk.md
