-- keel in place of pg_partman for section 5 of ../shared/peers/run.sh: the peer_pm_*
-- functions are redefined to call keel (see the header of ../shared/peers/partman.sql).
-- Same tables (seed audit_events shape, 7 indexes incl. GIN), same rows, same steps:
-- register with 12 back months + premake 3, fill, premake 3 -> 6 (cold), nothing to do
-- (warm), retention 6 months with drop, warm again.  Used by test/bench/partition.sh.
CREATE EXTENSION IF NOT EXISTS keel;

CREATE OR REPLACE FUNCTION peer_pm_register(p_parent text, p_start timestamptz, p_premake int)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_back int := (extract(year FROM age(date_trunc('month', now()), date_trunc('month', p_start))) * 12
                   + extract(month FROM age(date_trunc('month', now()), date_trunc('month', p_start))))::int;
BEGIN
    PERFORM count(*) FROM keel.partition_by_time(p_parent::regclass, 'month', premake => p_premake,
                                                 start_back => v_back);
END
$$;

CREATE OR REPLACE FUNCTION peer_pm_maintenance()
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM count(*) FROM keel.run_maintenance();
END
$$;

CREATE OR REPLACE FUNCTION peer_pm_set_premake(p_premake int)
RETURNS void
LANGUAGE sql AS $$
    UPDATE keel.partition_config SET premake = p_premake
     WHERE parent::oid IN (SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'pmbench'::regnamespace);
$$;

CREATE OR REPLACE FUNCTION peer_pm_set_retention(p_retention interval)
RETURNS void
LANGUAGE sql AS $$
    UPDATE keel.partition_config SET retention = p_retention, retention_mode = 'drop'
     WHERE parent::oid IN (SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'pmbench'::regnamespace);
$$;

CREATE OR REPLACE FUNCTION peer_pm_teardown()
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'pmbench' AND c.relkind = 'p' LOOP
        EXECUTE format('DROP TABLE pmbench.%I CASCADE', r.relname);
    END LOOP;
    -- (keel's sql_drop event trigger has removed their registrations)
END
$$;
