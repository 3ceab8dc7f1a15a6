-- Least privilege: what an application role can and cannot do with keel, and catalog
-- checks that keep it so (a new function that forgets its REVOKE, a SECURITY DEFINER
-- function without a pinned search_path, a table granted to PUBLIC: each fails here).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA least_privilege_test; SET search_path = least_privilege_test, public;
\set SHOW_CONTEXT never
\set regress_db :DBNAME
\set regress_user :USER

-- Every blueprint installed, so the checks below cover their functions too.
CREATE SCHEMA least_privilege_cr; CREATE EXTENSION keel_coderunner SCHEMA least_privilege_cr;
CREATE SCHEMA least_privilege_tp; CREATE EXTENSION keel_terminalpp SCHEMA least_privilege_tp;
CREATE SCHEMA least_privilege_al; CREATE EXTENSION keel_agentlink SCHEMA least_privilege_al;
CREATE SCHEMA least_privilege_as; CREATE EXTENSION keel_agentstudio SCHEMA least_privilege_as;
CREATE SCHEMA least_privilege_ce; CREATE EXTENSION keel_cozyengine SCHEMA least_privilege_ce;

-- ---------------------------------------------------------------- catalog checks

-- Functions of schema keel that PUBLIC may execute.  This list is the whole of keel's
-- application surface; anything executable by PUBLIC and not listed here is reported.
-- Add a name only for a function every role may call safely (it checks its own
-- privileges, or runs with the caller's).  Internal (_*) functions never belong here.
CREATE TABLE public_functions_allowed (proname name PRIMARY KEY);
INSERT INTO public_functions_allowed VALUES
    -- updated_at: run as the caller, who must own the table
    ('touch_updated_at'), ('enable_updated_at'), ('disable_updated_at'),
    -- field encryption: decryption checks membership of keel_decrypt itself; column_aad
    -- only computes the associated data a decrypting view passes to it
    ('encrypt'), ('encrypt_text'), ('encrypt_jsonb'), ('column_aad'),
    ('decrypt'), ('decrypt_text'), ('decrypt_jsonb'),
    -- passwords and API keys
    ('hash_password'), ('verify_password'), ('password_needs_rehash'),
    ('issue_api_key'), ('hash_api_key'), ('hash_token'),
    -- audit chain: verification is read-only; the trigger functions cannot be called
    -- from SQL, and the append trigger links only rows of its own chained table (a table
    -- owner's new partition needs them executable)
    ('verify_audit_chain'), ('audit_chain_digest'), ('audit_chain_append'), ('audit_chain_refuse'),
    -- CJK text search: runs as the caller, who needs CREATE on the target schema
    ('create_cjk_config');

-- Executable by PUBLIC but not on the allow-list (must be empty).  Support functions
-- taking an `internal` argument (text search parser callbacks, ...) cannot be called
-- from SQL at all and need no entry.
SELECT p.oid::regprocedure AS public_but_not_allowed
  FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
 WHERE p.pronamespace = 'keel'::regnamespace
   AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'
   AND NOT 'internal'::regtype = ANY (p.proargtypes::regtype[])
   AND (p.proname NOT IN (SELECT proname FROM public_functions_allowed) OR p.proname LIKE '\_%')
 ORDER BY 1::text;
-- (not vacuous: the same query finds the allowed updated_at functions)
SELECT count(*) >= 3 AS public_functions_seen
  FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
 WHERE p.pronamespace = 'keel'::regnamespace
   AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'
   AND p.proname IN (SELECT proname FROM public_functions_allowed);

-- SECURITY DEFINER functions executable by PUBLIC (must be empty: every one of them is
-- an administrator's tool, granted by name to the roles that need it).
SELECT p.oid::regprocedure AS public_security_definer
  FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
 WHERE p.pronamespace = 'keel'::regnamespace AND p.prosecdef
   AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'
 ORDER BY 1::text;

-- Every SECURITY DEFINER function of every keel extension pins search_path with
-- pg_temp last (must be empty), and those in schema keel use exactly the house setting.
-- Exempt: procedures that COMMIT between batches (keel.reencrypt), which PostgreSQL
-- forbids to carry a SET clause; they are not SECURITY DEFINER and qualify every name.
WITH keel_functions AS (
    SELECT p.oid, p.pronamespace, p.prosecdef, p.prolang, p.proconfig, p.prokind
      FROM pg_proc p
      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
      JOIN pg_extension e ON e.oid = d.refobjid
     WHERE e.extname = 'keel' OR e.extname LIKE 'keel\_%'
)
SELECT f.oid::regprocedure AS unpinned_search_path, f.proconfig
  FROM keel_functions f
 WHERE (f.prosecdef OR f.prolang NOT IN (SELECT oid FROM pg_language WHERE lanname IN ('c', 'internal')))
   AND NOT (f.prokind = 'p' AND NOT f.prosecdef)
   AND NOT EXISTS (SELECT 1 FROM unnest(f.proconfig) c
                    WHERE c LIKE 'search\_path=%'
                      AND c ~ 'pg_temp"?$'
                      AND (f.pronamespace <> 'keel'::regnamespace OR c = 'search_path=pg_catalog, pg_temp'))
 ORDER BY 1::text;
-- (the check above is not vacuous: it looked at the key store's definer functions and
-- at the blueprints' own functions)
SELECT count(*) >= 4 AS definer_functions_checked
  FROM pg_proc WHERE pronamespace = 'keel'::regnamespace AND prosecdef;
SELECT count(DISTINCT e.extname) >= 3 AS blueprints_checked
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid
 WHERE e.extname LIKE 'keel\_%';

-- Relations of schema keel with a privilege granted to PUBLIC, beyond the metadata view
-- keel.keys (SELECT) (must be empty).
SELECT c.oid::regclass AS public_relation, a.privilege_type
  FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
 WHERE c.relnamespace = 'keel'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
   AND a.grantee = 0
   AND NOT (c.oid = 'keel.keys'::regclass AND a.privilege_type = 'SELECT')
 ORDER BY 1::text, 2;

-- PUBLIC may use schema keel but never create in it (an object planted there would
-- shadow keel's own for every caller).
SELECT a.privilege_type AS public_on_schema_keel
  FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
 WHERE n.nspname = 'keel' AND a.grantee = 0 ORDER BY 1;

-- The master key settings: only a superuser sets or reads them.
SELECT name, context FROM pg_settings WHERE name LIKE 'keel.master\_key%' ORDER BY name;

-- ---------------------------------------------------------------- an application role

CREATE ROLE least_privilege_app;
GRANT USAGE, CREATE ON SCHEMA least_privilege_test TO least_privilege_app;

-- Tries every DML verb (and TRUNCATE, nextval, setval) on every relation of schema
-- keel as the current role, each in a subtransaction that is always rolled back.
-- outcome: denied (42501), or permitted (the statement ran or failed past the
-- privilege check).  Generic on purpose: a table added to keel later is probed too.
CREATE FUNCTION probe_keel_relations()
RETURNS TABLE (rel regclass, action text, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    r   record;
    v   record;
    col name;
BEGIN
    FOR r IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_class c
              WHERE c.relnamespace = 'keel'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
              ORDER BY c.oid::regclass::text LOOP
        SELECT a.attname INTO col FROM pg_attribute a
         WHERE a.attrelid = r.rel AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum LIMIT 1;
        FOR v IN SELECT * FROM (VALUES
                    ('select',   format('SELECT 1 FROM %s LIMIT 0', r.rel), r.relkind <> 'S'),
                    ('insert',   format('INSERT INTO %s DEFAULT VALUES', r.rel), r.relkind IN ('r', 'p', 'v', 'f')),
                    ('update',   format('UPDATE %s SET %I = %I WHERE false', r.rel, col, col), r.relkind IN ('r', 'p', 'v', 'f')),
                    ('delete',   format('DELETE FROM %s WHERE false', r.rel), r.relkind IN ('r', 'p', 'v', 'f')),
                    ('truncate', format('TRUNCATE %s', r.rel), r.relkind IN ('r', 'p')),
                    ('nextval',  format('SELECT nextval(%L)', r.rel), r.relkind = 'S'),
                    ('setval',   format('SELECT setval(%L, 1)', r.rel), r.relkind = 'S')
                 ) AS t(action, stmt, applies) WHERE applies LOOP
            BEGIN
                EXECUTE v.stmt;
                RAISE EXCEPTION 'least_privilege_probe_ran';
            EXCEPTION
                WHEN insufficient_privilege THEN
                    rel := r.rel; action := v.action; outcome := 'denied'; RETURN NEXT;
                WHEN OTHERS THEN
                    rel := r.rel; action := v.action; outcome := 'permitted'; RETURN NEXT;
            END;
        END LOOP;
    END LOOP;
END
$$;

SET ROLE least_privilege_app;
CREATE TEMP TABLE probe AS SELECT * FROM least_privilege_test.probe_keel_relations();
-- Everything but reading keel.keys is denied (must be empty) ...
SELECT rel, action, outcome FROM probe
 WHERE outcome <> 'denied' AND NOT (rel = 'keel.keys'::regclass AND action = 'select')
 ORDER BY 1::text, 2;
-- ... and the probe does see a permitted action and the key store's relations.
SELECT bool_or(rel = 'keel.keys'::regclass AND action = 'select' AND outcome = 'permitted') AS keys_view_readable,
       bool_and(outcome = 'denied') FILTER (WHERE rel IN ('keel.data_keys'::regclass, 'keel.key_check'::regclass,
                                                          'keel.data_key_id_seq'::regclass)) AS key_store_denied,
       count(DISTINCT rel) >= 4 AS relations_probed
  FROM probe;
DROP TABLE probe;

-- Key material: not readable, not through the view either (it has no key column).
SELECT wrapped_key FROM keel.data_keys;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.key_check;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT wrapped_key FROM keel.keys;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE keel.keys SET state = 'destroyed';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Key administration and internal helpers: not callable.
SELECT keel.create_key('least_privilege_k');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.rotate_key('least_privilege_k');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.destroy_key('least_privilege_k', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.rewrap_keys('/tmp/other.key');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel._new_wrapped_key(1, 1, 'encrypt');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel._rewrap_key(1, 1, 'encrypt', '\x00', '/tmp/other.key');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel._master_key_check('/etc/passwd');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel._ensure_key_check();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel._keys_changed();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Test hooks: not callable.
SELECT keel._boundary_selftest('none');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel._boundary_live_objects();
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- The master key settings: not readable, not settable, not even for its own sessions.
SELECT current_setting('keel.master_key_command');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET keel.master_key_command = 'cat /tmp/my.key';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_config('keel.master_key_file', '/tmp/my.key', false);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER ROLE least_privilege_app SET keel.master_key_command = 'cat /tmp/my.key';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS visible_key_settings FROM pg_settings WHERE name LIKE 'keel.master\_key%';

-- keel's own objects: not alterable, not replaceable, nothing new planted in keel.
CREATE FUNCTION keel.least_privilege_planted() RETURNS int LANGUAGE sql AS 'SELECT 1';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE keel.least_privilege_planted (x int);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE OR REPLACE FUNCTION keel.enable_updated_at(tbl regclass, col name DEFAULT 'updated_at',
    on_unchanged text DEFAULT 'touch', created_col name DEFAULT NULL)
RETURNS name LANGUAGE sql AS 'SELECT NULL::name';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER FUNCTION keel.create_key(text, text, boolean) SECURITY INVOKER;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER TABLE keel.data_keys DISABLE TRIGGER ALL;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP VIEW keel.keys;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP EXTENSION keel;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER EXTENSION keel UPDATE;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
GRANT SELECT ON keel.data_keys TO least_privilege_app;
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- ---------------------------------------------------------------- chained rows
-- An administrator chains a table and grants the application INSERT and SELECT, even
-- UPDATE, DELETE and TRUNCATE: the rows stay append-only for it all the same.
RESET ROLE;
CREATE TABLE ledger (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, what text,
                     previous_hash varchar(64), signature varchar(64));
SELECT keel.enable_audit_chain('ledger', 'previous_hash', 'signature', 'least_privilege_chain') > 0 AS chained;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ledger TO least_privilege_app;
SET ROLE least_privilege_app;
INSERT INTO ledger (what) SELECT 'entry ' || g FROM generate_series(1, 5) g;
SELECT ok, rows_checked FROM keel.verify_audit_chain('ledger');
SELECT keel.audit_chain_digest('ledger') IS NOT NULL AS can_take_digest;
UPDATE ledger SET what = 'rewritten' WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM ledger WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE ledger;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- ... nor can it switch the protection off, or the triggers for its session.
ALTER TABLE ledger DISABLE TRIGGER ALL;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET session_replication_role = replica;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.disable_audit_chain('ledger');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.enable_audit_chain('ledger');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS rows_kept FROM ledger;
RESET ROLE;
-- The table's owner can switch the triggers off (PostgreSQL lets an owner do anything to
-- its table), but not unseen: the chain names the first changed row.
ALTER TABLE ledger DISABLE TRIGGER USER;
UPDATE ledger SET what = 'rewritten by the owner' WHERE id = 3;
ALTER TABLE ledger ENABLE TRIGGER USER;
SELECT ok, first_bad_position, break_kind FROM keel.verify_audit_chain('ledger');

-- ---------------------------------------------------------------- decryption
-- Encrypting needs no grant; decrypting needs membership in keel_decrypt, which the
-- application cannot give itself.
SELECT name FROM keel.create_key('least_privilege_enc');
SET ROLE least_privilege_app;
CREATE TEMP TABLE sealed AS SELECT keel.encrypt_text('app secret', 'least_privilege_enc') AS v;
SELECT keel.decrypt_text(v) FROM sealed;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
GRANT keel_decrypt TO least_privilege_app;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.encrypt_column('ledger', 'what', 'least_privilege_enc');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT keel_decrypt TO least_privilege_app;
SET ROLE least_privilege_app;
SELECT keel.decrypt_text(v) AS with_grant FROM sealed;
DROP TABLE sealed;
RESET ROLE;
REVOKE keel_decrypt FROM least_privilege_app;
SET ROLE least_privilege_app;

-- What an application needs works: its own table with updated_at kept by keel, the
-- key metadata.
CREATE TABLE notes (id int PRIMARY KEY, body text, updated_at timestamptz);
INSERT INTO notes VALUES (1, 'a', '2000-01-01 00:00:00+00');
SELECT keel.enable_updated_at('notes');
UPDATE notes SET body = 'b';
SELECT updated_at > '2000-01-01 00:00:00+00' AS touched FROM notes;
SELECT count(*) >= 0 AS keys_metadata_readable FROM keel.keys;
SELECT keel.disable_updated_at('notes');
SELECT to_tsvector('keel.chinese', '数据库') = to_tsvector('keel.chinese', '数据库') AS cjk_search_usable;
SELECT keel.create_cjk_config('least_privilege_test', 'app_chinese');
-- ... but nothing in schema keel.
SELECT keel.create_cjk_config('keel', 'planted');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;

-- ... but not on someone else's table.
CREATE TABLE owned_by_admin (id int, updated_at timestamptz);
GRANT SELECT, INSERT, UPDATE ON owned_by_admin TO least_privilege_app;
SET ROLE least_privilege_app;
SELECT keel.enable_updated_at('owned_by_admin');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS triggers_on_admin_table FROM pg_trigger
 WHERE tgrelid = 'owned_by_admin'::regclass AND NOT tgisinternal;

-- A blueprint holding rows does not stop an application role from dropping its own
-- schema (the drop guard's event triggers work for every role).
INSERT INTO least_privilege_cr.users (email, password_hash) VALUES ('a@example.com', 'h');
GRANT CREATE ON DATABASE :"regress_db" TO least_privilege_app;
SET ROLE least_privilege_app;
CREATE SCHEMA least_privilege_app_own;
CREATE TABLE least_privilege_app_own.t (x int);
DROP SCHEMA least_privilege_app_own CASCADE;
-- nor can it drop the blueprint, through its schema or otherwise
DROP SCHEMA least_privilege_cr CASCADE;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP EXTENSION keel_coderunner;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.drop_blueprint('keel_coderunner', force => true);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE CREATE ON DATABASE :"regress_db" FROM least_privilege_app;
-- a superuser is still stopped by the guard
DROP SCHEMA least_privilege_cr CASCADE;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS rows_kept FROM least_privilege_cr.users;

-- ---------------------------------------------------------------- a key administrator
-- A role granted one definer function gets that function, pinned to pg_catalog: a
-- look-alike of a catalog function on its own search_path changes nothing.
CREATE ROLE least_privilege_keyadmin;
GRANT EXECUTE ON FUNCTION keel.create_key(text, text, boolean) TO least_privilege_keyadmin;
GRANT USAGE, CREATE ON SCHEMA least_privilege_test TO least_privilege_keyadmin;
SET ROLE least_privilege_keyadmin;
CREATE FUNCTION least_privilege_test.octet_length(text) RETURNS int LANGUAGE sql AS 'SELECT 5';
CREATE FUNCTION least_privilege_test.nextval(regclass) RETURNS bigint LANGUAGE sql AS 'SELECT 1::bigint';
SET search_path = least_privilege_test, pg_catalog;
SELECT octet_length(repeat('k', 64)) AS hijacked_here;
SELECT keel.create_key(repeat('k', 64));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT name, purpose, version, state FROM keel.create_key('least_privilege_k');
-- ... and still nothing else.
SELECT keel.rotate_key('least_privilege_k');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM keel.data_keys;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SET search_path = least_privilege_test, public;
SELECT key_id = (SELECT last_value FROM keel.data_key_id_seq) AS real_sequence_used
  FROM keel.keys WHERE name = 'least_privilege_k';

-- ---------------------------------------------------------------- CREATE EXTENSION
-- keel is not a trusted extension (control file: superuser = true, trusted = false):
-- the owner of a database cannot install it there; a superuser must.
CREATE ROLE least_privilege_dbowner LOGIN;
CREATE DATABASE least_privilege_db OWNER least_privilege_dbowner;
\c least_privilege_db least_privilege_dbowner
CREATE EXTENSION keel;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS keel_installed FROM pg_extension WHERE extname = 'keel';
\c :regress_db :regress_user
DROP DATABASE least_privilege_db;
DROP ROLE least_privilege_dbowner;

-- ---------------------------------------------------------------- clean up
SET search_path = least_privilege_test, public;
SELECT keel.disable_audit_chain('ledger', forget => true);
DROP TABLE ledger;
DELETE FROM keel.data_keys WHERE name IN ('least_privilege_k', 'least_privilege_chain', 'least_privilege_enc');
SELECT keel._keys_changed();
SET client_min_messages = warning;
DO $$ BEGIN
    PERFORM keel.drop_blueprint(b, force => true)
       FROM unnest('{keel_coderunner,keel_terminalpp,keel_agentlink,keel_agentstudio,keel_cozyengine}'::name[]) b;
END $$;
DROP SCHEMA least_privilege_cr, least_privilege_tp, least_privilege_al, least_privilege_as, least_privilege_ce;
DROP SCHEMA least_privilege_test CASCADE;
RESET client_min_messages;
REVOKE ALL ON FUNCTION keel.create_key(text, text, boolean) FROM least_privilege_keyadmin;
DROP ROLE least_privilege_keyadmin;
DROP ROLE least_privilege_app;
