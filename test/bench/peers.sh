#!/usr/bin/env bash
# Runs ../shared/peers/run.sh against a throwaway cluster that has keel installed, so
# keel and its peers are measured in one run, back to back, and compared as ratios.
#
#   test/bench/peers.sh NAME [extra SQL files...]
#
# Every run.sh setting passes through the environment (SECTIONS, UA_VARIANTS,
# AUDIT_VARIANTS, AUDIT_CHAIN_CALL, AUDIT_VERIFY_SQL, DURATION, TRIALS, ...).  Extra SQL
# files (paths relative to the repo) are loaded after the peers' SQL.  The report lands
# in test/bench/out/NAME.md (and NAME.log).  BENCH_PORT picks the port (default 55433).
set -euo pipefail
. "$(dirname "$0")/cluster.sh"
cd "$KEEL_ROOT"
NAME="${1:?usage: peers.sh NAME [extra.sql ...]}"; shift
bench_start
bench_peers "$NAME" "$@"
say "report: test/bench/out/$NAME.md"
