-- The floor under the partition benchmark (test/bench/partition.sh): the DDL any tool
-- must run, and nothing else.  Registration is keel's (so the tables and partitions are
-- the same).  Before each timed step the script calls peer_pm_prepare() (not timed): it
-- works out the statements -- one CREATE TABLE ... PARTITION OF per missing month up to
-- premake, one DROP TABLE per parent naming its partitions whose month ended before
-- now() - retention (bounds taken from the names: fine for a floor, not for real use).
-- The timed peer_pm_maintenance() then runs exactly those statements as one string.
CREATE TABLE IF NOT EXISTS peer_floor_plan (sql text NOT NULL);

CREATE OR REPLACE FUNCTION peer_pm_prepare()
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    m date;
    v_sql text := '';
    v_drop text;
BEGIN
    DELETE FROM peer_floor_plan;
    FOR r IN SELECT c.oid, c.relname, k.premake, k.retention
               FROM keel.partition_config k JOIN pg_class c ON c.oid = k.parent::oid
              WHERE c.relnamespace = 'pmbench'::regnamespace ORDER BY 2 LOOP
        FOR i IN 0..r.premake LOOP
            m := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date;
            IF to_regclass(format('pmbench.%I', r.relname || to_char(m, '_YYYY_MM'))) IS NULL THEN
                v_sql := v_sql || format('CREATE TABLE pmbench.%I PARTITION OF pmbench.%I FOR VALUES FROM (%L) TO (%L);',
                                         r.relname || to_char(m, '_YYYY_MM'), r.relname, m,
                                         (m + interval '1 month')::date);
            END IF;
        END LOOP;
        IF r.retention IS NOT NULL THEN
            SELECT string_agg(format('pmbench.%I', c.relname), ', ') INTO v_drop
              FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = r.oid AND c.relname ~ '_\d{4}_\d{2}$'
               AND to_date(right(c.relname, 7), 'YYYY_MM') + interval '1 month'
                   <= (now() AT TIME ZONE 'UTC') - r.retention;
            IF v_drop IS NOT NULL THEN
                v_sql := v_sql || 'DROP TABLE ' || v_drop || ';';
            END IF;
        END IF;
    END LOOP;
    INSERT INTO peer_floor_plan VALUES (v_sql);
END
$$;

CREATE OR REPLACE FUNCTION peer_pm_maintenance()
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_sql text := (SELECT sql FROM peer_floor_plan);
BEGIN
    IF v_sql <> '' THEN
        EXECUTE v_sql;
    END IF;
END
$$;
