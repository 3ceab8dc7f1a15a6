-- The append-only guards of a chained table that table triggers cannot give
-- (src/sql/keel/310_audit_chain_guards.sql): TRUNCATE guards on later partitions,
-- DROP / DETACH / ATTACH refusals, and every path that stays allowed.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA audit_chain_guards_test;
SET search_path = audit_chain_guards_test, public;
\set SHOW_CONTEXT never

SELECT count(*) FROM keel.create_key('audit_chain_guards_test', 'hmac');
CREATE ROLE audit_chain_guards_owner;
GRANT USAGE, CREATE ON SCHEMA audit_chain_guards_test TO audit_chain_guards_owner;

-- A partitioned table owned by an ordinary role, chained by the administrator.
SET ROLE audit_chain_guards_owner;
CREATE TABLE ev (id int NOT NULL, at date NOT NULL, msg text) PARTITION BY RANGE (at);
CREATE TABLE ev_01 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
RESET ROLE;
SELECT keel.enable_audit_chain('ev', key_name => 'audit_chain_guards_test') > 0 AS chained;

-- ---------------------------------------------------------------- new partitions get the TRUNCATE guard
-- (made by the administrator: PostgreSQL checks EXECUTE on the cloned chain trigger's
-- function, which an ordinary role does not have)
CREATE TABLE ev_02 PARTITION OF ev FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
CREATE TABLE ev_03 (id int NOT NULL, at date NOT NULL, msg text);
ALTER TABLE ev ATTACH PARTITION ev_03 FOR VALUES FROM ('2024-03-01') TO ('2024-04-01');
-- a sub-partitioned partition and its own partitions
CREATE TABLE ev_q2 PARTITION OF ev FOR VALUES FROM ('2024-04-01') TO ('2024-07-01') PARTITION BY RANGE (at);
CREATE TABLE "ev 04; x" PARTITION OF ev_q2 FOR VALUES FROM ('2024-04-01') TO ('2024-05-01');
CREATE TABLE ev_05 (id int NOT NULL, at date NOT NULL, msg text);
ALTER TABLE ev_q2 ATTACH PARTITION ev_05 FOR VALUES FROM ('2024-05-01') TO ('2024-06-01');
CREATE TABLE ev_06 PARTITION OF ev FOR VALUES FROM ('2024-07-01') TO ('2024-08-01');
ALTER TABLE ev_02 OWNER TO audit_chain_guards_owner;
ALTER TABLE ev_03 OWNER TO audit_chain_guards_owner;
ALTER TABLE ev_q2 OWNER TO audit_chain_guards_owner;
ALTER TABLE "ev 04; x" OWNER TO audit_chain_guards_owner;
ALTER TABLE ev_05 OWNER TO audit_chain_guards_owner;
ALTER TABLE ev_06 OWNER TO audit_chain_guards_owner;
SELECT c.relname, (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid
                      AND t.tgname = 'keel_audit_chain_truncate') AS truncate_guards
  FROM pg_class c WHERE c.relnamespace = 'audit_chain_guards_test'::regnamespace AND c.relkind IN ('r', 'p')
 ORDER BY 1;
INSERT INTO ev VALUES (1, '2024-01-05', 'jan'), (2, '2024-02-05', 'feb'), (3, '2024-03-05', 'mar'),
                      (4, '2024-04-05', 'apr'), (5, '2024-05-05', 'may');
SET ROLE audit_chain_guards_owner;
TRUNCATE ev_02;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE ev_03;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE ev_q2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE "ev 04; x";
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT ok, rows_checked FROM keel.verify_audit_chain('ev');

-- ---------------------------------------------------------------- refused: DROP and DETACH of a partition
SET ROLE audit_chain_guards_owner;
DROP TABLE ev_02;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE "ev 04; x";
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE ev_q2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER TABLE ev DETACH PARTITION ev_02;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER TABLE ev_q2 DETACH PARTITION ev_05;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- an empty partition too: every partition leaves through the retention path
DROP TABLE ev_06;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- CONCURRENTLY commits half-way: never allowed on a chained table
ALTER TABLE ev DETACH PARTITION ev_02 CONCURRENTLY;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER TABLE ev_q2 DETACH PARTITION ev_05 CONCURRENTLY;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
-- a superuser is refused the same way, also under session_replication_role = replica
DROP TABLE ev_02;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
BEGIN;
SET LOCAL session_replication_role = replica;
ALTER TABLE ev DETACH PARTITION ev_02;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- the permission is for the retired partition only, not a neighbour
BEGIN;
SELECT keel.audit_chain_retire_partition('ev', 'ev_01');
DROP TABLE ev_01, ev_02;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- nor after its transaction ended
BEGIN;
SELECT keel.audit_chain_retire_partition('ev', 'ev_01');
ROLLBACK;
DROP TABLE ev_01;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- an ordinary role cannot forge the permission or the override
SET ROLE audit_chain_guards_owner;
SET keel.audit_chain_retiring = ',1,';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET keel.audit_chain_allow_drop = on;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.audit_chain_retire_partition('ev', 'ev_01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT ok, rows_checked FROM keel.verify_audit_chain('ev');

-- ---------------------------------------------------------------- refused: ATTACH of a table holding rows
CREATE TABLE ev_08 (id int NOT NULL, at date NOT NULL, msg text);
INSERT INTO ev_08 VALUES (8, '2024-08-08', 'around the chain');
ALTER TABLE ev ATTACH PARTITION ev_08 FOR VALUES FROM ('2024-08-01') TO ('2024-09-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS attached FROM pg_inherits WHERE inhrelid = 'ev_08'::regclass;
DROP TABLE ev_08;

-- ---------------------------------------------------------------- refused: DROP of a chained table holding rows
SET ROLE audit_chain_guards_owner;
DROP TABLE ev;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP TABLE ev;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP SCHEMA audit_chain_guards_test CASCADE;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP OWNED BY audit_chain_guards_owner;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE plain_chain (id int, msg text);
SELECT keel.enable_audit_chain('plain_chain', key_name => 'audit_chain_guards_test') > 0 AS chained;
INSERT INTO plain_chain VALUES (1, 'one');
DROP TABLE plain_chain;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT ok, rows_checked FROM keel.verify_audit_chain('ev');

-- ---------------------------------------------------------------- allowed
-- retention path: retire, then DROP (a sub-partitioned partition takes its partitions along)
BEGIN;
SELECT keel.audit_chain_retire_partition('ev', 'ev_01');
DROP TABLE ev_01;
COMMIT;
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT keel.audit_chain_retire_partition('ev', 'ev_02');
SELECT keel.audit_chain_retire_partition('ev', 'ev_03');
ALTER TABLE ev DETACH PARTITION ev_02;
DROP TABLE ev_03;
COMMIT;
SELECT relispartition FROM pg_class WHERE oid = 'ev_02'::regclass;
BEGIN;
SELECT keel.audit_chain_retire_partition('ev', 'ev_q2');
DROP TABLE ev_q2;
COMMIT;
-- an empty partition retires with no checkpoint
BEGIN;
SELECT keel.audit_chain_retire_partition('ev', 'ev_06');
ALTER TABLE ev DETACH PARTITION ev_06;
COMMIT;
SELECT partition_name, rows_retired FROM keel.audit_checkpoint
 WHERE partition_name LIKE 'audit_chain_guards_test.%' ORDER BY pos;
SELECT ok, rows_checked FROM keel.verify_audit_chain('ev');
-- an empty table attaches (and gets its guard); other DDL is untouched
CREATE TABLE ev_09 (id int NOT NULL, at date NOT NULL, msg text);
ALTER TABLE ev ATTACH PARTITION ev_09 FOR VALUES FROM ('2024-09-01') TO ('2024-10-01');
ALTER TABLE ev ADD COLUMN note text;
CREATE TABLE unchained (id int);
DROP TABLE unchained;
DROP TABLE ev_02;
SELECT count(*) AS guards FROM pg_trigger WHERE tgrelid = 'ev_09'::regclass AND tgname = 'keel_audit_chain_truncate';
-- keel's own partition maintenance: new partitions are guarded, retention drops through the checkpoint
CREATE TABLE logs (id int NOT NULL, at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT action, object FROM keel.partition_by_time('logs', 'month', premake => 1, start_back => 1,
                                                  default_partition => false, as_of => '2024-02-15 00:00+00');
SELECT keel.enable_audit_chain('logs', key_name => 'audit_chain_guards_test') > 0 AS chained;
INSERT INTO logs VALUES (1, '2024-01-10 00:00+00'), (2, '2024-02-10 00:00+00');
SELECT action, object FROM keel.partition_by_time('logs', 'month', premake => 1, start_back => 0,
                                                  retention => '1 month', default_partition => false,
                                                  as_of => '2024-03-15 00:00+00');
SELECT c.relname, (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid
                      AND t.tgname = 'keel_audit_chain_truncate') AS truncate_guards
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'logs'::regclass ORDER BY 1;
SELECT ok, rows_checked FROM keel.verify_audit_chain('logs');
-- a chained table with no rows drops (its links were all retired)
BEGIN;
DROP TABLE ev;
ROLLBACK;
-- the superuser's override, for one transaction
BEGIN;
SET LOCAL keel.audit_chain_allow_drop = on;
DROP TABLE plain_chain;
ROLLBACK;
-- disabling the chain first (forget => true also deletes the links)
SELECT keel.disable_audit_chain('plain_chain', forget => true);
DROP TABLE plain_chain;
SELECT keel.disable_audit_chain('logs', forget => true);
SELECT keel.disable_audit_chain('ev', forget => true);

SET client_min_messages = warning;
DROP SCHEMA audit_chain_guards_test CASCADE;
DROP ROLE audit_chain_guards_owner;
DELETE FROM keel.data_keys WHERE name = 'audit_chain_guards_test';
RESET client_min_messages;
