-- The fast verification pass (src/pg/audit_chain_verify_pass.cpp): the leader checks
-- every link in order while parallel workers read the rows, and the two sides are
-- compared as keyed multiset sums; any difference falls back to the row-by-row pass,
-- which names the break.  Forced on here for tables of a few dozen pages; the DEBUG
-- lines say which pass answered.  Every break must be reported exactly as the
-- row-by-row pass alone reports it (audit_chain.sql).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA audit_chain_parallel_test;
SET search_path = audit_chain_parallel_test, public;
\set SHOW_CONTEXT never
-- statement logging would reach the client at client_min_messages = debug1
SET log_statement = 'none';
SET min_parallel_table_scan_size = 0;
SET max_parallel_maintenance_workers = 2;

-- ---------------------------------------------------------------- chain in the rows
CREATE TABLE ledger (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account text NOT NULL,
    amount numeric NOT NULL,
    memo text,
    previous_hash varchar(64),
    signature varchar(64)
);
SELECT keel.enable_audit_chain('ledger', 'previous_hash', 'signature') > 0 AS enabled;
INSERT INTO ledger (account, amount, memo)
SELECT 'acct-' || (g % 7), g, CASE WHEN g % 3 = 0 THEN NULL ELSE repeat('m', g % 50) END
FROM generate_series(1, 3000) g;
SELECT pg_relation_size('ledger') > 10 * current_setting('block_size')::int AS several_pages;
SELECT keel.audit_chain_digest('ledger') AS digest \gset
SET client_min_messages = debug1;
SELECT ok, rows_checked FROM keel.verify_audit_chain('ledger');
SELECT ok, rows_checked FROM keel.verify_audit_chain('ledger', :'digest');
RESET client_min_messages;

-- every kind of break, made by a superuser with the triggers off and rolled back
BEGIN;
ALTER TABLE ledger DISABLE TRIGGER USER;
UPDATE ledger SET amount = amount + 1 WHERE id = 2500;
SET LOCAL client_min_messages = debug1;
SELECT ok, rows_checked, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('ledger');
ROLLBACK;
BEGIN;
ALTER TABLE ledger DISABLE TRIGGER USER;
DELETE FROM ledger WHERE id = 1700;
SET LOCAL client_min_messages = debug1;
SELECT ok, rows_checked, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('ledger');
ROLLBACK;
BEGIN;
ALTER TABLE ledger DISABLE TRIGGER USER;
INSERT INTO ledger (account, amount, previous_hash, signature)
SELECT 'smuggled', 1, previous_hash, signature FROM ledger WHERE id = 10;
SET LOCAL client_min_messages = debug1;
SELECT ok, rows_checked, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('ledger');
ROLLBACK;
BEGIN;
ALTER TABLE ledger DISABLE TRIGGER USER;
UPDATE ledger e SET previous_hash = o.previous_hash, signature = o.signature
  FROM ledger o WHERE (e.id, o.id) IN ((1200, 2900), (2900, 1200));
SET LOCAL client_min_messages = debug1;
SELECT ok, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('ledger');
ROLLBACK;
BEGIN;
ALTER TABLE ledger DISABLE TRIGGER USER;
UPDATE ledger SET signature = repeat('ab', 32) WHERE id = 77;
SET LOCAL client_min_messages = debug1;
SELECT ok, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('ledger');
ROLLBACK;
-- a chain column that is not a hash at all
BEGIN;
ALTER TABLE ledger DISABLE TRIGGER USER;
UPDATE ledger SET previous_hash = NULL WHERE id = 3000;
SET LOCAL client_min_messages = debug1;
SELECT ok, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('ledger');
ROLLBACK;
BEGIN;
UPDATE keel.audit_link SET signature = sha256(signature)
 WHERE chain_id = keel._audit_chain_id('ledger') AND pos = 1500;
SET LOCAL client_min_messages = debug1;
SELECT ok, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('ledger');
ROLLBACK;
-- the tail cut off: rows and links agree, only the digest knows
BEGIN;
ALTER TABLE ledger DISABLE TRIGGER USER;
DELETE FROM ledger WHERE id > 2990;
DELETE FROM keel.audit_link WHERE chain_id = keel._audit_chain_id('ledger') AND pos > 2990;
SET LOCAL client_min_messages = debug1;
SELECT ok, rows_checked FROM keel.verify_audit_chain('ledger');
SELECT ok, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('ledger', :'digest');
ROLLBACK;

-- ---------------------------------------------------------------- beside the table, partitioned, 4 sub-chains
CREATE TABLE calls (id bigint GENERATED ALWAYS AS IDENTITY, agent text, tokens int,
                    at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE calls_1 PARTITION OF calls FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE calls_2 PARTITION OF calls FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
CREATE TABLE calls_3 PARTITION OF calls FOR VALUES FROM ('2024-03-01') TO ('2024-04-01');
CREATE TABLE calls_empty PARTITION OF calls FOR VALUES FROM ('2025-01-01') TO ('2025-02-01');
SELECT keel.enable_audit_chain('calls', sub_chains => 4) > 0 AS enabled;
INSERT INTO calls (agent, tokens, at)
SELECT 'agent-' || (g % 5), g, timestamptz '2024-01-01' + g * interval '30 minutes'
FROM generate_series(1, 3000) g;
-- identical rows each have their own link
INSERT INTO calls (agent, tokens, at) SELECT 'same', 1, '2024-02-02' FROM generate_series(1, 3);
SET client_min_messages = debug1;
SELECT ok, rows_checked FROM keel.verify_audit_chain('calls', keel.audit_chain_digest('calls'));
RESET client_min_messages;
BEGIN;
ALTER TABLE calls DISABLE TRIGGER USER;
UPDATE calls SET tokens = -1 WHERE id = 2222;
SET LOCAL client_min_messages = debug1;
SELECT ok, rows_checked, break_kind, detail ~ 'no longer hashes to its link' AS detail_ok
  FROM keel.verify_audit_chain('calls');
ROLLBACK;
BEGIN;
ALTER TABLE calls DISABLE TRIGGER USER;
DELETE FROM calls WHERE agent = 'same' AND ctid = (SELECT min(ctid) FROM calls_2 WHERE agent = 'same');
SET LOCAL client_min_messages = debug1;
SELECT ok, rows_checked, break_kind FROM keel.verify_audit_chain('calls');
ROLLBACK;

-- ---------------------------------------------------------------- where it stays in one process
SET client_min_messages = debug1;
-- parallel workers not allowed: no DEBUG line, the row-by-row pass answers
SET max_parallel_maintenance_workers = 0;
SELECT ok, rows_checked FROM keel.verify_audit_chain('ledger');
RESET max_parallel_maintenance_workers;
SET max_parallel_maintenance_workers = 2;
-- a small table (below min_parallel_table_scan_size)
SET min_parallel_table_scan_size = '8MB';
SELECT ok, rows_checked FROM keel.verify_audit_chain('ledger');
SET min_parallel_table_scan_size = 0;
-- a temporary table (its pages are in this backend's own buffers)
RESET client_min_messages;
CREATE TEMP TABLE scratch (id int, note text);
SELECT keel.enable_audit_chain('pg_temp.scratch') > 0 AS enabled;
INSERT INTO scratch SELECT g, repeat('n', 100) FROM generate_series(1, 500) g;
SET client_min_messages = debug1;
SELECT ok, rows_checked FROM keel.verify_audit_chain('pg_temp.scratch');
RESET client_min_messages;

-- ---------------------------------------------------------------- in a subtransaction, serializable
SET client_min_messages = debug1;
DO $$
DECLARE r record;
BEGIN
    BEGIN
        SELECT ok, rows_checked INTO r FROM keel.verify_audit_chain('audit_chain_parallel_test.ledger');
        RAISE NOTICE 'in a subtransaction: ok %, % rows', r.ok, r.rows_checked;
        PERFORM 1 / 0;
    EXCEPTION WHEN division_by_zero THEN
        RAISE NOTICE 'rolled back to the savepoint';
    END;
END $$;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT ok, rows_checked FROM keel.verify_audit_chain('ledger');
INSERT INTO ledger (account, amount) VALUES ('late', 1);
SELECT ok, rows_checked FROM keel.verify_audit_chain('ledger');
COMMIT;
RESET client_min_messages;
SELECT ok, rows_checked FROM keel.verify_audit_chain('ledger');

SELECT keel.disable_audit_chain('ledger', forget => true);
SELECT keel.disable_audit_chain('calls', forget => true);
SELECT keel.disable_audit_chain('pg_temp.scratch', forget => true);
SET client_min_messages = warning;
DROP SCHEMA audit_chain_parallel_test CASCADE;
RESET client_min_messages;
