#!/usr/bin/env bash
# updated_at trigger: keel.touch_updated_at against the seeds' PL/pgSQL trigger and
# contrib moddatetime, in one run.
#  1. the peers' pgbench section (single-row UPDATE by email, TPS), all four variants;
#  2. the trigger's CPU cost where it shows: a bulk UPDATE of every row of the 200k-row
#     users table, variants rotated each trial, VACUUM before each, best of TRIALS.
# Usage: test/bench/updated_at.sh   (DURATION=10 TRIALS=5 BENCH_PORT=55433 settable)
set -euo pipefail
. "$(dirname "$0")/cluster.sh"
cd "$KEEL_ROOT"
DURATION="${DURATION:-10}"; TRIALS="${TRIALS:-5}"
VARIANTS=("none=" "plpgsql=update_updated_at_column()" "moddatetime=moddatetime(updated_at)"
          "keel=keel.touch_updated_at()")

bench_start
SECTIONS=1 DURATION="$DURATION" TRIALS=3 UA_VARIANTS="${VARIANTS[*]}" \
    bench_peers updated_at test/bench/keel.sql

say "bulk UPDATE of 200000 rows, best of $TRIALS per variant"
PSQL=("$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d peerbench)
declare -A BEST
n=${#VARIANTS[@]}
for ((t = 0; t < TRIALS; t++)); do
    for ((j = 0; j < n; j++)); do
        v="${VARIANTS[$(((j + t) % n))]}"; label="${v%%=*}"; call="${v#*=}"
        "${PSQL[@]}" -c "SELECT peer_ua_set_trigger('$call')" >/dev/null
        "${PSQL[@]}" -c "VACUUM users" -c "CHECKPOINT" >/dev/null
        s="$("${PSQL[@]}" -c "SELECT peer_time_sql('UPDATE users SET plan_type = plan_type')")"
        note "trial $((t + 1)) $label: ${s}s"
        if [ -z "${BEST[$label]:-}" ] || awk -v a="$s" -v b="${BEST[$label]}" 'BEGIN{exit !(a<b)}'; then
            BEST[$label]="$s"
        fi
    done
done
"${PSQL[@]}" -c "SELECT peer_ua_set_trigger(NULL)" >/dev/null
{
    echo "| variant | best bulk UPDATE of 200k rows (s) | trigger cost per row (us) |"
    echo "|---|---|---|"
    for v in "${VARIANTS[@]}"; do
        l="${v%%=*}"
        awk -v l="$l" -v s="${BEST[$l]}" -v b="${BEST[none]}" \
            'BEGIN{printf "| %s | %.3f | %s |\n", l, s, (l=="none")?"baseline":sprintf("%.2f", (s-b)/200000*1e6)}'
    done
    awk -v k="${BEST[keel]}" -v p="${BEST[plpgsql]}" -v m="${BEST[moddatetime]}" -v b="${BEST[none]}" \
        'BEGIN{printf "\nkeel trigger cost / PL/pgSQL trigger cost = %.2f; keel / moddatetime = %.2f\n", (k-b)/(p-b), (k-b)/(m-b)}'
} | tee test/bench/out/updated_at_bulk.md
