-- Partition maintenance of a table with a keel audit chain: rows moved out of the
-- default partition keep their links, and retention goes through
-- keel.audit_chain_retire_partition(), so what remains still verifies.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA partition_chain_test;
SET search_path = partition_chain_test, public;
\set SHOW_CONTEXT never

SELECT count(*) FROM keel.create_key('partition_chain_test', 'hmac');
CREATE TABLE audit_events (
    id bigint GENERATED ALWAYS AS IDENTITY,
    event_type varchar(50) NOT NULL,
    previous_hash varchar(64),
    signature varchar(64),
    created_at timestamp NOT NULL
) PARTITION BY RANGE (created_at);
SELECT action, object FROM keel.partition_by_time('audit_events', 'month', premake => 1, start_back => 2,
                                                  as_of => '2024-03-15 00:00+00');
SELECT keel.enable_audit_chain('audit_events', 'previous_hash', 'signature', 'partition_chain_test') > 0 AS enabled;
-- rows in every month, and two that fall into the default partition (May 2024)
INSERT INTO audit_events (event_type, created_at)
SELECT 'e' || g, '2024-01-01'::timestamp + g * interval '1 day' FROM generate_series(0, 99) g
 UNION ALL SELECT 'late', '2024-05-02' UNION ALL SELECT 'later', '2024-05-03';
SELECT tableoid::regclass AS lives_in, count(*) FROM audit_events GROUP BY 1 ORDER BY 1;
SELECT ok, rows_checked FROM keel.verify_audit_chain('audit_events');

-- the default partition is emptied; the moved rows keep their links
SELECT action, object, row_count FROM keel.run_maintenance('audit_events', '2024-04-15 00:00+00');
SELECT tableoid::regclass AS lives_in, count(*) FROM audit_events GROUP BY 1 ORDER BY 1;
SELECT ok, rows_checked FROM keel.verify_audit_chain('audit_events');

-- retention: January, then February, go through the chain's checkpoint and are dropped
SELECT action, object FROM keel.partition_by_time('audit_events', 'month', premake => 1, start_back => 0,
                                            retention => '2 months', as_of => '2024-04-15 00:00+00');
SELECT action, object FROM keel.run_maintenance('audit_events', '2024-05-20 00:00+00');
SELECT partition_name, rows_retired FROM keel.audit_checkpoint WHERE partition_name LIKE 'partition_chain_test.%' ORDER BY 1;
SELECT ok, rows_checked FROM keel.verify_audit_chain('audit_events');
-- detach mode goes through the checkpoint too
SELECT action, object FROM keel.partition_by_time('audit_events', 'month', premake => 1, start_back => 0,
                                            retention => '1 month', retention_mode => 'detach',
                                            as_of => '2024-05-20 00:00+00');
SELECT partition_name, rows_retired FROM keel.audit_checkpoint WHERE partition_name LIKE 'partition_chain_test.%' ORDER BY 1;
SELECT relispartition FROM pg_class WHERE relname = 'audit_events_2024_03';
SELECT ok, rows_checked FROM keel.verify_audit_chain('audit_events');

SET client_min_messages = warning;
-- the chain holds rows: dropping it needs the superuser's override (or disable_audit_chain)
SET keel.audit_chain_allow_drop = on;
DROP SCHEMA partition_chain_test CASCADE;
RESET keel.audit_chain_allow_drop;
RESET client_min_messages;
