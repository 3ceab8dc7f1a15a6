-- The key store.  Data keys are random 256-bit keys, kept only wrapped
-- (AES-256-GCM) under the master key that comes from outside the database
-- (keel.master_key_file or keel.master_key_command).  The tables are dumped by
-- pg_dump (pg_extension_config_dump); no SQL path returns a key in the clear.

CREATE SEQUENCE keel.data_key_id_seq AS integer;
COMMENT ON SEQUENCE keel.data_key_id_seq IS 'Ids of keel data keys (one id per key name).';

CREATE TABLE keel.data_keys (
    key_id      integer NOT NULL,
    name        text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 63),
    purpose     text NOT NULL CHECK (purpose IN ('encrypt', 'hmac')),
    version     integer NOT NULL CHECK (version > 0),
    wrapped_key bytea,
    state       text NOT NULL CHECK (state IN ('active', 'retired', 'destroyed')),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (key_id, version),
    UNIQUE (name, version),
    CHECK ((state = 'destroyed') = (wrapped_key IS NULL))
);
CREATE UNIQUE INDEX data_keys_one_active ON keel.data_keys (name) WHERE state = 'active';
COMMENT ON TABLE keel.data_keys IS
'keel data keys, wrapped under the master key (never in the clear). Read through the keel.keys view.';

CREATE TABLE keel.key_check (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    check_value bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE keel.key_check IS
'Key check value: verifies only under the master key that wrapped keel.data_keys, so a wrong '
'master key is reported at once.';

REVOKE ALL ON keel.data_keys, keel.key_check, keel.data_key_id_seq FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('keel.data_keys', '');
SELECT pg_catalog.pg_extension_config_dump('keel.key_check', '');
SELECT pg_catalog.pg_extension_config_dump('keel.data_key_id_seq', '');

CREATE VIEW keel.keys AS
SELECT k.name, k.purpose, k.version, k.state, k.created_at, k.key_id
  FROM keel.data_keys k;
COMMENT ON VIEW keel.keys IS 'keel data keys: metadata only (name, purpose, version, state).';
GRANT SELECT ON keel.keys TO PUBLIC;

-- Internal C helpers (key bytes never leave C; they return wrapped keys only).
CREATE FUNCTION keel._new_wrapped_key(key_id integer, version integer, purpose text)
RETURNS bytea LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'keel_new_wrapped_key';
CREATE FUNCTION keel._rewrap_key(key_id integer, version integer, purpose text, wrapped bytea,
                                 new_master_key_file text)
RETURNS bytea LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'keel_rewrap_key';
CREATE FUNCTION keel._master_key_check(new_master_key_file text DEFAULT NULL)
RETURNS bytea LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'keel_master_key_check';
CREATE FUNCTION keel._keys_changed()
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'keel_keys_changed';
REVOKE ALL ON FUNCTION keel._new_wrapped_key(integer, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._rewrap_key(integer, integer, text, bytea, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._master_key_check(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._keys_changed() FROM PUBLIC;
COMMENT ON FUNCTION keel._new_wrapped_key(integer, integer, text) IS
'Internal: a new random data key, wrapped under the master key.';
COMMENT ON FUNCTION keel._rewrap_key(integer, integer, text, bytea, text) IS
'Internal: unwraps a data key with the configured master key and wraps it under the key in a file.';
COMMENT ON FUNCTION keel._master_key_check(text) IS
'Internal: a key check value for the configured master key (or the one in a file).';
COMMENT ON FUNCTION keel._keys_changed() IS
'Internal: invalidates every backend''s cache of unwrapped data keys (at commit).';

-- Makes sure the key check exists (first key) and matches (every later call).
CREATE FUNCTION keel._ensure_key_check()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM keel.key_check) THEN
        INSERT INTO keel.key_check (check_value) VALUES (keel._master_key_check())
        ON CONFLICT DO NOTHING;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION keel._ensure_key_check() FROM PUBLIC;
COMMENT ON FUNCTION keel._ensure_key_check() IS
'Internal: stores the key check value for the configured master key when there is none.';

CREATE FUNCTION keel.create_key(name text, purpose text DEFAULT 'encrypt',
                                if_not_exists boolean DEFAULT false)
RETURNS keel.keys
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id  integer;
    v_row keel.keys;
BEGIN
    IF name IS NULL OR purpose IS NULL OR if_not_exists IS NULL THEN
        RAISE EXCEPTION 'keel.create_key: name, purpose and if_not_exists must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF purpose NOT IN ('encrypt', 'hmac') THEN
        RAISE EXCEPTION 'invalid key purpose "%"',
            left(purpose, 64) || CASE WHEN length(purpose) > 64 THEN '...' ELSE '' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A key''s purpose is encrypt (for keel.encrypt and encrypted columns) '
                           'or hmac (for signatures such as the audit chain''s).';
    END IF;
    IF octet_length(name) NOT BETWEEN 1 AND 63 THEN
        RAISE EXCEPTION 'invalid key name "%"',
            left(name, 64) || CASE WHEN length(name) > 64 THEN '...' ELSE '' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('A key name is 1 to 63 bytes long; this one is %s bytes.', octet_length(name));
    END IF;
    LOCK TABLE keel.data_keys IN SHARE ROW EXCLUSIVE MODE;
    SELECT k.* INTO v_row FROM keel.keys k WHERE k.name = create_key.name ORDER BY k.version DESC LIMIT 1;
    IF FOUND THEN
        IF if_not_exists AND v_row.purpose = create_key.purpose THEN
            SELECT k.* INTO v_row FROM keel.keys k
             WHERE k.name = create_key.name AND k.state = 'active';
            RETURN v_row;
        END IF;
        RAISE EXCEPTION 'key "%" already exists', name
            USING ERRCODE = 'duplicate_object',
                  DETAIL = format('It is an %s key with %s version(s).', v_row.purpose, v_row.version),
                  HINT = 'Use keel.rotate_key() to make a new version of it.';
    END IF;
    PERFORM keel._ensure_key_check();
    v_id := nextval('keel.data_key_id_seq');
    INSERT INTO keel.data_keys (key_id, name, purpose, version, wrapped_key, state)
    VALUES (v_id, create_key.name, create_key.purpose, 1,
            keel._new_wrapped_key(v_id, 1, create_key.purpose), 'active');
    PERFORM keel._keys_changed();
    SELECT k.* INTO v_row FROM keel.keys k WHERE k.key_id = v_id;
    RETURN v_row;
END
$$;
REVOKE ALL ON FUNCTION keel.create_key(text, text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION keel.create_key(text, text, boolean) IS
'Creates a named random data key (purpose encrypt or hmac), version 1, wrapped under the master '
'key. if_not_exists => true returns the existing key of that purpose instead of failing.';

CREATE FUNCTION keel.rotate_key(name text)
RETURNS keel.keys
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_last keel.data_keys;
    v_row  keel.keys;
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'keel.rotate_key: name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    LOCK TABLE keel.data_keys IN SHARE ROW EXCLUSIVE MODE;
    SELECT k.* INTO v_last FROM keel.data_keys k
     WHERE k.name = rotate_key.name ORDER BY k.version DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'key "%" does not exist',
            left(name, 64) || CASE WHEN length(name) > 64 THEN '...' ELSE '' END
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with keel.create_key().';
    END IF;
    PERFORM keel._ensure_key_check();
    UPDATE keel.data_keys k SET state = 'retired'
     WHERE k.key_id = v_last.key_id AND k.state = 'active';
    INSERT INTO keel.data_keys (key_id, name, purpose, version, wrapped_key, state)
    VALUES (v_last.key_id, v_last.name, v_last.purpose, v_last.version + 1,
            keel._new_wrapped_key(v_last.key_id, v_last.version + 1, v_last.purpose), 'active');
    PERFORM keel._keys_changed();
    SELECT k.* INTO v_row FROM keel.keys k
     WHERE k.key_id = v_last.key_id AND k.version = v_last.version + 1;
    RETURN v_row;
END
$$;
REVOKE ALL ON FUNCTION keel.rotate_key(text) FROM PUBLIC;
COMMENT ON FUNCTION keel.rotate_key(text) IS
'Makes a new version of a key the active one (used for new data); older versions stay usable '
'for decryption and verification. Move old data with keel.reencrypt().';

CREATE FUNCTION keel.destroy_key(name text, version integer)
RETURNS keel.keys
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_key keel.data_keys;
    v_row keel.keys;
BEGIN
    IF name IS NULL OR version IS NULL THEN
        RAISE EXCEPTION 'keel.destroy_key: name and version must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    LOCK TABLE keel.data_keys IN SHARE ROW EXCLUSIVE MODE;
    SELECT k.* INTO v_key FROM keel.data_keys k
     WHERE k.name = destroy_key.name AND k.version = destroy_key.version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'key "%" version % does not exist',
            left(name, 64) || CASE WHEN length(name) > 64 THEN '...' ELSE '' END, version
            USING ERRCODE = 'undefined_object';
    END IF;
    IF v_key.state = 'active' THEN
        RAISE EXCEPTION 'key "%" version % is the active version', name, version
            USING ERRCODE = 'object_in_use',
                  DETAIL = 'New data is encrypted or signed with the active version.',
                  HINT = 'Rotate the key with keel.rotate_key() and move the data with '
                         'keel.reencrypt() before destroying this version.';
    END IF;
    UPDATE keel.data_keys k SET state = 'destroyed', wrapped_key = NULL
     WHERE k.key_id = v_key.key_id AND k.version = v_key.version;
    PERFORM keel._keys_changed();
    SELECT k.* INTO v_row FROM keel.keys k
     WHERE k.key_id = v_key.key_id AND k.version = v_key.version;
    RETURN v_row;
END
$$;
REVOKE ALL ON FUNCTION keel.destroy_key(text, integer) FROM PUBLIC;
COMMENT ON FUNCTION keel.destroy_key(text, integer) IS
'Destroys a retired key version for good (crypto-shredding): data encrypted with it can no '
'longer be decrypted. The active version cannot be destroyed.';

CREATE FUNCTION keel.rewrap_keys(new_master_key_file text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_n integer := 0;
    v_k record;
BEGIN
    IF new_master_key_file IS NULL OR new_master_key_file = '' THEN
        RAISE EXCEPTION 'keel.rewrap_keys: new_master_key_file must not be empty'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    LOCK TABLE keel.data_keys IN EXCLUSIVE MODE;
    LOCK TABLE keel.key_check IN EXCLUSIVE MODE;
    -- Reads and verifies the new key first, so a bad file changes nothing.
    PERFORM keel._master_key_check(new_master_key_file);
    FOR v_k IN SELECT k.key_id, k.version, k.purpose, k.wrapped_key
                 FROM keel.data_keys k WHERE k.wrapped_key IS NOT NULL
                ORDER BY k.key_id, k.version LOOP
        UPDATE keel.data_keys k
           SET wrapped_key = keel._rewrap_key(v_k.key_id, v_k.version, v_k.purpose,
                                              v_k.wrapped_key, new_master_key_file)
         WHERE k.key_id = v_k.key_id AND k.version = v_k.version;
        v_n := v_n + 1;
    END LOOP;
    DELETE FROM keel.key_check;
    INSERT INTO keel.key_check (check_value) VALUES (keel._master_key_check(new_master_key_file));
    PERFORM keel._keys_changed();
    RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION keel.rewrap_keys(text) FROM PUBLIC;
COMMENT ON FUNCTION keel.rewrap_keys(text) IS
'Rewraps every data key under the master key in the given file (mode 0600), in one transaction, '
'without touching encrypted data; then point keel.master_key_file at that file and reload. '
'Returns the number of key versions rewrapped.';
