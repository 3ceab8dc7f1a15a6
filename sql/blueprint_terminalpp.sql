-- keel_terminalpp: seed 001 (Terminal++) as a blueprint extension.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set describe :abs_srcdir '/test/blueprints/describe.sql'
\set seed :abs_srcdir '/test/blueprints/seed_001.sql'
\set ECHO none
\i :describe
\set ECHO all

-- 1. The seed's DDL, run as written in a schema of its own, against the blueprint.
--    (The reference has real[] for VECTOR(1536) and no ivfflat index: no pgvector here.)
CREATE SCHEMA terminalpp_seed;
SET search_path = terminalpp_seed;
\set ECHO none
\o /dev/null
\i :seed
\o
\set ECHO all
CREATE SCHEMA terminalpp;
CREATE EXTENSION keel_terminalpp SCHEMA terminalpp;
RESET search_path;
SELECT diff, kind, object, definition FROM pg_temp.bp_compare('terminalpp_seed', 'terminalpp')
 WHERE kind <> 'comment' OR diff = 'seed only';
SET client_min_messages = warning;
DROP SCHEMA terminalpp_seed CASCADE;
RESET client_min_messages;

-- 2. Sample data.
SET search_path = terminalpp, public;
INSERT INTO users (id, email, username, full_name)
SELECT md5('u' || i)::uuid, 'u' || i || '@example.com', 'user' || i, 'User ' || i
  FROM generate_series(1, 200) i;
INSERT INTO user_sessions (user_id, token_hash, expires_at)
SELECT md5('u' || (i % 200 + 1))::uuid, md5('t' || i), timestamptz '2026-06-01 00:00+00' + i * interval '1 hour'
  FROM generate_series(1, 1000) i;
INSERT INTO sandboxes (id, user_id, name, status)
SELECT md5('s' || i)::uuid, md5('u' || (i % 200 + 1))::uuid, 'box-' || i,
       (ARRAY['stopped', 'starting', 'running', 'error'])[i % 4 + 1]
  FROM generate_series(1, 600) i;
INSERT INTO fs_entries (id, sandbox_id, path, name, type, size_bytes, deleted_at)
SELECT md5('f' || i)::uuid, md5('s' || (i % 600 + 1))::uuid, '/home/user/file' || i || '.py', 'file' || i || '.py',
       'file', i * 10, CASE WHEN i % 10 = 0 THEN timestamptz '2026-06-01 00:00+00' END
  FROM generate_series(1, 6000) i;
INSERT INTO file_versions (fs_entry_id, version_number, size_bytes, change_type, created_at)
SELECT md5('f' || (i % 20 + 1))::uuid, i / 20 + 1, 100, 'modified',
       timestamptz '2026-01-01 00:00+00' + i * interval '1 minute'
  FROM generate_series(0, 1599) i;
INSERT INTO command_executions (sandbox_id, user_id, command, status, created_at)
SELECT md5('s' || (i % 600 + 1))::uuid, md5('u' || ((i % 600 + 1) % 200 + 1))::uuid, 'ls -la /tmp/' || i,
       'completed', timestamptz '2026-03-01 00:00+00' + i * interval '10 minutes'
  FROM generate_series(1, 20000) i;
INSERT INTO audit_logs (user_id, sandbox_id, action, resource_type, details, created_at)
SELECT md5('u' || (i % 200 + 1))::uuid, md5('s' || (i % 600 + 1))::uuid, (ARRAY['login', 'exec', 'share'])[i % 3 + 1],
       'sandbox', jsonb_build_object('n', i), timestamptz '2026-05-01 00:00+00' + i * interval '1 hour'
  FROM generate_series(1, 500) i;
INSERT INTO ai_memory (user_id, memory_type, key, value, embedding, expires_at)
SELECT md5('u' || (i % 200 + 1))::uuid, 'session', 'k' || i, '{}',
       CASE WHEN i % 2 = 0 THEN array_fill(0.5::real, ARRAY[1536]) END,
       CASE WHEN i % 3 = 0 THEN timestamptz '2026-06-15 00:00+00' END
  FROM generate_series(1, 300) i;
ANALYZE;

-- 3. The seed's views, unchanged.
SELECT username, name, status, command_count, last_command_at
  FROM active_sandboxes ORDER BY username, name LIMIT 5;
SELECT count(*) AS active FROM active_sandboxes;
SELECT username, sandbox_count, total_storage_bytes
  FROM user_storage_usage ORDER BY total_storage_bytes DESC, username LIMIT 5;

-- 4. The seed's indexes serve their lookups.
SELECT pg_temp.bp_plan($$SELECT id FROM fs_entries WHERE sandbox_id = md5('s7')::uuid AND path = '/home/user/file6.py'$$);
SELECT pg_temp.bp_plan($$SELECT count(*) FROM command_executions WHERE sandbox_id = md5('s7')::uuid AND user_id = md5('u8')::uuid$$);
SELECT pg_temp.bp_plan($$SELECT count(*) FROM file_versions WHERE fs_entry_id = md5('f3')::uuid$$);
SELECT pg_temp.bp_plan($$SELECT count(*) FROM audit_logs WHERE user_id = md5('u3')::uuid AND action = 'login'$$);
SELECT pg_temp.bp_plan($$SELECT count(*) FROM command_executions ce WHERE ce.sandbox_id = md5('s9')::uuid$$);

-- 5. ai_memory.embedding without pgvector: real[] of exactly 1536 elements.
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'ai_memory'::regclass AND attname = 'embedding';
INSERT INTO ai_memory (id, user_id, memory_type, key, value, embedding, last_accessed_at, created_at)
VALUES (md5('bad')::uuid, md5('u1')::uuid, 'global', 'bad', '{}', ARRAY[1, 2, 3]::real[],
        '2026-01-01 00:00+00', '2026-01-01 00:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT migrate_embedding_to_pgvector();
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 6. The seed's retention statements, as one function, at a chosen instant.
SELECT count(*) FILTER (WHERE expires_at < timestamptz '2026-07-01 00:00+00' - interval '7 days') AS old_sessions,
       (SELECT count(*) FROM command_executions WHERE created_at < timestamptz '2026-07-01 00:00+00' - interval '90 days') AS old_commands,
       (SELECT count(*) FROM ai_memory WHERE expires_at < timestamptz '2026-07-01 00:00+00') AS expired_memory,
       (SELECT count(*) FROM file_versions) AS versions
  FROM user_sessions;
SELECT apply_retention(timestamptz '2026-07-01 00:00+00') AS rows_affected;
SELECT (SELECT count(*) FROM user_sessions) AS sessions,
       (SELECT count(*) FROM command_executions WHERE archived) AS archived,
       (SELECT count(*) FROM ai_memory) AS memory,
       (SELECT max(n) FROM (SELECT count(*) n FROM file_versions GROUP BY fs_entry_id) v) AS max_versions_per_file;
-- A second run at the same instant finds nothing left to do.
SELECT apply_retention(timestamptz '2026-07-01 00:00+00') AS rows_affected;
SELECT apply_retention(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The seed's statements as written run unchanged too (archived exists).
BEGIN;
DELETE FROM user_sessions WHERE expires_at < NOW() - INTERVAL '7 days';
UPDATE command_executions
SET archived = true
WHERE created_at < NOW() - INTERVAL '90 days';
DELETE FROM ai_memory WHERE expires_at IS NOT NULL AND expires_at < NOW();
WITH ranked_versions AS (
    SELECT id, ROW_NUMBER() OVER (PARTITION BY fs_entry_id ORDER BY created_at DESC) as rn
    FROM file_versions
)
DELETE FROM file_versions WHERE id IN (
    SELECT id FROM ranked_versions WHERE rn > 50
);
ROLLBACK;

-- 7. updated_at on every table that has it (the seed defines no trigger).
BEGIN;
UPDATE sandboxes SET status = 'running', updated_at = '2000-01-01' WHERE id = md5('s1')::uuid;
SELECT updated_at = now() AS touched FROM sandboxes WHERE id = md5('s1')::uuid;
COMMIT;
SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'terminalpp'::regnamespace AND t.tgname = 'keel_touch_updated_at' ORDER BY 1;

-- The audit_logs chain, kept beside the table: verified, and append-only.
SELECT ok, rows_checked FROM keel.verify_audit_chain('audit_logs');
DELETE FROM audit_logs WHERE true;
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 8. The drop guard.
DROP EXTENSION keel_terminalpp;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET search_path;
SELECT keel.drop_blueprint('keel_terminalpp', force => true);
DROP SCHEMA terminalpp CASCADE;
-- The blueprint's data key outlives the blueprint (a dump may still need it); the suite
-- shares one database, so this test removes its own.
DELETE FROM keel.data_keys WHERE name = 'terminalpp:terminalpp';
