-- Self-tests of the C++/PostgreSQL error boundary (used by the regression suite).
-- Superuser only: they exist to be called by tests, not by applications.

CREATE FUNCTION keel._boundary_selftest(kind text)
RETURNS integer
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_boundary_selftest';

CREATE FUNCTION keel._boundary_live_objects()
RETURNS bigint
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_boundary_live_objects';

REVOKE ALL ON FUNCTION keel._boundary_selftest(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._boundary_live_objects() FROM PUBLIC;

COMMENT ON FUNCTION keel._boundary_selftest(text) IS
'Test hook: fails from deep C++ frames (kind keel|std|oom|pg|none) to prove the error boundary.';
COMMENT ON FUNCTION keel._boundary_live_objects() IS
'Test hook: C++ objects created by _boundary_selftest still alive (0 after unwinding).';
