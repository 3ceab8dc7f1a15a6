-- Blueprint support: what every blueprint extension (an extension that requires keel)
-- gets from the engine.
--
--  * keel.register_blueprint_tables(ext): called at the end of a blueprint's install
--    script.  Every member table is registered with pg_extension_config_dump() so pg_dump
--    carries its rows; member partitions are released from the extension, so pg_dump
--    carries them (DDL and rows) as ordinary partitions, exactly like the partitions that
--    maintenance makes later.
--
--  * The drop guard: DROP EXTENSION (or DROP SCHEMA ... CASCADE, DROP OWNED) that would
--    drop a blueprint whose tables hold rows is refused unless the user forces it, with
--    keel.drop_blueprint(ext, force => true) or SET LOCAL keel.allow_blueprint_drop = on.
--    ddl_command_start notes which blueprints hold rows (their tables still exist then);
--    sql_drop, which knows what the command dropped, refuses if one of them is among it.

-- Blueprints: the extensions that require keel.
CREATE FUNCTION keel._blueprint_extensions()
RETURNS SETOF name
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT e.extname
      FROM pg_depend d
      JOIN pg_extension e ON e.oid = d.objid
     WHERE d.classid = 'pg_extension'::regclass
       AND d.refclassid = 'pg_extension'::regclass
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'keel')
       AND d.deptype = 'n'
$$;

COMMENT ON FUNCTION keel._blueprint_extensions() IS
'The installed blueprint extensions: every extension that requires keel.';

-- True when a blueprint's tables hold rows that a dump would carry (rows excluded by the
-- table's pg_extension_config_dump() filter, and rows keel.blueprint_own_rows says the
-- install made, do not count).
CREATE FUNCTION keel._blueprint_has_rows(ext name)
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

COMMENT ON FUNCTION keel._blueprint_has_rows(name) IS
'True when a member table of the blueprint extension holds a row that pg_dump would carry.';

CREATE FUNCTION keel.register_blueprint_tables(ext name, dump_filters jsonb DEFAULT '{}')
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    v_count integer := 0;
BEGIN
    IF ext IS NULL OR dump_filters IS NULL THEN
        RAISE EXCEPTION 'ext and dump_filters must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = ext) THEN
        RAISE EXCEPTION 'extension "%" does not exist', ext
            USING ERRCODE = 'undefined_object';
    END IF;
    FOR r IN
        SELECT c.oid::regclass AS tbl, c.relname, c.relkind, c.relispartition
          FROM pg_extension x
          JOIN pg_depend d ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = x.oid
                          AND d.classid = 'pg_class'::regclass AND d.deptype = 'e'
          JOIN pg_class c ON c.oid = d.objid
         WHERE x.extname = ext AND c.relkind IN ('r', 'p')
         ORDER BY c.relname
    LOOP
        IF r.relispartition THEN
            -- Partitions belong to the data, not to the extension: pg_dump then writes
            -- them (and their rows) like the partitions maintenance creates later.
            EXECUTE format('ALTER EXTENSION %I DROP TABLE %s', ext, r.tbl);
        ELSIF r.relkind = 'r' THEN
            PERFORM pg_extension_config_dump(r.tbl, coalesce(dump_filters ->> r.relname::text, ''));
            v_count := v_count + 1;
        END IF;
    END LOOP;
    RETURN v_count;
END
$$;

COMMENT ON FUNCTION keel.register_blueprint_tables(name, jsonb) IS
'Called by a blueprint''s install script: registers every member table with '
'pg_extension_config_dump() (dump_filters: {"table": "WHERE ..."} excludes install-time rows) '
'and releases member partitions so pg_dump carries them as ordinary tables.';

REVOKE ALL ON FUNCTION keel.register_blueprint_tables(name, jsonb) FROM PUBLIC;

CREATE FUNCTION keel._blueprint_drop_start()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_full name[];
BEGIN
    PERFORM set_config('keel.blueprint_drop_state', '', true);
    IF coalesce(current_setting('keel.allow_blueprint_drop', true), 'off') IN ('on', 'true', '1') THEN
        RETURN;
    END IF;
    SELECT array_agg(b ORDER BY b) INTO v_full
      FROM keel._blueprint_extensions() AS b
     WHERE keel._blueprint_has_rows(b);
    IF v_full IS NULL THEN
        RETURN;
    END IF;
    -- Dropping keel itself (or its schema) with CASCADE takes these event triggers with
    -- it, so sql_drop would never run: refuse here, on the statement's words.
    IF tg_tag IN ('DROP EXTENSION', 'DROP SCHEMA')
       AND current_query() ~* ('drop\s+(extension|schema)\s+(if\s+exists\s+)?'
                               '([a-z0-9_$", ]*[\s,])?"?keel"?\s*(,|;|cascade|restrict|$)') THEN
        RAISE EXCEPTION 'cannot drop keel while blueprints hold rows'
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('Dropping keel with CASCADE drops every blueprint and its data; '
                                  'these hold rows: %s.', array_to_string(v_full, ', ')),
                  HINT = 'Drop each blueprint first with keel.drop_blueprint(name, force => true), '
                         'or SET LOCAL keel.allow_blueprint_drop = on in the same transaction.';
    END IF;
    PERFORM set_config('keel.blueprint_drop_state', array_to_string(v_full, ','), true);
END
$$;

COMMENT ON FUNCTION keel._blueprint_drop_start() IS
'Drop guard, ddl_command_start: notes which blueprint extensions hold rows.';

CREATE FUNCTION keel._blueprint_drop_check()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_state text := coalesce(current_setting('keel.blueprint_drop_state', true), '');
    v_hit name;
BEGIN
    -- A blueprint's maintenance task (e.g. Terminal++ retention) goes with its function.
    DELETE FROM keel.maintenance_task t
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_proc'::regclass AND t.fn::oid = d.objid;

    IF v_state = '' OR coalesce(current_setting('keel.allow_blueprint_drop', true), 'off')
                       IN ('on', 'true', '1') THEN
        RETURN;
    END IF;
    SELECT o.object_name INTO v_hit
      FROM pg_event_trigger_dropped_objects() o
     WHERE o.object_type = 'extension'
       AND o.object_name = ANY (string_to_array(v_state, ','))
     LIMIT 1;
    IF v_hit IS NOT NULL THEN
        RAISE EXCEPTION 'cannot drop extension % because its tables hold rows', v_hit
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Dropping a blueprint drops its tables and every row in them.',
                  HINT = format('Dump the data first; to drop anyway run SELECT keel.drop_blueprint(%L, force => true).',
                                v_hit);
    END IF;
END
$$;

COMMENT ON FUNCTION keel._blueprint_drop_check() IS
'Drop guard, sql_drop: refuses a command that dropped a blueprint extension holding rows; '
'forgets the maintenance tasks whose function was dropped.';

-- The guard runs for every role's DROP SCHEMA: as its owner (SECURITY DEFINER, pinned
-- search_path), so no role needs EXECUTE on the helpers, and PUBLIC has none.
REVOKE ALL ON FUNCTION keel._blueprint_extensions() FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._blueprint_has_rows(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._blueprint_drop_start() FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._blueprint_drop_check() FROM PUBLIC;

CREATE EVENT TRIGGER keel_blueprint_drop_start ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA', 'DROP OWNED')
    EXECUTE FUNCTION keel._blueprint_drop_start();

CREATE EVENT TRIGGER keel_blueprint_drop_check ON sql_drop
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA', 'DROP OWNED')
    EXECUTE FUNCTION keel._blueprint_drop_check();

COMMENT ON EVENT TRIGGER keel_blueprint_drop_start IS
'keel drop guard: notes the blueprints holding rows before a DROP.';
COMMENT ON EVENT TRIGGER keel_blueprint_drop_check IS
'keel drop guard: refuses a DROP that takes a blueprint holding rows with it.';

CREATE FUNCTION keel.drop_blueprint(ext name, force boolean DEFAULT false, "cascade" boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_previous text;
BEGIN
    IF ext IS NULL OR force IS NULL OR "cascade" IS NULL THEN
        RAISE EXCEPTION 'ext, force and cascade must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM keel._blueprint_extensions() b WHERE b = ext) THEN
        RAISE EXCEPTION '"%" is not an installed blueprint extension', ext
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'A blueprint is an installed extension that requires keel.';
    END IF;
    v_previous := coalesce(current_setting('keel.allow_blueprint_drop', true), 'off');
    IF force THEN
        PERFORM set_config('keel.allow_blueprint_drop', 'on', true);
    END IF;
    EXECUTE format('DROP EXTENSION %I%s', ext, CASE WHEN "cascade" THEN ' CASCADE' ELSE '' END);
    PERFORM set_config('keel.allow_blueprint_drop', v_previous, true);
END
$$;

COMMENT ON FUNCTION keel.drop_blueprint(name, boolean, boolean) IS
'Drops a blueprint extension. A blueprint whose tables hold rows is dropped only with force => true.';

REVOKE ALL ON FUNCTION keel.drop_blueprint(name, boolean, boolean) FROM PUBLIC;

-- Secret columns of a blueprint.  keel.protect_columns() encrypts them with
-- keel.encrypt_column() (bound to the row's id) when the key store can make the key;
-- on a server with no master key yet it attaches a guard instead, so the install
-- succeeds and a write of a secret is refused with the key store's own error.  Once the
-- master key is configured, calling it again (the blueprint's enable_encryption())
-- replaces the guard by the encryption.
CREATE FUNCTION keel._encryption_pending()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A pg_dump restore writes back the ciphertext it dumped: let it through.
    IF keel.blueprint_restoring() THEN
        RETURN NEW;
    END IF;
    -- Without a master key this raises the key store's error (SQLSTATE F0000).
    PERFORM keel.create_key(tg_argv[0], 'encrypt', if_not_exists => true);
    RAISE EXCEPTION 'encryption of the secret columns of %.% is not enabled yet', tg_table_schema, tg_table_name
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'The table was installed before keel had a master key, so its secret columns refuse writes.',
              HINT = format('Run SELECT keel.protect_columns(%L, %L, %L) or the blueprint''s enable_encryption().',
                            tg_argv[0], format('%I.%I', tg_table_schema, tg_table_name), tg_argv[1]);
END
$$;

COMMENT ON FUNCTION keel._encryption_pending() IS
'Guard trigger on secret columns installed without a master key: refuses non-NULL writes.';
REVOKE ALL ON FUNCTION keel._encryption_pending() FROM PUBLIC;

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
CREATE FUNCTION keel.blueprint_restoring()
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
REVOKE ALL ON FUNCTION keel.blueprint_restoring() FROM PUBLIC;

-- A blueprint's key is named <prefix>:<schema>; key names are at most 63 bytes, so a
-- long schema name is replaced by its md5.
CREATE FUNCTION keel.blueprint_key_name(prefix text, schema_name name)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN octet_length(prefix || ':' || schema_name) <= 63 THEN prefix || ':' || schema_name
                ELSE prefix || ':' || md5(schema_name) END
$$;

COMMENT ON FUNCTION keel.blueprint_key_name(text, name) IS
'The data key name of a blueprint''s secret columns: prefix:schema, or prefix:md5(schema) when longer than 63 bytes.';
REVOKE ALL ON FUNCTION keel.blueprint_key_name(text, name) FROM PUBLIC;

CREATE FUNCTION keel.protect_columns(key_name text, tbl regclass, cols name[])
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_col name;
BEGIN
    IF key_name IS NULL OR tbl IS NULL OR cols IS NULL OR cardinality(cols) = 0 THEN
        RAISE EXCEPTION 'keel.protect_columns: key_name, tbl and cols must be given'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    BEGIN
        IF keel.blueprint_restoring() THEN
            -- The key and the column configuration come back from the dump.
            RAISE SQLSTATE 'F0000';
        END IF;
        PERFORM keel.create_key(key_name, 'encrypt', if_not_exists => true);
    EXCEPTION WHEN SQLSTATE 'F0000' THEN
        -- No usable master key: guard the columns and report it.
        EXECUTE format('CREATE OR REPLACE TRIGGER keel_encryption_pending BEFORE INSERT OR UPDATE OF %s ON %s '
                       'FOR EACH ROW WHEN (%s) EXECUTE FUNCTION keel._encryption_pending(%L, %L)',
                       (SELECT string_agg(format('%I', c), ', ') FROM unnest(cols) c), tbl,
                       (SELECT string_agg(format('NEW.%I IS NOT NULL', c), ' OR ') FROM unnest(cols) c),
                       key_name, cols::text);
        RETURN 'pending';
    END;
    FOREACH v_col IN ARRAY cols LOOP
        PERFORM keel.encrypt_column(tbl, v_col, key_name, '{id}');
    END LOOP;
    EXECUTE format('DROP TRIGGER IF EXISTS keel_encryption_pending ON %s', tbl);
    RETURN 'encrypted';
END
$$;

COMMENT ON FUNCTION keel.protect_columns(text, regclass, name[]) IS
'Encrypts a table''s secret columns with keel.encrypt_column() under key key_name (made if '
'missing), bound to the row id; without a master key, guards them instead and returns pending.';
REVOKE ALL ON FUNCTION keel.protect_columns(text, regclass, name[]) FROM PUBLIC;

-- Audit chain of a blueprint table (keel.enable_audit_chain), or, on a server with no
-- master key yet, a guard that refuses inserts with the key store's error until the
-- blueprint's enable_audit_chain() is run (the table stays empty, so it can still be
-- chained from its first row).
CREATE FUNCTION keel._audit_chain_pending()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Without a master key this raises the key store's error (SQLSTATE F0000).
    PERFORM keel.create_key(tg_argv[0], 'hmac', if_not_exists => true);
    RAISE EXCEPTION 'the audit chain of %.% is not enabled yet', tg_table_schema, tg_table_name
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'The table was installed before keel had a master key; it refuses rows until it is chained.',
              HINT = 'Run the blueprint''s enable_audit_chain().';
END
$$;

COMMENT ON FUNCTION keel._audit_chain_pending() IS
'Guard trigger on a blueprint audit table installed without a master key: refuses inserts.';
REVOKE ALL ON FUNCTION keel._audit_chain_pending() FROM PUBLIC;

CREATE FUNCTION keel.chain_blueprint_table(key_name text, tbl regclass,
                                           hash_column name DEFAULT NULL, signature_column name DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF key_name IS NULL OR tbl IS NULL THEN
        RAISE EXCEPTION 'keel.chain_blueprint_table: key_name and tbl must be given'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF keel.blueprint_restoring() THEN
        RETURN 'restoring';
    END IF;
    IF keel._audit_chain_id(tbl) IS NOT NULL THEN
        RETURN 'chained';
    END IF;
    BEGIN
        PERFORM keel.create_key(key_name, 'hmac', if_not_exists => true);
    EXCEPTION WHEN SQLSTATE 'F0000' THEN
        EXECUTE format('CREATE OR REPLACE TRIGGER keel_audit_chain_pending BEFORE INSERT ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION keel._audit_chain_pending(%L)', tbl, key_name);
        RETURN 'pending';
    END;
    EXECUTE format('DROP TRIGGER IF EXISTS keel_audit_chain_pending ON %s', tbl);
    PERFORM keel.enable_audit_chain(tbl, hash_column, signature_column, key_name);
    RETURN 'chained';
END
$$;

COMMENT ON FUNCTION keel.chain_blueprint_table(text, regclass, name, name) IS
'Makes a blueprint table an audit chain under HMAC key key_name (made if missing); without a '
'master key, guards it instead and returns pending; during a dump restore returns restoring.';
REVOKE ALL ON FUNCTION keel.chain_blueprint_table(text, regclass, name, name) FROM PUBLIC;
