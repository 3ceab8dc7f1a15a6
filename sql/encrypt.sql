-- Field encryption: the three shapes, every decrypt failure, the decrypt role.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA encrypt_test; SET search_path = encrypt_test, public;
\set SHOW_CONTEXT never
SELECT name FROM keel.create_key('encrypt_test_k');
SELECT name FROM keel.create_key('encrypt_test_mac', 'hmac');
SELECT name FROM keel.create_key('encrypt_test_old');

-- Round trips in the three shapes, with and without AAD.
SELECT keel.decrypt(keel.encrypt('\x00ff10'::bytea, 'encrypt_test_k')) AS bytea_round_trip;
SELECT keel.decrypt_text(keel.encrypt_text('héllo wörld', 'encrypt_test_k')) AS text_round_trip;
SELECT keel.decrypt_jsonb(keel.encrypt_jsonb('{"host": "db", "port": 5432}', 'encrypt_test_k')) AS jsonb_round_trip;
SELECT keel.decrypt_text(keel.encrypt_text('', 'encrypt_test_k')) = '' AS empty_ok;
SELECT keel.decrypt_text(keel.encrypt_text('bound', 'encrypt_test_k', 'row 1'), 'row 1') AS with_aad;
SELECT keel.encrypt(NULL, 'encrypt_test_k') IS NULL AS null_in_null_out,
       keel.decrypt_text(NULL) IS NULL AS null_decrypts_to_null;

-- What the shapes look like: a versioned prefix, 40 bytes of overhead, fresh nonce.
SELECT left(keel.encrypt_text('x', 'encrypt_test_k'), 6) AS text_prefix;
SELECT octet_length(keel.encrypt('\x00ff10'::bytea, 'encrypt_test_k')) AS bytea_len;
SELECT substr(keel.encrypt('x', 'encrypt_test_k'), 1, 4) AS header_magic_version_flags_type;
SELECT jsonb_object_keys(keel.encrypt_jsonb('{"a": 1}', 'encrypt_test_k')) AS jsonb_keys ORDER BY 1;
SELECT keel.encrypt_text('same', 'encrypt_test_k') <> keel.encrypt_text('same', 'encrypt_test_k') AS nonces_differ;

-- Every failure has its own error.
CREATE TABLE c AS SELECT keel.encrypt('secret'::bytea, 'encrypt_test_k', 'aad') AS v,
                         keel.encrypt_text('secret', 'encrypt_test_k') AS t;
-- tampered (a ciphertext byte flipped)
SELECT keel.decrypt(set_byte(v, 30, get_byte(v, 30) # 1), 'aad') FROM c;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- header tampered (payload type byte): the header is authenticated too
SELECT keel.decrypt(set_byte(v, 3, 1), 'aad') FROM c;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- wrong AAD, missing AAD, unexpected AAD
SELECT keel.decrypt(v, 'other') FROM c;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.decrypt(v) FROM c;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.decrypt_text(t, 'aad') FROM c;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- truncated
SELECT keel.decrypt(substr(v, 1, 30), 'aad') FROM c;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- unknown format version (binary and text)
SELECT keel.decrypt(set_byte(v, 1, 2), 'aad') FROM c;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.decrypt_text('keel2:AAAA');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.decrypt_jsonb('{"keel": 2, "ct": "AAAA"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- not keel ciphertext
SELECT keel.decrypt('plain bytes'::bytea);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.decrypt_text('hello');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.decrypt_text('keel1:not base64!');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.decrypt_jsonb('{"host": "db"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- unknown key (key id 999999) and destroyed key version
SELECT keel.decrypt(overlay(v placing '\x000f423f'::bytea from 5), 'aad') FROM c;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE old AS SELECT keel.encrypt_text('old secret', 'encrypt_test_old') AS t;
SELECT version FROM keel.rotate_key('encrypt_test_old');
SELECT keel.decrypt_text(t) AS old_version_still_decrypts FROM old;
SELECT version, state FROM keel.destroy_key('encrypt_test_old', 1);
SELECT keel.decrypt_text(t) FROM old;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- shapes do not mix
SELECT keel.decrypt_text(keel.encrypt_text('x', 'encrypt_test_k')::text);
SELECT keel.decrypt_jsonb(keel.encrypt_jsonb('[1]', 'encrypt_test_k'));
SELECT keel.decrypt_text(encode(keel.encrypt('\x01'::bytea, 'encrypt_test_k'), 'base64'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.decrypt_text('keel1:' || encode(keel.encrypt('\x01'::bytea, 'encrypt_test_k'), 'base64'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.decrypt_jsonb(jsonb_build_object('keel', 1, 'ct', substr(keel.encrypt_text('x', 'encrypt_test_k'), 7)));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- keys: unknown, wrong purpose, NULL
SELECT keel.encrypt('x', 'encrypt_test_nope');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.encrypt('x', 'encrypt_test_mac');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.encrypt('x', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Decryption needs keel_decrypt; encryption does not.
CREATE ROLE encrypt_test_app;
CREATE ROLE encrypt_test_reader;
GRANT keel_decrypt TO encrypt_test_reader;
GRANT USAGE ON SCHEMA encrypt_test TO encrypt_test_app, encrypt_test_reader;
GRANT SELECT ON c TO encrypt_test_app, encrypt_test_reader;
SET ROLE encrypt_test_app;
SELECT keel.decrypt_text(keel.encrypt_text('mine', 'encrypt_test_k'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.decrypt_text(t) FROM c;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.decrypt(v, 'aad') FROM c;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET ROLE encrypt_test_reader;
SELECT keel.decrypt_text(t) AS reader_can FROM c;
RESET ROLE;

-- A rotation made in another transaction that rolled back leaves no trace in the cache.
BEGIN;
SELECT version FROM keel.rotate_key('encrypt_test_k');
CREATE TABLE rolled AS SELECT keel.encrypt_text('lost', 'encrypt_test_k') AS t;
ROLLBACK;
SELECT keel.decrypt_text(keel.encrypt_text('after rollback', 'encrypt_test_k')) AS cache_ok;
SELECT max(version) AS versions FROM keel.keys WHERE name = 'encrypt_test_k';

-- No master key: cached keys are flushed when the setting changes, and the error names it.
SET keel.master_key_file = '';
SELECT keel.encrypt_text('x', 'encrypt_test_k');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET keel.master_key_file;
SELECT keel.decrypt_text(t) AS back FROM c;

SET client_min_messages = warning;
DROP SCHEMA encrypt_test CASCADE;
DROP ROLE encrypt_test_app;
DROP ROLE encrypt_test_reader;
DELETE FROM keel.data_keys WHERE name LIKE 'encrypt\_test%';
SELECT keel._keys_changed();
