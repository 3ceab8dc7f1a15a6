-- keel_cozyengine: seed 004 (CozyEngine) as a blueprint extension.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set describe :abs_srcdir '/test/blueprints/describe.sql'
\set seed :abs_srcdir '/test/blueprints/seed_004.sql'
\set ECHO none
\i :describe
\set ECHO all

-- 1. The seed's DDL, run as written in a schema of its own, against the blueprint.
CREATE SCHEMA cozy_seed;
SET search_path = cozy_seed;
\set ECHO none
\o /dev/null
\i :seed
\o
\set ECHO all
CREATE SCHEMA cozy;
-- Partition maintenance takes "now" from keel.maintenance_now when set: the install
-- makes its partitions (3 months back, 3 ahead) around a fixed day.
SET keel.maintenance_now = '2026-03-15 12:00+00';
CREATE EXTENSION keel_cozyengine SCHEMA cozy;
RESET keel.maintenance_now;
RESET search_path;
-- Every difference; "seed only" rows would be defects (none), "blueprint only" rows are
-- keel's additions (docs/blueprints/cozyengine.md).  Partitions made by maintenance
-- around today are left out (they depend on the calendar).
-- (Installed as of 2026-03-15, see keel.maintenance_now above: the partitions made
-- around "today" are then 2025_12..2026_06, so this comparison does not depend on the
-- calendar.  The seed's own five partitions are all there.)
-- (A partition's columns, constraints and indexes are the parent's: only the partitions
-- themselves are listed.)
SELECT diff, kind, object, definition FROM pg_temp.bp_compare('cozy_seed', 'cozy')
 WHERE (kind <> 'comment' OR diff = 'seed only')
   AND (kind = 'table' OR object !~ '^audit_events_(\d{4}_\d{2}|default)');
SELECT parent, part_interval, premake, start_back, retention, retention_mode, default_partition
  FROM keel.partition_config WHERE parent = 'cozy.audit_events'::regclass;
SET client_min_messages = warning;
DROP SCHEMA cozy_seed CASCADE;
RESET client_min_messages;

-- 2. Seed rows: the default personality, and no admin with a known password.
SET search_path = cozy, public;
SELECT id, name, config ->> 'model' AS model, created_by IS NULL AS no_creator FROM personalities;
SELECT count(*) AS admins FROM users WHERE role = 'admin';
SELECT create_admin('short');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 3. Realistic sample data (deterministic ids: md5-derived uuids).
INSERT INTO personalities (id, name, description, config)
VALUES ('coder-v1', 'Coder', 'Pair programmer', '{"model": "gpt-4", "allowed_tools": ["search"]}');
INSERT INTO users (id, username, email, password_hash, role, status, user_metadata, created_at)
SELECT md5('user' || i)::uuid, 'user_' || i, 'user' || i || '@example.com', 'hash-' || i,
       CASE WHEN i = 1 THEN 'admin' ELSE 'user' END,
       CASE WHEN i % 10 = 0 THEN 'inactive' ELSE 'active' END,
       jsonb_build_object('theme', CASE WHEN i % 2 = 0 THEN 'dark' ELSE 'light' END),
       timestamp '2026-01-01' + i * interval '1 hour'
  FROM generate_series(1, 200) i;
INSERT INTO sessions (id, user_id, personality_id, title, created_at, deleted_at)
SELECT md5('session' || i)::uuid, md5('user' || (i % 200 + 1))::uuid,
       CASE WHEN i % 3 = 0 THEN 'coder-v1' ELSE 'assistant-v1' END,
       'Session ' || i, timestamp '2026-02-01' + i * interval '10 minutes',
       CASE WHEN i % 10 = 0 THEN timestamp '2026-03-01' END
  FROM generate_series(1, 1000) i;
INSERT INTO messages (id, session_id, user_id, role, content, message_metadata, created_at)
SELECT md5('message' || i)::uuid, md5('session' || (i % 1000 + 1))::uuid,
       md5('user' || ((i % 1000 + 1) % 200 + 1))::uuid,
       (ARRAY['user', 'assistant', 'system', 'tool'])[i % 4 + 1],
       CASE i % 3 WHEN 0 THEN 'How do I tune PostgreSQL autovacuum for table ' || i || '?'
                  WHEN 1 THEN '我们今天讨论数据库索引 index ' || i
                  ELSE 'Message number ' || i || ' about keel and 全文搜索' END,
       jsonb_build_object('token_count', i % 50, 'model', 'gpt-4'),
       timestamp '2026-02-01' + i * interval '1 minute'
  FROM generate_series(1, 20000) i;
-- Soft-delete every 20th message.
UPDATE messages SET deleted_at = timestamp '2026-03-01' WHERE created_at < timestamp '2026-02-01' + interval '20000 minutes'
   AND (extract(epoch FROM created_at - timestamp '2026-02-01') / 60)::int % 20 = 0;
INSERT INTO audit_events (request_id, user_id, session_id, personality_id, event_type, event_level, payload, created_at)
SELECT 'req-' || (i / 3), md5('user' || (i % 200 + 1))::uuid, md5('session' || (i % 1000 + 1))::uuid,
       'assistant-v1', (ARRAY['TOOL_CALL', 'AUTH_FAIL', 'ENGINE_DEGRADED'])[i % 3 + 1],
       CASE WHEN i % 500 = 7 THEN 'critical' WHEN i % 100 = 0 THEN 'error'
            WHEN i % 10 = 0 THEN 'warning' ELSE 'info' END,
       jsonb_build_object('n', i), timestamp '2026-01-01' + i * interval '7 minutes'
  FROM generate_series(1, 30000) i;
ANALYZE users, sessions, messages, audit_events, personalities, api_keys;

-- 4. The redundant session fields are true (the C++ trigger kept them while loading).
SELECT sum(message_count) AS messages, sum(total_tokens) AS tokens,
       count(*) FILTER (WHERE last_message_at IS NOT NULL) AS with_last FROM sessions;
SELECT refresh_session_stats() AS sessions_that_were_wrong;
-- Soft delete, undelete, edit tokens, move, hard delete: still true after each.
UPDATE messages SET deleted_at = now()::timestamp WHERE id = md5('message' || 20000)::uuid;
UPDATE messages SET message_metadata = '{"token_count": 1000}' WHERE id = md5('message' || 19999)::uuid;
UPDATE messages SET session_id = md5('session' || 1)::uuid WHERE id = md5('message' || 19998)::uuid;
DELETE FROM messages WHERE id = md5('message' || 19997)::uuid;
UPDATE messages SET deleted_at = NULL WHERE id = md5('message' || 20)::uuid;
SELECT refresh_session_stats() AS sessions_that_were_wrong;
SELECT message_count, total_tokens, last_message_at FROM sessions WHERE id = md5('session' || 1)::uuid;
-- A token_count that is not an integer is refused, and nothing is written.
INSERT INTO messages (session_id, user_id, role, content, message_metadata)
VALUES (md5('session' || 1)::uuid, md5('user' || 2)::uuid, 'user', 'x', '{"token_count": "many"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT refresh_session_stats() AS sessions_that_were_wrong;

-- 5. The seed's queries, unchanged, and the indexes the seed says they use.
-- sessions query 1 (idx_sessions_user_last_message / idx_sessions_user_id: both are
-- partial indexes on user_id WHERE deleted_at IS NULL; the seed's index is DESC NULLS
-- FIRST, the query NULLS LAST, so a sort of the user's few sessions remains either way).
PREPARE sessions_q1(uuid) AS
SELECT * FROM sessions
WHERE user_id = $1 AND deleted_at IS NULL
ORDER BY last_message_at DESC NULLS LAST
LIMIT 20;
SELECT pg_temp.bp_plan($$EXECUTE sessions_q1(md5('user7')::uuid)$$);
SELECT title, message_count, total_tokens, last_message_at FROM (
SELECT * FROM sessions
WHERE user_id = md5('user7')::uuid AND deleted_at IS NULL
ORDER BY last_message_at DESC NULLS LAST
LIMIT 20) q;
-- sessions query 2 (idx_sessions_user_id)
PREPARE sessions_q2(uuid) AS
SELECT COUNT(*) FROM sessions
WHERE user_id = $1 AND deleted_at IS NULL;
SELECT pg_temp.bp_plan($$EXECUTE sessions_q2(md5('user7')::uuid)$$);
EXECUTE sessions_q2(md5('user7')::uuid);
-- messages query 1 (idx_messages_session_id)
PREPARE messages_q1(uuid) AS
SELECT * FROM messages
WHERE session_id = $1 AND deleted_at IS NULL
ORDER BY created_at ASC
LIMIT 100;
SELECT pg_temp.bp_plan($$EXECUTE messages_q1(md5('session42')::uuid)$$);
SELECT count(*), min(created_at), max(created_at) FROM (
SELECT * FROM messages
WHERE session_id = md5('session42')::uuid AND deleted_at IS NULL
ORDER BY created_at ASC
LIMIT 100) q;
-- messages query 2: full-text search with the schema's chinese configuration.  The
-- seed's query says to_tsvector('chinese', content); its index says COALESCE(content, ''),
-- so keel's idx_messages_content_fts_query (the query's own expression) serves it.
PREPARE messages_q2(text, uuid) AS
SELECT * FROM messages
WHERE to_tsvector('chinese', content) @@ to_tsquery('chinese', $1)
  AND user_id = $2
  AND deleted_at IS NULL
ORDER BY created_at DESC
LIMIT 20;
SELECT pg_temp.bp_plan($$EXECUTE messages_q2('autovacuum', md5('user44')::uuid)$$);
-- (one user's hundred messages are fewer than the matches of a word, so the planner
-- starts from idx_messages_user_id; searching all messages, it takes the text index)
SELECT pg_temp.bp_plan($$SELECT id FROM messages WHERE to_tsvector('chinese', content) @@ to_tsquery('chinese', '19998')$$);
SELECT count(*) FROM (
SELECT * FROM messages
WHERE to_tsvector('chinese', content) @@ to_tsquery('chinese', 'autovacuum')
  AND user_id = md5('user44')::uuid
  AND deleted_at IS NULL
ORDER BY created_at DESC
LIMIT 20) q;
-- Chinese words inside sentences are found (CJK bigrams), alone or with English.
SELECT to_tsvector('chinese', '我们今天讨论数据库索引 index');
SELECT count(*) AS with_shujuku FROM messages
 WHERE to_tsvector('chinese', content) @@ to_tsquery('chinese', '数据库') AND deleted_at IS NULL;
SELECT count(*) AS with_both FROM messages
 WHERE to_tsvector('chinese', content) @@ to_tsquery('chinese', '全文搜索 & keel') AND deleted_at IS NULL;
SELECT pg_temp.bp_plan($$SELECT id FROM messages WHERE to_tsvector('chinese', content) @@ to_tsquery('chinese', '索引')$$);
-- The seed's own index expression is there too, for queries written with COALESCE.
SELECT pg_temp.bp_plan($$SELECT id FROM messages WHERE to_tsvector('chinese', COALESCE(content, '')) @@ to_tsquery('chinese', 'keel')$$);
-- audit_events query 1 (idx_audit_events_user_id; partition pruning to the recent month).
-- Today lies past the sample's partitions, so the executor prunes to the (empty)
-- default partition; the same query over the sample's dates follows below.
PREPARE audit_q1(uuid) AS
SELECT * FROM audit_events
WHERE user_id = $1
  AND created_at >= CURRENT_DATE - INTERVAL '7 days'
ORDER BY created_at DESC
LIMIT 100;
SELECT pg_temp.bp_plan($$EXECUTE audit_q1(md5('user3')::uuid)$$);
-- audit_events query 2 (partial index idx_audit_events_event_level)
PREPARE audit_q2 AS
SELECT * FROM audit_events
WHERE event_level IN ('error', 'critical')
  AND created_at >= CURRENT_DATE - INTERVAL '1 day'
ORDER BY created_at DESC;
SELECT pg_temp.bp_plan($$EXECUTE audit_q2$$);
-- The same two on the seed's own partitions (fixed dates, so the rows are known).  For
-- one day of events the created_at index is narrower than the partial event_level index,
-- and the planner rightly takes it.
SELECT pg_temp.bp_plan($$SELECT * FROM audit_events WHERE user_id = md5('user3')::uuid
  AND created_at >= DATE '2026-03-10' - INTERVAL '7 days' AND created_at < DATE '2026-03-10' ORDER BY created_at DESC LIMIT 100$$);
SELECT count(*) FROM audit_events
 WHERE user_id = md5('user3')::uuid AND created_at >= DATE '2026-03-10' - INTERVAL '7 days'
   AND created_at < DATE '2026-03-10';
SELECT pg_temp.bp_plan($$SELECT * FROM audit_events WHERE event_level IN ('error', 'critical')
  AND created_at >= DATE '2026-03-10' - INTERVAL '1 day' AND created_at < DATE '2026-03-10' ORDER BY created_at DESC$$);
-- users: the partial, DESC and GIN indexes the seed lists.  200 users fit in a few
-- pages, where a sequential scan is the right plan; enable_seqscan = off here only
-- shows that each index serves its query.
SET enable_seqscan = off;
SELECT pg_temp.bp_plan($$SELECT username FROM users WHERE status = 'active' AND username = 'user_5'$$);
SELECT pg_temp.bp_plan($$SELECT username FROM users ORDER BY created_at DESC LIMIT 5$$);
SELECT pg_temp.bp_plan($$SELECT username FROM users WHERE user_metadata @> '{"theme": "dark"}'$$);
RESET enable_seqscan;
SELECT count(*) FROM users WHERE user_metadata @> '{"theme": "dark"}';

-- 6. Bad input gets a clear error and writes nothing.
INSERT INTO users (id, username, email, password_hash, created_at, updated_at)
VALUES (md5('bad')::uuid, 'bad', 'not-an-email', 'h', '2026-01-01', '2026-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- (terse: the failing row would show its chain hash and signature, which are salted)
\set VERBOSITY terse
INSERT INTO audit_events (id, event_type, event_level, created_at)
VALUES (md5('bad')::uuid, 'X', 'debug', '2026-03-03');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
\set VERBOSITY default
-- audit_events is an append-only chain: no UPDATE or DELETE of events, so the seed's
-- ON DELETE SET NULL cannot clear a deleted user's events and the delete is refused.
UPDATE audit_events SET payload = '{}' WHERE request_id = 'req-1';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM users WHERE id = md5('user3')::uuid;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT ok, rows_checked, first_bad_position FROM keel.verify_audit_chain('audit_events');
INSERT INTO api_keys (id, user_id, key_hash, key_prefix, rate_limit_per_minute, created_at)
VALUES (md5('bad')::uuid, md5('user1')::uuid, repeat('a', 64), 'sk-proj', 0, '2026-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO sessions (id, user_id, personality_id, message_count, created_at, updated_at)
VALUES (md5('bad')::uuid, md5('user1')::uuid, 'assistant-v1', -1, '2026-01-01', '2026-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 7. updated_at: the seed's trigger names, keel's C++ function.
BEGIN;
UPDATE personalities SET updated_at = timestamp '2000-01-01' WHERE id = 'coder-v1';
SELECT updated_at = now()::timestamp AS touched FROM personalities WHERE id = 'coder-v1';
COMMIT;
SELECT tgname, tgfoid::regproc FROM pg_trigger WHERE tgrelid = 'users'::regclass AND NOT tgisinternal;
SELECT prolang = (SELECT oid FROM pg_language WHERE lanname = 'c') AS is_c, prosrc
  FROM pg_proc WHERE oid = 'update_updated_at_column'::regproc;

-- 8. The drop guard: rows in the tables, so a plain DROP EXTENSION is refused.
DROP EXTENSION keel_cozyengine;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET client_min_messages = warning;
DROP SCHEMA cozy CASCADE;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET client_min_messages;
SELECT count(*) AS still_there FROM messages;
RESET search_path;
SELECT keel.drop_blueprint('keel_cozyengine', force => true);
DROP SCHEMA cozy CASCADE;
