-- All five blueprints in one database, each in its own schema, side by side; the same
-- table names (users, sessions, messages, api_keys) live in several of them.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE SCHEMA "CodeRunner";
CREATE SCHEMA "terminal++";
CREATE SCHEMA "agent link";
CREATE SCHEMA studio;
CREATE SCHEMA "x; DROP TABLE users";
-- As on a server where keel has no master key yet (the suite's server has one).
SET keel.master_key_file = '';
CREATE EXTENSION keel_coderunner SCHEMA "CodeRunner";
CREATE EXTENSION keel_terminalpp SCHEMA "terminal++";
CREATE EXTENSION keel_agentlink SCHEMA "agent link";
CREATE EXTENSION keel_agentstudio SCHEMA studio;
CREATE EXTENSION keel_cozyengine SCHEMA "x; DROP TABLE users";

-- The secret columns are guarded: a write is refused with the key store's error.
INSERT INTO "CodeRunner".users (id, email, password_hash) VALUES ('00000000-0000-0000-0000-00000000000a', 'o@example.com', 'h');
INSERT INTO "CodeRunner".projects (id, user_id, name) VALUES ('00000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-00000000000a', 'p');
INSERT INTO "CodeRunner".deployments (project_id, db_connection_info)
VALUES ('00000000-0000-0000-0000-00000000000b', '{"host": "db.internal", "password": "s3cret"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO "CodeRunner".deployments (project_id) VALUES ('00000000-0000-0000-0000-00000000000b');
RESET keel.master_key_file;
-- With the master key in place the guard says what to do, and enable_encryption() does it.
INSERT INTO "CodeRunner".deployments (project_id, db_connection_info)
VALUES ('00000000-0000-0000-0000-00000000000b', '{"host": "db.internal", "password": "s3cret"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT "CodeRunner".enable_encryption(), "terminal++".enable_encryption(), "agent link".enable_encryption();
INSERT INTO "CodeRunner".deployments (project_id, db_connection_info)
VALUES ('00000000-0000-0000-0000-00000000000b', '{"host": "db.internal", "password": "s3cret"}');
SELECT count(*) AS rows, count(*) FILTER (WHERE db_connection_info::text LIKE '%s3cret%') AS plaintext_visible
  FROM "CodeRunner".deployments;
SELECT format('SELECT %s AS decrypted FROM "CodeRunner".deployments t WHERE t.db_connection_info IS NOT NULL',
              keel.decrypt_column_sql('"CodeRunner".deployments', 'db_connection_info')) \gexec
INSERT INTO "agent link".users (id, email, password_hash, user_type)
VALUES ('00000000-0000-0000-0000-00000000000c', 'c@example.com', 'h', 'creator');
INSERT INTO "agent link".agents (creator_id, name, price_per_call, config_encrypted)
VALUES ('00000000-0000-0000-0000-00000000000c', 'a', 0.01, '\x7b7d');
SELECT config_encrypted <> '\x7b7d' AS stored_encrypted FROM "agent link".agents;
SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE t.tgname LIKE 'keel_encrypt%' ORDER BY 1, 2;

SELECT e.extname, n.nspname, e.extversion, e.extrelocatable,
       array_length(e.extconfig, 1) AS dumped_tables
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname LIKE 'keel\_%' ORDER BY 1;
SELECT keel._blueprint_extensions() ORDER BY 1;
SELECT n.nspname, count(*) AS tables
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('CodeRunner', 'terminal++', 'agent link', 'studio', 'x; DROP TABLE users')
   AND c.relkind IN ('r', 'p') AND NOT c.relispartition
 GROUP BY 1 ORDER BY 1;

-- Each works in its own schema: a user in three of them, with the blueprints' triggers.
INSERT INTO "CodeRunner".users (email, password_hash) VALUES ('a@example.com', 'h');
INSERT INTO "agent link".users (email, password_hash, user_type) VALUES ('a@example.com', 'h', 'developer');
INSERT INTO "x; DROP TABLE users".users (id, username, email, password_hash)
VALUES ('00000000-0000-0000-0000-000000000001', 'ann', 'a@example.com', 'h');
INSERT INTO "x; DROP TABLE users".sessions (id, user_id, personality_id)
VALUES ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', 'assistant-v1');
INSERT INTO "x; DROP TABLE users".messages (session_id, user_id, role, content, message_metadata)
VALUES ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', 'user', 'hello', '{"token_count": 5}');
SELECT message_count, total_tokens FROM "x; DROP TABLE users".sessions;

-- The drop guard runs for every role's DROP SCHEMA without needing any grant.
CREATE ROLE blueprints_app;
CREATE SCHEMA app_scratch AUTHORIZATION blueprints_app;
SET ROLE blueprints_app;
CREATE TABLE app_scratch.t (x int);
DROP SCHEMA app_scratch CASCADE;
SELECT keel._blueprint_extensions();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE blueprints_app;

-- keel itself cannot be dropped from under blueprints that hold rows, even with CASCADE;
-- SET LOCAL keel.allow_blueprint_drop = on is the explicit force, for one transaction.
DROP EXTENSION keel CASCADE;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP SCHEMA "CodeRunner" CASCADE;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
BEGIN;
SET LOCAL keel.allow_blueprint_drop = on;
DROP EXTENSION keel_coderunner;
SELECT count(*) AS coderunner_gone_in_this_transaction FROM pg_extension WHERE extname = 'keel_coderunner';
ROLLBACK;
SELECT count(*) AS coderunner_back FROM pg_extension WHERE extname = 'keel_coderunner';

-- Dropping one blueprint leaves the others alone.
SELECT keel.drop_blueprint('keel_agentstudio');
SELECT count(*) AS left_installed FROM pg_extension WHERE extname LIKE 'keel\_%';
DROP EXTENSION keel_coderunner;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.drop_blueprint('keel_coderunner', force => true);
SELECT keel.drop_blueprint('keel_agentlink', force => true);
SELECT keel.drop_blueprint('keel_cozyengine', force => true);
SELECT keel.drop_blueprint('keel_terminalpp');
SELECT keel.drop_blueprint('keel_terminalpp');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.drop_blueprint('plpgsql');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP SCHEMA "CodeRunner", "terminal++", "agent link", studio, "x; DROP TABLE users";
-- The blueprints' data keys outlive them (a dump may still need them); the suite shares
-- one database, so this test removes its own.
DELETE FROM keel.data_keys WHERE name IN ('coderunner:CodeRunner', 'terminalpp:terminal++', 'agentlink:agent link');
