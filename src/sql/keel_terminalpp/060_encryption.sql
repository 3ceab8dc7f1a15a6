-- Secrets (seed 001: "Encrypted with user's key", "-- Encrypted"): secrets.encrypted_value
-- and github_connections.access_token_hash / refresh_token_hash are encrypted by keel
-- (keel.encrypt_column, AES-256-GCM, bound to the row id) under the key
-- "terminalpp:<schema>".  Installed before the server has a master key, the columns
-- refuse writes with the key store's error until enable_encryption() is run.
-- The token columns are VARCHAR(255) in the seed and a BEFORE trigger's output is not
-- checked against a length, so these CHECKs refuse a token whose ciphertext would not
-- fit (and so would not restore from a dump).
ALTER TABLE @extschema@.github_connections
    ADD CONSTRAINT github_connections_access_token_fits CHECK (char_length(access_token_hash) <= 255),
    ADD CONSTRAINT github_connections_refresh_token_fits CHECK (char_length(refresh_token_hash) <= 255);

CREATE FUNCTION @extschema@.enable_encryption()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_secrets regclass := (SELECT t.typrelid FROM pg_type t
                            WHERE t.oid = pg_typeof(NULL::@extschema@.secrets)::oid)::regclass;
    v_github regclass := (SELECT t.typrelid FROM pg_type t
                           WHERE t.oid = pg_typeof(NULL::@extschema@.github_connections)::oid)::regclass;
    v_key text := keel.blueprint_key_name('terminalpp', (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                           WHERE c.oid = v_secrets));
    v_a text;
    v_b text;
BEGIN
    v_a := keel.protect_columns(v_key, v_secrets, '{encrypted_value}');
    v_b := keel.protect_columns(v_key, v_github, '{access_token_hash,refresh_token_hash}');
    RETURN CASE WHEN v_a = v_b THEN v_a ELSE 'mixed' END;
END
$$;

COMMENT ON FUNCTION @extschema@.enable_encryption() IS
'Encrypts secrets.encrypted_value and the GitHub token columns with keel (run by the install; run '
'it again after configuring keel''s master key if the install found none). Returns encrypted or pending.';
REVOKE ALL ON FUNCTION @extschema@.enable_encryption() FROM PUBLIC;
