-- keel_agentlink: seed 002 (AgentLink) as a blueprint extension.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set describe :abs_srcdir '/test/blueprints/describe.sql'
\set seed :abs_srcdir '/test/blueprints/seed_002.sql'
\set ECHO none
\i :describe
\set ECHO all

-- 1. The seed's DDL, run as written in a schema of its own, against the blueprint.
CREATE SCHEMA agentlink_seed;
SET search_path = agentlink_seed;
\set ECHO none
\o /dev/null
\i :seed
\o
\set ECHO all
CREATE SCHEMA agentlink;
CREATE EXTENSION keel_agentlink SCHEMA agentlink;
RESET search_path;
SELECT diff, kind, object, definition FROM pg_temp.bp_compare('agentlink_seed', 'agentlink')
 WHERE kind <> 'comment' OR diff = 'seed only';
SET client_min_messages = warning;
DROP SCHEMA agentlink_seed CASCADE;
RESET client_min_messages;

-- 2. Sample data: creators, developers, agents, keys, quotas, a call log.
SET search_path = agentlink, public;
INSERT INTO users (id, email, password_hash, user_type, wallet_address)
SELECT md5('u' || i)::uuid, 'u' || i || '@example.com', 'hash',
       (ARRAY['creator', 'developer', 'developer', 'admin'])[i % 4 + 1],
       CASE WHEN i % 5 = 0 THEN '0x' || substr(md5('w' || i) || md5('x' || i), 1, 40) END
  FROM generate_series(1, 400) i;
INSERT INTO agents (id, creator_id, name, status, price_per_call)
SELECT md5('a' || i)::uuid, md5('u' || (i % 100 * 4 + 1))::uuid, 'agent-' || i,
       (ARRAY['draft', 'active', 'inactive'])[i % 3 + 1], 0.001 * (i % 20 + 1)
  FROM generate_series(1, 300) i;
INSERT INTO api_keys (id, user_id, key_hash, key_prefix, name)
SELECT md5('k' || i)::uuid, md5('u' || i)::uuid, encode(sha256(('key' || i)::bytea), 'hex'), 'ak_' || lpad(i::text, 8, '0'), 'default'
  FROM generate_series(1, 400) i;
INSERT INTO quotas (user_id, total_quota, used_quota)
SELECT md5('u' || i)::uuid, 100, 0 FROM generate_series(1, 400) i;
INSERT INTO call_logs (agent_id, user_id, api_key_id, request_tokens, response_tokens, total_tokens,
                       cost, latency_ms, status, correlation_id, created_at)
SELECT md5('a' || (i % 300 + 1))::uuid, md5('u' || (i % 400 + 1))::uuid, md5('k' || (i % 400 + 1))::uuid,
       i % 500, i % 700, i % 500 + i % 700, 0.001, i % 900, CASE WHEN i % 50 = 0 THEN 'error' ELSE 'ok' END,
       md5('c' || i)::uuid::text, timestamptz '2026-06-01 00:00+00' + i * interval '1 minute'
  FROM generate_series(1, 20000) i;
ANALYZE users, agents, api_keys, quotas, call_logs;

-- 3. The seed's indexes serve their lookups.
SELECT pg_temp.bp_plan($$SELECT id FROM users WHERE wallet_address = '0x0123'$$);
-- (300 agents fit in a few pages: enable_seqscan = off shows idx_agents_creator serving it)
SET enable_seqscan = off;
SELECT pg_temp.bp_plan($$SELECT id FROM agents WHERE creator_id = md5('u5')::uuid$$);
RESET enable_seqscan;
SELECT pg_temp.bp_plan($$SELECT user_id FROM api_keys WHERE key_hash = encode(sha256('key7'::bytea), 'hex')$$);
SELECT pg_temp.bp_plan($$SELECT count(*) FROM call_logs WHERE agent_id = md5('a7')::uuid$$);
SELECT pg_temp.bp_plan($$SELECT count(*) FROM call_logs WHERE created_at >= '2026-06-10' AND created_at < '2026-06-11'$$);

-- 4. Quotas are consumed atomically: never past total_quota.
SELECT consume_quota(md5('u1')::uuid, 60) AS first_60, consume_quota(md5('u1')::uuid, 60) AS next_60,
       consume_quota(md5('u1')::uuid, 40) AS last_40, consume_quota(md5('u1')::uuid) AS one_more;
SELECT total_quota, used_quota FROM quotas WHERE user_id = md5('u1')::uuid;
SELECT release_quota(md5('u1')::uuid, 10), consume_quota(md5('u1')::uuid, 10);
SELECT consume_quota(md5('u1')::uuid, 2147483647) AS overflow_refused;
SELECT consume_quota(md5('u1')::uuid, 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT consume_quota(md5('nobody')::uuid);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT consume_quota(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 5. The seed's CHECK constraints.
INSERT INTO users (id, email, password_hash, user_type, created_at, updated_at)
VALUES (md5('bad')::uuid, 'x@example.com', 'h', 'robot', '2026-01-01 00:00+00', '2026-01-01 00:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO agents (id, creator_id, name, status, price_per_call, created_at, updated_at)
VALUES (md5('bad')::uuid, md5('u1')::uuid, 'bad', 'deleted', 0.01, '2026-01-01 00:00+00', '2026-01-01 00:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 6. updated_at on every table that has it (the seed defines no trigger).
BEGIN;
UPDATE agents SET version = version + 1, updated_at = '2000-01-01' WHERE id = md5('a1')::uuid;
SELECT updated_at = now() AS touched FROM agents WHERE id = md5('a1')::uuid;
COMMIT;
SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'agentlink'::regnamespace AND NOT t.tgisinternal ORDER BY 1;

-- The call_logs chain, kept beside the table: verified, and append-only.
SELECT ok, rows_checked FROM keel.verify_audit_chain('call_logs');
DELETE FROM call_logs WHERE true;
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 7. The drop guard.
DROP EXTENSION keel_agentlink;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET search_path;
SELECT keel.drop_blueprint('keel_agentlink', force => true);
DROP SCHEMA agentlink CASCADE;
-- The blueprint's data key outlives the blueprint (a dump may still need it); the suite
-- shares one database, so this test removes its own.
DELETE FROM keel.data_keys WHERE name = 'agentlink:agentlink';
