-- Released blueprint tables (src/sql/keel/520_blueprint_release.sql): the tables keel keeps
-- changing after the install (audit chains, time partitions) leave their extension so
-- pg_dump carries them whole, and still go with their blueprint.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
\set SHOW_CONTEXT never
CREATE SCHEMA "rel tp";
CREATE SCHEMA rel_ce;
CREATE EXTENSION keel_terminalpp SCHEMA "rel tp";
CREATE EXTENSION keel_cozyengine SCHEMA rel_ce;

-- 1. Released: not members, recorded, chained; their partitions are not members either.
SELECT ext, table_schema, table_name FROM keel.blueprint_released
 WHERE table_schema IN ('rel tp', 'rel_ce') ORDER BY 2, 3;
SELECT c.relname, e.extname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  LEFT JOIN pg_extension e ON e.oid = d.refobjid
 WHERE n.nspname IN ('rel tp', 'rel_ce')
   AND c.relname IN ('audit_logs', 'audit_events', 'audit_events_2026_01', 'users', 'messages')
 ORDER BY 1;
SELECT count(*) AS chained FROM keel.audit_chain
 WHERE table_name IN ('"rel tp".audit_logs', 'rel_ce.audit_events');

-- 2. An empty blueprint drops with its released tables and forgets their chains.
DROP EXTENSION keel_cozyengine;
SELECT to_regclass('rel_ce.audit_events') AS audit_events,
       to_regclass('rel_ce.audit_events_2026_01') AS a_partition,
       (SELECT count(*) FROM keel.audit_chain WHERE table_name = 'rel_ce.audit_events') AS chain,
       (SELECT count(*) FROM keel.blueprint_released WHERE table_schema = 'rel_ce') AS released;
-- and installs again in the same schema
CREATE EXTENSION keel_cozyengine SCHEMA rel_ce;
SELECT count(*) AS chained_again FROM keel.audit_chain WHERE table_name = 'rel_ce.audit_events';
-- the install's own row (the default personality) does not hold the blueprint, an edit of it does
SELECT count(*) AS install_rows FROM rel_ce.personalities;
UPDATE rel_ce.personalities SET description = 'ours now' WHERE id = 'assistant-v1';
DROP EXTENSION keel_cozyengine CASCADE;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.drop_blueprint('keel_cozyengine', force => true, "cascade" => true);
SELECT to_regclass('rel_ce.audit_events') AS audit_events_after_cascade,
       (SELECT count(*) FROM keel.blueprint_own_rows WHERE ext = 'keel_cozyengine') AS own_rows_marks;

-- 3. Rows in a released table alone hold the blueprint: the drop guard counts them.
INSERT INTO "rel tp".audit_logs (action, resource_type) VALUES ('login', 'user');
SELECT count(*) AS member_rows FROM "rel tp".users;
DROP EXTENSION keel_terminalpp;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS audit_rows_kept FROM "rel tp".audit_logs;
SELECT keel.drop_blueprint('keel_terminalpp', force => true);
SELECT to_regclass('"rel tp".audit_logs') AS audit_logs,
       (SELECT count(*) FROM keel.audit_chain WHERE table_name = '"rel tp".audit_logs') AS chain,
       (SELECT count(*) FROM keel.blueprint_released WHERE table_schema = 'rel tp') AS released;

-- 4. Restore detection: row_security off alone (a session may set it) is not a restore;
--    pg_dump's own statement with it is.  An install typed by hand keeps its tables.
SET row_security = off;
SELECT keel.blueprint_restoring() AS what_a_row_trigger_sees;
CREATE EXTENSION keel_cozyengine SCHEMA rel_ce;
SELECT to_regclass('rel_ce.audit_events') IS NOT NULL AS audit_events_made;
DROP EXTENSION keel_cozyengine;
CREATE EXTENSION IF NOT EXISTS keel_cozyengine WITH SCHEMA rel_ce;
SELECT to_regclass('rel_ce.audit_events') IS NULL AS left_to_the_dump,
       (SELECT count(*) FROM rel_ce.personalities) AS personalities_left_to_the_dump;
DROP EXTENSION keel_cozyengine;
RESET row_security;

-- 5. DROP EXTENSION of something that is not there, or not a blueprint, is untouched.
DROP EXTENSION IF EXISTS keel_no_such_blueprint;
DROP EXTENSION keel_no_such_blueprint;
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 6. Bad input.
SELECT keel.release_blueprint_table(NULL, 'pg_class');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.release_blueprint_table('keel', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE rel_ce.plain (id int);
SELECT keel.release_blueprint_table('keel', 'rel_ce.plain');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.release_blueprint_table('keel_no_such_blueprint', 'rel_ce.plain');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

SELECT keel.mark_blueprint_own_rows('keel', NULL, 'true');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.mark_blueprint_own_rows('keel', 'rel_ce.plain', 'id = ');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.mark_blueprint_own_rows('keel', 'rel_ce.plain', 'no_such_column = 1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM keel.blueprint_own_rows WHERE tbl::text = 'rel_ce.plain';

-- 7. Only an administrator releases tables.
CREATE ROLE release_app;
SET ROLE release_app;
SELECT keel.release_blueprint_table('keel', 'pg_catalog.pg_class');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM keel.blueprint_released;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE release_app;

SET client_min_messages = warning;
DROP SCHEMA "rel tp", rel_ce CASCADE;
RESET client_min_messages;
DELETE FROM keel.data_keys
 WHERE name IN ('terminalpp:rel tp', 'terminalpp-audit:rel tp', 'cozyengine-audit:rel_ce');
