-- The floor under section 5: the least DDL any tool must run, hand-written, no tool.
-- Registration is keel's (so the tables and partitions are the same); maintenance is a
-- bare loop: CREATE TABLE ... PARTITION OF for each missing month up to premake, and
-- one DROP TABLE per partition whose month ended before now() - retention (bounds
-- taken from the names -- fine for a floor, not for real use).  Its "warm" is a
-- to_regclass() probe per wanted month.  Used by test/bench/partition.sh.

CREATE OR REPLACE FUNCTION peer_pm_maintenance()
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    p record;
    m date;
BEGIN
    FOR r IN SELECT c.oid, c.relname, k.premake, k.retention
               FROM keel.partition_config k JOIN pg_class c ON c.oid = k.parent::oid
              WHERE c.relnamespace = 'pmbench'::regnamespace ORDER BY 2 LOOP
        FOR i IN 0..r.premake LOOP
            m := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date;
            IF to_regclass(format('pmbench.%I', r.relname || to_char(m, '_YYYY_MM'))) IS NULL THEN
                EXECUTE format('CREATE TABLE pmbench.%I PARTITION OF pmbench.%I FOR VALUES FROM (%L) TO (%L)',
                               r.relname || to_char(m, '_YYYY_MM'), r.relname, m, m + interval '1 month');
            END IF;
        END LOOP;
        IF r.retention IS NOT NULL THEN
            FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                      WHERE i.inhparent = r.oid AND c.relname ~ '_\d{4}_\d{2}$'
                        AND to_date(right(c.relname, 7), 'YYYY_MM') + interval '1 month'
                            <= (now() AT TIME ZONE 'UTC') - r.retention LOOP
                EXECUTE format('DROP TABLE pmbench.%I', p.relname);
            END LOOP;
        END IF;
    END LOOP;
END
$$;
