# Sourced by the benchmark scripts: a throwaway cluster from a private install of the
# server with keel built into it, tuned like the peers' own cluster (../shared/peers/run.sh).
# shellcheck shell=bash
. "$(dirname "${BASH_SOURCE[0]}")/../../tools/lib.sh"

# bench_start: sets BENCH (temp dir), BIN, PORT and exports PGHOST/PGPORT/PGUSER.
bench_start() {
    keel_deps "postgresql-$PG_MAJOR-partman"
    keel_build
    BENCH="$(mktemp -d /tmp/keel-bench.XXXXXX)"; chmod 755 "$BENCH"
    PORT="${BENCH_PORT:-55433}"
    keel_private_install "$BENCH/install"
    BIN="$BENCH/install$("$PG_CONFIG" --bindir)"
    mkdir -p "$BENCH/keys" "$BENCH/data"
    openssl rand -hex 32 >"$BENCH/keys/master.key"; chmod 600 "$BENCH/keys/master.key"
    chown -R "$KEEL_OS_USER" "$BENCH"
    trap bench_stop EXIT
    as_pg "$BIN/initdb" -D "$BENCH/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
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
    # The key store (keel.master_key_file) exists when keel's install script has it.
    if grep -qs 'keel.master_key_file' "$BENCH/install$("$PG_CONFIG" --pkglibdir)/keel.so"; then
        echo "keel.master_key_file = '$BENCH/keys/master.key'" \
            | as_pg tee -a "$BENCH/data/postgresql.conf" >/dev/null
    fi
    as_pg "$BIN/pg_ctl" -D "$BENCH/data" -l "$BENCH/server.log" -w start >/dev/null
    export PGHOST="$BENCH" PGPORT="$PORT" PGUSER=postgres
    # BENCH_PGOPTIONS: settings added for a diagnostic run (see keel_audit_chain.sql).
    export PGOPTIONS="-c synchronous_commit=off -c jit=off -c client_min_messages=warning${BENCH_PGOPTIONS:+ $BENCH_PGOPTIONS}"
    bench_warm
}

# The kernel gives a new cluster's shared memory its pages on first touch, and on a
# virtual machine each such fault is dear (about 12 us per 4 kB page on the machine of
# BENCHMARKS.md).  Until every buffer has been used once, the trials that run first pay
# for it, most of all the variants that write the most pages: so fill shared_buffers
# once (an unlogged table a little bigger than it, then dropped) before measuring.
bench_warm() {
    [ -n "${BENCH_NO_WARM:-}" ] && return 0
    "$BIN/psql" -X -q -d postgres -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT (pg_size_bytes(current_setting('shared_buffers')) / 8192 * 1.1)::bigint AS pages \gset
CREATE UNLOGGED TABLE keel_bench_warm (filler text) WITH (fillfactor = 10);
INSERT INTO keel_bench_warm SELECT repeat('x', 500) FROM generate_series(1, :pages);
DROP TABLE keel_bench_warm;
SQL
}

bench_stop() {
    [ -n "${BENCH:-}" ] || return 0
    as_pg "$BIN/pg_ctl" -D "$BENCH/data" -m fast -w stop >/dev/null 2>&1 || true
    [ -n "${KEEP_CLUSTER:-}" ] || rm -rf "$BENCH"
}

# bench_peers NAME [extra.sql ...]: ../shared/peers/run.sh against the running cluster;
# report in test/bench/out/NAME.md.  run.sh settings pass through the environment.
bench_peers() {
    local name="$1"; shift
    local peers="${KEEL_PEERS:-$KEEL_ROOT/../shared/peers}" extra="" f
    [ -f "$peers/run.sh" ] || die "peer benchmarks not found in $peers"
    rm -rf "$BENCH/peers"; cp -r "$peers" "$BENCH/peers"; chmod -R u+w "$BENCH/peers"
    for f in "$@"; do cp "$f" "$BENCH/peers/"; extra="$extra $(basename "$f")"; done
    mkdir -p "$KEEL_ROOT/test/bench/out"
    say "peers' run.sh against keel ($name), cluster $BENCH port $PORT"
    ( cd "$BENCH/peers" && PATH="$BIN:$PATH" PG_BINDIR="$BIN" PGDATABASE="${PGDATABASE:-peerbench}" \
        EXTRA_SQL="${EXTRA_SQL:-}$extra" ./run.sh ) || { tail -30 "$BENCH/server.log"; die "run.sh failed"; }
    cp "$BENCH/peers/results.md" "$KEEL_ROOT/test/bench/out/$name.md"
    cp "$BENCH/peers/run.log" "$KEEL_ROOT/test/bench/out/$name.log"
}
