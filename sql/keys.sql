-- The key store: create, rotate, destroy, the metadata view, the master key checks.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA keys_test; SET search_path = keys_test, public;
\set SHOW_CONTEXT never
SELECT current_setting('keel.master_key_file') AS suite_key \gset

-- The master key setting is hidden from and unsettable by ordinary roles.
CREATE ROLE keys_test_app;
SET ROLE keys_test_app;
SHOW keel.master_key_file;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET keel.master_key_file = '/tmp/x';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- ... and so are the admin functions and the tables.
SELECT keel.create_key('keys_test_nope');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM keel.data_keys;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel._new_wrapped_key(1, 1, 'encrypt');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The metadata view is readable by everyone and has no key column.
SELECT count(*) >= 0 AS can_read FROM keel.keys;
RESET ROLE;
SELECT attname FROM pg_attribute WHERE attrelid = 'keel.keys'::regclass AND attnum > 0 ORDER BY attnum;

-- Create, with the version, state and purpose shown.
SELECT name, purpose, version, state FROM keel.create_key('keys_test_a');
SELECT name, purpose, version, state FROM keel.create_key('keys_test_mac', 'hmac');
SELECT name, purpose, version, state FROM keel.create_key('keys_test_a', if_not_exists => true);
SELECT keel.create_key('keys_test_a');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.create_key('keys_test_a', 'hmac', if_not_exists => true);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.create_key('keys_test_b', 'sign');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.create_key('');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.create_key(repeat('k', 64));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- an over-long name or word is shown by its first 64 characters and "...", never whole
SELECT keel.create_key(repeat('k', 10 * 1024 * 1024));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.create_key('keys_test_c', repeat('p', 10 * 1024 * 1024));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.rotate_key(repeat('数', 100));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.destroy_key(repeat('x', 65), 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.encrypt('\x00'::bytea, repeat('n', 10 * 1024 * 1024));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.create_key(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Keys are stored wrapped: 61 bytes, never the 32 key bytes, different per version.
SELECT name, version, octet_length(wrapped_key) AS wrapped_bytes
  FROM keel.data_keys WHERE name LIKE 'keys_test%' ORDER BY name, version;

-- Rotation: a new active version, the old one retired.
SELECT name, version, state FROM keel.rotate_key('keys_test_a');
SELECT name, version, state FROM keel.rotate_key('keys_test_a');
SELECT name, purpose, version, state FROM keel.keys WHERE name LIKE 'keys_test%' ORDER BY name, version;
SELECT count(DISTINCT key_id) AS one_id_per_name FROM keel.keys WHERE name = 'keys_test_a';
SELECT keel.rotate_key('keys_test_missing');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.rotate_key(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Destroying a retired version; the active one is refused.
SELECT name, version, state FROM keel.destroy_key('keys_test_a', 1);
SELECT keel.destroy_key('keys_test_a', 3);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.destroy_key('keys_test_a', 9);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT version, state, wrapped_key IS NULL AS shredded FROM keel.data_keys
 WHERE name = 'keys_test_a' ORDER BY version;

-- No master key configured: every function that needs one names the setting.
SET keel.master_key_file = '';
SELECT keel.create_key('keys_test_nokey');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.rotate_key('keys_test_a');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- nothing was written by the failed calls
SELECT count(*) FROM keel.keys WHERE name = 'keys_test_nokey' OR (name = 'keys_test_a' AND version > 3);
-- Both sources set is ambiguous, and refused.
SET keel.master_key_command = 'cat /dev/null';
SET keel.master_key_file = '/nonexistent/master.key';
SELECT keel.create_key('keys_test_nokey');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET keel.master_key_command;
-- A missing file.
SELECT keel.create_key('keys_test_nokey');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Key files made by the server in its data directory (relative paths are relative to
-- it): one that is not a key, one readable by others, one with the wrong key, and a
-- new master key for the rewrap below.
COPY (SELECT 'not a key') TO PROGRAM 'umask 077 && cat > keys_test_bad.key';
COPY (SELECT repeat('ab', 32)) TO PROGRAM 'umask 077 && cat > keys_test_wrong.key';
COPY (SELECT repeat('ab', 32)) TO PROGRAM 'cat > keys_test_open.key && chmod 640 keys_test_open.key';
COPY (SELECT repeat('cd', 32)) TO PROGRAM 'umask 077 && cat > keys_test_new.key';
SET keel.master_key_file = 'keys_test_bad.key';
SELECT keel.create_key('keys_test_nokey');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET keel.master_key_file = 'keys_test_open.key';
SELECT keel.create_key('keys_test_nokey');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET keel.master_key_file = 'keys_test_wrong.key';
SELECT keel.create_key('keys_test_nokey');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.rotate_key('keys_test_a');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A key command works like a file; a failing command is an error.
SET keel.master_key_file = '';
SET keel.master_key_command = 'exit 3';
SELECT keel.create_key('keys_test_nokey');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_config('keel.master_key_command', 'cat ' || :'suite_key', false) IS NOT NULL AS set;
SELECT name, version, state FROM keel.rotate_key('keys_test_mac');
RESET keel.master_key_command;
RESET keel.master_key_file;

-- Rewrap under a new master key: every version that still has a key is rewrapped, the
-- old master key stops working at once, the new one works.
CREATE TEMP TABLE before AS SELECT key_id, version, wrapped_key FROM keel.data_keys;
SELECT keel.rewrap_keys('keys_test_bad.key');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.rewrap_keys('keys_test_open.key');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.rewrap_keys('/nonexistent/new.key');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.rewrap_keys('');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the failed calls changed nothing (this test's keys; earlier suites may leave others)
SELECT count(*) AS unchanged FROM keel.data_keys k JOIN before b USING (key_id, version)
 WHERE k.wrapped_key = b.wrapped_key AND k.name LIKE 'keys\_test\_%';
SELECT keel.rewrap_keys('keys_test_new.key') =
       (SELECT count(*) FROM keel.data_keys WHERE wrapped_key IS NOT NULL) AS all_rewrapped;
SELECT count(*) AS unchanged FROM keel.data_keys k JOIN before b USING (key_id, version)
 WHERE k.wrapped_key = b.wrapped_key;
SELECT count(*) AS still_destroyed FROM keel.data_keys WHERE wrapped_key IS NULL;
SELECT keel.rotate_key('keys_test_a');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET keel.master_key_file = 'keys_test_new.key';
SELECT name, version, state FROM keel.rotate_key('keys_test_a');
-- and back, so the other tests find the suite's master key in place
SELECT keel.rewrap_keys(:'suite_key') > 0 AS rewrapped_back;
RESET keel.master_key_file;
SELECT name, version, state FROM keel.rotate_key('keys_test_mac');

DROP TABLE before;
DELETE FROM keel.data_keys WHERE name LIKE 'keys\_test%';
SELECT keel._keys_changed();
DROP SCHEMA keys_test CASCADE;
DROP ROLE keys_test_app;
