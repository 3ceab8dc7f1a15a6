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
