#!/usr/bin/env bash
# Blueprint triggers, keel's C++ against the PL/pgSQL the seeds (would) write, same run:
#   A. updated_at: bulk UPDATE of CozyEngine sessions (seed 004's update_updated_at_column()
#      in PL/pgSQL vs the blueprint's, which is keel's C++ touch_updated_at).
#   B. sessions.message_count/total_tokens/last_message_at: INSERT of messages with the C++
#      trigger vs an equivalent PL/pgSQL trigger (same statements, same locking) vs none.
# Each variant is a copy of the blueprint's tables in its own schema (no foreign keys, the
# same indexes minus the GIN ones of messages, so the trigger is what is measured), with
# no trigger, the PL/pgSQL ones or keel's C++ ones; B's "none" variant also has no
# updated_at trigger on sessions.  Trials alternate variants; best of TRIALS, wall time.
#
#   TRIALS=5 ROWS=100000 BENCH_PORT=55444 test/bench/blueprints.sh
set -euo pipefail
. "$(dirname "$0")/cluster.sh"
cd "$KEEL_ROOT"
TRIALS="${TRIALS:-5}"; ROWS="${ROWS:-100000}"; SESSIONS="${SESSIONS:-2000}"

bench_start
"$BIN/createdb" bp
PSQL=("$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d bp)
"${PSQL[@]}" <<SQL
CREATE EXTENSION keel;
-- One schema per variant, each with the same tables (the blueprint's own DDL, minus the
-- GIN indexes of messages).
-- The blueprint itself, as the template: every variant gets its tables (columns,
-- defaults, CHECKs, indexes; LIKE copies no foreign keys and no triggers), so the
-- variants differ only in their triggers.
CREATE SCHEMA bp; CREATE EXTENSION keel_cozyengine SCHEMA bp;
DO \$\$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['v_cpp', 'v_plpgsql', 'v_none'] LOOP
    EXECUTE format('CREATE SCHEMA %I', s);
    EXECUTE format('CREATE TABLE %I.users (LIKE bp.users INCLUDING ALL)', s);
    EXECUTE format('CREATE TABLE %I.sessions (LIKE bp.sessions INCLUDING ALL)', s);
    EXECUTE format('CREATE TABLE %I.messages (LIKE bp.messages INCLUDING ALL)', s);
  END LOOP;
END \$\$;
-- keel's C++ triggers, attached the way the blueprint attaches them.
CREATE FUNCTION v_cpp.update_updated_at_column() RETURNS trigger LANGUAGE c AS '\$libdir/keel', 'keel_touch_updated_at';
CREATE FUNCTION v_cpp.maintain_session_stats() RETURNS trigger LANGUAGE c AS '\$libdir/keel', 'keel_session_stats';
CREATE TRIGGER trigger_sessions_updated_at BEFORE UPDATE ON v_cpp.sessions
    FOR EACH ROW EXECUTE FUNCTION v_cpp.update_updated_at_column();
CREATE TRIGGER trigger_messages_session_stats
    AFTER INSERT OR DELETE OR UPDATE OF session_id, deleted_at, created_at, message_metadata ON v_cpp.messages
    FOR EACH ROW EXECUTE FUNCTION v_cpp.maintain_session_stats('sessions');
DO \$\$
DECLARE s text; i text;
BEGIN
  FOREACH s IN ARRAY ARRAY['v_cpp', 'v_plpgsql', 'v_none'] LOOP
    FOR i IN SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
              JOIN pg_class t ON t.oid = x.indrelid JOIN pg_am a ON a.oid = c.relam
             WHERE t.relnamespace = s::regnamespace AND t.relname = 'messages' AND a.amname = 'gin' LOOP
      EXECUTE format('DROP INDEX %I.%I', s, i);
    END LOOP;
  END LOOP;
END \$\$;

-- The seed's PL/pgSQL updated_at trigger, verbatim.
CREATE FUNCTION v_plpgsql.update_updated_at_column() RETURNS TRIGGER AS \$\$
BEGIN
    NEW.updated_at = CURRENT_TIMESTAMP;
    RETURN NEW;
END;
\$\$ LANGUAGE plpgsql;
CREATE TRIGGER trigger_sessions_updated_at BEFORE UPDATE ON v_plpgsql.sessions
    FOR EACH ROW EXECUTE FUNCTION v_plpgsql.update_updated_at_column();

-- The session statistics as a PL/pgSQL trigger: the same statements as the C++ one.
CREATE FUNCTION v_plpgsql.session_stats() RETURNS trigger LANGUAGE plpgsql AS \$\$
DECLARE
    v_last timestamp;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
        UPDATE v_plpgsql.sessions
           SET message_count = message_count - 1,
               total_tokens = COALESCE(total_tokens, 0) - COALESCE((OLD.message_metadata ->> 'token_count')::int, 0)
         WHERE id = OLD.session_id RETURNING last_message_at INTO v_last;
        IF FOUND AND (v_last IS NULL OR OLD.created_at >= v_last) THEN
            UPDATE v_plpgsql.sessions s SET last_message_at =
                (SELECT max(m.created_at) FROM v_plpgsql.messages m WHERE m.session_id = OLD.session_id AND m.deleted_at IS NULL)
             WHERE s.id = OLD.session_id;
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.deleted_at IS NULL THEN
        UPDATE v_plpgsql.sessions
           SET message_count = message_count + 1,
               total_tokens = COALESCE(total_tokens, 0) + COALESCE((NEW.message_metadata ->> 'token_count')::int, 0),
               last_message_at = GREATEST(last_message_at, NEW.created_at)
         WHERE id = NEW.session_id;
    END IF;
    RETURN NULL;
END
\$\$;
CREATE TRIGGER trigger_messages_session_stats
    AFTER INSERT OR DELETE OR UPDATE OF session_id, deleted_at, created_at, message_metadata ON v_plpgsql.messages
    FOR EACH ROW EXECUTE FUNCTION v_plpgsql.session_stats();

DO \$\$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['v_cpp', 'v_plpgsql', 'v_none'] LOOP
    EXECUTE format('INSERT INTO %I.users (id, username, email, password_hash) VALUES (''00000000-0000-0000-0000-000000000001'', ''u'', ''u@example.com'', ''h'')', s);
    EXECUTE format('INSERT INTO %I.sessions (id, user_id, personality_id) SELECT md5(''s'' || g)::uuid, ''00000000-0000-0000-0000-000000000001'', ''assistant-v1'' FROM generate_series(1, $SESSIONS) g', s);
  END LOOP;
END \$\$;
VACUUM ANALYZE;

CREATE FUNCTION public.bench_ms(q text) RETURNS double precision LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz;
BEGIN
    t0 := clock_timestamp();
    EXECUTE q;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END
\$\$;
SQL

declare -A best
run() {  # key sql
    local ms; ms="$("${PSQL[@]}" -c "SELECT round(bench_ms(\$q\$$2\$q\$)::numeric, 1)")"
    if [ -z "${best[$1]:-}" ] || awk "BEGIN{exit !($ms < ${best[$1]})}"; then best[$1]=$ms; fi
}
say "A. bulk UPDATE of $SESSIONS sessions x 10, B. INSERT of $ROWS messages; best of $TRIALS"
for t in $(seq 1 "$TRIALS"); do
    for v in v_none v_plpgsql v_cpp; do
        run "A_$v" "UPDATE $v.sessions SET title = 't$t'; UPDATE $v.sessions SET title = 'u$t'; UPDATE $v.sessions SET title = 'v$t'; UPDATE $v.sessions SET title = 'w$t'; UPDATE $v.sessions SET title = 'x$t'; UPDATE $v.sessions SET title = 'y$t'; UPDATE $v.sessions SET title = 'z$t'; UPDATE $v.sessions SET title = 'a$t'; UPDATE $v.sessions SET title = 'b$t'; UPDATE $v.sessions SET title = 'c$t'"
        "${PSQL[@]}" -c "TRUNCATE $v.messages" -c "UPDATE $v.sessions SET message_count = 0, total_tokens = 0, last_message_at = NULL" -c "VACUUM $v.sessions"
        run "B_$v" "INSERT INTO $v.messages (session_id, user_id, role, content, message_metadata, created_at) SELECT md5('s' || (g % $SESSIONS + 1))::uuid, '00000000-0000-0000-0000-000000000001', 'user', 'message ' || g, jsonb_build_object('token_count', g % 50), timestamp '2026-01-01' + g * interval '1 second' FROM generate_series(1, $ROWS) g"
    done
done
"${PSQL[@]}" -c "SELECT 'stats check: ' || (SELECT sum(message_count) FROM v_cpp.sessions) || ' / ' || (SELECT sum(message_count) FROM v_plpgsql.sessions) || ' messages counted'"
n_a=$((SESSIONS * 10))
mkdir -p test/bench/out
{
echo "# Blueprint triggers: C++ vs PL/pgSQL (same run)"
echo
echo "TRIALS=$TRIALS ROWS=$ROWS SESSIONS=$SESSIONS, best of $TRIALS, wall ms of one statement batch"
echo
echo "| workload | none | seed PL/pgSQL | keel C++ | trigger cost PL/pgSQL | trigger cost C++ | C++ / PL/pgSQL |"
echo "|---|---|---|---|---|---|---|"
for w in A B; do
    n="$([ $w = A ] && echo $n_a || echo $ROWS)"
    awk -v w="$w" -v n="$n" -v a="${best[${w}_v_none]}" -v p="${best[${w}_v_plpgsql]}" -v c="${best[${w}_v_cpp]}" 'BEGIN{
        label = (w == "A") ? "A. updated_at, UPDATE of " n " rows" : "B. session stats, INSERT of " n " messages";
        printf "| %s | %.1f ms | %.1f ms | %.1f ms | %.2f us/row | %.2f us/row | %.2f |\n", label, a, p, c, (p-a)*1000/n, (c-a)*1000/n, (c-a)/(p-a) }'
done
} | tee test/bench/out/blueprints.md
