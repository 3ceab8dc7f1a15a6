-- keel.enable_audit_chain(..., existing_rows_order): chaining a table that already holds rows
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA audit_chain_adopt_test;
SET search_path = audit_chain_adopt_test, public;
\set SHOW_CONTEXT never

-- 1. Rows in the rows' own columns: existing rows get previous_hash/signature, in order.
CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL,
    at timestamptz NOT NULL,
    previous_hash varchar(64),
    signature varchar(64)
);
INSERT INTO events (kind, at)
SELECT 'k' || g, timestamptz '2024-01-01 00:00:00+00' + (g % 7) * interval '1 hour' FROM generate_series(1, 300) g;
-- without an order, refused and nothing is made
SELECT keel.enable_audit_chain('events', 'previous_hash', 'signature', 'adopt_test');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS chains FROM keel.audit_chain WHERE table_name = 'audit_chain_adopt_test.events';
SELECT keel.enable_audit_chain('events', 'previous_hash', 'signature', 'adopt_test',
                               existing_rows_order => '{at,id}') > 0 AS chained;
SELECT ok, rows_checked, break_kind FROM keel.verify_audit_chain('events');
-- the first row of the chosen order is the genesis link; every row carries hex
SELECT id, previous_hash = repeat('0', 64) AS genesis FROM events ORDER BY at, id LIMIT 2;
SELECT count(*) FILTER (WHERE signature ~ '^[0-9a-f]{64}$' AND previous_hash ~ '^[0-9a-f]{64}$') AS hex_rows FROM events;
-- new rows extend the same chain; the table is append-only now
INSERT INTO events (kind, at) VALUES ('after', now());
SELECT ok, rows_checked FROM keel.verify_audit_chain('events');
UPDATE events SET kind = 'x' WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a tampered adopted row is found at its place in the chosen order
SET session_replication_role = replica;
UPDATE events SET kind = 'tampered' WHERE id = 14;
RESET session_replication_role;
SELECT ok, first_bad_position, break_kind FROM keel.verify_audit_chain('events');
SELECT count(*) AS position_of_id_14 FROM events e
 WHERE (e.at, e.id) <= (SELECT at, id FROM events WHERE id = 14);

-- 2. Chain kept beside the table, partitioned, with sub-chains.
CREATE TABLE logs (id int NOT NULL, at date NOT NULL, msg text) PARTITION BY RANGE (at);
CREATE TABLE logs_2024 PARTITION OF logs FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE logs_2025 PARTITION OF logs FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO logs SELECT g, date '2024-06-01' + g, 'm' || g FROM generate_series(1, 400) g;
SELECT keel.enable_audit_chain('logs', key_name => 'adopt_test', sub_chains => 2,
                               existing_rows_order => '{id}') > 0 AS chained;
SELECT ok, rows_checked FROM keel.verify_audit_chain('logs');
INSERT INTO logs VALUES (401, '2025-12-31', 'new');
SELECT ok, rows_checked FROM keel.verify_audit_chain('logs');
TRUNCATE logs_2024;
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 3. A trigger that changes the row when the chain columns are written: refused, and
--    nothing is left behind (no chain, no link, no trigger, no column written).
CREATE TABLE touched (id int PRIMARY KEY, body text, updated_at timestamptz,
                      previous_hash text, signature text);
INSERT INTO touched SELECT g, 'b' || g, '2024-01-01' FROM generate_series(1, 5) g;
CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.body := NEW.body || '!'; RETURN NEW; END $$;
CREATE TRIGGER bump BEFORE UPDATE ON touched FOR EACH ROW EXECUTE FUNCTION bump();
SELECT keel.enable_audit_chain('touched', 'previous_hash', 'signature', 'adopt_test',
                               existing_rows_order => '{id}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS chains FROM keel.audit_chain WHERE table_name = 'audit_chain_adopt_test.touched';
SELECT count(*) AS chain_triggers FROM pg_trigger WHERE tgrelid = 'touched'::regclass AND tgname LIKE '%keel%';
SELECT count(*) AS written FROM touched WHERE previous_hash IS NOT NULL OR body LIKE '%!';
-- with the trigger switched off for the call it works (updated_at kept as it was)
ALTER TABLE touched DISABLE TRIGGER bump;
SELECT keel.enable_audit_chain('touched', 'previous_hash', 'signature', 'adopt_test',
                               existing_rows_order => '{id}') > 0 AS chained;
ALTER TABLE touched ENABLE TRIGGER bump;
SELECT ok, rows_checked FROM keel.verify_audit_chain('touched');
SELECT count(*) AS untouched FROM touched WHERE updated_at = '2024-01-01' AND body NOT LIKE '%!';

-- 4. Bad input.
CREATE TABLE more (id int, "weird ""col""" int);
INSERT INTO more VALUES (1, 1);
SELECT keel.enable_audit_chain('more', existing_rows_order => '{}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_audit_chain('more', existing_rows_order => '{id,NULL}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_audit_chain('more', existing_rows_order => '{id,no_such_column}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_audit_chain('events2', existing_rows_order => '{id}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE more2 (id int, h text, s text);
INSERT INTO more2 VALUES (1, NULL, NULL);
SELECT keel.enable_audit_chain('more2', 'h', 's', existing_rows_order => '{h}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a quoted column name is fine
SELECT keel.enable_audit_chain('more', key_name => 'adopt_test', existing_rows_order => '{"weird \"col\""}') > 0 AS chained;
SELECT ok, rows_checked FROM keel.verify_audit_chain('more');
-- an empty table with an order given is simply chained
CREATE TABLE empty_one (id int);
SELECT keel.enable_audit_chain('empty_one', key_name => 'adopt_test', existing_rows_order => '{id}') > 0 AS chained;
SELECT keel._audit_chain_link_digest(1, '\x00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

SET client_min_messages = warning;
SELECT keel.disable_audit_chain(t, forget => true)
  FROM unnest(ARRAY['events', 'logs', 'touched', 'more', 'empty_one']::regclass[]) t;
DROP SCHEMA audit_chain_adopt_test CASCADE;
DELETE FROM keel.data_keys WHERE name = 'adopt_test';
RESET client_min_messages;
