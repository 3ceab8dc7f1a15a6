-- Wiring to the keel engine.  updated_at: the seed's own three triggers (010_schema.sql)
-- run keel's C++ touch_updated_at under the seed's function name; the seed's tables
-- without updated_at (messages, audit_events, api_keys) need none.

-- audit_events: monthly partitions, 3 back and 3 ahead of today, retention 6 months, and
-- a default partition so no event is ever refused for want of a partition.  This
-- replaces the seed's pg_partman line and its two maintenance DO blocks; the first run
-- retires the seed's hard-coded partitions that are already past the retention.
-- (During a pg_dump restore the registration and the partitions come from the dump.)
SELECT keel.partition_by_time(
    pg_catalog.format('%I.audit_events', pg_catalog.current_schema())::regclass,
    part_interval => 'month', premake => 3, start_back => 3, retention => interval '6 months')
 WHERE NOT keel.blueprint_restoring();

-- The audit chain (or its guard, without a master key; nothing during a dump restore).
SELECT enable_audit_chain();
