-- Passwords (argon2id) and API keys / tokens.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA passwords_test; SET search_path = passwords_test, public;
\set SHOW_CONTEXT never

-- Defaults are OWASP's argon2id parameters.
SHOW keel.password_memory_kib;
SHOW keel.password_iterations;
SHOW keel.password_parallelism;
CREATE TABLE users (email text PRIMARY KEY, password_hash varchar(255));
INSERT INTO users VALUES ('ada@example.com', keel.hash_password('correct horse battery'));
SELECT left(password_hash, 31) AS phc_head, length(password_hash) AS len FROM users;
SELECT keel.verify_password('correct horse battery', password_hash) AS right_pw,
       keel.verify_password('correct horse batterY', password_hash) AS wrong_pw,
       keel.verify_password('', password_hash) AS empty_pw
  FROM users;
SELECT keel.hash_password('x') <> keel.hash_password('x') AS salted;
-- A reference hash (argon2 reference implementation) verifies.
SELECT keel.verify_password('password', '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc') AS reference;

-- Raising the cost makes older hashes "need rehash".
SELECT keel.password_needs_rehash(password_hash) AS needs_now FROM users;
SET keel.password_memory_kib = 32768;
SELECT keel.password_needs_rehash(password_hash) AS needs_after_raise FROM users;
SELECT left(keel.hash_password('x'), 31) AS new_params;
RESET keel.password_memory_kib;
SELECT keel.password_needs_rehash('$2b$12$abcdefghijklmnopqrstuu5Jz1nHq0XcVx1sFbJ7D0Jc7UeCzQ3m') AS bcrypt_needs;

-- Bad hashes and settings.
SELECT keel.verify_password('x', 'not a hash');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.verify_password('x', '$argon2id$v=19$m=1024,t=0,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.verify_password('x', '$2b$12$abcdefghijklmnopqrstuu5Jz1nHq0XcVx1sFbJ7D0Jc7UeCzQ3m');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.verify_password(NULL, 'x') IS NULL AS strict;
SET keel.password_memory_kib = 100;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE ROLE passwords_test_app;
SET ROLE passwords_test_app;
SET keel.password_iterations = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE passwords_test_app;

-- API keys: shown once, stored as prefix + SHA-256.
CREATE TABLE api_keys (key_prefix varchar(10), key_hash varchar(64) UNIQUE);
CREATE TEMP TABLE issued AS SELECT * FROM keel.issue_api_key('sk');
INSERT INTO api_keys SELECT key_prefix, key_hash FROM issued;
SELECT length(api_key) AS key_len, api_key ~ '^sk_[A-Za-z0-9_-]{43}$' AS url_safe,
       key_prefix = left(api_key, 7) AS prefix_ok, length(key_hash) AS hash_len
  FROM issued;
SELECT count(*) AS found FROM api_keys a JOIN issued i ON a.key_hash = keel.hash_api_key(i.api_key);
SELECT count(*) AS not_found FROM api_keys WHERE key_hash = keel.hash_api_key('sk_guess');
SELECT keel.hash_api_key('abc') AS sha256_abc;
SELECT keel.hash_token('abc') = keel.hash_api_key('abc') AS same_digest;
SELECT keel.issue_api_key('toolong');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.issue_api_key('s k');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

SET client_min_messages = warning;
DROP SCHEMA passwords_test CASCADE;
