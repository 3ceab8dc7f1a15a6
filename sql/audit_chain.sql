-- keel.enable_audit_chain / verify_audit_chain / audit_chain_digest / audit_chain_retire_partition
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA audit_chain_test;
SET search_path = audit_chain_test, public;
\set SHOW_CONTEXT never

-- ---------------------------------------------------------------- chain in the rows
CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL,
    amount numeric,
    tags text[],
    payload jsonb NOT NULL DEFAULT '{}',
    at timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00',
    previous_hash varchar(64),
    signature varchar(64)
);
SELECT keel.enable_audit_chain('events', 'previous_hash', 'signature', 'audit_chain_test') > 0 AS enabled;
SELECT tgname, tgtype FROM pg_trigger WHERE tgrelid = 'events'::regclass ORDER BY tgname;
-- an empty chain verifies
SELECT * FROM keel.verify_audit_chain('events');

INSERT INTO events (kind, amount, tags, payload)
SELECT 'k' || g, g * 1.50, ARRAY['a', NULL, 'c' || g], jsonb_build_object('g', g, 'b', 'x')
  FROM generate_series(1, 6) g;
-- previous_hash links each row to its predecessor; the first to the genesis (zeros)
SELECT id, previous_hash = repeat('0', 64) AS genesis, length(previous_hash) AS hlen,
       signature ~ '^[0-9a-f]{64}$' AS hex_signature
  FROM events ORDER BY id;
SELECT l.pos, e.previous_hash = encode(p.link_hash, 'hex') AS links_to_predecessor
  FROM keel.audit_link l
  JOIN keel.audit_chain c USING (chain_id)
  JOIN events e ON keel._audit_row_digest(c.chain_id, e) = l.row_digest
  LEFT JOIN keel.audit_link p ON p.chain_id = l.chain_id AND p.sub = l.sub AND p.pos = l.pos - 1
 WHERE c.chain_id = keel._audit_chain_id('events') AND l.pos > 1 ORDER BY l.pos;
SELECT * FROM keel.verify_audit_chain('events');

-- the chain's own columns are written by keel, whatever the INSERT said
INSERT INTO events (kind, previous_hash, signature) VALUES ('forged', 'x', 'y');
SELECT previous_hash <> 'x' AND signature <> 'y' AS overwritten FROM events WHERE kind = 'forged';

-- ---------------------------------------------------------------- append-only
UPDATE events SET kind = 'changed' WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM events WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE events;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS rows_kept FROM events;

-- an aborted transaction leaves no trace: no row, no link, no gap
BEGIN;
INSERT INTO events (kind) VALUES ('rolled back');
ROLLBACK;
BEGIN;
INSERT INTO events (kind) VALUES ('kept');
SAVEPOINT s;
INSERT INTO events (kind) VALUES ('rolled back to savepoint');
ROLLBACK TO SAVEPOINT s;
INSERT INTO events (kind) VALUES ('kept too');
COMMIT;
SELECT l.sub, count(*) AS links, max(l.pos) AS head
  FROM keel.audit_link l JOIN keel.audit_chain c USING (chain_id)
 WHERE c.chain_id = keel._audit_chain_id('events') GROUP BY l.sub;
SELECT * FROM keel.verify_audit_chain('events');

-- ---------------------------------------------------------------- digest
SELECT keel.audit_chain_digest('events') AS digest \gset
SELECT :'digest' LIKE 'keel-digest-v1:%' AS prefixed, length(:'digest') AS digest_length;
SELECT * FROM keel.verify_audit_chain('events', :'digest');
INSERT INTO events (kind) VALUES ('after the digest');
SELECT ok, rows_checked FROM keel.verify_audit_chain('events', :'digest');
-- malformed digests
SELECT * FROM keel.verify_audit_chain('events', 'not a digest');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.verify_audit_chain('events', 'keel-digest-v1:zz');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.verify_audit_chain('events', left(:'digest', -2));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a digest whose signature (last byte) was altered
SELECT * FROM keel.verify_audit_chain('events',
    left(:'digest', -2) || CASE WHEN right(:'digest', 2) = '00' THEN '01' ELSE '00' END);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a digest whose position was altered (signature no longer matches)
SELECT * FROM keel.verify_audit_chain('events', overlay(:'digest' PLACING 'ff' FROM length(:'digest') - 64 - 64 - 1 FOR 2));
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- ---------------------------------------------------------------- chain beside the table
CREATE TABLE "audit logs; DROP TABLE x" (
    id uuid PRIMARY KEY,
    user_id int,
    action text NOT NULL,
    happened date,
    ok boolean,
    score float8,
    ip inet
);
SELECT keel.enable_audit_chain('"audit logs; DROP TABLE x"', key_name => 'audit_chain_test') > 0 AS enabled;
INSERT INTO "audit logs; DROP TABLE x"
SELECT ('00000000-0000-0000-0000-00000000000' || g)::uuid, g, 'login', ('2024-02-0' || g)::date, g % 2 = 0, g / 3.0, ('10.0.0.' || g)::inet
  FROM generate_series(1, 5) g;
SELECT * FROM keel.verify_audit_chain('"audit logs; DROP TABLE x"');
-- the table's columns are as written: no chain columns were added
SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
 WHERE attrelid = '"audit logs; DROP TABLE x"'::regclass AND attnum > 0;
-- a digest of one table is refused by another
SELECT * FROM keel.verify_audit_chain('"audit logs; DROP TABLE x"', :'digest');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- ---------------------------------------------------------------- tamper suite
-- Each break is made by a superuser with the triggers disabled, inside a transaction
-- that is rolled back, and must be found at the right row with the right kind.
-- content changed (row 3)
BEGIN;
ALTER TABLE events DISABLE TRIGGER USER;
UPDATE events SET amount = 1000000 WHERE id = 3;
SELECT ok, first_bad_position, break_kind, sub_chain, detail FROM keel.verify_audit_chain('events');
ROLLBACK;
-- row deleted (row 4)
BEGIN;
ALTER TABLE events DISABLE TRIGGER USER;
DELETE FROM events WHERE id = 4;
SELECT ok, rows_checked, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('events');
ROLLBACK;
-- row inserted (no link)
BEGIN;
ALTER TABLE events DISABLE TRIGGER USER;
INSERT INTO events (kind, previous_hash, signature)
SELECT 'smuggled', previous_hash, signature FROM events WHERE id = 2;
SELECT ok, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('events');
ROLLBACK;
-- rows reordered: rows 2 and 5 swap their place in the chain
BEGIN;
ALTER TABLE events DISABLE TRIGGER USER;
UPDATE events e SET previous_hash = o.previous_hash, signature = o.signature
  FROM events o WHERE (e.id, o.id) IN ((2, 5), (5, 2));
SELECT ok, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('events');
ROLLBACK;
-- signature invalid: in the row ...
BEGIN;
ALTER TABLE events DISABLE TRIGGER USER;
UPDATE events SET signature = repeat('ab', 32) WHERE id = 5;
SELECT ok, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('events');
ROLLBACK;
-- ... and in the link table
BEGIN;
UPDATE keel.audit_link l SET signature = sha256(l.signature)
  FROM keel.audit_chain c WHERE c.chain_id = l.chain_id AND c.chain_id = keel._audit_chain_id('events') AND l.pos = 6;
SELECT ok, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('events');
ROLLBACK;
-- a link's row digest rewritten to match a changed row: the link hash no longer fits
BEGIN;
ALTER TABLE events DISABLE TRIGGER USER;
UPDATE events SET amount = 0 WHERE id = 2;
UPDATE keel.audit_link l SET row_digest = keel._audit_row_digest(l.chain_id, e)
  FROM keel.audit_chain c, events e
 WHERE c.chain_id = l.chain_id AND c.chain_id = keel._audit_chain_id('events') AND l.pos = 2 AND e.id = 2;
SELECT ok, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('events');
ROLLBACK;
-- a whole chain rewritten by someone without the key: new rows, new links, but the
-- tail that the digest names is gone
BEGIN;
ALTER TABLE events DISABLE TRIGGER USER;
DELETE FROM events WHERE id > 6;
DELETE FROM keel.audit_link l USING keel.audit_chain c
 WHERE c.chain_id = l.chain_id AND c.chain_id = keel._audit_chain_id('events') AND l.pos > 6;
SELECT * FROM keel.verify_audit_chain('events');
SELECT ok, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('events', :'digest');
ROLLBACK;
-- side-table chain: content changed and row deleted
BEGIN;
ALTER TABLE "audit logs; DROP TABLE x" DISABLE TRIGGER USER;
UPDATE "audit logs; DROP TABLE x" SET action = 'logout' WHERE user_id = 2;
SELECT ok, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('"audit logs; DROP TABLE x"');
ROLLBACK;
BEGIN;
ALTER TABLE "audit logs; DROP TABLE x" DISABLE TRIGGER USER;
DELETE FROM "audit logs; DROP TABLE x" WHERE user_id = 3;
SELECT ok, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('"audit logs; DROP TABLE x"');
ROLLBACK;
-- after all that, both chains are intact
SELECT ok, rows_checked FROM keel.verify_audit_chain('events');
SELECT ok, rows_checked FROM keel.verify_audit_chain('"audit logs; DROP TABLE x"');

-- ---------------------------------------------------------------- key rotation
SELECT keel.rotate_key('audit_chain_test') IS NOT NULL AS rotated;
INSERT INTO events (kind) VALUES ('signed with version 2');
SELECT l.key_version, count(*) FROM keel.audit_link l JOIN keel.audit_chain c USING (chain_id)
 WHERE c.chain_id = keel._audit_chain_id('events') GROUP BY 1 ORDER BY 1;
SELECT ok, rows_checked FROM keel.verify_audit_chain('events');
SELECT ok, rows_checked FROM keel.verify_audit_chain('events', keel.audit_chain_digest('events'));

-- ---------------------------------------------------------------- scaling mode
CREATE TABLE wide (id int, note text);
SELECT keel.enable_audit_chain('wide', key_name => 'audit_chain_test', sub_chains => 4) > 0 AS enabled;
INSERT INTO wide SELECT g, 'n' || g FROM generate_series(1, 20) g;
SELECT count(DISTINCT l.sub) AS subs_used, count(*) AS links
  FROM keel.audit_link l JOIN keel.audit_chain c USING (chain_id) WHERE c.chain_id = keel._audit_chain_id('wide');
SELECT * FROM keel.verify_audit_chain('wide');
SELECT * FROM keel.verify_audit_chain('wide', keel.audit_chain_digest('wide'));
-- identical rows are fine (each has its own link)
INSERT INTO wide VALUES (1, 'dup'), (1, 'dup');
SELECT ok, rows_checked FROM keel.verify_audit_chain('wide');

-- ---------------------------------------------------------------- partitions and retention
CREATE TABLE audit_events (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    event_type varchar(50) NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    previous_hash varchar(64),
    signature varchar(64),
    created_at timestamp NOT NULL
) PARTITION BY RANGE (created_at);
CREATE TABLE audit_events_2024_01 PARTITION OF audit_events FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE audit_events_2024_02 PARTITION OF audit_events FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
CREATE TABLE audit_events_2024_03 PARTITION OF audit_events FOR VALUES FROM ('2024-03-01') TO ('2024-04-01');
SELECT keel.enable_audit_chain('audit_events', 'previous_hash', 'signature', 'audit_chain_test') > 0 AS enabled;
INSERT INTO audit_events (event_type, created_at)
SELECT 'e' || g, '2024-01-01'::timestamp + g * interval '1 day' FROM generate_series(0, 89) g;
SELECT tableoid::regclass, count(*) FROM audit_events GROUP BY 1 ORDER BY 1;
SELECT * FROM keel.verify_audit_chain('audit_events');
-- partitions are guarded too
TRUNCATE audit_events_2024_01;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM audit_events_2024_02;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- verification names the partitioned table, not a partition
SELECT * FROM keel.verify_audit_chain('audit_events_2024_01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.audit_chain_digest('audit_events') AS pdigest \gset
-- retiring a partition that holds a row outside the chain would lose it unrecorded
BEGIN;
ALTER TABLE audit_events DISABLE TRIGGER USER;
INSERT INTO audit_events (event_type, created_at) VALUES ('smuggled', '2024-01-15');
ALTER TABLE audit_events ENABLE TRIGGER USER;
SELECT keel.audit_chain_retire_partition('audit_events', 'audit_events_2024_01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- retiring a partition that is not the oldest would leave a hole
BEGIN;
SELECT keel.audit_chain_retire_partition('audit_events', 'audit_events_2024_02');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- not a partition of that table
SELECT keel.audit_chain_retire_partition('audit_events', 'events');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.audit_chain_retire_partition('events', 'audit_events_2024_01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the retention path: checkpoint, then drop the oldest partition
BEGIN;
SELECT keel.audit_chain_retire_partition('audit_events', 'audit_events_2024_01');
DROP TABLE audit_events_2024_01;
COMMIT;
SELECT c.sub, c.pos, c.partition_name, c.rows_retired FROM keel.audit_checkpoint c
  JOIN keel.audit_chain a USING (chain_id) WHERE a.chain_id = keel._audit_chain_id('audit_events');
SELECT * FROM keel.verify_audit_chain('audit_events');
-- the digest made before the retirement still verifies what remains
SELECT ok, rows_checked FROM keel.verify_audit_chain('audit_events', :'pdigest');
INSERT INTO audit_events (event_type, created_at) VALUES ('after retirement', '2024-03-31');
SELECT ok, rows_checked FROM keel.verify_audit_chain('audit_events');
-- retire the next one by detaching it
BEGIN;
SELECT keel.audit_chain_retire_partition('audit_events', 'audit_events_2024_02');
ALTER TABLE audit_events DETACH PARTITION audit_events_2024_02;
COMMIT;
SELECT ok, rows_checked FROM keel.verify_audit_chain('audit_events');
-- a partition dropped without the retention path is refused (sql/audit_chain_guards.sql);
-- a superuser who switches that guard off can drop it, and verification shows the deleted rows
BEGIN;
ALTER EVENT TRIGGER keel_chain_guard_drop DISABLE;
DROP TABLE audit_events_2024_03;
SELECT ok, first_bad_position, break_kind FROM keel.verify_audit_chain('audit_events');
ROLLBACK;

-- ---------------------------------------------------------------- bad input
SELECT keel.enable_audit_chain(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_audit_chain('wide', sub_chains => NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.verify_audit_chain(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.audit_chain_digest(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.audit_chain_retire_partition(NULL, NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- twice
SELECT keel.enable_audit_chain('events', 'previous_hash', 'signature');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE t_ok (a int, h text, s text, v varchar(10), n int);
-- missing columns, only one of the two, the same twice
SELECT keel.enable_audit_chain('t_ok', 'nope', 's');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_audit_chain('t_ok', 'h', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_audit_chain('t_ok', 'h', 'h');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- columns of the wrong type (too short for 64 hex digits, not text)
SELECT keel.enable_audit_chain('t_ok', 'h', 'v');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_audit_chain('t_ok', 'n', 's');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_audit_chain('t_ok', sub_chains => 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_audit_chain('t_ok', sub_chains => 65);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_audit_chain('t_ok', key_name => '');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a key of the wrong purpose
SELECT keel.create_key('audit_chain_test_enc', 'encrypt') IS NOT NULL AS made;
SELECT keel.enable_audit_chain('t_ok', key_name => 'audit_chain_test_enc');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- not a table, a partition, not empty, composite columns
CREATE VIEW v AS SELECT 1 AS a;
SELECT keel.enable_audit_chain('v');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_audit_chain('audit_events_2024_03');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO t_ok VALUES (1);
SELECT keel.enable_audit_chain('t_ok');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TYPE pair AS (x int, y int);
CREATE TABLE t_comp (p pair, ps pair[]);
SELECT keel.enable_audit_chain('t_comp');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_audit_chain('does_not_exist');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- tables without a chain
SELECT * FROM keel.verify_audit_chain('t_ok');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.audit_chain_digest('t_ok');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the trigger functions attached by hand, the wrong way
CREATE TABLE t_hand (a int);
CREATE TRIGGER x AFTER INSERT ON t_hand FOR EACH ROW EXECUTE FUNCTION keel.audit_chain_append('1');
INSERT INTO t_hand VALUES (1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER x ON t_hand;
CREATE TRIGGER x BEFORE INSERT ON t_hand FOR EACH ROW EXECUTE FUNCTION keel.audit_chain_append('999999');
INSERT INTO t_hand VALUES (1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER x ON t_hand;
CREATE TRIGGER x BEFORE INSERT ON t_hand FOR EACH ROW EXECUTE FUNCTION keel.audit_chain_append('one');
INSERT INTO t_hand VALUES (1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER x ON t_hand;
SELECT keel.audit_chain_append();
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- ---------------------------------------------------------------- privileges
CREATE ROLE audit_chain_app;
GRANT USAGE ON SCHEMA audit_chain_test TO audit_chain_app;
GRANT INSERT ON events TO audit_chain_app;
SET ROLE audit_chain_app;
-- an application role appends without any privilege on keel's tables ...
INSERT INTO events (kind) VALUES ('by the app');
-- ... but cannot touch the links, or verify a table it cannot read
DELETE FROM keel.audit_link;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.verify_audit_chain('events');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_audit_chain('events');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT SELECT ON events TO audit_chain_app;
SET ROLE audit_chain_app;
SELECT ok, rows_checked FROM keel.verify_audit_chain('events');
RESET ROLE;

-- ---------------------------------------------------------------- ON CONFLICT
-- DO NOTHING is refused: the row is linked before the conflict check, and a skipped
-- row would leave its link behind.  DO UPDATE fails only on a conflict (the update is
-- refused) and takes its link along.
CREATE TABLE uniq (id int PRIMARY KEY, note text);
SELECT keel.enable_audit_chain('uniq', key_name => 'audit_chain_test') > 0 AS enabled;
INSERT INTO uniq VALUES (1, 'a');
INSERT INTO uniq VALUES (1, 'b') ON CONFLICT DO NOTHING;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
WITH w AS (INSERT INTO uniq VALUES (2, 'c') ON CONFLICT (id) DO NOTHING RETURNING id)
SELECT count(*) FROM w;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO uniq VALUES (1, 'd') ON CONFLICT (id) DO UPDATE SET note = excluded.note;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO uniq VALUES (3, 'e') ON CONFLICT (id) DO UPDATE SET note = excluded.note;
EXPLAIN (COSTS OFF) INSERT INTO uniq VALUES (1, 'b') ON CONFLICT DO NOTHING;
SELECT id, note FROM uniq ORDER BY id;
SELECT ok, rows_checked FROM keel.verify_audit_chain('uniq');
SELECT keel.disable_audit_chain('uniq', forget => true);

-- ---------------------------------------------------------------- disable
SELECT keel.disable_audit_chain('wide', forget => true);
SELECT keel.disable_audit_chain('wide');
INSERT INTO wide VALUES (99, 'unchained');
DELETE FROM wide WHERE id = 99;
SELECT keel.disable_audit_chain('"audit logs; DROP TABLE x"', forget => true);
SELECT keel.disable_audit_chain('events', forget => true);
SELECT keel.disable_audit_chain('audit_events', forget => true);

SET client_min_messages = warning;
DROP SCHEMA audit_chain_test CASCADE;
DROP ROLE audit_chain_app;
-- the test's keys (keel.data_keys is shared by every test of the database)
DELETE FROM keel.data_keys WHERE name IN ('audit_chain_test', 'audit_chain_test_enc');
RESET client_min_messages;
