-- Released blueprint tables.
--
-- A blueprint table that keel keeps changing after the install (a time-partitioned table
-- whose partitions maintenance makes and retires, a table carrying an audit chain whose
-- triggers name its chain) cannot stay an extension member: pg_dump writes neither the
-- definition nor the triggers nor the partition indexes of a member, so a restore would
-- bring the rows back unchained, and the partitions back with an "already exists" for
-- every index.  keel.release_blueprint_table() takes such a table out of the extension
-- at the end of the install, so pg_dump carries it whole, like any application table.
--
-- Released tables still go with their blueprint: DROP EXTENSION (and keel.drop_blueprint)
-- drops them first (the event trigger keel_blueprint_drop_tables), and the drop guard
-- counts their rows.  During a restore the install leaves them to the dump: it drops
-- the copies it has just made, and the dump creates them again with everything on them.

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
