-- The C++/PostgreSQL error boundary: errors thrown deep in C++ arrive as clean
-- ERRORs with their SQLSTATE, destructors run, the session goes on, memory stays flat.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
\set SHOW_CONTEXT never

SELECT keel._boundary_selftest('none');
SELECT keel._boundary_live_objects();

-- a keel error: kind -> SQLSTATE 22023, detail and hint kept
SELECT keel._boundary_selftest('keel');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel._boundary_live_objects();

-- a stray std::exception becomes an internal error (XX000), not a crash
SELECT keel._boundary_selftest('std');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- std::bad_alloc becomes out of memory (53200)
SELECT keel._boundary_selftest('oom');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a PostgreSQL error raised under live C++ objects keeps its own SQLSTATE (22012)
SELECT keel._boundary_selftest('pg');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel._boundary_live_objects();
SELECT keel._boundary_selftest(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel._boundary_selftest('bogus');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- the backend is still here and the next statement works
SELECT 1 AS still_alive;

-- 100k errors through each path: the backend's memory stays flat
CREATE FUNCTION pg_temp.rss_kb() RETURNS bigint LANGUAGE sql AS $$
    SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
                         'VmRSS:\s+(\d+)'))[1]::bigint $$;
CREATE FUNCTION pg_temp.hammer(kind text, n int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE errors int := 0;
BEGIN
    FOR i IN 1..n LOOP
        BEGIN
            PERFORM keel._boundary_selftest(kind);
        EXCEPTION WHEN others THEN
            errors := errors + 1;
        END;
    END LOOP;
    RETURN errors;
END $$;
SELECT pg_temp.hammer('keel', 5000) + pg_temp.hammer('pg', 5000) + pg_temp.hammer('std', 5000) AS warmup;
SELECT pg_temp.rss_kb() AS rss_before \gset
SELECT pg_temp.hammer('keel', 100000) AS keel_errors;
SELECT pg_temp.hammer('pg', 100000) AS pg_errors;
SELECT pg_temp.hammer('std', 100000) AS std_errors;
SELECT pg_temp.rss_kb() - :rss_before < 4096 AS memory_flat,
       keel._boundary_live_objects() AS live_objects;

-- not for PUBLIC
CREATE ROLE keel_boundary_nobody;
SET ROLE keel_boundary_nobody;
SELECT keel._boundary_selftest('none');
RESET ROLE;
DROP ROLE keel_boundary_nobody;
