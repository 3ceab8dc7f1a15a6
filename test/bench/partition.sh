#!/usr/bin/env bash
# Section 5 of the peers' benchmark twice, back to back on this machine: pg_partman 4.7
# as shipped (partman.sql), then keel through partition_keel.sql; prints both reports.
#
#   BENCH_PORT=55443 DURATION=5 TRIALS=3 test/bench/partition.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export SECTIONS=5
test/bench/peers.sh partition-partman
test/bench/peers.sh partition-keel test/bench/partition_keel.sql
for n in partition-partman partition-keel; do
    echo "== $n"; grep -E '^\| 5 ' "test/bench/out/$n.md"
done
