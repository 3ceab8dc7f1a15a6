-- agents.config_encrypted / config_iv: encrypted by keel (keel.encrypt_column, AES-256-GCM
-- with its own nonce inside the ciphertext, bound to the row id) under the key
-- "agentlink:<schema>".  The application writes plaintext and reads through keel's
-- decryption; config_iv is kept (and encrypted) for applications that still write one.
-- Installed before the server has a master key, the columns refuse writes with the key
-- store's error until enable_encryption() is run.
CREATE FUNCTION @extschema@.enable_encryption()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tbl regclass := (SELECT t.typrelid FROM pg_type t
                        WHERE t.oid = pg_typeof(NULL::@extschema@.agents)::oid)::regclass;
    v_key text := keel.blueprint_key_name('agentlink', (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                          WHERE c.oid = v_tbl));
BEGIN
    RETURN keel.protect_columns(v_key, v_tbl, '{config_encrypted,config_iv}');
END
$$;

COMMENT ON FUNCTION @extschema@.enable_encryption() IS
'Encrypts agents.config_encrypted and config_iv with keel (run by the install; run it again after '
'configuring keel''s master key if the install found none). Returns encrypted or pending.';
REVOKE ALL ON FUNCTION @extschema@.enable_encryption() FROM PUBLIC;
