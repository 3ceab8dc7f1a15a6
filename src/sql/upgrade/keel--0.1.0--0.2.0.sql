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

-- ---- enable_audit_chain chains the rows a table already holds (lead, issue 4):
-- 300_audit_chain.sql.  A new argument, so the function is made again.
DROP FUNCTION keel.enable_audit_chain(regclass, name, name, text, integer);
CREATE FUNCTION keel._audit_chain_link_digest(chain_id integer, digest bytea)
RETURNS text[]
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_audit_chain_link_digest';

REVOKE ALL ON FUNCTION keel._audit_chain_link_digest(integer, bytea) FROM PUBLIC;
COMMENT ON FUNCTION keel._audit_chain_link_digest(integer, bytea) IS
'Internal: appends a link for a row with this canonical digest, as the append trigger does; '
'returns {previous link hash, signature} in hex. Used to chain the rows a table already holds.';

CREATE FUNCTION keel.enable_audit_chain(
    tbl regclass,
    hash_column name DEFAULT NULL,
    signature_column name DEFAULT NULL,
    key_name text DEFAULT NULL,
    sub_chains integer DEFAULT 1,
    existing_rows_order name[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_kind  "char";
    v_order text;
    v_adopt record;
    v_link  text[];
    v_after bytea;
    v_rows  bigint := 0;
    v_id    integer;
    v_col   name;
    v_type  regtype;
    v_typmod integer;
    v_key   text := coalesce(key_name, 'audit_chain');
    v_part  regclass;
    v_bad   text;
    v_empty boolean;
BEGIN
    IF tbl IS NULL OR sub_chains IS NULL THEN
        RAISE EXCEPTION 'keel.enable_audit_chain: tbl and sub_chains must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF (hash_column IS NULL) <> (signature_column IS NULL) THEN
        RAISE EXCEPTION 'hash_column and signature_column must be given together'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Either name both columns (the chain is kept in the rows) or neither '
                           '(the chain is kept beside the table).';
    END IF;
    IF hash_column = signature_column THEN
        RAISE EXCEPTION 'hash_column and signature_column must be different columns'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF sub_chains < 1 OR sub_chains > 64 THEN
        RAISE EXCEPTION 'sub_chains must be between 1 and 64, not %', sub_chains
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_key = '' THEN
        RAISE EXCEPTION 'key_name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT c.relkind INTO v_kind FROM pg_class c WHERE c.oid = tbl;
    IF v_kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%" is not a table', tbl
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'keel.enable_audit_chain() needs a table or a partitioned table.';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = tbl) THEN
        RAISE EXCEPTION '"%" is a partition or an inheritance child', tbl
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Enable the chain on the partitioned table itself.';
    END IF;
    IF keel._audit_chain_id(tbl) IS NOT NULL THEN
        RAISE EXCEPTION 'table "%" already has an audit chain', tbl
            USING ERRCODE = 'duplicate_object';
    END IF;

    FOREACH v_col IN ARRAY ARRAY[hash_column, signature_column] LOOP
        CONTINUE WHEN v_col IS NULL;
        SELECT a.atttypid::regtype, a.atttypmod INTO v_type, v_typmod
          FROM pg_attribute a
         WHERE a.attrelid = tbl AND a.attname = v_col AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of relation "%" does not exist', v_col, tbl
                USING ERRCODE = 'undefined_column';
        END IF;
        IF v_type NOT IN ('text'::regtype, 'varchar'::regtype)
           OR (v_type = 'varchar'::regtype AND v_typmod <> -1 AND v_typmod - 4 < 64) THEN
            RAISE EXCEPTION 'column "%" of relation "%" is of type %', v_col, tbl,
                            format_type(v_type, v_typmod)
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'The chain writes 64 hexadecimal characters: use text or varchar(64).';
        END IF;
    END LOOP;

    -- Columns keel cannot encode so that they survive a dump/restore unchanged.
    SELECT string_agg(format('%I (%s)', a.attname, format_type(a.atttypid, a.atttypmod)), ', ')
      INTO v_bad
      FROM pg_attribute a
      JOIN pg_type t ON t.oid = coalesce(nullif(keel._audit_base_type(a.atttypid), 0), a.atttypid)
     WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
       AND (t.typtype IN ('c', 'p')
            OR EXISTS (SELECT 1 FROM pg_type e WHERE e.oid = t.typelem AND t.typlen = -1
                                                 AND e.typtype IN ('c', 'p')));
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'relation "%" has columns of composite type: %', tbl, v_bad
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'The canonical row encoding covers scalar, enum, domain and array columns.';
    END IF;

    -- Rows already there are chained first, in the order the caller names (nobody may
    -- write meanwhile: EXCLUSIVE lets readers in, writers wait for the commit).
    IF existing_rows_order IS NOT NULL THEN
        IF cardinality(existing_rows_order) = 0 OR array_position(existing_rows_order, NULL) IS NOT NULL THEN
            RAISE EXCEPTION 'existing_rows_order must name at least one column, and no NULL'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF EXISTS (SELECT 1 FROM unnest(existing_rows_order) o
                    WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = tbl
                                         AND a.attname = o AND a.attnum > 0 AND NOT a.attisdropped)) THEN
            RAISE EXCEPTION 'existing_rows_order names a column that relation "%" does not have', tbl
                USING ERRCODE = 'undefined_column',
                      DETAIL = format('Columns given: %s.', existing_rows_order::text);
        END IF;
        SELECT string_agg(format('t.%I', o), ', ' ORDER BY i) INTO v_order
          FROM unnest(existing_rows_order) WITH ORDINALITY AS u(o, i);
        IF hash_column = ANY (existing_rows_order) OR signature_column = ANY (existing_rows_order) THEN
            RAISE EXCEPTION 'existing_rows_order cannot use the chain''s own columns'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', tbl);
    END IF;
    EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s)', tbl) INTO STRICT v_empty;
    IF NOT v_empty AND existing_rows_order IS NULL THEN
        RAISE EXCEPTION 'table "%" is not empty', tbl
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Which order its rows were written in is not in the table; keel must be told.',
                  HINT = 'Name the columns that order the existing rows, e.g. existing_rows_order => ''{created_at,id}'': they are chained first, in that order.';
    END IF;

    -- The HMAC key (made on first use; an existing key must have purpose hmac).
    PERFORM keel.create_key(v_key, 'hmac', if_not_exists => true);

    INSERT INTO keel.audit_chain (table_name, hash_column, signature_column, key_name, sub_chains, salt, tbl)
    VALUES (tbl::text, hash_column, signature_column, v_key, sub_chains, uuid_send(gen_random_uuid()), tbl)
    RETURNING chain_id INTO v_id;

    -- The existing rows, linked one by one as the append trigger would link them.  In
    -- row mode each row then gets its previous_hash and signature; a trigger of the
    -- table that changed the row on that UPDATE would make its digest wrong, so the row
    -- is hashed again afterwards and the whole call fails (and leaves nothing) if it moved.
    IF NOT v_empty THEN
        FOR v_adopt IN EXECUTE format(
                'SELECT keel._audit_row_digest(%s, t) AS digest, t.tableoid AS rel, t.ctid AS tid '
                'FROM %s t ORDER BY %s, t.tableoid, t.ctid', v_id, tbl, v_order) LOOP
            v_link := keel._audit_chain_link_digest(v_id, v_adopt.digest);
            IF hash_column IS NOT NULL THEN
                EXECUTE format('UPDATE %s t SET %I = $1, %I = $2 WHERE t.tableoid = $3 AND t.ctid = $4 '
                               'RETURNING keel._audit_row_digest(%s, t)',
                               tbl, hash_column, signature_column, v_id)
                   INTO v_after USING v_link[1], v_link[2], v_adopt.rel, v_adopt.tid;
                IF v_after IS DISTINCT FROM v_adopt.digest THEN
                    RAISE EXCEPTION 'a row of "%" changed while it was being chained', tbl
                        USING ERRCODE = 'object_not_in_prerequisite_state',
                              DETAIL = 'Writing the chain columns fired a trigger that changed other columns of the row.',
                              HINT = 'Disable that trigger for the call (ALTER TABLE ... DISABLE TRIGGER), then enable it again.';
                END IF;
            END IF;
            v_rows := v_rows + 1;
        END LOOP;
        RAISE NOTICE 'chained the % existing rows of "%"', v_rows, tbl;
    END IF;

    -- zz_: fires after every other BEFORE INSERT trigger, so it hashes the final row.
    EXECUTE format('CREATE TRIGGER zz_keel_audit_chain BEFORE INSERT ON %s FOR EACH ROW '
                   'EXECUTE FUNCTION keel.audit_chain_append(%L)', tbl, v_id);
    EXECUTE format('CREATE TRIGGER keel_audit_chain_guard BEFORE UPDATE OR DELETE ON %s FOR EACH ROW '
                   'EXECUTE FUNCTION keel.audit_chain_refuse()', tbl);
    EXECUTE format('CREATE TRIGGER keel_audit_chain_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT '
                   'EXECUTE FUNCTION keel.audit_chain_refuse()', tbl);
    -- TRUNCATE triggers are not inherited by partitions: guard each one.
    FOR v_part IN SELECT p.relid FROM pg_partition_tree(tbl) p WHERE p.relid <> tbl LOOP
        EXECUTE format('CREATE TRIGGER keel_audit_chain_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT '
                       'EXECUTE FUNCTION keel.audit_chain_refuse()', v_part);
    END LOOP;
    RETURN v_id;
END
$$;

REVOKE ALL ON FUNCTION keel.enable_audit_chain(regclass, name, name, text, integer, name[]) FROM PUBLIC;

COMMENT ON FUNCTION keel.enable_audit_chain(regclass, name, name, text, integer, name[]) IS
'Makes a table (or partitioned table) a tamper-evident, append-only audit chain. With '
'hash_column and signature_column (text or varchar(64)) each row carries hex(previous link hash) and '
'hex(HMAC signature); without them the chain is kept beside the table in keel.audit_link. '
'sub_chains > 1 is the scaling mode (independent sub-chains, one per concurrent writer). A table '
'that already holds rows needs existing_rows_order (columns): those rows are chained first, in that '
'order. Returns the chain id.';

-- ---- audit chain DDL guards (guards, issues 4 and 7)
-- src/sql/keel/310_audit_chain_guards.sql, whole (all of it is new in 0.2.0):
-- Append-only guards of the audit chain that table triggers cannot give
-- (docs/audit_chain.md, "Append-only and retention"): event triggers that
--   * put the TRUNCATE guard on every partition made or attached after
--     keel.enable_audit_chain() (PostgreSQL does not clone statement triggers);
--   * refuse DROP TABLE and DETACH PARTITION of a chained partition unless
--     keel.audit_chain_retire_partition() permitted exactly that partition in this
--     transaction (keel's retention path);
--   * refuse ATTACH PARTITION of a table holding rows (rows around the chain);
--   * refuse DROP of a chained table whose chain holds rows, unless the chain was
--     disabled first or SET LOCAL keel.audit_chain_allow_drop = on.
-- They fire for every role, superusers included, and also under
-- session_replication_role = replica (ENABLE ALWAYS); a superuser can still disable
-- them (ALTER EVENT TRIGGER ... DISABLE), which is why verification and digests exist.

-- Every relation carrying the chain trigger: the chained tables (relid = root) and
-- their partitions (PostgreSQL clones the row trigger onto each partition).
CREATE FUNCTION keel._audit_chain_members()
RETURNS TABLE (relid oid, root oid, chain_id integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.relid, m.root, keel._audit_chain_id(m.root::regclass)
      FROM (SELECT t.tgrelid AS relid,
                   coalesce(pg_catalog.pg_partition_root(t.tgrelid)::oid, t.tgrelid) AS root
              FROM pg_catalog.pg_trigger t
             WHERE t.tgname = 'zz_keel_audit_chain') m
$$;

REVOKE ALL ON FUNCTION keel._audit_chain_members() FROM PUBLIC;
COMMENT ON FUNCTION keel._audit_chain_members() IS
'Internal: every chained table and every partition of one, with its chained root and chain id.';

-- Called by keel.audit_chain_retire_partition() once the checkpoint is made: the
-- partition (and its own partitions) may now be dropped or detached in this transaction.
-- SECURITY DEFINER: keel.audit_chain_retiring is a superuser setting, so a table
-- owner cannot forge the permission with SET.
CREATE FUNCTION keel._audit_chain_permit_retire(partition regclass)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.set_config('keel.audit_chain_retiring',
        coalesce(pg_catalog.current_setting('keel.audit_chain_retiring', true), '')
        || (SELECT pg_catalog.string_agg(',' || p.relid::oid::text, '') FROM pg_catalog.pg_partition_tree(partition) p)
        || ',', true);
END
$$;

REVOKE ALL ON FUNCTION keel._audit_chain_permit_retire(regclass) FROM PUBLIC;
COMMENT ON FUNCTION keel._audit_chain_permit_retire(regclass) IS
'Internal: lets the rest of this transaction drop or detach a partition that keel.audit_chain_retire_partition() checkpointed.';

CREATE FUNCTION keel._audit_chain_retiring(relid oid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.strpos(coalesce(pg_catalog.current_setting('keel.audit_chain_retiring', true), ''),
                             ',' || relid::text || ',') > 0
$$;

REVOKE ALL ON FUNCTION keel._audit_chain_retiring(oid) FROM PUBLIC;
COMMENT ON FUNCTION keel._audit_chain_retiring(oid) IS
'Internal: whether keel.audit_chain_retire_partition() permitted this partition''s retirement in this transaction.';

CREATE FUNCTION keel._audit_chain_ddl_start()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- What is chained before the command runs: the drop and end checks compare with it.
    PERFORM set_config('keel.audit_chain_ddl_state',
                       coalesce((SELECT string_agg(format('%s:%s:%s', m.relid, m.root, m.chain_id), ',')
                                   FROM keel._audit_chain_members() m
                                  WHERE m.chain_id IS NOT NULL), ''),
                       true);
END
$$;

COMMENT ON FUNCTION keel._audit_chain_ddl_start() IS
'Chain guard, ddl_command_start: notes every chained table and partition before a DROP or ALTER TABLE.';

CREATE FUNCTION keel._audit_chain_ddl_state()
RETURNS TABLE (relid oid, root oid, chain_id integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.split_part(e, ':', 1)::oid, pg_catalog.split_part(e, ':', 2)::oid,
           pg_catalog.split_part(e, ':', 3)::integer
      FROM pg_catalog.unnest(pg_catalog.string_to_array(
               nullif(coalesce(pg_catalog.current_setting('keel.audit_chain_ddl_state', true), ''), ''),
               ',')) e
$$;

REVOKE ALL ON FUNCTION keel._audit_chain_ddl_state() FROM PUBLIC;
COMMENT ON FUNCTION keel._audit_chain_ddl_state() IS
'Internal: the chained relations noted by the chain guard at the start of the current DDL command.';

CREATE FUNCTION keel._audit_chain_drop_check()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_dropped oid[];
    v_allow   boolean;
    r         record;
BEGIN
    SELECT array_agg(d.objid) INTO v_dropped
      FROM pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND d.objid IN (SELECT s.relid FROM keel._audit_chain_ddl_state() s);
    IF v_dropped IS NULL THEN
        RETURN;
    END IF;

    -- A partition dropped without its chained table: only through the retention path.
    FOR r IN SELECT d.object_identity AS identity, s.root
               FROM pg_event_trigger_dropped_objects() d
               JOIN keel._audit_chain_ddl_state() s ON s.relid = d.objid
              WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
                AND s.relid <> s.root AND s.root <> ALL (v_dropped)
                AND NOT keel._audit_chain_retiring(s.relid)
              ORDER BY 1 LIMIT 1 LOOP
        RAISE EXCEPTION 'cannot drop partition % of audit-chained table %', r.identity, r.root::regclass
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A chained table is append-only: its rows leave only through keel''s retention path, '
                           'which leaves a signed checkpoint so the rest of the chain still verifies.',
                  HINT = format('Call SELECT keel.audit_chain_retire_partition(%L, %L) in the same transaction '
                                'first (keel.run_maintenance() does this for its retention).',
                                r.root::regclass::text, r.identity);
    END LOOP;

    -- A chained table dropped while its chain holds rows.
    v_allow := coalesce(current_setting('keel.audit_chain_allow_drop', true), 'off') IN ('on', 'true', '1')
               OR (tg_tag IN ('DROP EXTENSION', 'DROP SCHEMA', 'DROP OWNED')
                   AND coalesce(current_setting('keel.allow_blueprint_drop', true), 'off') IN ('on', 'true', '1'));
    IF v_allow THEN
        RETURN;
    END IF;
    FOR r IN SELECT d.object_identity AS identity, s.chain_id,
                    (SELECT count(*) FROM keel.audit_link l WHERE l.chain_id = s.chain_id) AS n
               FROM pg_event_trigger_dropped_objects() d
               JOIN keel._audit_chain_ddl_state() s ON s.relid = d.objid
              WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND s.relid = s.root
                AND EXISTS (SELECT 1 FROM keel.audit_link l WHERE l.chain_id = s.chain_id)
              ORDER BY 1 LIMIT 1 LOOP
        RAISE EXCEPTION 'cannot drop audit-chained table % because its chain holds rows', r.identity
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Its chain links %s %s; dropping the table would silently remove them.',
                                  r.n, CASE WHEN r.n = 1 THEN 'row' ELSE 'rows' END),
                  HINT = 'Run keel.disable_audit_chain(table, forget => true) first, or '
                         'SET LOCAL keel.audit_chain_allow_drop = on in the same transaction.';
    END LOOP;
END
$$;

COMMENT ON FUNCTION keel._audit_chain_drop_check() IS
'Chain guard, sql_drop: refuses dropping a chained partition outside the retention path and dropping a '
'chained table whose chain holds rows.';

CREATE FUNCTION keel._audit_chain_ddl_end()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    v_rows boolean;
BEGIN
    IF tg_tag = 'ALTER TABLE' THEN
        -- DETACH PARTITION of a chained partition: only through the retention path.
        FOR r IN SELECT s.relid, s.root
                   FROM keel._audit_chain_ddl_state() s
                   JOIN pg_class c ON c.oid = s.relid
                  WHERE s.relid <> s.root
                    AND pg_partition_root(s.relid) IS DISTINCT FROM s.root
                    AND NOT keel._audit_chain_retiring(s.relid)
                  ORDER BY s.relid::regclass::text LIMIT 1 LOOP
            RAISE EXCEPTION 'cannot detach partition % of audit-chained table %', r.relid::regclass, r.root::regclass
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'A chained table is append-only: its rows leave only through keel''s retention '
                               'path, which leaves a signed checkpoint so the rest of the chain still verifies.',
                      HINT = format('Call SELECT keel.audit_chain_retire_partition(%L, %L) in the same transaction '
                                    'first (keel.run_maintenance() does this for its retention).',
                                    r.root::regclass::text, r.relid::regclass::text);
        END LOOP;
        -- ATTACH PARTITION of a table holding rows: they would be in the table but not in the chain.
        FOR r IN SELECT m.relid, m.root
                   FROM keel._audit_chain_members() m
                  WHERE m.relid <> m.root AND m.chain_id IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM keel._audit_chain_ddl_state() s WHERE s.relid = m.relid)
                    AND (SELECT c.relkind FROM pg_class c WHERE c.oid = m.relid) = 'r'
                  ORDER BY m.relid::regclass::text LOOP
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM ONLY %s)', r.relid::regclass) INTO v_rows;
            IF v_rows THEN
                RAISE EXCEPTION 'cannot attach % to audit-chained table % because it holds rows',
                                r.relid::regclass, r.root::regclass
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          DETAIL = 'Its rows would be in the table without being in the chain; '
                                   'verification would report them as inserted.',
                          HINT = 'Attach an empty table and insert the rows through the chained table.';
            END IF;
        END LOOP;
    END IF;

    -- TRUNCATE triggers are not cloned onto partitions: guard every new one.
    FOR r IN SELECT m.relid FROM keel._audit_chain_members() m
              WHERE m.relid <> m.root AND m.chain_id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM pg_trigger t
                                 WHERE t.tgrelid = m.relid AND t.tgname = 'keel_audit_chain_truncate')
              ORDER BY m.relid LOOP
        EXECUTE format('CREATE TRIGGER keel_audit_chain_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT '
                       'EXECUTE FUNCTION keel.audit_chain_refuse()', r.relid::regclass);
    END LOOP;
END
$$;

COMMENT ON FUNCTION keel._audit_chain_ddl_end() IS
'Chain guard, ddl_command_end: puts the TRUNCATE guard on new partitions of chained tables and refuses '
'DETACH of a chained partition outside the retention path and ATTACH of a table holding rows.';

CREATE FUNCTION keel._audit_chain_detach_concurrently()
RETURNS event_trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_audit_chain_detach_concurrently';

COMMENT ON FUNCTION keel._audit_chain_detach_concurrently() IS
'Chain guard, ddl_command_start: refuses ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY (or FINALIZE) '
'on a chained table (it commits half-way, outside the retention path''s transaction).';

-- The guards run for every role's DDL: as their owner (SECURITY DEFINER, pinned
-- search_path), so no role needs EXECUTE on the helpers, and PUBLIC has none.
REVOKE ALL ON FUNCTION keel._audit_chain_ddl_start() FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._audit_chain_drop_check() FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._audit_chain_ddl_end() FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._audit_chain_detach_concurrently() FROM PUBLIC;

-- Named keel_chain_guard_* so they fire after the blueprint drop guard (event
-- triggers fire in name order): a blueprint keeps its own message.
CREATE EVENT TRIGGER keel_chain_guard_concurrently ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION keel._audit_chain_detach_concurrently();
CREATE EVENT TRIGGER keel_chain_guard_start ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'DROP TABLE', 'DROP SCHEMA', 'DROP OWNED', 'DROP EXTENSION')
    EXECUTE FUNCTION keel._audit_chain_ddl_start();
CREATE EVENT TRIGGER keel_chain_guard_drop ON sql_drop
    WHEN TAG IN ('ALTER TABLE', 'DROP TABLE', 'DROP SCHEMA', 'DROP OWNED', 'DROP EXTENSION')
    EXECUTE FUNCTION keel._audit_chain_drop_check();
CREATE EVENT TRIGGER keel_chain_guard_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE')
    EXECUTE FUNCTION keel._audit_chain_ddl_end();

-- Also under session_replication_role = replica (keel's own row moves run so).
ALTER EVENT TRIGGER keel_chain_guard_concurrently ENABLE ALWAYS;
ALTER EVENT TRIGGER keel_chain_guard_start ENABLE ALWAYS;
ALTER EVENT TRIGGER keel_chain_guard_drop ENABLE ALWAYS;
ALTER EVENT TRIGGER keel_chain_guard_end ENABLE ALWAYS;

COMMENT ON EVENT TRIGGER keel_chain_guard_concurrently IS
'keel audit chain guard: refuses DETACH PARTITION CONCURRENTLY on a chained table.';
COMMENT ON EVENT TRIGGER keel_chain_guard_start IS
'keel audit chain guard: notes the chained relations before a DROP or ALTER TABLE.';
COMMENT ON EVENT TRIGGER keel_chain_guard_drop IS
'keel audit chain guard: refuses dropping chained partitions outside retention, and chained tables holding rows.';
COMMENT ON EVENT TRIGGER keel_chain_guard_end IS
'keel audit chain guard: TRUNCATE guard on new partitions; refuses DETACH outside retention and ATTACH of rows.';

-- src/sql/keel/300_audit_chain.sql: audit_chain_retire_partition() now permits the drop/detach.
CREATE OR REPLACE FUNCTION keel.audit_chain_retire_partition(parent regclass, partition regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id      integer;
    v_rows    bigint;
    v_links   bigint;
    r         record;
BEGIN
    IF parent IS NULL OR partition IS NULL THEN
        RAISE EXCEPTION 'keel.audit_chain_retire_partition: parent and partition must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    v_id := keel._audit_require_chain(parent);
    IF partition = parent OR NOT EXISTS (
           SELECT 1 FROM pg_partition_ancestors(partition) a WHERE a.relid = parent) THEN
        RAISE EXCEPTION '"%" is not a partition of "%"', partition, parent
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- No appends while the checkpoint is made.
    PERFORM keel._audit_lock_chain(v_id);

    CREATE TEMP TABLE IF NOT EXISTS pg_temp.keel_retire_digest (dg bytea, n bigint) ON COMMIT DROP;
    TRUNCATE pg_temp.keel_retire_digest;
    EXECUTE format('INSERT INTO pg_temp.keel_retire_digest SELECT keel._audit_row_digest(%s, p), count(*) '
                   'FROM %s p GROUP BY 1', v_id, partition);
    SELECT coalesce(sum(d.n), 0) INTO v_rows FROM pg_temp.keel_retire_digest d;
    SELECT count(*) INTO v_links
      FROM keel.audit_link l JOIN pg_temp.keel_retire_digest d ON d.dg = l.row_digest
     WHERE l.chain_id = v_id;
    -- Retired already (a logical-replication subscriber receives the publisher's
    -- checkpoint and link deletions, not its DROP): none of the rows is linked any more
    -- and the chain's checkpoints for this partition account for all of them. Nothing
    -- to record; the drop or detach is permitted.
    IF v_links = 0 AND v_rows > 0 AND v_rows = (
           SELECT sum(c.rows_retired) FROM keel.audit_checkpoint c
            WHERE c.chain_id = v_id AND c.partition_name = partition::text) THEN
        TRUNCATE pg_temp.keel_retire_digest;
        PERFORM keel._audit_chain_permit_retire(partition);
        RETURN;
    END IF;
    IF v_links <> v_rows THEN
        RAISE EXCEPTION 'cannot retire partition "%" of "%": % of its % rows are not in the chain',
                        partition, parent, v_rows - v_links, v_rows
            USING ERRCODE = 'data_corrupted',
                  DETAIL = 'Rows that were inserted around the chain (or tampered with) would vanish unrecorded.',
                  HINT = 'Run keel.verify_audit_chain() on the table to see the break.';
    END IF;

    FOR r IN
        WITH gone AS (
            SELECT l.sub, l.pos FROM keel.audit_link l JOIN pg_temp.keel_retire_digest d ON d.dg = l.row_digest
             WHERE l.chain_id = v_id)
        SELECT g.sub, min(g.pos) AS lo, max(g.pos) AS hi, count(*) AS n,
               (SELECT min(l.pos) FROM keel.audit_link l WHERE l.chain_id = v_id AND l.sub = g.sub) AS first
          FROM gone g GROUP BY g.sub ORDER BY g.sub
    LOOP
        IF r.lo <> r.first OR r.hi - r.lo + 1 <> r.n THEN
            RAISE EXCEPTION 'cannot retire partition "%" of "%": its rows are not the oldest of sub-chain %',
                            partition, parent, r.sub
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('The partition holds %s links between positions %s and %s; the sub-chain '
                                      'starts at %s. Retiring it would leave a hole that verification '
                                      'reports as deleted rows.', r.n, r.lo, r.hi, r.first),
                      HINT = 'Retire older partitions first.';
        END IF;
        INSERT INTO keel.audit_checkpoint (chain_id, sub, pos, link_hash, signature, key_id, key_version,
                                           partition_name, rows_retired)
        SELECT l.chain_id, l.sub, l.pos, l.link_hash, l.signature, l.key_id, l.key_version,
               partition::text, r.n
          FROM keel.audit_link l WHERE l.chain_id = v_id AND l.sub = r.sub AND l.pos = r.hi;
        DELETE FROM keel.audit_link l WHERE l.chain_id = v_id AND l.sub = r.sub AND l.pos <= r.hi;
    END LOOP;
    TRUNCATE pg_temp.keel_retire_digest;
    -- The chain guard (310_audit_chain_guards.sql) now lets this transaction drop or detach it.
    PERFORM keel._audit_chain_permit_retire(partition);
END
$$;

REVOKE ALL ON FUNCTION keel.audit_chain_retire_partition(regclass, regclass) FROM PUBLIC;

COMMENT ON FUNCTION keel.audit_chain_retire_partition(regclass, regclass) IS
'Retention path: before dropping or detaching an old partition of a chained table (same transaction), '
'records a signed checkpoint per sub-chain at the last link the partition holds and retires its links, '
'so verification of the remaining rows still passes. Raises if the partition''s rows are not the '
'oldest of their sub-chains (a hole) or are not all in the chain.';




-- ---- huge values and over-long names (guards, issue 7): the functions that echo a caller's
-- name or word now show at most its first 64 characters and "...".
CREATE OR REPLACE FUNCTION keel.enable_updated_at(
    tbl regclass,
    col name DEFAULT 'updated_at',
    on_unchanged text DEFAULT 'touch',
    created_col name DEFAULT NULL)
RETURNS name
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_kind  "char";
    v_trig  name;
    v_col   name;
    v_type  regtype;
BEGIN
    IF tbl IS NULL OR col IS NULL OR on_unchanged IS NULL THEN
        RAISE EXCEPTION 'keel.enable_updated_at: tbl, col and on_unchanged must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF on_unchanged NOT IN ('touch', 'keep', 'skip') THEN
        RAISE EXCEPTION 'invalid on_unchanged mode "%"',
            left(on_unchanged, 64) || CASE WHEN length(on_unchanged) > 64 THEN '...' ELSE '' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'on_unchanged must be touch (always set the column), keep (leave it '
                           'when nothing else changed) or skip (drop an UPDATE that changed nothing).';
    END IF;

    SELECT c.relkind INTO v_kind FROM pg_class c WHERE c.oid = tbl;
    IF v_kind NOT IN ('r', 'p', 'f') THEN
        RAISE EXCEPTION '"%" is not a table', tbl
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = format('keel.enable_updated_at() needs a table, a partitioned table or a '
                                  'foreign table; "%s" is a %s.', tbl,
                                  CASE v_kind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                              WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index'
                                              ELSE 'relation of kind ' || v_kind::text END);
    END IF;

    FOREACH v_col IN ARRAY ARRAY[col, created_col] LOOP
        CONTINUE WHEN v_col IS NULL;
        SELECT a.atttypid::regtype INTO v_type
          FROM pg_attribute a
         WHERE a.attrelid = tbl AND a.attname = v_col AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of relation "%" does not exist', v_col, tbl
                USING ERRCODE = 'undefined_column';
        END IF;
        IF v_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
            RAISE EXCEPTION 'column "%" of relation "%" is of type %', v_col, tbl, v_type
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'keel.enable_updated_at() maintains timestamptz, timestamp and date columns.';
        END IF;
    END LOOP;

    -- One trigger per maintained column; CREATE OR REPLACE makes a second call with
    -- other options update the first instead of adding a twin.
    v_trig := left('keel_touch_' || col, 63);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE %s ON %s FOR EACH ROW '
                   'EXECUTE FUNCTION keel.touch_updated_at(%L, %L, %L)',
                   v_trig,
                   CASE WHEN created_col IS NULL THEN 'UPDATE' ELSE 'INSERT OR UPDATE' END,
                   tbl, col, on_unchanged, coalesce(created_col, ''));
    RETURN v_trig;
END
$$;

CREATE OR REPLACE FUNCTION keel.partition_by_time(
    parent            regclass,
    part_interval     text        DEFAULT 'month',
    premake           integer     DEFAULT 3,
    retention         interval    DEFAULT NULL,
    retention_mode    text        DEFAULT 'drop',
    default_partition boolean     DEFAULT true,
    start_back        integer     DEFAULT 0,
    as_of             timestamptz DEFAULT NULL)
RETURNS TABLE (parent_table regclass, action text, object text, row_count bigint, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_class     pg_class;
    v_strat     "char";
    v_natts     int;
    v_attno     int;
    v_key       name;
    v_type      regtype;
    v_interval  text;
    v_one       interval;
    v_default   oid;
    v_name      name;
    v_part      regclass;
BEGIN
    IF parent IS NULL OR part_interval IS NULL OR premake IS NULL OR retention_mode IS NULL
       OR default_partition IS NULL OR start_back IS NULL THEN
        RAISE EXCEPTION 'keel.partition_by_time: only retention and as_of may be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    v_interval := CASE lower(part_interval)
                      WHEN 'day' THEN 'day' WHEN 'daily' THEN 'day'
                      WHEN 'week' THEN 'week' WHEN 'weekly' THEN 'week'
                      WHEN 'month' THEN 'month' WHEN 'monthly' THEN 'month'
                      WHEN 'quarter' THEN 'quarter' WHEN 'quarterly' THEN 'quarter'
                      WHEN 'year' THEN 'year' WHEN 'yearly' THEN 'year' END;
    IF v_interval IS NULL THEN
        RAISE EXCEPTION 'invalid partition interval "%"',
            left(part_interval, 64) || CASE WHEN length(part_interval) > 64 THEN '...' ELSE '' END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The interval must be day, week, month, quarter or year.';
    END IF;
    IF premake NOT BETWEEN 0 AND 1000 OR start_back NOT BETWEEN 0 AND 1000 THEN
        RAISE EXCEPTION 'premake and start_back must be between 0 and 1000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('premake is %s and start_back is %s.', premake, start_back);
    END IF;
    IF retention_mode NOT IN ('drop', 'detach') THEN
        RAISE EXCEPTION 'invalid retention mode "%"',
            left(retention_mode, 64) || CASE WHEN length(retention_mode) > 64 THEN '...' ELSE '' END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'retention_mode must be drop (the partition is dropped) or detach (it is '
                         'detached and kept as an ordinary table).';
    END IF;
    v_one := CASE v_interval WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '7 days'
                             WHEN 'month' THEN interval '1 month' WHEN 'quarter' THEN interval '3 months'
                             ELSE interval '1 year' END;
    IF retention IS NOT NULL AND retention < v_one THEN
        RAISE EXCEPTION 'retention % is shorter than one partition interval (%)', retention, v_interval
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Retention retires partitions wholly older than now() - retention; '
                           'shorter than one interval it would retire the current partition.',
                  HINT = format('Use a retention of at least %s.',
                                CASE v_interval WHEN 'day' THEN '1 day' WHEN 'week' THEN '7 days'
                                                WHEN 'month' THEN '1 month' WHEN 'quarter' THEN '3 months'
                                                ELSE '1 year' END);
    END IF;

    SELECT * INTO v_class FROM pg_class c WHERE c.oid = parent;
    IF v_class.relkind <> 'p' THEN
        RAISE EXCEPTION 'table "%" is not partitioned', parent
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = CASE WHEN v_class.relkind = 'r' THEN 'It is an ordinary table.'
                                ELSE format('It is a relation of kind "%s".', v_class.relkind) END,
                  HINT = 'Create the table with PARTITION BY RANGE (a timestamptz, timestamp or date column).';
    END IF;
    SELECT pt.partstrat, pt.partnatts, pt.partattrs[0] INTO v_strat, v_natts, v_attno
      FROM pg_partitioned_table pt WHERE pt.partrelid = parent;
    IF v_strat <> 'r' THEN
        RAISE EXCEPTION 'table "%" is partitioned by %, not by range', parent,
                        CASE v_strat WHEN 'l' THEN 'list' WHEN 'h' THEN 'hash' ELSE v_strat::text END
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'keel.partition_by_time() keeps RANGE partitions over a time column.';
    END IF;
    IF v_natts <> 1 OR v_attno = 0 THEN
        RAISE EXCEPTION 'table "%" is partitioned by more than one column or by an expression', parent
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'keel.partition_by_time() needs PARTITION BY RANGE over one plain column.';
    END IF;
    SELECT a.attname, a.atttypid::regtype INTO v_key, v_type
      FROM pg_attribute a WHERE a.attrelid = parent AND a.attnum = v_attno;
    IF v_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
        RAISE EXCEPTION 'partition key column "%" of table "%" is of type %', v_key, parent, v_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'keel.partition_by_time() needs a timestamptz, timestamp or date key.';
    END IF;
    IF NOT pg_has_role(current_user, v_class.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', parent
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    INSERT INTO keel.partition_config AS c
           (parent, part_interval, premake, start_back, retention, retention_mode, default_partition)
    VALUES (partition_by_time.parent, v_interval, partition_by_time.premake, partition_by_time.start_back,
            partition_by_time.retention, partition_by_time.retention_mode, partition_by_time.default_partition)
    ON CONFLICT ON CONSTRAINT partition_config_pkey DO UPDATE
       SET part_interval = EXCLUDED.part_interval, premake = EXCLUDED.premake,
           start_back = EXCLUDED.start_back, retention = EXCLUDED.retention,
           retention_mode = EXCLUDED.retention_mode, default_partition = EXCLUDED.default_partition;

    IF partition_by_time.default_partition THEN
        SELECT i.inhrelid INTO v_default
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = partition_by_time.parent AND c.relpartbound IS NOT NULL
           AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';
        IF v_default IS NULL THEN
            v_name := keel._partition_name(v_class.relname, 'default');
            EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT',
                           (SELECT n.nspname FROM pg_namespace n WHERE n.oid = v_class.relnamespace),
                           v_name, partition_by_time.parent);
            v_part := format('%I.%I', (SELECT n.nspname FROM pg_namespace n WHERE n.oid = v_class.relnamespace),
                             v_name)::regclass;
            PERFORM keel._partition_inherit_access(partition_by_time.parent, v_part);
            parent_table := partition_by_time.parent;
            action := 'created';
            object := v_part::text;
            row_count := NULL;
            detail := 'DEFAULT';
            RETURN NEXT;
        END IF;
    END IF;

    -- The first run is part of the registration: if it fails, nothing is registered.
    FOR parent_table, action, object, row_count, detail IN
        SELECT * FROM keel.run_maintenance(partition_by_time.parent, partition_by_time.as_of) LOOP
        IF action = 'error' THEN
            RAISE EXCEPTION '%', substr(detail, 8)
                USING ERRCODE = left(detail, 5),
                      HINT = 'Nothing was registered and no partition was made.';
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION keel.create_key(name text, purpose text DEFAULT 'encrypt',
                                if_not_exists boolean DEFAULT false)
RETURNS keel.keys
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id  integer;
    v_row keel.keys;
BEGIN
    IF name IS NULL OR purpose IS NULL OR if_not_exists IS NULL THEN
        RAISE EXCEPTION 'keel.create_key: name, purpose and if_not_exists must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF purpose NOT IN ('encrypt', 'hmac') THEN
        RAISE EXCEPTION 'invalid key purpose "%"',
            left(purpose, 64) || CASE WHEN length(purpose) > 64 THEN '...' ELSE '' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A key''s purpose is encrypt (for keel.encrypt and encrypted columns) '
                           'or hmac (for signatures such as the audit chain''s).';
    END IF;
    IF octet_length(name) NOT BETWEEN 1 AND 63 THEN
        RAISE EXCEPTION 'invalid key name "%"',
            left(name, 64) || CASE WHEN length(name) > 64 THEN '...' ELSE '' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('A key name is 1 to 63 bytes long; this one is %s bytes.', octet_length(name));
    END IF;
    LOCK TABLE keel.data_keys IN SHARE ROW EXCLUSIVE MODE;
    SELECT k.* INTO v_row FROM keel.keys k WHERE k.name = create_key.name ORDER BY k.version DESC LIMIT 1;
    IF FOUND THEN
        IF if_not_exists AND v_row.purpose = create_key.purpose THEN
            SELECT k.* INTO v_row FROM keel.keys k
             WHERE k.name = create_key.name AND k.state = 'active';
            RETURN v_row;
        END IF;
        RAISE EXCEPTION 'key "%" already exists', name
            USING ERRCODE = 'duplicate_object',
                  DETAIL = format('It is an %s key with %s version(s).', v_row.purpose, v_row.version),
                  HINT = 'Use keel.rotate_key() to make a new version of it.';
    END IF;
    PERFORM keel._ensure_key_check();
    v_id := nextval('keel.data_key_id_seq');
    INSERT INTO keel.data_keys (key_id, name, purpose, version, wrapped_key, state)
    VALUES (v_id, create_key.name, create_key.purpose, 1,
            keel._new_wrapped_key(v_id, 1, create_key.purpose), 'active');
    PERFORM keel._keys_changed();
    SELECT k.* INTO v_row FROM keel.keys k WHERE k.key_id = v_id;
    RETURN v_row;
END
$$;

CREATE OR REPLACE FUNCTION keel.rotate_key(name text)
RETURNS keel.keys
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_last keel.data_keys;
    v_row  keel.keys;
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'keel.rotate_key: name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    LOCK TABLE keel.data_keys IN SHARE ROW EXCLUSIVE MODE;
    SELECT k.* INTO v_last FROM keel.data_keys k
     WHERE k.name = rotate_key.name ORDER BY k.version DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'key "%" does not exist',
            left(name, 64) || CASE WHEN length(name) > 64 THEN '...' ELSE '' END
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with keel.create_key().';
    END IF;
    PERFORM keel._ensure_key_check();
    UPDATE keel.data_keys k SET state = 'retired'
     WHERE k.key_id = v_last.key_id AND k.state = 'active';
    INSERT INTO keel.data_keys (key_id, name, purpose, version, wrapped_key, state)
    VALUES (v_last.key_id, v_last.name, v_last.purpose, v_last.version + 1,
            keel._new_wrapped_key(v_last.key_id, v_last.version + 1, v_last.purpose), 'active');
    PERFORM keel._keys_changed();
    SELECT k.* INTO v_row FROM keel.keys k
     WHERE k.key_id = v_last.key_id AND k.version = v_last.version + 1;
    RETURN v_row;
END
$$;

CREATE OR REPLACE FUNCTION keel.destroy_key(name text, version integer)
RETURNS keel.keys
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_key keel.data_keys;
    v_row keel.keys;
BEGIN
    IF name IS NULL OR version IS NULL THEN
        RAISE EXCEPTION 'keel.destroy_key: name and version must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    LOCK TABLE keel.data_keys IN SHARE ROW EXCLUSIVE MODE;
    SELECT k.* INTO v_key FROM keel.data_keys k
     WHERE k.name = destroy_key.name AND k.version = destroy_key.version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'key "%" version % does not exist',
            left(name, 64) || CASE WHEN length(name) > 64 THEN '...' ELSE '' END, version
            USING ERRCODE = 'undefined_object';
    END IF;
    IF v_key.state = 'active' THEN
        RAISE EXCEPTION 'key "%" version % is the active version', name, version
            USING ERRCODE = 'object_in_use',
                  DETAIL = 'New data is encrypted or signed with the active version.',
                  HINT = 'Rotate the key with keel.rotate_key() and move the data with '
                         'keel.reencrypt() before destroying this version.';
    END IF;
    UPDATE keel.data_keys k SET state = 'destroyed', wrapped_key = NULL
     WHERE k.key_id = v_key.key_id AND k.version = v_key.version;
    PERFORM keel._keys_changed();
    SELECT k.* INTO v_row FROM keel.keys k
     WHERE k.key_id = v_key.key_id AND k.version = v_key.version;
    RETURN v_row;
END
$$;

CREATE OR REPLACE FUNCTION keel.encrypt_column(tbl regclass, col name, key_name text,
                                    aad_columns name[] DEFAULT '{}')
RETURNS name
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_kind  "char";
    v_type  regtype;
    v_c     name;
    v_label text;
    v_trig  name := left('keel_encrypt_' || col, 63);
    v_args  text;
BEGIN
    IF tbl IS NULL OR col IS NULL OR key_name IS NULL OR aad_columns IS NULL THEN
        RAISE EXCEPTION 'keel.encrypt_column: tbl, col, key_name and aad_columns must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind INTO v_kind FROM pg_class c WHERE c.oid = tbl;
    IF v_kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', tbl
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'keel.encrypt_column() needs a table or a partitioned table.';
    END IF;
    SELECT a.atttypid::regtype INTO v_type FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', col, tbl
            USING ERRCODE = 'undefined_column';
    END IF;
    IF v_type NOT IN ('bytea'::regtype, 'text'::regtype, 'character varying'::regtype, 'jsonb'::regtype) THEN
        RAISE EXCEPTION 'column "%" of relation % is of type %', col, tbl, v_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'keel encrypts bytea, text, varchar and jsonb columns.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM keel.data_keys k WHERE k.name = key_name AND k.state = 'active') THEN
        RAISE EXCEPTION 'key "%" does not exist',
            left(key_name, 64) || CASE WHEN length(key_name) > 64 THEN '...' ELSE '' END
            USING ERRCODE = 'undefined_object', HINT = 'Create it with keel.create_key().';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM keel.data_keys k WHERE k.name = key_name AND k.purpose = 'encrypt') THEN
        RAISE EXCEPTION 'key "%" is not an encrypt key',
            left(key_name, 64) || CASE WHEN length(key_name) > 64 THEN '...' ELSE '' END
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF cardinality(aad_columns) > 16 THEN
        RAISE EXCEPTION 'too many AAD columns' USING ERRCODE = 'program_limit_exceeded',
              DETAIL = 'At most 16 identifying columns can be bound.';
    END IF;
    FOREACH v_c IN ARRAY aad_columns LOOP
        IF v_c = col THEN
            RAISE EXCEPTION 'column "%" cannot identify its own row', v_c
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = v_c
                          AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'column "%" of relation % does not exist', v_c, tbl
                USING ERRCODE = 'undefined_column';
        END IF;
    END LOOP;

    -- The label is fixed now, from names (not OIDs), and kept: values stay decryptable
    -- after a dump/restore or a rename.
    SELECT coalesce((SELECT e.aad_label FROM keel.encrypted_columns e
                      WHERE e.tbl = encrypt_column.tbl AND e.col = encrypt_column.col),
                    format('%s.%s.%s', n.nspname, c.relname, col))
      INTO v_label
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
    INSERT INTO keel.encrypted_columns AS e (tbl, col, key_name, aad_label, aad_columns)
    VALUES (tbl, col, key_name, v_label, aad_columns)
    ON CONFLICT ON CONSTRAINT encrypted_columns_pkey DO UPDATE SET key_name = excluded.key_name, aad_columns = excluded.aad_columns;

    SELECT string_agg(format('%L', a), ', ') INTO v_args
      FROM unnest(ARRAY[col::text, key_name, v_label] || aad_columns::text[]) AS a;
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE ON %s FOR EACH ROW '
                   'EXECUTE FUNCTION keel.encrypt_column_trigger(%s)', v_trig, tbl, v_args);
    RETURN v_trig;
END
$$;

-- ---- a chain links only its own table's rows; its trigger functions are executable by
-- PUBLIC so that table owners can add partitions (lead, issue 4): 300_audit_chain.sql
ALTER TABLE keel.audit_chain ADD COLUMN tbl regclass;
UPDATE keel.audit_chain SET tbl = pg_catalog.to_regclass(table_name);
GRANT EXECUTE ON FUNCTION keel.audit_chain_append() TO PUBLIC;
GRANT EXECUTE ON FUNCTION keel.audit_chain_refuse() TO PUBLIC;
