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
