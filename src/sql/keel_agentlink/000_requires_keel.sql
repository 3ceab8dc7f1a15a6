-- A blueprint runs on the keel engine of its own release: refuse to install next to a
-- keel that was not updated to the installed files (ALTER EXTENSION keel UPDATE), with a
-- clear error instead of a missing keel function half-way through.  Leaves no object.
DO $keel_guard$
DECLARE
    v_installed text := (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'keel');
    v_files     text := (SELECT a.default_version FROM pg_catalog.pg_available_extensions a WHERE a.name = 'keel');
BEGIN
    IF v_installed IS DISTINCT FROM v_files THEN
        RAISE EXCEPTION 'keel_agentlink needs keel %, the version of the installed files, but keel is at %', v_files, v_installed
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run ALTER EXTENSION keel UPDATE first, then this statement again.';
    END IF;
END
$keel_guard$;
