#!/usr/bin/env bash
# keel's main job, start to finish: install what is missing, build, install into the
# machine's PostgreSQL, start a throwaway cluster in ./demo-cluster (unix socket, no
# TCP), create the extensions and show them working.  Each tools/demo/NN_*.sql is one
# chapter.  KEEP=1 leaves the cluster running afterwards.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KEEL_ROOT"

say "checking dependencies"
keel_deps
keel_build
say "installing keel into $("$PG_CONFIG" --pkglibdir) and $("$PG_CONFIG" --sharedir)/extension"
if [ "$(id -u)" -eq 0 ] || [ -w "$("$PG_CONFIG" --pkglibdir)" ]; then
    make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
else
    die "installing needs write access to $("$PG_CONFIG" --pkglibdir): run as root"
fi

# The cluster lives in ./demo-cluster when the cluster user can reach it, else in /tmp.
DEMO="$KEEL_ROOT/demo-cluster"
if [ "$(id -u)" -eq 0 ] && ! runuser -u "$KEEL_OS_USER" -- test -x "$KEEL_ROOT"; then
    DEMO="$(mktemp -d /tmp/keel-demo.XXXXXX)"
    note "$KEEL_OS_USER cannot enter $KEEL_ROOT; using $DEMO instead"
fi
BIN="$("$PG_CONFIG" --bindir)"
PORT="${KEEL_DEMO_PORT:-54329}"
stop_cluster() { as_pg "$BIN/pg_ctl" -D "$DEMO/data" -m fast stop >/dev/null 2>&1 || true; }
[ -f "$DEMO/data/postmaster.pid" ] && stop_cluster
rm -rf "$DEMO"; mkdir -p "$DEMO/keys"
[ "$(id -u)" -eq 0 ] && chown -R "$KEEL_OS_USER" "$DEMO"

say "starting a throwaway PostgreSQL $PG_MAJOR cluster in $DEMO (socket only, port $PORT)"
as_pg sh -c "umask 077; openssl rand -hex 32 > '$DEMO/keys/master.key'"
as_pg "$BIN/initdb" -D "$DEMO/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
as_pg tee -a "$DEMO/data/postgresql.conf" >/dev/null <<CONF
listen_addresses = ''
port = $PORT
unix_socket_directories = '$DEMO'
shared_preload_libraries = 'keel'
keel.master_key_file = '$DEMO/keys/master.key'
CONF
# Settings this build does not know yet would stop the server: keep only known ones.
as_pg "$BIN/postgres" -D "$DEMO/data" -C keel.master_key_file >/dev/null 2>&1 \
    || as_pg sed -i '/^keel\.master_key_file/d' "$DEMO/data/postgresql.conf"
as_pg "$BIN/pg_ctl" -D "$DEMO/data" -l "$DEMO/server.log" -w start >/dev/null
[ -n "${KEEP:-}" ] || trap stop_cluster EXIT

export PGHOST="$DEMO" PGPORT="$PORT" PGUSER=postgres
as_pg "$BIN/createdb" -h "$DEMO" -p "$PORT" -U postgres keel_demo
for chapter in tools/demo/*.sql; do
    as_pg "$BIN/psql" -h "$DEMO" -p "$PORT" -U postgres -d keel_demo -X -q \
        -v ON_ERROR_STOP=1 -P pager=off -f - <"$chapter"
done
echo
say "done"
if [ -n "${KEEP:-}" ]; then
    note "the cluster is still running: psql -h $DEMO -p $PORT -U postgres keel_demo"
else
    note "cluster stopped; rerun with KEEP=1 make demo to keep it and poke around"
fi
