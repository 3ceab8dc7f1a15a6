-- keel_coderunner: seed 000 (CodeRunner) as a blueprint extension.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set describe :abs_srcdir '/test/blueprints/describe.sql'
\set seed :abs_srcdir '/test/blueprints/seed_000.sql'
\set ECHO none
\i :describe
\set ECHO all

-- 1. The seed's DDL, run as written in a schema of its own, against the blueprint.
CREATE SCHEMA coderunner_seed;
SET search_path = coderunner_seed;
\set ECHO none
\o /dev/null
\i :seed
\o
\set ECHO all
CREATE SCHEMA coderunner;
CREATE EXTENSION keel_coderunner SCHEMA coderunner;
RESET search_path;
SELECT diff, kind, object, definition FROM pg_temp.bp_compare('coderunner_seed', 'coderunner')
 WHERE kind <> 'comment' OR diff = 'seed only';
SET client_min_messages = warning;
DROP SCHEMA coderunner_seed CASCADE;
RESET client_min_messages;

-- 2. Sample data: 300 users, 900 projects, 2700 deployments.
SET search_path = coderunner, public;
INSERT INTO users (id, email, password_hash, plan_type)
SELECT md5('u' || i)::uuid, 'dev' || i || '@example.com', 'hash-' || i,
       (ARRAY['free', 'personal', 'team'])[i % 3 + 1]
  FROM generate_series(1, 300) i;
INSERT INTO projects (id, user_id, name, description)
SELECT md5('p' || i)::uuid, md5('u' || (i % 300 + 1))::uuid, 'project-' || i, 'A demo app'
  FROM generate_series(1, 900) i;
INSERT INTO deployments (id, project_id, app_sandbox_id, public_url, status, runtime_type)
SELECT md5('d' || i)::uuid, md5('p' || (i % 900 + 1))::uuid, 'sbx-' || i,
       'https://app-' || i || '.example.dev',
       (enum_range(NULL::deployment_status))[i % 7 + 1],
       (ARRAY['nodejs', 'python', 'manifest'])[i % 3 + 1]
  FROM generate_series(1, 2700) i;
ANALYZE users, projects, deployments;

-- 3. The indexes the seed defines serve the lookups it names.  (300 users fit in three
-- pages, where a sequential scan is right: enable_seqscan = off for that one lookup.)
SET enable_seqscan = off;
SELECT pg_temp.bp_plan($$SELECT id FROM users WHERE email = 'dev7@example.com'$$);
RESET enable_seqscan;
SELECT pg_temp.bp_plan($$SELECT id FROM projects WHERE user_id = md5('u7')::uuid$$);
SELECT pg_temp.bp_plan($$SELECT id FROM deployments WHERE project_id = md5('p7')::uuid$$);
SELECT pg_temp.bp_plan($$SELECT count(*) FROM deployments WHERE status = 'FAILED'$$);
SELECT status, count(*) FROM deployments GROUP BY status ORDER BY status;

-- 4. updated_at: the seed's trigger names, keel's C++ function.
BEGIN;
UPDATE deployments SET status = 'STOPPED', updated_at = '2000-01-01' WHERE id = md5('d1')::uuid;
SELECT updated_at = now() AS touched FROM deployments WHERE id = md5('d1')::uuid;
COMMIT;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'deployments'::regclass AND NOT tgisinternal;

-- 5. Constraints: the enum, the cascades, the unique sandbox ids.
INSERT INTO deployments (project_id, status) VALUES (md5('p1')::uuid, 'DELETED');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO deployments (id, project_id, app_sandbox_id, created_at, updated_at)
VALUES (md5('dup')::uuid, md5('p1')::uuid, 'sbx-1', '2026-01-01', '2026-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM users WHERE id = md5('u1')::uuid;
SELECT count(*) AS projects, (SELECT count(*) FROM deployments) AS deployments FROM projects;

-- 6. The drop guard.
DROP EXTENSION keel_coderunner;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET search_path;
SELECT keel.drop_blueprint('keel_coderunner', force => true);
DROP SCHEMA coderunner CASCADE;
-- The blueprint's data key outlives the blueprint (a dump may still need it); the suite
-- shares one database, so this test removes its own.
DELETE FROM keel.data_keys WHERE name = 'coderunner:coderunner';
