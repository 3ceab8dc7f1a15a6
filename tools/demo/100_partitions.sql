\echo
\echo '==> Chapter 2: time partitions, kept ahead, retired on time, the default partition emptied'
\echo
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA demo_partitions;
SET search_path = demo_partitions, public;
CREATE TABLE audit_events (
    id bigint GENERATED ALWAYS AS IDENTITY,
    event_type varchar(50) NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP
) PARTITION BY RANGE (created_at);
CREATE INDEX ON audit_events (created_at DESC);
\echo '    CozyEngine''s audit_events, partitioned by month. One call, "3 months back + 3 ahead, keep 6":'
\echo '    (the clock is fixed with as_of so this chapter reads the same every day)'
\echo
\echo '    SELECT * FROM keel.partition_by_time(''audit_events'', ''month'', premake => 3, start_back => 3,'
\echo '                                         retention => ''6 months'', as_of => ''2026-01-15'');'
SELECT action, object, detail
  FROM keel.partition_by_time('audit_events', 'month', premake => 3, start_back => 3,
                              retention => '6 months', as_of => '2026-01-15 00:00+00');
\echo
\echo '    Run it again: nothing to do, nothing reported (idempotent):'
SELECT count(*) AS actions FROM keel.run_maintenance('audit_events', '2026-01-15 00:00+00');
\echo
\echo '    Rows for months that have no partition land in the default partition ...'
INSERT INTO audit_events (event_type, created_at)
VALUES ('LOGIN', '2025-08-03 10:00'), ('LOGIN', '2025-08-04 11:00'), ('EXPORT', '2026-09-01 09:00');
SELECT tableoid::regclass AS lives_in, event_type, created_at FROM audit_events ORDER BY created_at;
\echo
\echo '    ... and maintenance moves them into proper partitions, made for them (no row lost or doubled):'
SELECT action, object, row_count FROM keel.run_maintenance('audit_events', '2026-01-15 00:00+00');
SELECT tableoid::regclass AS lives_in, event_type, created_at FROM audit_events ORDER BY created_at;
\echo
\echo '    Half a year later: new partitions ahead, and those wholly older than 6 months retired,'
\echo '    judged by their real bounds in the catalog, not by their names:'
SELECT action, object, detail FROM keel.run_maintenance('audit_events', '2026-07-20 00:00+00');
\echo
\echo '    Any name works, quoted everywhere:'
CREATE TABLE "审计 事件; DROP TABLE x" (t timestamptz NOT NULL) PARTITION BY RANGE (t);
SELECT action, object FROM keel.partition_by_time('"审计 事件; DROP TABLE x"', 'quarter', premake => 1,
                                                  as_of => '2026-01-15 00:00+00');
\echo
\echo '    Bad input gets a clear error:'
\set ON_ERROR_STOP 0
CREATE TABLE not_partitioned (t timestamptz);
SELECT * FROM keel.partition_by_time('not_partitioned');
SELECT * FROM keel.partition_by_time('audit_events', retention => '2 weeks');
\set ON_ERROR_STOP 1
\echo
\echo '    With shared_preload_libraries = ''keel'' and keel.maintenance_databases set, a background'
\echo '    worker does all this every keel.maintenance_interval; without it, call'
\echo '    keel.run_maintenance() from cron or pg_cron.  See docs/partitions.md.'
RESET search_path;
