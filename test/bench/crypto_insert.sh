#!/usr/bin/env bash
# INSERT into a table with one transparently encrypted column (keel.encrypt_column)
# against the same INSERT without encryption: pgbench TPS, 1 client, variants
# alternated each trial; the ratio is keel / plain within a trial.
# Usage: test/bench/crypto_insert.sh   (DURATION=10 TRIALS=3 BENCH_PORT=55441 settable)
set -euo pipefail
. "$(dirname "$0")/cluster.sh"
cd "$KEEL_ROOT"
DURATION="${DURATION:-10}"; TRIALS="${TRIALS:-3}"
bench_start
PSQL=("$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d postgres)
"${PSQL[@]}" <<'SQL'
CREATE EXTENSION keel;
SELECT keel.create_key('bench_col');
-- The seed's deployments row shape: db_connection_info is a ~250-byte JSON secret.
CREATE TABLE ins_plain (id bigserial PRIMARY KEY, project_id bigint NOT NULL, db_connection_info jsonb);
CREATE TABLE ins_keel  (id bigserial PRIMARY KEY, project_id bigint NOT NULL, db_connection_info jsonb);
SELECT keel.encrypt_column('ins_keel', 'db_connection_info', 'bench_col', '{id}');
SQL
for v in plain keel; do
    cat >"$BENCH/ins_$v.sql" <<SQL
\set p random(1, 100000)
INSERT INTO ins_$v (project_id, db_connection_info) VALUES (:p, jsonb_build_object('host', 'db-sandbox-' || :p || '.sandbox.agentsphere.internal', 'port', 5432, 'user', 'app_' || :p, 'password', md5(:p::text), 'database', 'app_' || :p, 'sslmode', 'require', 'options', '-c statement_timeout=30000'));
SQL
done
chown -R "$KEEL_OS_USER" "$BENCH"
declare -A SUM
for ((t = 1; t <= TRIALS; t++)); do
    declare -A TPS
    for v in plain keel; do
        tps="$(as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGOPTIONS="$PGOPTIONS" "$BIN/pgbench" -n -c 1 -T "$DURATION" -f "$BENCH/ins_$v.sql" postgres 2>&1 \
               | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')"
        TPS[$v]="$tps"
    done
    ratio="$(awk -v a="${TPS[keel]}" -v b="${TPS[plain]}" 'BEGIN{printf "%.3f", a/b}')"
    note "trial $t: plain ${TPS[plain]} TPS, keel-encrypted ${TPS[keel]} TPS, ratio $ratio"
    echo "$t ${TPS[plain]} ${TPS[keel]} $ratio" >>"$BENCH/ins.txt"
done
"${PSQL[@]}" -c "SELECT count(*) FROM ins_keel WHERE db_connection_info ? 'host'" | sed 's/^/    plaintext rows in ins_keel (must be 0): /'
median="$(awk '{print $4}' "$BENCH/ins.txt" | sort -n | awk '{r[NR]=$1} END{print r[int((NR+1)/2)]}')"
note "median ratio keel/plain: $median"
