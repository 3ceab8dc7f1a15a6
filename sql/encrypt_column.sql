-- Transparent column encryption: the trigger, AAD binding, restore safety, the
-- decrypting view, rotation with keel.reencrypt.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA encrypt_column_test; SET search_path = encrypt_column_test, public;
\set SHOW_CONTEXT never
SELECT name FROM keel.create_key('ec_test_k');

CREATE TABLE "Secrets; drop" (
    id bigint PRIMARY KEY,
    owner text NOT NULL,
    encrypted_value text,
    config jsonb,
    blob bytea,
    short varchar(90)
);
INSERT INTO "Secrets; drop" (id, owner, encrypted_value) VALUES (0, 'before', 'written before encryption');
SELECT keel.encrypt_column('"Secrets; drop"', 'encrypted_value', 'ec_test_k', '{id,owner}');
SELECT keel.encrypt_column('"Secrets; drop"', 'config', 'ec_test_k', '{id}');
SELECT keel.encrypt_column('"Secrets; drop"', 'blob', 'ec_test_k');
SELECT keel.encrypt_column('"Secrets; drop"', 'short', 'ec_test_k', '{id}');
SELECT tbl, col, key_name, aad_label, aad_columns FROM keel.encrypted_columns
 WHERE key_name = 'ec_test_k' ORDER BY col;
-- Rows written before are still plaintext until keel.reencrypt encrypts them.
SELECT left(encrypted_value, 7) AS before FROM "Secrets; drop";
CALL keel.reencrypt('"Secrets; drop"', 'encrypted_value');
SELECT left(encrypted_value, 6) AS after FROM "Secrets; drop";

INSERT INTO "Secrets; drop" VALUES
  (1, 'ada', 'sk-live-1111', '{"host": "db1", "password": "pw1"}', '\xdeadbeef', 'x'),
  (2, 'grace', 'sk-live-2222', NULL, NULL, NULL);
-- Stored as ciphertext, in each column's shape.
SELECT id, left(encrypted_value, 6) AS text_shape, jsonb_typeof(config) AS json_shape,
       substr(blob, 1, 2) AS bytea_magic, left(short, 6) AS varchar_shape
  FROM "Secrets; drop" ORDER BY id;
SELECT count(*) AS plaintext_visible FROM "Secrets; drop"
 WHERE encrypted_value LIKE '%sk-live%' OR config::text LIKE '%pw1%';

-- Reading back: the decrypting view (or the expression for hand-written queries).
SELECT keel.create_decrypted_view('"Secrets; drop"');
SELECT id, owner, encrypted_value, config, blob, short FROM "Secrets; drop_decrypted" ORDER BY id;
SELECT keel.decrypt_column_sql('"Secrets; drop"', 'encrypted_value');

-- UPDATE of the value re-encrypts; an UPDATE of other columns keeps the ciphertext.
CREATE TEMP TABLE snap AS SELECT id, encrypted_value FROM "Secrets; drop";
UPDATE "Secrets; drop" SET encrypted_value = 'sk-live-1111-new' WHERE id = 1;
UPDATE "Secrets; drop" SET short = NULL WHERE id = 2;
SELECT s.id, s.encrypted_value = t.encrypted_value AS unchanged
  FROM snap s JOIN "Secrets; drop" t USING (id) ORDER BY id;
-- Changing an identifying column moves the value to the row's new AAD.
UPDATE "Secrets; drop" SET owner = 'grace hopper' WHERE id = 2;
SELECT id, owner, encrypted_value FROM "Secrets; drop_decrypted" WHERE id IN (1, 2) ORDER BY id;

-- A ciphertext copied into another row or column is refused (its AAD differs).
UPDATE "Secrets; drop" SET encrypted_value = (SELECT encrypted_value FROM "Secrets; drop" WHERE id = 1) WHERE id = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE "Secrets; drop" SET config = keel.encrypt_jsonb('{"a": 1}', 'ec_test_k') WHERE id = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A tampered ciphertext too.
UPDATE "Secrets; drop" SET encrypted_value = overlay(encrypted_value placing 'AAAA' from 51) WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Too long for varchar(90) once encrypted: refused, nothing written.
UPDATE "Secrets; drop" SET short = repeat('y', 30) WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Restore safety: replaying ciphertext (as pg_dump's COPY does, through the trigger)
-- stores it byte for byte, never encrypting it twice.
CREATE TEMP TABLE dumped AS SELECT * FROM "Secrets; drop";
DELETE FROM "Secrets; drop";
INSERT INTO "Secrets; drop" SELECT * FROM dumped;
SELECT count(*) AS rows, count(*) FILTER (WHERE d IS NOT DISTINCT FROM t) AS identical
  FROM dumped d JOIN "Secrets; drop" t USING (id);
SELECT id, encrypted_value FROM "Secrets; drop_decrypted" WHERE id = 1;

-- The decrypt role gates the view and the functions.
CREATE ROLE ec_test_app;
GRANT USAGE ON SCHEMA encrypt_column_test TO ec_test_app;
GRANT SELECT, INSERT ON "Secrets; drop", "Secrets; drop_decrypted" TO ec_test_app;
SET ROLE ec_test_app;
INSERT INTO "Secrets; drop" (id, owner, encrypted_value) VALUES (3, 'app', 'app-secret');
SELECT id, encrypted_value FROM "Secrets; drop_decrypted" WHERE id = 3;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT keel_decrypt TO ec_test_app;
SET ROLE ec_test_app;
SELECT id, encrypted_value FROM "Secrets; drop_decrypted" WHERE id = 3;
RESET ROLE;

-- Rotation: new writes use the new version; keel.reencrypt moves the rest, in
-- batches, and also encrypts rows written before the column was encrypted.
SELECT version FROM keel.rotate_key('ec_test_k');
INSERT INTO "Secrets; drop" (id, owner, encrypted_value)
SELECT g, 'bulk', 'bulk secret ' || g FROM generate_series(10, 34) g;
SELECT keel._needs_reencrypt(encrypted_value, 'ec_test_k') AS needs, count(*)
  FROM "Secrets; drop" GROUP BY 1 ORDER BY 1;
SET client_min_messages = warning;
CALL keel.reencrypt('"Secrets; drop"', 'encrypted_value', 2);
RESET client_min_messages;
SELECT count(*) FILTER (WHERE keel._needs_reencrypt(encrypted_value, 'ec_test_k')) AS left_over
  FROM "Secrets; drop";
CALL keel.reencrypt('"Secrets; drop"', 'encrypted_value');
-- every value still decrypts, in its own row
SELECT count(*) AS decrypted FROM "Secrets; drop_decrypted" WHERE encrypted_value IS NOT NULL;
SELECT id, encrypted_value FROM "Secrets; drop_decrypted" WHERE id IN (0, 1, 10) ORDER BY id;

-- Bad calls.
SELECT keel.encrypt_column('"Secrets; drop"', 'id', 'ec_test_k');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.encrypt_column('"Secrets; drop"', 'nope', 'ec_test_k');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.encrypt_column('"Secrets; drop"', 'blob', 'ec_test_missing');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.encrypt_column('"Secrets; drop"', 'blob', 'ec_test_k', '{blob}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.encrypt_column('"Secrets; drop"', 'blob', 'ec_test_k', '{ghost}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.encrypt_column('"Secrets; drop_decrypted"', 'blob', 'ec_test_k');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CALL keel.reencrypt('"Secrets; drop"', 'owner');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.create_decrypted_view('snap');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.encrypt_column_trigger();
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- With no master key, writes to an encrypted column fail with the key store's error.
SET keel.master_key_file = '';
INSERT INTO "Secrets; drop" (id, owner, encrypted_value) VALUES (99, 'x', 'nope');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET keel.master_key_file;
SELECT count(*) FROM "Secrets; drop" WHERE id = 99;

SET client_min_messages = warning;
DROP SCHEMA encrypt_column_test CASCADE;
DROP OWNED BY ec_test_app;
DROP ROLE ec_test_app;
DELETE FROM keel.encrypted_columns WHERE key_name = 'ec_test_k';
DELETE FROM keel.data_keys WHERE name LIKE 'ec\_test%';
SELECT keel._keys_changed();
