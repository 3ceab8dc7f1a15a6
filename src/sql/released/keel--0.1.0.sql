-- keel--0.1.0.sql: generated from src/sql/keel/ by make; do not edit.
\echo Use "CREATE EXTENSION keel" to load this file. \quit

-- ---- src/sql/keel/000_schema.sql
-- The keel schema is fixed (control file: schema = keel, relocatable = false).
COMMENT ON SCHEMA keel IS 'keel engine: triggers, key store, audit chain, partition upkeep';

-- Applications call keel's functions (hashing, encryption, triggers) from any role;
-- what is not for them is revoked function by function.
GRANT USAGE ON SCHEMA keel TO PUBLIC;

-- ---- src/sql/keel/010_updated_at.sql
-- updated_at maintenance: a C++ BEFORE ROW trigger and the function that attaches it.

CREATE FUNCTION keel.touch_updated_at()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_touch_updated_at';

COMMENT ON FUNCTION keel.touch_updated_at() IS
'BEFORE UPDATE FOR EACH ROW trigger: sets a timestamptz/timestamp/date column to the '
'transaction timestamp (NOW()). Arguments: column (default updated_at), on_unchanged '
'(touch|keep|skip), column to set on INSERT. Attach with keel.enable_updated_at().';

CREATE FUNCTION keel.enable_updated_at(
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
        RAISE EXCEPTION 'invalid on_unchanged mode "%"', on_unchanged
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

COMMENT ON FUNCTION keel.enable_updated_at(regclass, name, text, name) IS
'Attaches keel.touch_updated_at() to a table (partitioned tables reach every partition). '
'Idempotent: calling again replaces the trigger with the new options. Returns the trigger name.';

CREATE FUNCTION keel.disable_updated_at(tbl regclass, col name DEFAULT 'updated_at')
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_trig name := left('keel_touch_' || col, 63);
BEGIN
    IF tbl IS NULL OR col IS NULL THEN
        RAISE EXCEPTION 'keel.disable_updated_at: tbl and col must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = v_trig AND NOT tgisinternal) THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TRIGGER %I ON %s', v_trig, tbl);
    RETURN true;
END
$$;

COMMENT ON FUNCTION keel.disable_updated_at(regclass, name) IS
'Removes the trigger that keel.enable_updated_at() attached; false when there was none.';

-- ---- src/sql/keel/100_partition.sql
-- Time-partition maintenance: the configuration table, the registration function,
-- keel.run_maintenance() (C++) and their helpers.  See docs/partitions.md.

CREATE TABLE keel.partition_config (
    parent            regclass    PRIMARY KEY,
    part_interval     text        NOT NULL
                      CHECK (part_interval IN ('day', 'week', 'month', 'quarter', 'year')),
    premake           integer     NOT NULL CHECK (premake BETWEEN 0 AND 1000),
    start_back        integer     NOT NULL CHECK (start_back BETWEEN 0 AND 1000),
    retention         interval,
    retention_mode    text        NOT NULL DEFAULT 'drop' CHECK (retention_mode IN ('drop', 'detach')),
    default_partition boolean     NOT NULL DEFAULT true,
    registered_at     timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE keel.partition_config IS
'Tables kept partitioned by keel.run_maintenance(): one row per parent, written by '
'keel.partition_by_time(). Dumped by pg_dump with the extension''s own objects.';

SELECT pg_catalog.pg_extension_config_dump('keel.partition_config', '');
REVOKE ALL ON TABLE keel.partition_config FROM PUBLIC;

CREATE FUNCTION keel.run_maintenance(parent regclass DEFAULT NULL, as_of timestamptz DEFAULT NULL)
RETURNS TABLE (parent_table regclass, action text, object text, row_count bigint, detail text)
LANGUAGE c
VOLATILE
AS 'MODULE_PATHNAME', 'keel_run_maintenance';

REVOKE ALL ON FUNCTION keel.run_maintenance(regclass, timestamptz) FROM PUBLIC;

COMMENT ON FUNCTION keel.run_maintenance(regclass, timestamptz) IS
'Partition upkeep for one registered table (or all, then the registered maintenance '
'tasks): makes missing partitions ahead, moves rows out of the default partition, '
'retires partitions wholly older than the retention. Idempotent; one row per action. '
'as_of (or the setting keel.maintenance_now) replaces now() for tests.';

CREATE FUNCTION keel._partition_name(parent_name name, suffix text)
RETURNS name
LANGUAGE c
IMMUTABLE STRICT
AS 'MODULE_PATHNAME', 'keel_partition_name';

REVOKE ALL ON FUNCTION keel._partition_name(name, text) FROM PUBLIC;

COMMENT ON FUNCTION keel._partition_name(name, text) IS
'The name keel gives a partition: <parent>_<suffix>, the parent part clipped on a '
'character boundary so the whole stays within NAMEDATALEN.';

-- New partitions belong to the parent's owner and carry its table privileges.
CREATE FUNCTION keel._partition_inherit_access(parent regclass, part regclass)
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
END
$$;

REVOKE ALL ON FUNCTION keel._partition_inherit_access(regclass, regclass) FROM PUBLIC;

COMMENT ON FUNCTION keel._partition_inherit_access(regclass, regclass) IS
'Gives a new partition its parent''s owner and table privileges (declarative '
'partitioning copies neither).';

CREATE FUNCTION keel.partition_by_time(
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
        RAISE EXCEPTION 'invalid partition interval "%"', part_interval
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The interval must be day, week, month, quarter or year.';
    END IF;
    IF premake NOT BETWEEN 0 AND 1000 OR start_back NOT BETWEEN 0 AND 1000 THEN
        RAISE EXCEPTION 'premake and start_back must be between 0 and 1000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('premake is %s and start_back is %s.', premake, start_back);
    END IF;
    IF retention_mode NOT IN ('drop', 'detach') THEN
        RAISE EXCEPTION 'invalid retention mode "%"', retention_mode
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

REVOKE ALL ON FUNCTION keel.partition_by_time(regclass, text, integer, interval, text, boolean, integer, timestamptz) FROM PUBLIC;

COMMENT ON FUNCTION keel.partition_by_time(regclass, text, integer, interval, text, boolean, integer, timestamptz) IS
'Registers a RANGE-partitioned table (timestamptz, timestamp or date key) for time-partition '
'maintenance and makes what is missing now: partitions from start_back intervals back to premake '
'ahead, and a default partition. Calling it again changes the options. Returns the actions taken.';

CREATE FUNCTION keel.unregister_partitioning(parent regclass)
RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    WITH d AS (DELETE FROM keel.partition_config c WHERE c.parent = unregister_partitioning.parent RETURNING 1)
    SELECT count(*) > 0 FROM d;
$$;

REVOKE ALL ON FUNCTION keel.unregister_partitioning(regclass) FROM PUBLIC;

COMMENT ON FUNCTION keel.unregister_partitioning(regclass) IS
'Stops partition maintenance of a table (its partitions are left as they are); false when it was not registered.';

-- A registered parent that is dropped leaves no registration behind.  (Should the
-- event trigger not fire, e.g. under session_replication_role = replica,
-- keel.run_maintenance() notices the missing table and removes the row itself.)
CREATE FUNCTION keel._partition_forget_dropped()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM keel.partition_config c
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND c.parent::oid = d.objid;
END
$$;

REVOKE ALL ON FUNCTION keel._partition_forget_dropped() FROM PUBLIC;

COMMENT ON FUNCTION keel._partition_forget_dropped() IS
'sql_drop event trigger: removes the partition_config row of a dropped parent table.';

CREATE EVENT TRIGGER keel_partition_forget_dropped ON sql_drop
    EXECUTE FUNCTION keel._partition_forget_dropped();

COMMENT ON EVENT TRIGGER keel_partition_forget_dropped IS
'Keeps keel.partition_config free of tables that no longer exist.';

-- ---- src/sql/keel/200_keys.sql
-- The key store.  Data keys are random 256-bit keys, kept only wrapped
-- (AES-256-GCM) under the master key that comes from outside the database
-- (keel.master_key_file or keel.master_key_command).  The tables are dumped by
-- pg_dump (pg_extension_config_dump); no SQL path returns a key in the clear.

CREATE SEQUENCE keel.data_key_id_seq AS integer;
COMMENT ON SEQUENCE keel.data_key_id_seq IS 'Ids of keel data keys (one id per key name).';

CREATE TABLE keel.data_keys (
    key_id      integer NOT NULL,
    name        text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 63),
    purpose     text NOT NULL CHECK (purpose IN ('encrypt', 'hmac')),
    version     integer NOT NULL CHECK (version > 0),
    wrapped_key bytea,
    state       text NOT NULL CHECK (state IN ('active', 'retired', 'destroyed')),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (key_id, version),
    UNIQUE (name, version),
    CHECK ((state = 'destroyed') = (wrapped_key IS NULL))
);
CREATE UNIQUE INDEX data_keys_one_active ON keel.data_keys (name) WHERE state = 'active';
COMMENT ON TABLE keel.data_keys IS
'keel data keys, wrapped under the master key (never in the clear). Read through the keel.keys view.';

CREATE TABLE keel.key_check (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    check_value bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE keel.key_check IS
'Key check value: verifies only under the master key that wrapped keel.data_keys, so a wrong '
'master key is reported at once.';

REVOKE ALL ON keel.data_keys, keel.key_check, keel.data_key_id_seq FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('keel.data_keys', '');
SELECT pg_catalog.pg_extension_config_dump('keel.key_check', '');
SELECT pg_catalog.pg_extension_config_dump('keel.data_key_id_seq', '');

CREATE VIEW keel.keys AS
SELECT k.name, k.purpose, k.version, k.state, k.created_at, k.key_id
  FROM keel.data_keys k;
COMMENT ON VIEW keel.keys IS 'keel data keys: metadata only (name, purpose, version, state).';
GRANT SELECT ON keel.keys TO PUBLIC;

-- Internal C helpers (key bytes never leave C; they return wrapped keys only).
CREATE FUNCTION keel._new_wrapped_key(key_id integer, version integer, purpose text)
RETURNS bytea LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'keel_new_wrapped_key';
CREATE FUNCTION keel._rewrap_key(key_id integer, version integer, purpose text, wrapped bytea,
                                 new_master_key_file text)
RETURNS bytea LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'keel_rewrap_key';
CREATE FUNCTION keel._master_key_check(new_master_key_file text DEFAULT NULL)
RETURNS bytea LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'keel_master_key_check';
CREATE FUNCTION keel._keys_changed()
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'keel_keys_changed';
REVOKE ALL ON FUNCTION keel._new_wrapped_key(integer, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._rewrap_key(integer, integer, text, bytea, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._master_key_check(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._keys_changed() FROM PUBLIC;
COMMENT ON FUNCTION keel._new_wrapped_key(integer, integer, text) IS
'Internal: a new random data key, wrapped under the master key.';
COMMENT ON FUNCTION keel._rewrap_key(integer, integer, text, bytea, text) IS
'Internal: unwraps a data key with the configured master key and wraps it under the key in a file.';
COMMENT ON FUNCTION keel._master_key_check(text) IS
'Internal: a key check value for the configured master key (or the one in a file).';
COMMENT ON FUNCTION keel._keys_changed() IS
'Internal: invalidates every backend''s cache of unwrapped data keys (at commit).';

-- Makes sure the key check exists (first key) and matches (every later call).
CREATE FUNCTION keel._ensure_key_check()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM keel.key_check) THEN
        INSERT INTO keel.key_check (check_value) VALUES (keel._master_key_check())
        ON CONFLICT DO NOTHING;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION keel._ensure_key_check() FROM PUBLIC;
COMMENT ON FUNCTION keel._ensure_key_check() IS
'Internal: stores the key check value for the configured master key when there is none.';

CREATE FUNCTION keel.create_key(name text, purpose text DEFAULT 'encrypt',
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
        RAISE EXCEPTION 'invalid key purpose "%"', purpose
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A key''s purpose is encrypt (for keel.encrypt and encrypted columns) '
                           'or hmac (for signatures such as the audit chain''s).';
    END IF;
    IF octet_length(name) NOT BETWEEN 1 AND 63 THEN
        RAISE EXCEPTION 'invalid key name "%"', name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A key name is 1 to 63 bytes long.';
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
REVOKE ALL ON FUNCTION keel.create_key(text, text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION keel.create_key(text, text, boolean) IS
'Creates a named random data key (purpose encrypt or hmac), version 1, wrapped under the master '
'key. if_not_exists => true returns the existing key of that purpose instead of failing.';

CREATE FUNCTION keel.rotate_key(name text)
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
        RAISE EXCEPTION 'key "%" does not exist', name
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
REVOKE ALL ON FUNCTION keel.rotate_key(text) FROM PUBLIC;
COMMENT ON FUNCTION keel.rotate_key(text) IS
'Makes a new version of a key the active one (used for new data); older versions stay usable '
'for decryption and verification. Move old data with keel.reencrypt().';

CREATE FUNCTION keel.destroy_key(name text, version integer)
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
        RAISE EXCEPTION 'key "%" version % does not exist', name, version
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
REVOKE ALL ON FUNCTION keel.destroy_key(text, integer) FROM PUBLIC;
COMMENT ON FUNCTION keel.destroy_key(text, integer) IS
'Destroys a retired key version for good (crypto-shredding): data encrypted with it can no '
'longer be decrypted. The active version cannot be destroyed.';

CREATE FUNCTION keel.rewrap_keys(new_master_key_file text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_n integer := 0;
    v_k record;
BEGIN
    IF new_master_key_file IS NULL OR new_master_key_file = '' THEN
        RAISE EXCEPTION 'keel.rewrap_keys: new_master_key_file must not be empty'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    LOCK TABLE keel.data_keys IN EXCLUSIVE MODE;
    LOCK TABLE keel.key_check IN EXCLUSIVE MODE;
    -- Reads and verifies the new key first, so a bad file changes nothing.
    PERFORM keel._master_key_check(new_master_key_file);
    FOR v_k IN SELECT k.key_id, k.version, k.purpose, k.wrapped_key
                 FROM keel.data_keys k WHERE k.wrapped_key IS NOT NULL
                ORDER BY k.key_id, k.version LOOP
        UPDATE keel.data_keys k
           SET wrapped_key = keel._rewrap_key(v_k.key_id, v_k.version, v_k.purpose,
                                              v_k.wrapped_key, new_master_key_file)
         WHERE k.key_id = v_k.key_id AND k.version = v_k.version;
        v_n := v_n + 1;
    END LOOP;
    DELETE FROM keel.key_check;
    INSERT INTO keel.key_check (check_value) VALUES (keel._master_key_check(new_master_key_file));
    PERFORM keel._keys_changed();
    RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION keel.rewrap_keys(text) FROM PUBLIC;
COMMENT ON FUNCTION keel.rewrap_keys(text) IS
'Rewraps every data key under the master key in the given file (mode 0600), in one transaction, '
'without touching encrypted data; then point keel.master_key_file at that file and reload. '
'Returns the number of key versions rewrapped.';

-- ---- src/sql/keel/210_encrypt.sql
-- Field encryption: AES-256-GCM envelopes in three shapes, the decrypt role, and
-- transparent column encryption with rotation (keel.encrypt_column, keel.reencrypt).

-- Decryption is a privilege: members of keel_decrypt (and superusers) may decrypt.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'keel_decrypt') THEN
        CREATE ROLE keel_decrypt NOLOGIN;
    END IF;
END
$$;
COMMENT ON ROLE keel_decrypt IS 'Members may decrypt keel ciphertext (keel.decrypt*, decrypting views).';

CREATE FUNCTION keel.encrypt(data bytea, key_name text, aad bytea DEFAULT NULL)
RETURNS bytea LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_encrypt';
CREATE FUNCTION keel.decrypt(data bytea, aad bytea DEFAULT NULL)
RETURNS bytea LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_decrypt';
CREATE FUNCTION keel.encrypt_text(data text, key_name text, aad bytea DEFAULT NULL)
RETURNS text LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_encrypt_text';
CREATE FUNCTION keel.decrypt_text(data text, aad bytea DEFAULT NULL)
RETURNS text LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_decrypt_text';
CREATE FUNCTION keel.encrypt_jsonb(data jsonb, key_name text, aad bytea DEFAULT NULL)
RETURNS jsonb LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_encrypt_jsonb';
CREATE FUNCTION keel.decrypt_jsonb(data jsonb, aad bytea DEFAULT NULL)
RETURNS jsonb LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_decrypt_jsonb';

COMMENT ON FUNCTION keel.encrypt(bytea, text, bytea) IS
'AES-256-GCM envelope of data under the active version of the named key; aad (optional) must be '
'given again to decrypt.';
COMMENT ON FUNCTION keel.decrypt(bytea, bytea) IS
'Decrypts a keel envelope (any shape''s payload, as bytes). Needs membership in keel_decrypt.';
COMMENT ON FUNCTION keel.encrypt_text(text, text, bytea) IS
'Like keel.encrypt, as printable text: ''keel1:'' followed by base64 (fits TEXT/VARCHAR).';
COMMENT ON FUNCTION keel.decrypt_text(text, bytea) IS
'Decrypts keel.encrypt_text output. Needs membership in keel_decrypt.';
COMMENT ON FUNCTION keel.encrypt_jsonb(jsonb, text, bytea) IS
'Like keel.encrypt, as a small JSON object {"ct": "<base64>", "keel": 1} (fits JSONB).';
COMMENT ON FUNCTION keel.decrypt_jsonb(jsonb, bytea) IS
'Decrypts keel.encrypt_jsonb output back to the jsonb value. Needs membership in keel_decrypt.';

-- Column encryption.
CREATE TABLE keel.encrypted_columns (
    tbl          regclass NOT NULL,
    col          name NOT NULL,
    key_name     text NOT NULL,
    aad_label    text NOT NULL,
    aad_columns  name[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (tbl, col)
);
COMMENT ON TABLE keel.encrypted_columns IS
'Columns encrypted by keel.encrypt_column: key, the AAD label bound into every value (fixed when '
'the column was set up, so renames and dump/restore keep values decryptable) and identifying columns.';
SELECT pg_catalog.pg_extension_config_dump('keel.encrypted_columns', '');
REVOKE ALL ON keel.encrypted_columns FROM PUBLIC;

CREATE FUNCTION keel.encrypt_column_trigger()
RETURNS trigger LANGUAGE c AS 'MODULE_PATHNAME', 'keel_encrypt_column_trigger';
COMMENT ON FUNCTION keel.encrypt_column_trigger() IS
'BEFORE INSERT OR UPDATE FOR EACH ROW trigger: stores plaintext of a column as keel ciphertext. '
'Attach with keel.encrypt_column().';

CREATE FUNCTION keel.column_aad(label text)
RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_column_aad';
CREATE FUNCTION keel.column_aad(label text, VARIADIC ids "any")
RETURNS bytea LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_column_aad';
CREATE FUNCTION keel._needs_reencrypt(value anyelement, key_name text)
RETURNS boolean LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'keel_needs_reencrypt';
CREATE FUNCTION keel._reencrypt_value(value anyelement, key_name text, aad bytea)
RETURNS anyelement LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'keel_reencrypt_value';
COMMENT ON FUNCTION keel.column_aad(text) IS
'The associated data an encrypted column binds (label only).';
COMMENT ON FUNCTION keel.column_aad(text, "any") IS
'The associated data an encrypted column binds: label and the row''s identifying values.';
COMMENT ON FUNCTION keel._needs_reencrypt(anyelement, text) IS
'Internal: true for plaintext or ciphertext not under the key''s active version.';
COMMENT ON FUNCTION keel._reencrypt_value(anyelement, text, bytea) IS
'Internal: the value under the key''s active version (used by keel.reencrypt).';

-- The expression keel.column_aad(label, t.id, ...) for one configured column.
CREATE FUNCTION keel._column_aad_sql(cfg keel.encrypted_columns, alias text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('keel.column_aad(%L%s)', cfg.aad_label,
                  (SELECT coalesce(string_agg(format(', %I.%I', alias, c), '' ORDER BY o), '')
                     FROM unnest(cfg.aad_columns) WITH ORDINALITY AS u(c, o)))
$$;
COMMENT ON FUNCTION keel._column_aad_sql(keel.encrypted_columns, text) IS
'Internal: SQL text of the AAD expression for a configured encrypted column.';

CREATE FUNCTION keel.encrypt_column(tbl regclass, col name, key_name text,
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
        RAISE EXCEPTION 'key "%" does not exist', key_name
            USING ERRCODE = 'undefined_object', HINT = 'Create it with keel.create_key().';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM keel.data_keys k WHERE k.name = key_name AND k.purpose = 'encrypt') THEN
        RAISE EXCEPTION 'key "%" is not an encrypt key', key_name
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
COMMENT ON FUNCTION keel.encrypt_column(regclass, name, text, name[]) IS
'Encrypts a bytea/text/varchar/jsonb column transparently on INSERT and UPDATE, binding the table, '
'column and the given identifying columns as AAD. Existing rows: CALL keel.reencrypt(tbl, col).';

CREATE FUNCTION keel.decrypt_column_sql(tbl regclass, col name, alias text DEFAULT 't')
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_cfg  keel.encrypted_columns;
    v_type regtype;
BEGIN
    SELECT e.* INTO v_cfg FROM keel.encrypted_columns e
     WHERE e.tbl = decrypt_column_sql.tbl AND e.col = decrypt_column_sql.col;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % is not encrypted by keel', col, tbl
            USING ERRCODE = 'undefined_object', HINT = 'See keel.encrypted_columns.';
    END IF;
    SELECT a.atttypid::regtype INTO v_type FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = col;
    RETURN format('keel.%s(%I.%I, %s)',
                  CASE v_type WHEN 'bytea'::regtype THEN 'decrypt'
                              WHEN 'jsonb'::regtype THEN 'decrypt_jsonb'
                              ELSE 'decrypt_text' END,
                  alias, col, keel._column_aad_sql(v_cfg, alias));
END
$$;
COMMENT ON FUNCTION keel.decrypt_column_sql(regclass, name, text) IS
'SQL expression that decrypts an encrypted column of the row alias (for hand-written queries).';

CREATE FUNCTION keel.create_decrypted_view(tbl regclass, view_name text DEFAULT NULL)
RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_nsp   name;
    v_rel   name;
    v_cols  text;
    v_view  text;
    v_base  text;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'keel.create_decrypted_view: tbl must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT n.nspname, c.relname INTO v_nsp, v_rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
    IF NOT EXISTS (SELECT 1 FROM keel.encrypted_columns e WHERE e.tbl = create_decrypted_view.tbl) THEN
        RAISE EXCEPTION 'relation % has no column encrypted by keel', tbl
            USING ERRCODE = 'undefined_object', HINT = 'Use keel.encrypt_column() first.';
    END IF;
    SELECT string_agg(CASE WHEN e.col IS NULL THEN format('t.%I', a.attname)
                           ELSE format('%s AS %I', keel.decrypt_column_sql(create_decrypted_view.tbl, a.attname), a.attname) END,
                      ', ' ORDER BY a.attnum)
      INTO v_cols
      FROM pg_attribute a
      LEFT JOIN keel.encrypted_columns e ON e.tbl = a.attrelid AND e.col = a.attname
     WHERE a.attrelid = create_decrypted_view.tbl AND a.attnum > 0 AND NOT a.attisdropped;
    -- <table>_decrypted within 63 bytes (whole characters): a longer name would be
    -- truncated by PostgreSQL, and a 63-byte table name would become the table's own.
    v_base := v_rel;
    WHILE octet_length(v_base || '_decrypted') > 63 LOOP
        v_base := left(v_base, -1);
    END LOOP;
    v_view := format('%I.%I', v_nsp, coalesce(view_name, v_base || '_decrypted'));
    EXECUTE format('CREATE OR REPLACE VIEW %s AS SELECT %s FROM %s t', v_view, v_cols, tbl);
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', v_view);
    RETURN v_view::regclass;
END
$$;
COMMENT ON FUNCTION keel.create_decrypted_view(regclass, text) IS
'Creates <table>_decrypted: the table with its keel-encrypted columns decrypted. Reading it needs '
'SELECT on the view and membership in keel_decrypt.';

CREATE FUNCTION keel._reencrypt_batch(tbl regclass, col name, batch_size integer)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_cfg keel.encrypted_columns;
    v_n   bigint;
BEGIN
    SELECT e.* INTO v_cfg FROM keel.encrypted_columns e
     WHERE e.tbl = _reencrypt_batch.tbl AND e.col = _reencrypt_batch.col;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % is not encrypted by keel', col, tbl
            USING ERRCODE = 'undefined_object', HINT = 'Use keel.encrypt_column() first.';
    END IF;
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('UPDATE %1$s t SET %2$I = keel._reencrypt_value(t.%2$I, %3$L, %4$s) '
                   'WHERE t.ctid = ANY (ARRAY(SELECT s.ctid FROM %1$s s '
                   'WHERE keel._needs_reencrypt(s.%2$I, %3$L) LIMIT %5$s FOR UPDATE SKIP LOCKED))',
                   tbl, col, v_cfg.key_name, keel._column_aad_sql(v_cfg, 't'), batch_size);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION keel._reencrypt_batch(regclass, name, integer) IS
'Internal: re-encrypts up to batch_size rows of an encrypted column (plaintext or an older key '
'version) under the active key version; returns the rows done.';

-- A procedure, so each batch commits: online (only batch_size rows locked at a time)
-- and resumable (an interrupted run leaves finished batches done; run it again).
-- Procedures that COMMIT cannot carry a SET clause: every name below is qualified.
CREATE PROCEDURE keel.reencrypt(tbl regclass, col name, batch_size integer DEFAULT 1000,
                                INOUT rows_done bigint DEFAULT 0)
LANGUAGE plpgsql
AS $$
DECLARE
    v_n bigint;
BEGIN
    rows_done := 0;
    LOOP
        v_n := keel._reencrypt_batch(tbl, col, batch_size);
        rows_done := rows_done OPERATOR(pg_catalog.+) v_n;
        EXIT WHEN v_n OPERATOR(pg_catalog.<) batch_size;
        RAISE NOTICE 'keel.reencrypt: % rows done', rows_done;
        COMMIT;
    END LOOP;
END
$$;
COMMENT ON PROCEDURE keel.reencrypt(regclass, name, integer, bigint) IS
'Moves an encrypted column to its key''s active version (and encrypts leftover plaintext), in '
'committed batches; reports progress as NOTICEs and returns rows_done. Safe to interrupt and rerun.';
REVOKE ALL ON PROCEDURE keel.reencrypt(regclass, name, integer, bigint) FROM PUBLIC;

-- Administrators' tools (they run as the caller, who must own the table); column_aad
-- stays public because decrypting views call it as the reading role.
REVOKE ALL ON FUNCTION keel.encrypt_column(regclass, name, text, name[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.encrypt_column_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.decrypt_column_sql(regclass, name, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.create_decrypted_view(regclass, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._column_aad_sql(keel.encrypted_columns, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._needs_reencrypt(anyelement, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._reencrypt_value(anyelement, text, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._reencrypt_batch(regclass, name, integer) FROM PUBLIC;

-- ---- src/sql/keel/220_passwords.sql
-- Passwords (argon2id, PHC strings) and API keys / session tokens (SHA-256 hex).

CREATE FUNCTION keel.hash_password(password text)
RETURNS text LANGUAGE c VOLATILE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_hash_password';
COMMENT ON FUNCTION keel.hash_password(text) IS
'argon2id hash of a password as a PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash, '
'fits VARCHAR(255)); cost from keel.password_memory_kib / _iterations / _parallelism '
'(default OWASP: 19 MiB, 2, 1).';

CREATE FUNCTION keel.verify_password(password text, hash text)
RETURNS boolean LANGUAGE c STABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_verify_password';
COMMENT ON FUNCTION keel.verify_password(text, text) IS
'True when the password matches the argon2id PHC hash (constant-time comparison).';

CREATE FUNCTION keel.password_needs_rehash(hash text)
RETURNS boolean LANGUAGE c STABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_password_needs_rehash';
COMMENT ON FUNCTION keel.password_needs_rehash(text) IS
'True when the hash was made with weaker parameters than the current settings (or by another '
'algorithm): rehash the password at the next successful login.';

CREATE FUNCTION keel.issue_api_key(prefix text, OUT api_key text, OUT key_prefix text,
                                   OUT key_hash text)
RETURNS record LANGUAGE c VOLATILE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_issue_api_key';
COMMENT ON FUNCTION keel.issue_api_key(text) IS
'A new API key <prefix>_<43 URL-safe characters, 256 bits>, its display prefix (<= 10 characters) '
'and its SHA-256 hex (64 characters). Store prefix and hash; show the key once.';

CREATE FUNCTION keel.hash_api_key(api_key text)
RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_hash_api_key';
COMMENT ON FUNCTION keel.hash_api_key(text) IS
'SHA-256 hex of an API key, for the lookup WHERE key_hash = keel.hash_api_key($1).';

CREATE FUNCTION keel.hash_token(token text)
RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_hash_token';
COMMENT ON FUNCTION keel.hash_token(text) IS
'SHA-256 hex of a session token (user_sessions.token_hash).';

-- ---- src/sql/keel/300_audit_chain.sql
-- The tamper-evident audit chain (docs/audit_chain.md).
--
-- State lives in keel-owned tables registered with pg_extension_config_dump, so a
-- pg_dump carries every chain, link and checkpoint; keel.database_incarnation is NOT
-- dumped: a restored database gets a new incarnation id (CREATE EXTENSION makes one).

CREATE SEQUENCE keel.audit_chain_id_seq AS integer;

CREATE TABLE keel.audit_chain (
    chain_id         integer PRIMARY KEY DEFAULT nextval('keel.audit_chain_id_seq'),
    table_name       text NOT NULL,
    hash_column      name,
    signature_column name,
    key_name         text NOT NULL,
    sub_chains       integer NOT NULL DEFAULT 1 CHECK (sub_chains BETWEEN 1 AND 64),
    salt             bytea NOT NULL CHECK (length(salt) = 16),
    enabled_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK ((hash_column IS NULL) = (signature_column IS NULL))
);
ALTER SEQUENCE keel.audit_chain_id_seq OWNED BY keel.audit_chain.chain_id;

CREATE TABLE keel.audit_link (
    chain_id    integer NOT NULL,
    sub         integer NOT NULL,
    pos         bigint NOT NULL,
    row_digest  bytea NOT NULL,
    link_hash   bytea NOT NULL,
    signature   bytea NOT NULL,
    key_id      integer NOT NULL,
    key_version integer NOT NULL,
    PRIMARY KEY (chain_id, sub, pos)
);

CREATE TABLE keel.audit_checkpoint (
    chain_id       integer NOT NULL,
    sub            integer NOT NULL,
    pos            bigint NOT NULL,
    link_hash      bytea NOT NULL,
    signature      bytea NOT NULL,
    key_id         integer NOT NULL,
    key_version    integer NOT NULL,
    partition_name text NOT NULL,
    rows_retired   bigint NOT NULL,
    made_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (chain_id, sub, pos)
);

-- Which database this is: a random id made by CREATE EXTENSION, deliberately not
-- dumped (a restore runs CREATE EXTENSION again and so becomes a new incarnation).
CREATE TABLE keel.database_incarnation (
    incarnation uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
INSERT INTO keel.database_incarnation (incarnation) VALUES (pg_catalog.gen_random_uuid());

SELECT pg_catalog.pg_extension_config_dump('keel.audit_chain', '');
SELECT pg_catalog.pg_extension_config_dump('keel.audit_chain_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('keel.audit_link', '');
SELECT pg_catalog.pg_extension_config_dump('keel.audit_checkpoint', '');

-- Written and read by keel's C++ code directly (no privilege on them is needed for
-- chained inserts or verification); administrators may read them.
REVOKE ALL ON keel.audit_chain, keel.audit_link, keel.audit_checkpoint,
              keel.database_incarnation FROM PUBLIC;

COMMENT ON TABLE keel.audit_chain IS
'One row per chained table: columns that carry the chain (NULL: links kept in keel.audit_link only), '
'HMAC key name, number of sub-chains, random chain salt. Written by keel.enable_audit_chain().';
COMMENT ON TABLE keel.audit_link IS
'Every link of every audit chain: position, SHA-256 of the canonical row, link hash, HMAC signature '
'and the key id/version that made it. Written only by keel''s C++ trigger.';
COMMENT ON TABLE keel.audit_checkpoint IS
'Tamper-evident checkpoints left by keel.audit_chain_retire_partition(): where each sub-chain now starts.';
COMMENT ON TABLE keel.database_incarnation IS
'Random id of this database incarnation (not dumped: a restore is a new incarnation). Named by digests.';
COMMENT ON SEQUENCE keel.audit_chain_id_seq IS 'Chain ids for keel.audit_chain.';

-- ---------------------------------------------------------------- C++ functions

CREATE FUNCTION keel.audit_chain_append()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_audit_chain_append';

COMMENT ON FUNCTION keel.audit_chain_append() IS
'BEFORE INSERT FOR EACH ROW trigger of a chained table (argument: chain id). Links the row into the '
'chain under a lock held until commit. Attached by keel.enable_audit_chain().';

CREATE FUNCTION keel.audit_chain_refuse()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_audit_chain_refuse';

COMMENT ON FUNCTION keel.audit_chain_refuse() IS
'Trigger that refuses UPDATE, DELETE and TRUNCATE on a chained (append-only) table.';

CREATE FUNCTION keel.verify_audit_chain(tbl regclass, digest text DEFAULT NULL,
    OUT ok boolean, OUT rows_checked bigint, OUT first_bad_position bigint,
    OUT break_kind text, OUT sub_chain integer, OUT detail text)
RETURNS record
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_verify_audit_chain';

COMMENT ON FUNCTION keel.verify_audit_chain(regclass, text) IS
'Recomputes every row''s canonical hash, every link and every HMAC signature in one streaming pass; '
'reports rows checked and the first broken link (position, sub-chain and kind: content changed, '
'row deleted, row inserted, rows reordered, signature invalid). With a digest from '
'keel.audit_chain_digest() also proves the chain still contains it. Needs SELECT on the table.';

CREATE FUNCTION keel.audit_chain_digest(tbl regclass)
RETURNS text
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_audit_chain_digest';

COMMENT ON FUNCTION keel.audit_chain_digest(regclass) IS
'A small signed digest of the chain''s committed heads (position and link hash of every sub-chain), '
'naming this database incarnation; keep it outside the database and pass it to verify_audit_chain(). '
'Needs SELECT on the table.';

CREATE FUNCTION keel._audit_row_digest(chain_id integer, r anyelement)
RETURNS bytea
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_audit_row_digest';

CREATE FUNCTION keel._audit_lock_chain(chain_id integer)
RETURNS void
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_audit_lock_chain';

REVOKE ALL ON FUNCTION keel.audit_chain_append() FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.audit_chain_refuse() FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._audit_row_digest(integer, anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._audit_lock_chain(integer) FROM PUBLIC;

COMMENT ON FUNCTION keel._audit_row_digest(integer, anyelement) IS
'Internal: SHA-256 of the canonical encoding of a row of a chained table (or one of its partitions).';
COMMENT ON FUNCTION keel._audit_lock_chain(integer) IS
'Internal: takes every sub-chain lock of a chain until the end of the transaction.';

-- ---------------------------------------------------------------- SQL API

CREATE FUNCTION keel._audit_chain_id(tbl regclass)
RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.convert_from(
               pg_catalog.substr(t.tgargs, 1, pg_catalog.position(t.tgargs, '\x00'::bytea) - 1),
               'SQL_ASCII')::integer
      FROM pg_catalog.pg_trigger t
     WHERE t.tgrelid = tbl AND t.tgname = 'zz_keel_audit_chain' AND t.tgnargs = 1
$$;

REVOKE ALL ON FUNCTION keel._audit_chain_id(regclass) FROM PUBLIC;
COMMENT ON FUNCTION keel._audit_chain_id(regclass) IS
'Internal: the chain id of a chained table (from its trigger, so it survives renames and dump/restore).';

CREATE FUNCTION keel._audit_require_chain(tbl regclass)
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id integer;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    v_id := keel._audit_chain_id(tbl);
    IF v_id IS NULL OR NOT EXISTS (SELECT 1 FROM keel.audit_chain c WHERE c.chain_id = v_id) THEN
        RAISE EXCEPTION 'table "%" has no audit chain', tbl
            USING ERRCODE = 'undefined_object',
                  HINT = 'Call keel.enable_audit_chain() on it first.';
    END IF;
    RETURN v_id;
END
$$;

REVOKE ALL ON FUNCTION keel._audit_require_chain(regclass) FROM PUBLIC;
COMMENT ON FUNCTION keel._audit_require_chain(regclass) IS
'Internal: the chain id of a chained table, or a clear ERROR.';

CREATE FUNCTION keel.enable_audit_chain(
    tbl regclass,
    hash_column name DEFAULT NULL,
    signature_column name DEFAULT NULL,
    key_name text DEFAULT NULL,
    sub_chains integer DEFAULT 1)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_kind  "char";
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

    EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s)', tbl) INTO STRICT v_empty;
    IF NOT v_empty THEN
        RAISE EXCEPTION 'table "%" is not empty', tbl
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'keel chains a table from its first row on.',
                  HINT = 'Enable the chain before the first insert (copy existing rows into a new chained table).';
    END IF;

    -- The HMAC key (made on first use; an existing key must have purpose hmac).
    PERFORM keel.create_key(v_key, 'hmac', if_not_exists => true);

    INSERT INTO keel.audit_chain (table_name, hash_column, signature_column, key_name, sub_chains, salt)
    VALUES (tbl::text, hash_column, signature_column, v_key, sub_chains, uuid_send(gen_random_uuid()))
    RETURNING chain_id INTO v_id;

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

REVOKE ALL ON FUNCTION keel.enable_audit_chain(regclass, name, name, text, integer) FROM PUBLIC;

COMMENT ON FUNCTION keel.enable_audit_chain(regclass, name, name, text, integer) IS
'Makes an empty table (or partitioned table) a tamper-evident, append-only audit chain. With '
'hash_column and signature_column (text or varchar(64)) each row carries hex(previous link hash) and '
'hex(HMAC signature); without them the chain is kept beside the table in keel.audit_link. '
'sub_chains > 1 is the scaling mode (independent sub-chains, one per concurrent writer). Returns the chain id.';

CREATE FUNCTION keel._audit_base_type(t oid)
RETURNS oid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE d(oid, base) AS (
        SELECT ty.oid, ty.typbasetype FROM pg_catalog.pg_type ty WHERE ty.oid = t
        UNION ALL
        SELECT ty.oid, ty.typbasetype FROM pg_catalog.pg_type ty JOIN d ON ty.oid = d.base
    )
    SELECT d.oid FROM d WHERE d.base = 0
$$;

REVOKE ALL ON FUNCTION keel._audit_base_type(oid) FROM PUBLIC;
COMMENT ON FUNCTION keel._audit_base_type(oid) IS 'Internal: the base type of a domain (the type itself otherwise).';

CREATE FUNCTION keel.disable_audit_chain(tbl regclass, forget boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id integer;
    v_part regclass;
BEGIN
    IF tbl IS NULL OR forget IS NULL THEN
        RAISE EXCEPTION 'keel.disable_audit_chain: tbl and forget must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    v_id := keel._audit_chain_id(tbl);
    IF v_id IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TRIGGER zz_keel_audit_chain ON %s', tbl);
    EXECUTE format('DROP TRIGGER IF EXISTS keel_audit_chain_guard ON %s', tbl);
    FOR v_part IN SELECT p.relid FROM pg_partition_tree(tbl) p LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS keel_audit_chain_truncate ON %s', v_part);
    END LOOP;
    IF forget THEN
        DELETE FROM keel.audit_link l WHERE l.chain_id = v_id;
        DELETE FROM keel.audit_checkpoint c WHERE c.chain_id = v_id;
        DELETE FROM keel.audit_chain c WHERE c.chain_id = v_id;
    END IF;
    RETURN true;
END
$$;

REVOKE ALL ON FUNCTION keel.disable_audit_chain(regclass, boolean) FROM PUBLIC;

COMMENT ON FUNCTION keel.disable_audit_chain(regclass, boolean) IS
'Removes the chain''s triggers (the table becomes writable again). With forget => true also deletes '
'its links and checkpoints; otherwise they stay in keel.audit_link for the record.';

CREATE FUNCTION keel.audit_chain_retire_partition(parent regclass, partition regclass)
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
END
$$;

REVOKE ALL ON FUNCTION keel.audit_chain_retire_partition(regclass, regclass) FROM PUBLIC;

COMMENT ON FUNCTION keel.audit_chain_retire_partition(regclass, regclass) IS
'Retention path: before dropping or detaching an old partition of a chained table (same transaction), '
'records a signed checkpoint per sub-chain at the last link the partition holds and retires its links, '
'so verification of the remaining rows still passes. Raises if the partition''s rows are not the '
'oldest of their sub-chains (a hole) or are not all in the chain.';

-- ---- src/sql/keel/400_cjk_search.sql
-- CJK full-text search: a C++ text search parser (overlapping bigrams over Han, Kana
-- and Hangul runs, words for alphabetic runs), keel.create_cjk_config() to put a
-- configuration that uses it into any schema, and a ready one, keel.chinese.

CREATE FUNCTION keel.cjk_prsstart(internal, integer)
RETURNS internal
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_cjk_prsstart';

CREATE FUNCTION keel.cjk_prstoken(internal, internal, internal)
RETURNS internal
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_cjk_prstoken';

CREATE FUNCTION keel.cjk_prsend(internal)
RETURNS void
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_cjk_prsend';

CREATE FUNCTION keel.cjk_prsheadline(internal, internal, tsquery)
RETURNS internal
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_cjk_prsheadline';

CREATE FUNCTION keel.cjk_prslextype(internal)
RETURNS internal
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_cjk_prslextype';

-- Only the text search machinery calls these (it checks no EXECUTE privilege on
-- parser methods), so nobody needs them as functions.
REVOKE ALL ON FUNCTION keel.cjk_prsstart(internal, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.cjk_prstoken(internal, internal, internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.cjk_prsend(internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.cjk_prsheadline(internal, internal, tsquery) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.cjk_prslextype(internal) FROM PUBLIC;

COMMENT ON FUNCTION keel.cjk_prsstart(internal, integer) IS
'keel.cjk_parser start method (called by the text search machinery, not by users).';
COMMENT ON FUNCTION keel.cjk_prstoken(internal, internal, internal) IS
'keel.cjk_parser token method (called by the text search machinery, not by users).';
COMMENT ON FUNCTION keel.cjk_prsend(internal) IS
'keel.cjk_parser end method (called by the text search machinery, not by users).';
COMMENT ON FUNCTION keel.cjk_prsheadline(internal, internal, tsquery) IS
'keel.cjk_parser headline method for ts_headline (called by the text search machinery).';
COMMENT ON FUNCTION keel.cjk_prslextype(internal) IS
'keel.cjk_parser token types: word, number, cjk_bigram, cjk_unigram, long_word, blank.';

CREATE TEXT SEARCH PARSER keel.cjk_parser (
    START    = keel.cjk_prsstart,
    GETTOKEN = keel.cjk_prstoken,
    END      = keel.cjk_prsend,
    HEADLINE = keel.cjk_prsheadline,
    LEXTYPES = keel.cjk_prslextype
);

COMMENT ON TEXT SEARCH PARSER keel.cjk_parser IS
'CJK-aware parser (C++): overlapping bigrams over runs of Han, Kana and Hangul (a lone '
'character is a unigram), words and numbers for alphabetic and digit runs, blanks for '
'spaces, punctuation (ASCII and full-width) and emoji. Needs a UTF8 database.';

CREATE FUNCTION keel.create_cjk_config(
    target_schema name,
    cfg_name name DEFAULT 'chinese',
    word_dictionary regdictionary DEFAULT 'simple')
RETURNS regconfig
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_nsp    oid;
    v_prs    oid;
    v_cfg    oid;
    v_cfgprs oid;
    v_name   text;
    v_mapped text;
BEGIN
    IF target_schema IS NULL OR cfg_name IS NULL OR word_dictionary IS NULL THEN
        RAISE EXCEPTION 'keel.create_cjk_config: target_schema, cfg_name and word_dictionary must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT n.oid INTO v_nsp FROM pg_namespace n WHERE n.nspname = target_schema;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schema "%" does not exist', target_schema
            USING ERRCODE = 'invalid_schema_name',
                  HINT = 'Create the schema first, or pass the schema the configuration belongs in.';
    END IF;
    SELECT p.oid INTO STRICT v_prs
      FROM pg_ts_parser p JOIN pg_namespace n ON n.oid = p.prsnamespace
     WHERE n.nspname = 'keel' AND p.prsname = 'cjk_parser';

    v_name := format('%I.%I', target_schema, cfg_name);
    SELECT c.oid, c.cfgparser INTO v_cfg, v_cfgprs
      FROM pg_ts_config c WHERE c.cfgnamespace = v_nsp AND c.cfgname = cfg_name;
    IF FOUND AND v_cfgprs <> v_prs THEN
        RAISE EXCEPTION 'text search configuration % already exists and does not use keel.cjk_parser', v_name
            USING ERRCODE = 'duplicate_object',
                  DETAIL = (SELECT format('It uses the parser %I.%I.', n.nspname, p.prsname)
                              FROM pg_ts_parser p JOIN pg_namespace n ON n.oid = p.prsnamespace
                             WHERE p.oid = v_cfgprs),
                  HINT = 'Drop it, or choose another configuration name.';
    END IF;
    IF NOT FOUND THEN
        EXECUTE format('CREATE TEXT SEARCH CONFIGURATION %s (PARSER = keel.cjk_parser)', v_name);
    END IF;

    -- (Re)write every mapping, so a second call repairs or changes a configuration.
    SELECT string_agg(DISTINCT t.alias, ', ') INTO v_mapped
      FROM pg_ts_config_map m JOIN ts_token_type(v_prs) t ON t.tokid = m.maptokentype
     WHERE m.mapcfg = v_cfg;
    IF v_mapped IS NOT NULL THEN
        EXECUTE format('ALTER TEXT SEARCH CONFIGURATION %s DROP MAPPING FOR %s', v_name, v_mapped);
    END IF;
    EXECUTE format('ALTER TEXT SEARCH CONFIGURATION %s ADD MAPPING FOR cjk_bigram, cjk_unigram, number '
                   'WITH pg_catalog.simple', v_name);
    EXECUTE format('ALTER TEXT SEARCH CONFIGURATION %s ADD MAPPING FOR word WITH %s',
                   v_name, word_dictionary::text);
    EXECUTE format('COMMENT ON TEXT SEARCH CONFIGURATION %s IS %L', v_name,
                   'CJK full-text search (keel.cjk_parser): bigrams and numbers through simple, '
                   'words through ' || word_dictionary::text || '. Made by keel.create_cjk_config().');

    RETURN (SELECT c.oid FROM pg_ts_config c WHERE c.cfgnamespace = v_nsp AND c.cfgname = cfg_name)::regconfig;
END
$$;

COMMENT ON FUNCTION keel.create_cjk_config(name, name, regdictionary) IS
'Creates (or repairs) the text search configuration target_schema.cfg_name on keel.cjk_parser: '
'CJK bigrams/unigrams and numbers through the simple dictionary, words through word_dictionary '
'(default simple; english_stem stems English). Idempotent; returns the configuration.';

-- A ready configuration: to_tsvector('keel.chinese', ...) works everywhere.
SELECT keel.create_cjk_config('keel', 'chinese');

-- ---- src/sql/keel/500_maintenance_task.sql
-- Maintenance tasks: functions keel.run_maintenance() (and so the background worker)
-- calls after partition upkeep, e.g. a blueprint's retention policies.

CREATE TABLE keel.maintenance_task (
    name          text         PRIMARY KEY CHECK (name <> ''),
    fn            regprocedure NOT NULL,
    enabled       boolean      NOT NULL DEFAULT true,
    registered_at timestamptz  NOT NULL DEFAULT now()
);

COMMENT ON TABLE keel.maintenance_task IS
'Functions (as_of timestamptz) -> bigint that keel.run_maintenance() calls after partition '
'upkeep, in name order, each reported as a ''task'' action row. Dumped by pg_dump.';

SELECT pg_catalog.pg_extension_config_dump('keel.maintenance_task', '');
REVOKE ALL ON TABLE keel.maintenance_task FROM PUBLIC;

CREATE FUNCTION keel.register_maintenance_task(name text, fn regprocedure)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_proc pg_proc;
BEGIN
    IF register_maintenance_task.name IS NULL OR register_maintenance_task.name = ''
       OR register_maintenance_task.fn IS NULL THEN
        RAISE EXCEPTION 'keel.register_maintenance_task: name and fn must be given'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO v_proc FROM pg_proc p WHERE p.oid = register_maintenance_task.fn;
    IF v_proc.prokind <> 'f' OR v_proc.pronargs <> 1 OR v_proc.proargtypes[0] <> 'timestamptz'::regtype
       OR v_proc.prorettype <> 'bigint'::regtype OR v_proc.proretset THEN
        RAISE EXCEPTION 'function % cannot be a maintenance task', register_maintenance_task.fn
            USING ERRCODE = 'invalid_function_definition',
                  DETAIL = 'A maintenance task takes one argument, as_of timestamptz, and returns '
                           'bigint (the number of rows it affected).';
    END IF;
    INSERT INTO keel.maintenance_task AS t (name, fn)
    VALUES (register_maintenance_task.name, register_maintenance_task.fn)
    ON CONFLICT ON CONSTRAINT maintenance_task_pkey DO UPDATE SET fn = EXCLUDED.fn, enabled = true;
END
$$;

REVOKE ALL ON FUNCTION keel.register_maintenance_task(text, regprocedure) FROM PUBLIC;

COMMENT ON FUNCTION keel.register_maintenance_task(text, regprocedure) IS
'Registers (or replaces) a maintenance task: fn(as_of timestamptz) returns bigint, called by '
'keel.run_maintenance() after partition upkeep.';

CREATE FUNCTION keel.unregister_maintenance_task(name text)
RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    WITH d AS (DELETE FROM keel.maintenance_task t WHERE t.name = unregister_maintenance_task.name RETURNING 1)
    SELECT count(*) > 0 FROM d;
$$;

REVOKE ALL ON FUNCTION keel.unregister_maintenance_task(text) FROM PUBLIC;

COMMENT ON FUNCTION keel.unregister_maintenance_task(text) IS
'Removes a maintenance task; false when there was none of that name.';

CREATE FUNCTION keel.run_maintenance_tasks(as_of timestamptz DEFAULT NULL)
RETURNS TABLE (parent_table regclass, action text, object text, row_count bigint, detail text)
LANGUAGE c
VOLATILE
AS 'MODULE_PATHNAME', 'keel_run_maintenance_tasks';

REVOKE ALL ON FUNCTION keel.run_maintenance_tasks(timestamptz) FROM PUBLIC;

COMMENT ON FUNCTION keel.run_maintenance_tasks(timestamptz) IS
'Runs the enabled maintenance tasks only (keel.run_maintenance() with no table runs them after '
'partition upkeep); one ''task'' or ''error'' row per task.';

-- ---- src/sql/keel/510_blueprints.sql
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
-- table's pg_extension_config_dump() filter are the install script's own and do not count).
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
               coalesce(x.extcondition[array_position(x.extconfig, c.oid)], '') AS filter
          FROM pg_extension x
          JOIN pg_depend d ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = x.oid
                          AND d.classid = 'pg_class'::regclass AND d.deptype = 'e'
          JOIN pg_class c ON c.oid = d.objid
         WHERE x.extname = ext AND c.relkind IN ('r', 'p') AND NOT c.relispartition
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
-- configuration rows (partitioning, keys, encrypted columns, chains, tasks) and the
-- partitions.  The blueprints skip that wiring then; see docs/blueprints/README.md.
CREATE FUNCTION keel.blueprint_restoring()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT NOT current_setting('row_security')::boolean
$$;

COMMENT ON FUNCTION keel.blueprint_restoring() IS
'True when a blueprint is being installed by a pg_dump restore (row_security is off, as pg_dump''s script sets it).';
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

-- ---- src/sql/keel/900_selftest.sql
-- Self-tests of the C++/PostgreSQL error boundary (used by the regression suite).
-- Superuser only: they exist to be called by tests, not by applications.

CREATE FUNCTION keel._boundary_selftest(kind text)
RETURNS integer
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_boundary_selftest';

CREATE FUNCTION keel._boundary_live_objects()
RETURNS bigint
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_boundary_live_objects';

REVOKE ALL ON FUNCTION keel._boundary_selftest(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._boundary_live_objects() FROM PUBLIC;

COMMENT ON FUNCTION keel._boundary_selftest(text) IS
'Test hook: fails from deep C++ frames (kind keel|std|oom|pg|none) to prove the error boundary.';
COMMENT ON FUNCTION keel._boundary_live_objects() IS
'Test hook: C++ objects created by _boundary_selftest still alive (0 after unwinding).';
