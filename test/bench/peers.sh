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
. "$(dirname "$0")/../../tools/lib.sh"
cd "$KEEL_ROOT"

NAME="${1:?usage: peers.sh NAME [extra.sql ...]}"; shift
PEERS="${KEEL_PEERS:-$KEEL_ROOT/../shared/peers}"
[ -f "$PEERS/run.sh" ] || die "peer benchmarks not found in $PEERS"
keel_deps "postgresql-$PG_MAJOR-partman"
keel_build

BENCH="$(mktemp -d /tmp/keel-bench.XXXXXX)"; chmod 755 "$BENCH"
PORT="${BENCH_PORT:-55433}"
keel_private_install "$BENCH/install"
BIN="$BENCH/install$("$PG_CONFIG" --bindir)"
cp -r "$PEERS" "$BENCH/peers"; chmod -R u+w "$BENCH/peers"
extra=""
for f in "$@"; do cp "$f" "$BENCH/peers/"; extra="$extra $(basename "$f")"; done
mkdir -p "$BENCH/keys" "$BENCH/data"
openssl rand -hex 32 >"$BENCH/keys/master.key"; chmod 600 "$BENCH/keys/master.key"
chown -R "$KEEL_OS_USER" "$BENCH"

stop() {
    as_pg "$BIN/pg_ctl" -D "$BENCH/data" -m fast -w stop >/dev/null 2>&1 || true
    [ -n "${KEEP_CLUSTER:-}" ] || rm -rf "$BENCH"
}
trap stop EXIT

as_pg "$BIN/initdb" -D "$BENCH/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
# The same settings as the peers' own cluster (run.sh), plus keel preloaded.
as_pg tee -a "$BENCH/data/postgresql.conf" >/dev/null <<CONF
listen_addresses = ''
port = $PORT
unix_socket_directories = '$BENCH'
max_connections = 50
shared_buffers = 512MB
work_mem = 16MB
maintenance_work_mem = 256MB
max_wal_size = 8GB
min_wal_size = 1GB
checkpoint_timeout = 30min
max_locks_per_transaction = 256
log_min_messages = warning
shared_preload_libraries = 'keel'
CONF
if as_pg "$BIN/postgres" -D "$BENCH/data" -C keel.master_key_file >/dev/null 2>&1; then
    echo "keel.master_key_file = '$BENCH/keys/master.key'" | as_pg tee -a "$BENCH/data/postgresql.conf" >/dev/null
fi
as_pg "$BIN/pg_ctl" -D "$BENCH/data" -l "$BENCH/server.log" -w start >/dev/null

mkdir -p test/bench/out
say "peers' run.sh against keel ($NAME), cluster $BENCH port $PORT"
( cd "$BENCH/peers" && PATH="$BIN:$PATH" PG_BINDIR="$BIN" PGHOST="$BENCH" PGPORT="$PORT" PGUSER=postgres \
    EXTRA_SQL="${EXTRA_SQL:-}$extra" ./run.sh ) || { tail -30 "$BENCH/server.log"; die "run.sh failed"; }
cp "$BENCH/peers/results.md" "test/bench/out/$NAME.md"
cp "$BENCH/peers/run.log" "test/bench/out/$NAME.log"
say "report: test/bench/out/$NAME.md"
