-- keel_cozyengine--0.1.0--0.2.0.sql: ALTER EXTENSION keel_cozyengine UPDATE from 0.1.0 (src/sql/released/) to 0.2.0.
\echo Use "ALTER EXTENSION keel_cozyengine UPDATE TO '0.2.0'" to load this file. \quit
--
-- Append-only.  Whoever changes src/sql/keel_cozyengine/ adds the same change here, in a section of
-- its own (a "-- ---- <topic> (<branch or issue>)" line, then the statements), so that
-- an updated database ends exactly like a fresh 0.2.0 install: CREATE OR REPLACE FUNCTION
-- for a changed function (with its COMMENT, GRANT/REVOKE and ALTER FUNCTION ... SET),
-- ALTER TABLE for a changed table, CREATE for a new object, DROP for a removed one.
-- Keep existing data: never drop and recreate a table that holds rows.
-- test/t/705_upgrade.pl compares the catalog of an updated database with a fresh
-- install and fails, naming the objects that differ, when a change is missing here.
-- Plain SQL, run by the extension machinery: @extschema@ is the extension's schema,
-- search_path is set by PostgreSQL for the script: qualify everything (pg_catalog., keel.).

-- ---- keel first (upgrade, issue 7): the sections below use keel 0.2.0, so refuse to run
-- before ALTER EXTENSION keel UPDATE (same guard as src/sql/keel_cozyengine/000_requires_keel.sql).
DO $keel_guard$
DECLARE
    v_installed text := (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'keel');
    v_files     text := (SELECT a.default_version FROM pg_catalog.pg_available_extensions a WHERE a.name = 'keel');
BEGIN
    IF v_installed IS DISTINCT FROM v_files THEN
        RAISE EXCEPTION 'keel_cozyengine needs keel %, the version of the installed files, but keel is at %', v_files, v_installed
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run ALTER EXTENSION keel UPDATE first, then this statement again.';
    END IF;
END
$keel_guard$;

-- ---- released blueprint tables (lead, issues 6/7): audit_events leaves the extension so pg_dump
-- carries it whole, with its audit chain's triggers (900_dump.sql).  Needs keel 0.2.0:
-- run ALTER EXTENSION keel UPDATE first.
SELECT keel.release_blueprint_table('keel_cozyengine',
    pg_catalog.format('%I.audit_events', pg_catalog.current_schema())::regclass);

-- ---- the default personality is dumped, edits included (lead, issue 6): 900_dump.sql
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.format('%I.personalities', pg_catalog.current_schema())::regclass, '');
SELECT keel.mark_blueprint_own_rows('keel_cozyengine',
    pg_catalog.format('%I.personalities', pg_catalog.current_schema())::regclass,
    $$id = 'assistant-v1' AND updated_at = created_at$$);
