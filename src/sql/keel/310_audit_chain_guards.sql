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
