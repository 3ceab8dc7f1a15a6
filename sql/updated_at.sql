-- keel.touch_updated_at / keel.enable_updated_at
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA updated_at_test;
SET search_path = updated_at_test, public;
\set VERBOSITY terse

CREATE TABLE users (
    id int PRIMARY KEY,
    email text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO users VALUES (1, 'a@example.com', '2000-01-01', '2000-01-01'),
                         (2, 'b@example.com', '2000-01-01', '2000-01-01');
SELECT keel.enable_updated_at('users');
-- idempotent: a second call replaces, never duplicates
SELECT keel.enable_updated_at('users');
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'users'::regclass AND NOT tgisinternal;

-- UPDATE sets updated_at to the transaction timestamp (NOW()), like the seeds' PL/pgSQL
BEGIN;
UPDATE users SET email = 'a2@example.com' WHERE id = 1;
SELECT id, updated_at = now() AS touched, created_at = '2000-01-01' AS created_kept FROM users ORDER BY id;
COMMIT;
-- even an explicit value is overridden, as NEW.updated_at = NOW() does
BEGIN;
UPDATE users SET updated_at = '1999-01-01' WHERE id = 2;
SELECT updated_at = now() AS touched FROM users WHERE id = 2;
COMMIT;

-- timestamp and date columns
CREATE TABLE plain_ts (id int, changed timestamp, changed_on date);
INSERT INTO plain_ts VALUES (1, '2000-01-01', '2000-01-01');
SELECT keel.enable_updated_at('plain_ts', 'changed');
SELECT keel.enable_updated_at('plain_ts', 'changed_on');
BEGIN;
UPDATE plain_ts SET id = 2;
SELECT changed = now()::timestamp AS ts_ok, changed_on = now()::date AS date_ok FROM plain_ts;
COMMIT;

-- on_unchanged = keep: an UPDATE that changes nothing leaves the timestamp alone
CREATE TABLE kept (id int PRIMARY KEY, v text, updated_at timestamptz);
INSERT INTO kept VALUES (1, 'x', '2000-01-01');
SELECT keel.enable_updated_at('kept', on_unchanged => 'keep');
UPDATE kept SET v = 'x';
SELECT updated_at FROM kept;
UPDATE kept SET v = 'y';
SELECT updated_at > '2000-01-01' AS touched FROM kept;

-- on_unchanged = skip: no new row version at all
CREATE TABLE skipped (id int PRIMARY KEY, v text, updated_at timestamptz);
INSERT INTO skipped VALUES (1, 'x', '2000-01-01');
SELECT keel.enable_updated_at('skipped', on_unchanged => 'skip');
SELECT ctid AS before_ctid FROM skipped \gset
UPDATE skipped SET v = 'x';
SELECT ctid = :'before_ctid' AS same_row_version, updated_at FROM skipped;
UPDATE skipped SET v = NULL;
SELECT v IS NULL AS changed, updated_at > '2000-01-01' AS touched FROM skipped;

-- created_col: set on INSERT (with updated_at), kept on UPDATE
CREATE TABLE events (id int, note text, created_at timestamptz, updated_at timestamptz);
SELECT keel.enable_updated_at('events', created_col => 'created_at');
BEGIN;
INSERT INTO events VALUES (1, 'a', '1990-01-01', NULL);
SELECT created_at = now() AS created_set, updated_at = now() AS updated_set FROM events;
COMMIT;
UPDATE events SET created_at = '1990-01-01';
SELECT created_at = '1990-01-01' AS created_untouched_by_update FROM events;

-- every tuple layout: NULLs before the column, short and long and TOASTed varlenas,
-- a dropped column, a column added without a rewrite (missing in old tuples), odd
-- alignment; other columns must come out byte-identical and the stamp must be exact
CREATE TABLE layouts (a smallint, b text, c "char", d bigint, e text, updated_at timestamptz, f int, g date);
INSERT INTO layouts VALUES
    (1, NULL, 'x', NULL, 'short', '2000-01-01', 1, '2000-01-01'),
    (2, repeat('long', 100), NULL, 42, NULL, '2000-01-01', NULL, NULL),
    (3, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g), 'y', 7, 'toasted', '2000-01-01', 3, '2000-01-01'),
    (4, 'z', 'q', 1, 'null stamp', NULL, 4, '2000-01-01');
ALTER TABLE layouts DROP COLUMN c;
ALTER TABLE layouts ADD COLUMN h timestamptz DEFAULT '2001-01-01';
INSERT INTO layouts (a, b, d, e, updated_at, f, g, h) VALUES (5, 'new', 5, 'after add', '2000-01-01', 5, '2000-01-01', '2001-01-01');
SELECT keel.enable_updated_at('layouts');
SELECT keel.enable_updated_at('layouts', 'g');
SELECT keel.enable_updated_at('layouts', 'h');
CREATE TABLE layouts_before AS SELECT a, md5(row(a, b, d, e, f)::text) AS fingerprint FROM layouts;
BEGIN;
UPDATE layouts SET f = f;
SELECT l.a, md5(row(l.a, l.b, l.d, l.e, l.f)::text) = b.fingerprint AS others_identical,
       l.updated_at = now() AS stamped, l.g = now()::date AS g_stamped, l.h = now() AS h_stamped,
       pg_column_size(l.b) AS b_size
FROM layouts l JOIN layouts_before b USING (a) ORDER BY a;
COMMIT;

-- partitioned tables: the trigger reaches every partition, present and future
CREATE TABLE measurements (id int, at date, updated_at timestamptz) PARTITION BY RANGE (at);
CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
SELECT keel.enable_updated_at('measurements');
CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO measurements VALUES (1, '2025-06-01', NULL), (2, '2026-06-01', NULL);
UPDATE measurements SET id = id + 10;
SELECT tableoid::regclass, updated_at IS NOT NULL AS touched FROM measurements ORDER BY 1;
-- a row moving between partitions keeps being maintained
UPDATE measurements SET at = '2026-02-01' WHERE id = 11;
SELECT tableoid::regclass, updated_at IS NOT NULL AS touched FROM measurements ORDER BY id;

-- any table name works: quotes, spaces, a semicolon, non-ASCII letters
CREATE TABLE "we""ird; DROP TABLE users; -- Tä" (id int, "upd at" timestamptz);
INSERT INTO "we""ird; DROP TABLE users; -- Tä" VALUES (1, NULL);
SELECT keel.enable_updated_at('"we""ird; DROP TABLE users; -- Tä"', 'upd at');
UPDATE "we""ird; DROP TABLE users; -- Tä" SET id = 2;
SELECT "upd at" IS NOT NULL AS touched FROM "we""ird; DROP TABLE users; -- Tä";
SELECT count(*) AS users_still_there FROM users;

-- disable
SELECT keel.disable_updated_at('kept');
SELECT keel.disable_updated_at('kept');

-- bad input: each a clear ERROR with its own SQLSTATE
\set VERBOSITY default
\set SHOW_CONTEXT never
\pset null '(null)'
\set ON_ERROR_STOP 0
SELECT keel.enable_updated_at('no_such_table');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_updated_at(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_updated_at('users', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE VIEW users_v AS SELECT * FROM users;
SELECT keel.enable_updated_at('users_v');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_updated_at('users', 'no_such_column');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_updated_at('users', 'email');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_updated_at('users', 'ctid');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_updated_at('users', on_unchanged => 'sometimes');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_updated_at('users', created_col => 'email');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE SEQUENCE seq;
SELECT keel.enable_updated_at('seq');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- the trigger attached by hand the wrong way
CREATE TABLE hand (id int, updated_at timestamptz, label text);
INSERT INTO hand VALUES (1, NULL, 'x');
CREATE TRIGGER t_after AFTER UPDATE ON hand FOR EACH ROW EXECUTE FUNCTION keel.touch_updated_at();
UPDATE hand SET id = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER t_after ON hand;
CREATE TRIGGER t_stmt BEFORE UPDATE ON hand FOR EACH STATEMENT EXECUTE FUNCTION keel.touch_updated_at();
UPDATE hand SET id = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER t_stmt ON hand;
CREATE TRIGGER t_del BEFORE DELETE ON hand FOR EACH ROW EXECUTE FUNCTION keel.touch_updated_at();
DELETE FROM hand;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER t_del ON hand;
CREATE TRIGGER t_col BEFORE UPDATE ON hand FOR EACH ROW EXECUTE FUNCTION keel.touch_updated_at('label');
UPDATE hand SET id = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER t_col ON hand;
CREATE TRIGGER t_missing BEFORE UPDATE ON hand FOR EACH ROW EXECUTE FUNCTION keel.touch_updated_at('nope');
UPDATE hand SET id = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER t_missing ON hand;
CREATE TRIGGER t_mode BEFORE UPDATE ON hand FOR EACH ROW EXECUTE FUNCTION keel.touch_updated_at('updated_at', 'often');
UPDATE hand SET id = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER t_mode ON hand;
SELECT keel.touch_updated_at();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- nothing was written by the failed statements
SELECT * FROM hand;

RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA updated_at_test CASCADE;
