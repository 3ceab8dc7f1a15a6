-- Hostile names: every keel function that takes a name or a regclass, called with
-- schemas, tables, columns, keys, configurations and tasks named with quotes, spaces,
-- semicolons, backslashes, non-ASCII, exactly 63 bytes and over-long (PostgreSQL
-- truncates identifiers to 63 bytes).  Each either works or fails with a clear ERROR;
-- the backend survives throughout.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA hostile_names_test; SET search_path = hostile_names_test, public;
\set SHOW_CONTEXT never
SELECT pg_backend_pid() AS pid_before, pg_postmaster_start_time() AS start_before \gset

CREATE TABLE names (label text PRIMARY KEY, n text NOT NULL);
INSERT INTO names VALUES
    ('quotes',       'a"b''c"'),
    ('space',        'with space'),
    ('semicolon',    'x; DROP TABLE users; --'),
    ('backslash',    'back\slash\'),
    ('non-ascii',    'ünïcødé 表格 🙂'),
    ('mixed case',   'MixedCase'),
    ('63 ascii',     'q"' || repeat('n', 61)),
    ('63 multibyte', repeat('é', 31) || 'x'),
    ('over-long',    repeat('o', 70));
SELECT label, octet_length(n) AS bytes, octet_length(n::name) AS as_identifier FROM names ORDER BY label;

-- Runs one step; 'ok' or the SQLSTATE of the error (the step's writes are rolled back).
CREATE FUNCTION step(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_result text;
BEGIN
    IF stmt ~* '^\s*select' THEN
        EXECUTE stmt INTO v_result;
    ELSE
        EXECUTE stmt;
    END IF;
    RETURN coalesce(nullif(v_result, ''), 'ok');
EXCEPTION WHEN OTHERS THEN
    RETURN 'ERROR ' || SQLSTATE;
END
$$;

-- Everything keel offers, for one name n: in schema n, a table n whose column n is kept
-- by updated_at; a key n that encrypts; a table with column n encrypted and its
-- decrypting view; a table partitioned by time on column n; a CJK configuration n; a
-- maintenance task n calling a function n; a blueprint installed in schema n.
CREATE FUNCTION exercise(n text) RETURNS TABLE (step text, outcome text) LANGUAGE plpgsql AS $$
DECLARE
    s   text := format('%I', n);                                -- schema
    t   text := format('%I.%I', n, n);                          -- table n
    e   text := format('%I.%I', n, ('e' || n)::name);           -- table with encrypted column
    p   text := format('%I.%I', n, ('p' || n)::name);           -- partitioned table
    v   regclass;
    k   bigint;
BEGIN
    step := 'create schema and tables';
    outcome := 'ok';
    EXECUTE format('CREATE SCHEMA %s', s);
    EXECUTE format('CREATE TABLE %s (id int PRIMARY KEY, body text, %I timestamptz)', t, n);
    EXECUTE format('CREATE TABLE %s (id int PRIMARY KEY, %I text)', e, n);
    EXECUTE format('CREATE TABLE %s (id int, %I timestamptz NOT NULL) PARTITION BY RANGE (%I)', p, n, n);
    RETURN NEXT;

    step := 'enable_updated_at';
    outcome := step(format('SELECT keel.enable_updated_at(%L, %L)::text IS NOT NULL', t, n));
    RETURN NEXT;
    EXECUTE format('INSERT INTO %s VALUES (1, %L, %L)', t, 'a', '2000-01-01 00:00:00+00');
    EXECUTE format('UPDATE %s SET body = %L', t, 'b');
    step := '  update touched column';
    EXECUTE format('SELECT (%I > %L)::text FROM %s', n, '2000-01-01 00:00:00+00', t) INTO outcome;
    RETURN NEXT;
    step := 'disable_updated_at';
    outcome := step(format('SELECT keel.disable_updated_at(%L, %L)::text', t, n));
    RETURN NEXT;

    step := 'create_key';
    outcome := step(format('SELECT (keel.create_key(%L)).state', n));
    RETURN NEXT;
    IF outcome = 'active' THEN
        step := '  encrypt/decrypt round trip';
        outcome := step(format('SELECT (keel.decrypt_text(keel.encrypt_text(%L, %L)) = %L)::text',
                               'secret ' || n, n, 'secret ' || n));
        RETURN NEXT;
        step := '  rotate_key';
        outcome := step(format('SELECT (keel.rotate_key(%L)).version::text', n));
        RETURN NEXT;
        step := '  destroy_key version 1';
        outcome := step(format('SELECT (keel.destroy_key(%L, 1)).state', n));
        RETURN NEXT;
        step := 'encrypt_column';
        outcome := step(format('SELECT keel.encrypt_column(%L, %L, %L, %L)::text', e, n, n, '{id}'));
        RETURN NEXT;
        EXECUTE format('INSERT INTO %s VALUES (1, %L)', e, 'plain ' || n);
        step := '  stored encrypted';
        EXECUTE format('SELECT (%I <> %L)::text FROM %s', n, 'plain ' || n, e) INTO outcome;
        RETURN NEXT;
        step := '  create_decrypted_view';
        BEGIN
            v := keel.create_decrypted_view(e::regclass);
            EXECUTE format('SELECT count(*) FROM %s WHERE %I = %L', v, n, 'plain ' || n) INTO k;
            SELECT k || ' row decrypted, view name ' || octet_length(c.relname) || ' bytes'
              INTO outcome FROM pg_class c WHERE c.oid = v;
        EXCEPTION WHEN OTHERS THEN
            outcome := 'ERROR ' || SQLSTATE;
        END;
        RETURN NEXT;
        step := '  decrypt_column_sql';
        outcome := step(format('SELECT (count(*) = 1)::text FROM %s t WHERE %s = %L',
                               e, keel.decrypt_column_sql(e::regclass, n::name), 'plain ' || n));
        RETURN NEXT;
    END IF;

    step := 'partition_by_time';
    outcome := step(format($q$SELECT count(*)::text FROM keel.partition_by_time(%L, 'month', premake => 2,
                                 as_of => '2026-01-15 00:00:00+00')$q$, p));
    RETURN NEXT;
    step := '  partitions within 63 bytes';
    SELECT CASE WHEN count(*) = 0 THEN 'none' ELSE (count(*) || ' partitions, longest '
                || max(octet_length(c.relname)) || ' bytes') END INTO outcome
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = p::regclass;
    RETURN NEXT;
    step := '  run_maintenance';
    outcome := step(format($q$SELECT count(*)::text FROM keel.run_maintenance(%L, '2026-06-15 00:00:00+00')$q$, p));
    RETURN NEXT;
    step := '  unregister_partitioning';
    outcome := step(format('SELECT keel.unregister_partitioning(%L)::text', p));
    RETURN NEXT;

    step := 'create_cjk_config';
    outcome := step(format('SELECT (keel.create_cjk_config(%L, %L)::text = %L)::text', n, n, t));
    RETURN NEXT;
    step := '  to_tsvector with it';
    outcome := step(format($q$SELECT to_tsvector(%L::regconfig, '数据库 hello')::text$q$, t));
    RETURN NEXT;

    step := 'register_maintenance_task';
    EXECUTE format('CREATE FUNCTION %s(as_of timestamptz) RETURNS bigint LANGUAGE sql AS %L', t, 'SELECT 7::bigint');
    outcome := step(format('SELECT keel.register_maintenance_task(%L, %L)::text', n, t || '(timestamptz)'));
    RETURN NEXT;
    step := '  run_maintenance_tasks';
    outcome := step(format('SELECT row_count::text FROM keel.run_maintenance_tasks(%L) WHERE object = %L',
                           '2026-01-15 00:00:00+00', n));
    RETURN NEXT;
    step := '  unregister_maintenance_task';
    outcome := step(format('SELECT keel.unregister_maintenance_task(%L)::text', n));
    RETURN NEXT;

    -- PostgreSQL itself refuses a schema name containing any of "$'\ for an extension
    -- whose script uses @extschema@ (22P02): that is the expected outcome for those.
    step := 'blueprint in schema';
    outcome := step(format('CREATE EXTENSION keel_coderunner SCHEMA %s', s));
    RETURN NEXT;
    IF outcome = 'ok' THEN
        step := '  insert a user';
        outcome := step(format('INSERT INTO %s.users (email, password_hash) VALUES (%L, %L)', s, n, 'h'));
        RETURN NEXT;
        step := '  drop_blueprint';
        outcome := step($q$SELECT keel.drop_blueprint('keel_coderunner', force => true)::text$q$);
        RETURN NEXT;
    END IF;
    step := 'drop_blueprint(n)';
    outcome := step(format('SELECT keel.drop_blueprint(%L)::text', n));
    RETURN NEXT;

    -- clean up (keys are global to the database)
    DELETE FROM keel.data_keys k WHERE k.name = n;
    EXECUTE format('DROP SCHEMA %s CASCADE', s);
END
$$;

SET client_min_messages = warning;
SELECT x.label, e.step, e.outcome
  FROM names x, LATERAL exercise(x.n) WITH ORDINALITY e
 ORDER BY x.label, e.ordinality;
RESET client_min_messages;

-- Nothing left behind, and the same backend and postmaster are still serving us.
SELECT count(*) AS leftover_keys FROM keel.data_keys k JOIN names x ON k.name = x.n;
SELECT count(*) AS leftover_schemas FROM pg_namespace s JOIN names x ON s.nspname = x.n::name;
SELECT pg_backend_pid() = :pid_before AS same_backend,
       pg_postmaster_start_time() = :'start_before' AS no_restart;

SELECT keel._keys_changed();
SET client_min_messages = warning;
DROP SCHEMA hostile_names_test CASCADE;
