-- A table owner who is not a superuser: partitions of a chained table, and a chain that
-- only its own table can write to.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
\set SHOW_CONTEXT never
CREATE ROLE chain_owner;
CREATE SCHEMA chain_owner_test AUTHORIZATION chain_owner;
SET ROLE chain_owner;
CREATE TABLE chain_owner_test.ledger (id int NOT NULL, at date NOT NULL, memo text) PARTITION BY RANGE (at);
CREATE TABLE chain_owner_test.ledger_2024 PARTITION OF chain_owner_test.ledger
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
RESET ROLE;
SELECT keel.enable_audit_chain('chain_owner_test.ledger', key_name => 'chain_owner_k') > 0 AS chained;

-- 1. The owner adds a partition (the chain's triggers are copied to it) and writes to it.
SET ROLE chain_owner;
CREATE TABLE chain_owner_test.ledger_2025 PARTITION OF chain_owner_test.ledger
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO chain_owner_test.ledger VALUES (1, '2024-05-01', 'a'), (2, '2025-05-01', 'b');
SELECT ok, rows_checked FROM keel.verify_audit_chain('chain_owner_test.ledger');
UPDATE chain_owner_test.ledger_2025 SET memo = 'x';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE chain_owner_test.ledger_2025;
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 2. A trigger made by hand on another table, naming the ledger's chain: refused at the
--    first row, and the ledger's chain is untouched.
CREATE TABLE chain_owner_test.forged (id int);
RESET ROLE;
DO $$
DECLARE v_id text := keel._audit_chain_id('chain_owner_test.ledger')::text;
BEGIN
    EXECUTE format('SET ROLE chain_owner; CREATE TRIGGER zz_keel_audit_chain BEFORE INSERT ON chain_owner_test.forged '
                   'FOR EACH ROW EXECUTE FUNCTION keel.audit_chain_append(%L); RESET ROLE', v_id);
END $$;
SET ROLE chain_owner;
INSERT INTO chain_owner_test.forged VALUES (1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS forged_rows FROM chain_owner_test.forged;
SELECT ok, rows_checked FROM keel.verify_audit_chain('chain_owner_test.ledger');

-- 3. A renamed chained table keeps its chain (the chain names the table, not its name).
ALTER TABLE chain_owner_test.ledger RENAME TO ledger_renamed;
INSERT INTO chain_owner_test.ledger_renamed VALUES (3, '2025-06-01', 'c');
SELECT ok, rows_checked FROM keel.verify_audit_chain('chain_owner_test.ledger_renamed');
RESET ROLE;

SET client_min_messages = warning;
SELECT keel.disable_audit_chain('chain_owner_test.ledger_renamed', forget => true);
DROP SCHEMA chain_owner_test CASCADE;
DROP ROLE chain_owner;
DELETE FROM keel.data_keys WHERE name = 'chain_owner_k';
RESET client_min_messages;
