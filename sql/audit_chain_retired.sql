-- keel.audit_chain_retire_partition on a partition retired already: the state of a
-- logical-replication subscriber, which receives the publisher's checkpoint and link
-- deletions but not its DROP (test/t/706_logical_replication.pl runs it for real).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
\set SHOW_CONTEXT never
CREATE SCHEMA audit_chain_retired_test;
SET search_path = audit_chain_retired_test, public;
CREATE TABLE ev (id int NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE ev_01 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE ev_02 PARTITION OF ev FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
CREATE TABLE ev_03 PARTITION OF ev FOR VALUES FROM ('2024-03-01') TO ('2024-04-01');
SELECT keel.enable_audit_chain('ev', key_name => 'retired_test') > 0 AS chained;
INSERT INTO ev SELECT g, date '2024-01-01' + g FROM generate_series(0, 80) g;

-- 1. Retire January but keep the partition (what a subscriber is left with): its rows
--    are no longer linked, the checkpoint counts them, the rest still verifies.
BEGIN;
SELECT keel.audit_chain_retire_partition('ev', 'ev_01');
COMMIT;
SELECT partition_name, rows_retired FROM keel.audit_checkpoint
 WHERE partition_name LIKE 'audit_chain_retired_test.%' ORDER BY 1;
-- a plain DROP is still refused
DROP TABLE ev_01;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- through the retention path it is allowed, and records no second checkpoint
BEGIN;
SELECT keel.audit_chain_retire_partition('ev', 'ev_01');
DROP TABLE ev_01;
COMMIT;
SELECT count(*) AS checkpoints FROM keel.audit_checkpoint
 WHERE partition_name LIKE 'audit_chain_retired_test.%';
SELECT ok, rows_checked FROM keel.verify_audit_chain('ev');

-- 2. Rows that were never linked and have no checkpoint are still refused.
SET session_replication_role = replica;
INSERT INTO ev_03 VALUES (1000, '2024-03-20');
RESET session_replication_role;
BEGIN;
SELECT keel.audit_chain_retire_partition('ev', 'ev_02');
DROP TABLE ev_02;
COMMIT;
SELECT keel.audit_chain_retire_partition('ev', 'ev_03');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT to_regclass('ev_03') IS NOT NULL AS ev_03_kept;
-- a partition none of whose rows is linked, with no checkpoint naming it: refused too
CREATE TABLE ev_04 PARTITION OF ev FOR VALUES FROM ('2024-04-01') TO ('2024-05-01');
SET session_replication_role = replica;
INSERT INTO ev_04 VALUES (2000, '2024-04-02'), (2001, '2024-04-03');
RESET session_replication_role;
SELECT keel.audit_chain_retire_partition('ev', 'ev_04');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

SET client_min_messages = warning;
SELECT keel.disable_audit_chain('ev', forget => true);
DROP SCHEMA audit_chain_retired_test CASCADE;
DELETE FROM keel.data_keys WHERE name = 'retired_test';
RESET client_min_messages;
