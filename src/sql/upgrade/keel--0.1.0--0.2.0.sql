-- keel--0.1.0--0.2.0.sql: ALTER EXTENSION keel UPDATE from 0.1.0 (src/sql/released/) to 0.2.0.
\echo Use "ALTER EXTENSION keel UPDATE TO '0.2.0'" to load this file. \quit
--
-- Append-only.  Whoever changes src/sql/keel/ adds the same change here, in a section of
-- its own (a "-- ---- <topic> (<branch or issue>)" line, then the statements), so that
-- an updated database ends exactly like a fresh 0.2.0 install: CREATE OR REPLACE FUNCTION
-- for a changed function (with its COMMENT, GRANT/REVOKE and ALTER FUNCTION ... SET),
-- ALTER TABLE for a changed table, CREATE for a new object, DROP for a removed one.
-- Keep existing data: never drop and recreate a table that holds rows.
-- test/t/705_upgrade.pl compares the catalog of an updated database with a fresh
-- install and fails, naming the objects that differ, when a change is missing here.
-- Plain SQL, run by the extension machinery: @extschema@ is the extension's schema,
-- search_path is set by PostgreSQL for the script: qualify everything (pg_catalog., keel.).

-- ---- released blueprint tables (lead, issues 6/7): 520_blueprint_release.sql, and the
-- drop guard counts released tables' rows (510_blueprints.sql)
CREATE TABLE keel.blueprint_released (
    ext          name NOT NULL,
    table_schema name NOT NULL,
    table_name   name NOT NULL,
    released_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (table_schema, table_name)
);
SELECT pg_catalog.pg_extension_config_dump('keel.blueprint_released', '');
REVOKE ALL ON keel.blueprint_released FROM PUBLIC;

COMMENT ON TABLE keel.blueprint_released IS
'Blueprint tables released from their extension so pg_dump carries them whole (definition, '
'partitions, triggers, rows); dropped with their blueprint. Written by keel.release_blueprint_table().';

-- The released tables of a blueprint that exist now, newest first: a table that references
-- another was made after it, so dropping in this order needs no CASCADE.
CREATE FUNCTION keel._blueprint_released_tables(ext name)
RETURNS SETOF regclass
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.oid::regclass
      FROM keel.blueprint_released r
      JOIN pg_catalog.pg_namespace n ON n.nspname = r.table_schema
      JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = r.table_name
     WHERE r.ext = $1 AND c.relkind IN ('r', 'p')
     ORDER BY c.oid DESC
$$;

REVOKE ALL ON FUNCTION keel._blueprint_released_tables(name) FROM PUBLIC;
COMMENT ON FUNCTION keel._blueprint_released_tables(name) IS
'Internal: the released tables of a blueprint extension that exist now.';

CREATE FUNCTION keel.release_blueprint_table(ext name, tbl regclass)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_seq regclass;
    v_empty boolean;
BEGIN
    IF ext IS NULL OR tbl IS NULL THEN
        RAISE EXCEPTION 'keel.release_blueprint_table: ext and tbl must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = tbl
                      AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                      AND x.extname = ext) THEN
        RAISE EXCEPTION 'table "%" is not a member of extension "%"', tbl, ext
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The dump makes the table again, with its partitions, triggers and rows.  Only a
    -- table the install has just made (empty) is ever dropped here.
    IF keel.blueprint_restoring() THEN
        EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s)', tbl) INTO v_empty;
        IF v_empty THEN
            EXECUTE format('DROP TABLE %s', tbl);
            RETURN 'restoring';
        END IF;
    END IF;
    -- Sequences owned by its columns go with it (pg_dump writes them with the table).
    FOR v_seq IN
        SELECT d.objid::regclass FROM pg_depend d
          JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
         WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
           AND d.refobjid = tbl AND d.deptype = 'a'
           AND EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass
                          AND e.objid = d.objid AND e.deptype = 'e')
    LOOP
        EXECUTE format('ALTER EXTENSION %I DROP SEQUENCE %s', ext, v_seq);
    END LOOP;
    EXECUTE format('ALTER EXTENSION %I DROP TABLE %s', ext, tbl);
    INSERT INTO keel.blueprint_released (ext, table_schema, table_name)
    SELECT ext, n.nspname, c.relname
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl
    ON CONFLICT (table_schema, table_name) DO UPDATE SET ext = EXCLUDED.ext;
    RETURN 'released';
END
$$;

REVOKE ALL ON FUNCTION keel.release_blueprint_table(name, regclass) FROM PUBLIC;
COMMENT ON FUNCTION keel.release_blueprint_table(name, regclass) IS
'Called by a blueprint''s install script: takes a partitioned or audit-chained member table out of '
'the extension so pg_dump carries it whole; it is still dropped with the blueprint. During a dump '
'restore drops the copy the install made (the dump brings the table back) and returns restoring.';

CREATE FUNCTION keel._drop_released_tables(ext name, "cascade" boolean)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tbl regclass;
    v_count integer := 0;
BEGIN
    FOR v_tbl IN SELECT t FROM keel._blueprint_released_tables(ext) t LOOP
        -- The blueprint goes, and its audit chain with it (the drop guard has already
        -- refused the DROP if rows would be lost without force).
        PERFORM keel.disable_audit_chain(v_tbl, forget => true);
        EXECUTE format('DROP TABLE %s%s', v_tbl, CASE WHEN "cascade" THEN ' CASCADE' ELSE '' END);
        v_count := v_count + 1;
    END LOOP;
    DELETE FROM keel.blueprint_released r WHERE r.ext = $1;
    DELETE FROM keel.blueprint_own_rows o WHERE o.ext = $1;
    RETURN v_count;
END
$$;

REVOKE ALL ON FUNCTION keel._drop_released_tables(name, boolean) FROM PUBLIC;
COMMENT ON FUNCTION keel._drop_released_tables(name, boolean) IS
'Internal: drops the released tables of a blueprint that is being dropped (and forgets their chains).';

-- ddl_command_start of DROP EXTENSION: the statement's own targets, read from its parse
-- tree in C (a PL/pgSQL event trigger sees only the command tag).  Runs as keel's owner;
-- a DROP that PostgreSQL then refuses (not the owner, RESTRICT, the drop guard) rolls the
-- released tables' drop back with it.
CREATE FUNCTION keel._blueprint_drop_tables()
RETURNS event_trigger
LANGUAGE c
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'keel_blueprint_drop_tables';

REVOKE ALL ON FUNCTION keel._blueprint_drop_tables() FROM PUBLIC;
COMMENT ON FUNCTION keel._blueprint_drop_tables() IS
'Event trigger, ddl_command_start of DROP EXTENSION: drops the released tables of each blueprint '
'the statement drops (all blueprints when it drops keel with CASCADE).';

-- Named after keel_blueprint_drop_start, so it fires after the guard has noted the rows.
CREATE EVENT TRIGGER keel_blueprint_drop_tables ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION')
    EXECUTE FUNCTION keel._blueprint_drop_tables();

COMMENT ON EVENT TRIGGER keel_blueprint_drop_tables IS
'Drops the released tables of the blueprints a DROP EXTENSION drops.';

-- True when a blueprint's tables hold rows that a dump would carry (rows excluded by the
-- table's pg_extension_config_dump() filter, and rows keel.blueprint_own_rows says the
-- install made, do not count).
CREATE OR REPLACE FUNCTION keel._blueprint_has_rows(ext name)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    v_found boolean;
BEGIN
    FOR r IN
        SELECT c.oid::regclass AS tbl,
               coalesce(nullif(x.extcondition[array_position(x.extconfig, c.oid)], ''),
                        (SELECT 'WHERE NOT (' || o.own_rows || ')' FROM keel.blueprint_own_rows o
                          WHERE o.tbl = c.oid),
                        '') AS filter
          FROM pg_extension x
          JOIN pg_depend d ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = x.oid
                          AND d.classid = 'pg_class'::regclass AND d.deptype = 'e'
          JOIN pg_class c ON c.oid = d.objid
         WHERE x.extname = ext AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        UNION ALL
        -- Released tables (520_blueprint_release.sql) are dropped with the blueprint too.
        SELECT t, '' FROM keel._blueprint_released_tables(ext) t
    LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s %s)', r.tbl, r.filter) INTO v_found;
        IF v_found THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END
$$;

-- ---- partition maintenance (partition2, issue 5): new partitions carry the parent's
-- column privileges (100_partition.sql)
CREATE OR REPLACE FUNCTION keel._partition_inherit_access(parent regclass, part regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner oid;
    v_acl   aclitem[];
    r       record;
BEGIN
    SELECT c.relowner, c.relacl INTO v_owner, v_acl FROM pg_class c WHERE c.oid = parent;
    IF (SELECT c.relowner FROM pg_class c WHERE c.oid = part) IS DISTINCT FROM v_owner THEN
        EXECUTE format('ALTER TABLE %s OWNER TO %I', part, pg_get_userbyid(v_owner));
    END IF;
    FOR r IN SELECT a.grantee, a.privilege_type, bool_or(a.is_grantable) AS grantable
               FROM aclexplode(v_acl) a
              WHERE a.grantee <> v_owner
              GROUP BY a.grantee, a.privilege_type
              ORDER BY 1, 2 LOOP
        EXECUTE format('GRANT %s ON TABLE %s TO %s%s', r.privilege_type, part,
                       CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r.grantee)) END,
                       CASE WHEN r.grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    -- Column privileges (GRANT SELECT (col) ON parent TO role): one GRANT per privilege
    -- and grantee, naming its columns.
    FOR r IN SELECT x.grantee, x.privilege_type, x.is_grantable AS grantable,
                    string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) AS cols
               FROM pg_attribute a, aclexplode(a.attacl) x
              WHERE a.attrelid = parent AND a.attnum > 0 AND NOT a.attisdropped
                AND a.attacl IS NOT NULL AND x.grantee <> v_owner
              GROUP BY x.grantee, x.privilege_type, x.is_grantable
              ORDER BY 1, 2, 3 LOOP
        EXECUTE format('GRANT %s (%s) ON TABLE %s TO %s%s', r.privilege_type, r.cols, part,
                       CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r.grantee)) END,
                       CASE WHEN r.grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION keel._partition_inherit_access(regclass, regclass) FROM PUBLIC;

COMMENT ON FUNCTION keel._partition_inherit_access(regclass, regclass) IS
'Gives a new partition its parent''s owner, table privileges and column privileges '
'(declarative partitioning copies none of them).';

-- Rows a blueprint's install makes itself (CozyEngine's default personality) do not hold
-- the blueprint against DROP EXTENSION, yet pg_dump must carry them, edits included: so
-- they are not filtered out of the dump; the install marks them here instead (and makes
-- them only outside a restore, which brings them back).  Made by every install, restores
-- included, so this table is not dumped.
CREATE TABLE keel.blueprint_own_rows (
    tbl      regclass PRIMARY KEY,
    ext      name NOT NULL,
    own_rows text NOT NULL
);
REVOKE ALL ON keel.blueprint_own_rows FROM PUBLIC;

COMMENT ON TABLE keel.blueprint_own_rows IS
'Per blueprint table, an SQL condition matching the rows its install made unchanged: the drop '
'guard does not count them. Written by keel.mark_blueprint_own_rows(); not dumped (every install writes it).';

CREATE FUNCTION keel.mark_blueprint_own_rows(ext name, tbl regclass, own_rows text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ext IS NULL OR tbl IS NULL OR own_rows IS NULL THEN
        RAISE EXCEPTION 'keel.mark_blueprint_own_rows: ext, tbl and own_rows must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- Checked now, so the drop guard never meets a condition that does not parse.
    EXECUTE format('SELECT 1 FROM %s WHERE (%s) LIMIT 0', tbl, own_rows);
    INSERT INTO keel.blueprint_own_rows AS o (tbl, ext, own_rows) VALUES (tbl, ext, own_rows)
    ON CONFLICT ON CONSTRAINT blueprint_own_rows_pkey DO UPDATE SET ext = EXCLUDED.ext, own_rows = EXCLUDED.own_rows;
END
$$;

REVOKE ALL ON FUNCTION keel.mark_blueprint_own_rows(name, regclass, text) FROM PUBLIC;
COMMENT ON FUNCTION keel.mark_blueprint_own_rows(name, regclass, text) IS
'Called by a blueprint''s install script: rows of tbl matching own_rows (an SQL condition) are the '
'install''s own and do not hold the blueprint against DROP EXTENSION; pg_dump still carries them.';

-- ---- restore detection also reads the statement (lead, issue 6): 510_blueprints.sql
-- A blueprint install inside a pg_dump restore (pg_dump's script always starts with
-- SET row_security = off, which nothing else in a normal install does; CREATE EXTENSION
-- leaves it alone) must not make what the dump brings back itself: keel's
-- configuration rows (partitioning, keys, encrypted columns, chains, tasks), the
-- released tables and the partitions.  The blueprints skip that wiring then; see
-- docs/blueprints/README.md.  A session that turned row_security off itself is told
-- apart by its statement: pg_dump always writes "CREATE EXTENSION IF NOT EXISTS <name>
-- WITH SCHEMA <schema>", and never ALTER EXTENSION, so an install or update typed any
-- other way is never taken for a restore.  (Row triggers, which run under COPY, see only
-- row_security.)
CREATE OR REPLACE FUNCTION keel.blueprint_restoring()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT NOT current_setting('row_security')::boolean
       AND (current_query() !~* '(create|alter)\s+extension\M'
            OR current_query() ~* '^\s*create\s+extension\s+if\s+not\s+exists\s+\S+\s+with\s+schema\s')
$$;

COMMENT ON FUNCTION keel.blueprint_restoring() IS
'True when a blueprint is being installed by a pg_dump restore (row_security is off, as pg_dump''s script '
'sets it, and the statement is pg_dump''s own CREATE EXTENSION IF NOT EXISTS ... WITH SCHEMA).';
