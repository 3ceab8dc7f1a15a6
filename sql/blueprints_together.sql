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
CREATE EXTENSION keel_coderunner SCHEMA "CodeRunner";
CREATE EXTENSION keel_terminalpp SCHEMA "terminal++";
CREATE EXTENSION keel_agentlink SCHEMA "agent link";
CREATE EXTENSION keel_agentstudio SCHEMA studio;
CREATE EXTENSION keel_cozyengine SCHEMA "x; DROP TABLE users";

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
INSERT INTO "agent link".users (email, password_hash, user_type) VALUES ('a@example.com', 'h', 'creator');
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
