#!/usr/bin/env bash
# Section 5 of the peers' benchmark three times, back to back on this machine:
# pg_partman 4.7 as shipped (partman.sql), keel (partition_keel.sql), and the bare DDL
# floor (partition_floor.sql: hand-written CREATE/DROP, what any tool must at least
# run).  Prints the three sets of section-5 rows.
#
#   BENCH_PORT=55443 TRIALS=3 test/bench/partition.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export SECTIONS=5
test/bench/peers.sh partition-partman
test/bench/peers.sh partition-keel test/bench/partition_keel.sql
test/bench/peers.sh partition-floor test/bench/partition_keel.sql test/bench/partition_floor.sql
for n in partition-partman partition-keel partition-floor; do
    echo "== $n"; grep -E '^\| 5 ' "test/bench/out/$n.md"
done
