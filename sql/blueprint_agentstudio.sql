-- keel_agentstudio: seed 003 (an agent studio) as a blueprint extension.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set describe :abs_srcdir '/test/blueprints/describe.sql'
\set seed :abs_srcdir '/test/blueprints/seed_003.sql'
\set ECHO none
\i :describe
\set ECHO all

-- 1. The seed's DDL, run as written in a schema of its own, against the blueprint.
CREATE SCHEMA studio_seed;
SET search_path = studio_seed;
\set ECHO none
\o /dev/null
\i :seed
\o
\set ECHO all
CREATE SCHEMA studio;
CREATE EXTENSION keel_agentstudio SCHEMA studio;
RESET search_path;
SELECT diff, kind, object, definition FROM pg_temp.bp_compare('studio_seed', 'studio')
 WHERE kind <> 'comment' OR diff = 'seed only';
SET client_min_messages = warning;
DROP SCHEMA studio_seed CASCADE;
RESET client_min_messages;

-- 2. Sample data.
SET search_path = studio, public;
INSERT INTO users (id, username, email, password_hash)
SELECT md5('u' || i)::uuid, 'maker' || i, 'maker' || i || '@example.com', 'hash'
  FROM generate_series(1, 100) i;
INSERT INTO sessions (id, user_id, title)
SELECT md5('s' || i)::uuid, md5('u' || (i % 100 + 1))::uuid, 'Session ' || i
  FROM generate_series(1, 500) i;
INSERT INTO runs (id, session_id, user_id, task, status, created_at)
SELECT md5('r' || i)::uuid, md5('s' || (i % 500 + 1))::uuid, md5('u' || ((i % 500 + 1) % 100 + 1))::uuid,
       'Build a landing page #' || i, (ARRAY['running', 'completed', 'failed'])[i % 3 + 1],
       timestamptz '2026-06-01 00:00+00' + i * interval '5 minutes'
  FROM generate_series(1, 5000) i;
INSERT INTO messages (run_id, sender, content, "timestamp")
SELECT md5('r' || (i % 5000 + 1))::uuid, (ARRAY['planner', 'coder', 'critic'])[i % 3 + 1], 'step ' || i,
       timestamptz '2026-06-01 00:00+00' + i * interval '1 minute'
  FROM generate_series(1, 20000) i;
INSERT INTO settings (user_id, key, value)
SELECT md5('u' || i)::uuid, 'theme', '"dark"' FROM generate_series(1, 100) i;
ANALYZE users, sessions, runs, messages, settings;

-- 3. The seed's indexes serve their lookups.
SELECT pg_temp.bp_plan($$SELECT id FROM runs WHERE session_id = md5('s7')::uuid$$);
SELECT pg_temp.bp_plan($$SELECT count(*) FROM runs WHERE status = 'failed' AND created_at >= '2026-06-10'$$);
SELECT pg_temp.bp_plan($$SELECT content FROM messages WHERE run_id = md5('r7')::uuid ORDER BY "timestamp"$$);
SELECT pg_temp.bp_plan($$SELECT value FROM settings WHERE user_id = md5('u7')::uuid AND key = 'theme'$$);

-- 4. updated_at on every table that has it (the seed forgot the trigger).
BEGIN;
UPDATE runs SET status = 'completed', updated_at = '2000-01-01' WHERE id = md5('r1')::uuid;
SELECT updated_at = now() AS touched FROM runs WHERE id = md5('r1')::uuid;
COMMIT;
SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'studio'::regnamespace AND NOT t.tgisinternal ORDER BY 1;
INSERT INTO settings (user_id, key, value) VALUES (md5('u1')::uuid, 'theme', '"light"');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 5. The drop guard.
DROP EXTENSION keel_agentstudio;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET search_path;
SELECT keel.drop_blueprint('keel_agentstudio', force => true);
DROP SCHEMA studio CASCADE;
