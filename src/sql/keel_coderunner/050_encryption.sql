-- deployments.db_connection_info "must be stored encrypted" (seed 000): keel encrypts it
-- transparently (keel.encrypt_column, AES-256-GCM, bound to the row id) under the key
-- "coderunner:<schema>".  Installed before the server has a master key, the column
-- refuses writes with the key store's error until enable_encryption() is run.
CREATE FUNCTION @extschema@.enable_encryption()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tbl regclass := (SELECT t.typrelid FROM pg_type t
                        WHERE t.oid = pg_typeof(NULL::@extschema@.deployments)::oid)::regclass;
    v_key text := keel.blueprint_key_name('coderunner', (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                           WHERE c.oid = v_tbl));
BEGIN
    RETURN keel.protect_columns(v_key, v_tbl, '{db_connection_info}');
END
$$;

COMMENT ON FUNCTION @extschema@.enable_encryption() IS
'Encrypts deployments.db_connection_info with keel (run by the install; run it again after '
'configuring keel''s master key if the install found none). Returns encrypted or pending.';
REVOKE ALL ON FUNCTION @extschema@.enable_encryption() FROM PUBLIC;
