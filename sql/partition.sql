-- keel.partition_by_time / keel.run_maintenance: the clock is always given (as_of or
-- keel.maintenance_now), so nothing here depends on today's date.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA partition_test;
SET search_path = partition_test, public;
\set SHOW_CONTEXT never

-- Only this test's tables (other tests share the database).
CREATE FUNCTION mine(p_as_of timestamptz)
RETURNS TABLE (parent_table regclass, action text, object text, row_count bigint, detail text)
LANGUAGE sql AS $$
    SELECT m.* FROM keel.run_maintenance(as_of => p_as_of) m
     WHERE m.action IN ('task', 'error') AND m.parent_table IS NULL
        OR m.parent_table IN (SELECT c.oid FROM pg_class c
                               WHERE c.relnamespace = 'partition_test'::regnamespace)
$$;
CREATE VIEW parts AS
SELECT p.relname AS parent, c.relname AS partition, pg_get_expr(c.relpartbound, c.oid) AS bounds
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
 WHERE p.relnamespace = 'partition_test'::regnamespace
 ORDER BY 1, 2;

-- 1. The seed's audit_events (TIMESTAMP key): 3 months back + 3 ahead, monthly names.
CREATE TABLE audit_events (
    id uuid,
    event_type varchar(50) NOT NULL,
    event_level varchar(20) NOT NULL DEFAULT 'info',
    payload jsonb NOT NULL DEFAULT '{}',
    created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT chk_event_level CHECK (event_level IN ('info', 'warning', 'error', 'critical'))
) PARTITION BY RANGE (created_at);
CREATE INDEX idx_audit_events_created_at ON audit_events (created_at DESC);
SELECT * FROM keel.partition_by_time('audit_events', 'month', premake => 3, start_back => 3,
                                     as_of => '2026-01-31 23:59:59+00');
SELECT * FROM parts WHERE parent = 'audit_events';
SELECT parent, part_interval, premake, start_back, retention, retention_mode, default_partition
  FROM keel.partition_config;
-- idempotent: nothing to do, nothing reported
SELECT * FROM keel.run_maintenance('audit_events', '2026-01-31 23:59:59+00');
-- the clock moves a month: one more ahead and one more back
SELECT * FROM keel.run_maintenance('audit_events', '2026-02-01 00:00:00+00');
-- the same clock through the setting keel.maintenance_now
SET keel.maintenance_now = '2026-03-15 12:00:00+00';
SELECT * FROM keel.run_maintenance('audit_events');
RESET keel.maintenance_now;

-- 2. Every interval and key type.
CREATE TABLE by_day (d date NOT NULL) PARTITION BY RANGE (d);
SELECT action, object, detail FROM keel.partition_by_time('by_day', 'day', premake => 1, default_partition => false,
                                                          as_of => '2024-02-28 10:00+00');
CREATE TABLE by_week (t timestamptz NOT NULL) PARTITION BY RANGE (t);
SELECT action, object, detail FROM keel.partition_by_time('by_week', 'week', premake => 1, default_partition => false,
                                                          as_of => '2026-01-01 00:00+00');
CREATE TABLE by_quarter (t timestamp NOT NULL) PARTITION BY RANGE (t);
SELECT action, object, detail FROM keel.partition_by_time('by_quarter', 'quarter', premake => 1, default_partition => false,
                                                          as_of => '2026-12-31 23:00+00');
CREATE TABLE by_year (t timestamptz NOT NULL) PARTITION BY RANGE (t);
SELECT action, object, detail FROM keel.partition_by_time('by_year', 'yearly', premake => 1, default_partition => false,
                                                          as_of => '2026-06-01 00:00+00');
-- Boundaries are UTC whatever the session's TimeZone: 23:30 on Jan 31 in New York is
-- already February in UTC, and February is the current month.
SET TimeZone = 'America/New_York';
CREATE TABLE tz_events (t timestamptz NOT NULL) PARTITION BY RANGE (t);
SELECT action, object, detail FROM keel.partition_by_time('tz_events', premake => 0, default_partition => false,
                                                          as_of => '2026-01-31 23:30:00-05');
SELECT partition, bounds FROM parts WHERE parent = 'tz_events';
RESET TimeZone;

-- 3. Rows in the default partition are moved out, their partitions made for them.
INSERT INTO audit_events (event_type, created_at) VALUES
    ('LOGIN', '2025-06-10 08:00'), ('LOGIN', '2025-06-11 09:00'), ('LOGOUT', '2027-01-01 00:00'),
    ('LOGIN', '2026-02-14 12:00');
SELECT tableoid::regclass AS lives_in, event_type, created_at FROM audit_events ORDER BY created_at;
SELECT * FROM keel.run_maintenance('audit_events', '2026-03-15 12:00:00+00');
SELECT tableoid::regclass AS lives_in, event_type, created_at FROM audit_events ORDER BY created_at;
SELECT count(*) AS rows_everywhere FROM audit_events;
-- run again: nothing left to do
SELECT * FROM keel.run_maintenance('audit_events', '2026-03-15 12:00:00+00');

-- Rows that cannot move are named, and stay (no row lost, none duplicated):
-- a NULL key, and a period only partly covered by a hand-made partition.
CREATE TABLE nullable (t timestamptz, v text) PARTITION BY RANGE (t);
SELECT count(*) FROM keel.partition_by_time('nullable', premake => 0, as_of => '2026-01-10 00:00+00');
CREATE TABLE nullable_skewed PARTITION OF nullable FOR VALUES FROM ('2025-06-15 00:00+00') TO ('2025-07-15 00:00+00');
INSERT INTO nullable VALUES (NULL, 'no key'), ('2025-06-02 00:00+00', 'early june'), ('2025-09-01 00:00+00', 'september');
SELECT action, object, row_count, detail FROM keel.run_maintenance('nullable', '2026-01-10 00:00+00');
SELECT tableoid::regclass AS lives_in, t, v FROM nullable ORDER BY v;

-- Triggers do not fire for moved rows (a move is not a new row).
CREATE TABLE trig_log (msg text);
CREATE FUNCTION log_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO partition_test.trig_log VALUES (TG_OP || ' ' || NEW.v); RETURN NEW; END $$;
CREATE TRIGGER log_ins AFTER INSERT ON nullable FOR EACH ROW EXECUTE FUNCTION log_insert();
INSERT INTO nullable VALUES ('2024-05-05 00:00+00', 'may 2024');
SELECT action, object, row_count FROM keel.run_maintenance('nullable', '2026-01-10 00:00+00');
SELECT * FROM trig_log;

-- ... also when the table's owner, no superuser, runs maintenance: keel switches the
-- user triggers (row, statement, ALWAYS, on the default partition only) off for the
-- move and back to exactly their former state.
CREATE ROLE keel_part_mover;
GRANT USAGE, CREATE ON SCHEMA partition_test TO keel_part_mover;
GRANT INSERT ON trig_log TO keel_part_mover;
GRANT EXECUTE ON FUNCTION keel.run_maintenance(regclass, timestamptz) TO keel_part_mover;
GRANT SELECT ON keel.partition_config TO keel_part_mover;
CREATE FUNCTION log_any() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partition_test.trig_log
    VALUES (TG_NAME || ' ' || TG_OP || ' ' || TG_LEVEL || coalesce(' ' || coalesce(NEW.v, OLD.v), ''));
    RETURN NULL;
END $$;
CREATE TABLE owned (t timestamptz NOT NULL, v text) PARTITION BY RANGE (t);
ALTER TABLE owned OWNER TO keel_part_mover;
SELECT count(*) FROM keel.partition_by_time('owned', premake => 0, as_of => '2026-01-10 00:00+00');
INSERT INTO owned VALUES ('2025-11-05 00:00+00', 'moved by its owner');
CREATE TRIGGER o_row AFTER INSERT OR DELETE ON owned FOR EACH ROW EXECUTE FUNCTION log_any();
CREATE TRIGGER o_stmt AFTER INSERT ON owned FOR EACH STATEMENT EXECUTE FUNCTION log_any();
CREATE TRIGGER o_always AFTER INSERT ON owned FOR EACH ROW EXECUTE FUNCTION log_any();
ALTER TABLE owned ENABLE ALWAYS TRIGGER o_always;
CREATE TRIGGER o_off AFTER INSERT ON owned FOR EACH ROW EXECUTE FUNCTION log_any();
ALTER TABLE owned DISABLE TRIGGER o_off;
CREATE TRIGGER d_only AFTER DELETE ON owned_default FOR EACH ROW EXECUTE FUNCTION log_any();
TRUNCATE trig_log;
SET ROLE keel_part_mover;
SELECT action, object, row_count FROM keel.run_maintenance('owned', '2026-01-10 00:00+00');
RESET ROLE;
SELECT * FROM trig_log;
SELECT tgrelid::regclass, tgname, tgenabled FROM pg_trigger
 WHERE tgrelid IN (SELECT relid FROM pg_partition_tree('owned')) AND NOT tgisinternal ORDER BY 1, 2;
SELECT tableoid::regclass AS lives_in, t, v FROM owned;
INSERT INTO owned VALUES ('2025-11-06 00:00+00', 'a new row');
SELECT * FROM trig_log ORDER BY 1;

-- A table referenced by a foreign key: deleting rows from its default partition would
-- run the referencing table's ON DELETE CASCADE.  keel holds it back with
-- session_replication_role = replica, so only a superuser may move such rows; the
-- owner gets an error row and nothing changes.
CREATE TABLE referenced (id int NOT NULL, t timestamptz NOT NULL, PRIMARY KEY (id, t)) PARTITION BY RANGE (t);
ALTER TABLE referenced OWNER TO keel_part_mover;
SELECT count(*) FROM keel.partition_by_time('referenced', premake => 0, as_of => '2026-01-10 00:00+00');
CREATE TABLE referencing (id int, t timestamptz, FOREIGN KEY (id, t) REFERENCES referenced ON DELETE CASCADE);
INSERT INTO referenced VALUES (1, '2025-10-03 00:00+00');
INSERT INTO referencing VALUES (1, '2025-10-03 00:00+00');
SET ROLE keel_part_mover;
SELECT action, object, row_count, detail FROM keel.run_maintenance('referenced', '2026-01-10 00:00+00');
RESET ROLE;
SELECT action, object, row_count FROM keel.run_maintenance('referenced', '2026-01-10 00:00+00');
SELECT tableoid::regclass AS lives_in, id, t FROM referenced;
SELECT id, t FROM referencing;

-- 4. New partitions carry indexes, constraints, owner, privileges and triggers.
CREATE ROLE keel_part_owner;
CREATE ROLE keel_part_reader;
CREATE ROLE keel_part_auditor;
CREATE TABLE carried (
    id bigint NOT NULL,
    at timestamptz NOT NULL,
    amount numeric CHECK (amount >= 0),
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE INDEX carried_amount ON carried (amount);
ALTER TABLE carried OWNER TO keel_part_owner;
GRANT SELECT ON carried TO keel_part_reader;
GRANT INSERT, UPDATE ON carried TO keel_part_reader WITH GRANT OPTION;
GRANT SELECT (id, at), UPDATE (amount) ON carried TO keel_part_auditor;
GRANT REFERENCES (id) ON carried TO keel_part_auditor WITH GRANT OPTION;
CREATE TRIGGER carried_log AFTER INSERT ON carried FOR EACH ROW EXECUTE FUNCTION log_insert();
SELECT action, object FROM keel.partition_by_time('carried', premake => 1, as_of => '2026-05-01 00:00+00');
SELECT c.relname, pg_get_userbyid(c.relowner) AS owner, c.relacl
  FROM pg_class c WHERE c.relname LIKE 'carried_2026%' ORDER BY 1;
SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'partition_test' AND tablename = 'carried_2026_06' ORDER BY 2;
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'carried_2026_06'::regclass ORDER BY 1;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'carried_2026_06'::regclass AND NOT tgisinternal;
-- column privileges, the same on the parent and on each new partition
SELECT attrelid::regclass, attname, attacl FROM pg_attribute
 WHERE attrelid IN ('carried'::regclass, 'carried_2026_05'::regclass, 'carried_2026_06'::regclass)
   AND attacl IS NOT NULL ORDER BY 1, 2;
INSERT INTO carried VALUES (1, '2026-06-03', -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
GRANT USAGE ON SCHEMA partition_test TO keel_part_reader;
SET ROLE keel_part_reader;
SELECT count(*) FROM carried_2026_06;
DELETE FROM carried_2026_06;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE USAGE ON SCHEMA partition_test FROM keel_part_reader;
GRANT USAGE ON SCHEMA partition_test TO keel_part_auditor;
SET ROLE keel_part_auditor;
SELECT id, at FROM carried_2026_06;
SELECT amount FROM carried_2026_06;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE USAGE ON SCHEMA partition_test FROM keel_part_auditor;

-- 5. Retention by the real bounds, not by names: a hand-made partition with any name
-- is retired when wholly older than the cutoff; one that straddles it stays.
CREATE TABLE kept (t date NOT NULL) PARTITION BY RANGE (t);
CREATE TABLE "kept: hand made, january" PARTITION OF kept FOR VALUES FROM ('2025-01-01') TO ('2025-02-01');
CREATE TABLE kept_straddles PARTITION OF kept FOR VALUES FROM ('2025-02-01') TO ('2025-04-15');
SELECT action, object, detail FROM keel.partition_by_time('kept', premake => 0, retention => '6 months',
                                                          default_partition => false, as_of => '2025-04-20 00:00+00');
SELECT action, object, detail FROM keel.run_maintenance('kept', '2025-10-14 00:00+00');
SELECT action, object, detail FROM keel.run_maintenance('kept', '2025-10-16 00:00+00');
SELECT partition, bounds FROM parts WHERE parent = 'kept';
-- detach mode keeps the table
SELECT count(*) FROM keel.partition_by_time('kept', premake => 0, retention => '1 month',
                                            retention_mode => 'detach', default_partition => false,
                                            as_of => '2025-10-16 00:00+00');
SELECT action, object FROM keel.run_maintenance('kept', '2026-01-01 00:00+00');
SELECT relname, relispartition FROM pg_class WHERE relname LIKE 'kept_2025%' ORDER BY 1;

-- 6. A hand-made partition with overlapping bounds: reported, the rest still made.
CREATE TABLE overlap (t timestamptz NOT NULL) PARTITION BY RANGE (t);
CREATE TABLE overlap_mid_month PARTITION OF overlap FOR VALUES FROM ('2026-02-15 00:00+00') TO ('2026-03-15 00:00+00');
SELECT action, object, detail FROM keel.partition_by_time('overlap', premake => 3, default_partition => false,
                                                          as_of => '2026-01-20 00:00+00');
-- a name taken by another relation
CREATE TABLE overlap_2026_05 (x int);
SELECT action, object, detail FROM keel.run_maintenance('overlap', '2026-02-20 00:00+00');

-- 7. Names with quotes, spaces, semicolons and non-ASCII letters; long names stay
-- within NAMEDATALEN.
CREATE TABLE "we""ird; DROP TABLE x; --" (t timestamptz NOT NULL) PARTITION BY RANGE (t);
SELECT action, object FROM keel.partition_by_time('"we""ird; DROP TABLE x; --"', premake => 1,
                                                  as_of => '2026-01-10 00:00+00');
CREATE TABLE "审计 事件" (t timestamptz NOT NULL) PARTITION BY RANGE (t);
SELECT action, object FROM keel.partition_by_time('"审计 事件"', 'quarter', premake => 0,
                                                  as_of => '2026-01-10 00:00+00');
SET client_min_messages = warning;
CREATE TABLE "événements_très_longs_pour_vérifier_la_limite_de_longueur_xyz" (t date NOT NULL) PARTITION BY RANGE (t);
RESET client_min_messages;
SELECT action, object FROM keel.partition_by_time(
    '"événements_très_longs_pour_vérifier_la_limite_de_longueur_xyz"', 'week', premake => 0,
    as_of => '2026-01-10 00:00+00');
SELECT relname, octet_length(relname) FROM pg_class WHERE relname LIKE 'événements%' ORDER BY 1;
INSERT INTO "we""ird; DROP TABLE x; --" VALUES ('2025-01-01 00:00+00');
SELECT action, object, row_count FROM keel.run_maintenance('"we""ird; DROP TABLE x; --"', '2026-01-10 00:00+00');

-- 8. One failing table does not stop the others: a view keeps an old partition from
-- being dropped; that table reports the error, the next one is still maintained.
CREATE TABLE a_blocked (t date NOT NULL) PARTITION BY RANGE (t);
SELECT count(*) FROM keel.partition_by_time('a_blocked', premake => 0, start_back => 2, retention => '1 month',
                                            default_partition => false, as_of => '2026-03-10 00:00+00');
CREATE VIEW a_blocked_view AS SELECT * FROM a_blocked_2026_02;
CREATE TABLE b_fine (t date NOT NULL) PARTITION BY RANGE (t);
SELECT count(*) FROM keel.partition_by_time('b_fine', premake => 0, default_partition => false,
                                            as_of => '2026-03-10 00:00+00');
SELECT parent_table, action, object, detail FROM mine('2026-05-10 00:00+00')
 WHERE parent_table IN ('a_blocked'::regclass, 'b_fine'::regclass);
SELECT partition FROM parts WHERE parent IN ('a_blocked', 'b_fine');

-- 9. Maintenance tasks run after partition upkeep, each in isolation.
CREATE TABLE sessions (id int, expires_at timestamptz);
INSERT INTO sessions VALUES (1, '2026-01-01'), (2, '2026-03-01'), (3, '2026-12-01');
CREATE FUNCTION purge_sessions(as_of timestamptz) RETURNS bigint LANGUAGE sql AS $$
    WITH d AS (DELETE FROM partition_test.sessions WHERE expires_at < as_of RETURNING 1) SELECT count(*) FROM d $$;
CREATE FUNCTION failing_task(as_of timestamptz) RETURNS bigint LANGUAGE sql AS $$ SELECT 1 / 0 $$;
SELECT keel.register_maintenance_task('partition_test purge', 'purge_sessions(timestamptz)');
SELECT keel.register_maintenance_task('partition_test failing', 'failing_task(timestamptz)');
SELECT action, object, row_count, detail FROM mine('2026-05-10 00:00+00') WHERE parent_table IS NULL;
SELECT id FROM sessions ORDER BY id;
SELECT action, object, row_count FROM keel.run_maintenance_tasks('2026-12-31 00:00+00')
 WHERE object LIKE 'partition_test%';
SELECT keel.unregister_maintenance_task('partition_test purge'), keel.unregister_maintenance_task('partition_test failing');

-- 10. A parent dropped after registration leaves no registration behind.
CREATE TABLE short_lived (t date NOT NULL) PARTITION BY RANGE (t);
SELECT count(*) FROM keel.partition_by_time('short_lived', as_of => '2026-01-01 00:00+00');
DROP TABLE short_lived;
SELECT count(*) AS registrations_left FROM keel.partition_config WHERE parent::oid NOT IN (SELECT oid FROM pg_class);
-- ... even when the drop happened with event triggers off
CREATE TABLE short_lived (t date NOT NULL) PARTITION BY RANGE (t);
SELECT count(*) FROM keel.partition_by_time('short_lived', as_of => '2026-01-01 00:00+00');
SET session_replication_role = replica;
DROP TABLE short_lived;
RESET session_replication_role;
SELECT action, object, detail FROM keel.run_maintenance(as_of => '2026-01-01 00:00+00') WHERE action = 'unregistered';
SELECT count(*) AS registrations_left FROM keel.partition_config WHERE parent::oid NOT IN (SELECT oid FROM pg_class);

-- unregister
SELECT keel.unregister_partitioning('by_day'), keel.unregister_partitioning('by_day');

SET client_min_messages = warning;
DROP SCHEMA partition_test CASCADE;
RESET client_min_messages;
DROP ROLE keel_part_owner;
DROP ROLE keel_part_reader;
DROP ROLE keel_part_auditor;
REVOKE ALL ON FUNCTION keel.run_maintenance(regclass, timestamptz) FROM keel_part_mover;
REVOKE ALL ON keel.partition_config FROM keel_part_mover;
DROP ROLE keel_part_mover;
SELECT count(*) AS registrations_left FROM keel.partition_config WHERE parent::oid NOT IN (SELECT oid FROM pg_class);
