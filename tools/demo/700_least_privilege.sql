\echo
\echo '==> Chapter 7: an application role does its job, and no more'
\echo
SELECT name FROM keel.create_key('demo_least', if_not_exists => true) \gset
CREATE TABLE demo_ledger (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, what text NOT NULL,
                          previous_hash varchar(64), signature varchar(64));
SELECT keel.enable_audit_chain('demo_ledger', 'previous_hash', 'signature') > 0 AS chained \gset
SET client_min_messages = warning;
DROP ROLE IF EXISTS demo_app;
RESET client_min_messages;
CREATE ROLE demo_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON demo_ledger TO demo_app;
\echo '    CREATE ROLE demo_app;  GRANT SELECT, INSERT, UPDATE, DELETE ON demo_ledger TO demo_app;'
\echo '    (demo_ledger is chained; demo_app got every privilege on it, even UPDATE and DELETE)'
SET ROLE demo_app;
\echo
\echo '    As demo_app: it writes, encrypts and verifies ...'
INSERT INTO demo_ledger (what) VALUES ('invoice 1'), ('invoice 2');
SELECT left(keel.encrypt_text('card 4242', 'demo_least'), 24) || '...' AS encrypted,
       (SELECT ok FROM keel.verify_audit_chain('demo_ledger')) AS chain_ok;
\echo
\echo '    ... but cannot rewrite history, decrypt, or see a key:'
\set ON_ERROR_STOP 0
\set SHOW_CONTEXT never
\set VERBOSITY terse
UPDATE demo_ledger SET what = 'invoice 1 (cheaper)' WHERE id = 1;
SELECT keel.decrypt_text(keel.encrypt_text('card 4242', 'demo_least'));
SELECT wrapped_key FROM keel.data_keys;
SET session_replication_role = replica;
\set VERBOSITY default
\set ON_ERROR_STOP 1
RESET ROLE;
\echo
\echo '    Every rule is tested in sql/least_privilege.sql; docs/security.md says why keel is'
\echo '    not a trusted extension (a superuser installs it).'
DROP OWNED BY demo_app;
DROP ROLE demo_app;
