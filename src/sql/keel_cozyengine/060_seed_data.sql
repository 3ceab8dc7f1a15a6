-- The seed's 020_seed_data.sql, made safe.
--
-- The default personality is installed as written (created_by is NULL until an admin
-- exists).  The default admin is NOT: the seed gives it the password "changeme", and a
-- known password on an admin account is a hole.  create_admin() makes that row (same
-- id, username and e-mail as the seed unless told otherwise) from a password the
-- operator chooses, hashed by keel.hash_password() (argon2id), and makes it the
-- creator of the default personality.

-- (Not during a dump restore: the dump carries the row, with whatever edits it had.)
INSERT INTO @extschema@.personalities (id, name, description, config, created_by)
SELECT
    'assistant-v1',
    'Default Assistant',
    'Default conversational assistant',
    '{
        "system_prompt": "You are a helpful assistant.",
        "model": "gpt-4",
        "allowed_tools": ["search", "calculator"],
        "voice_strategy": {"enabled": true, "voice": "alloy"},
        "memory_strategy": {"enabled": true, "max_memories": 100}
    }'::JSONB,
    NULL
 WHERE NOT keel.blueprint_restoring();

CREATE FUNCTION @extschema@.create_admin(
    password text,
    username text DEFAULT 'admin',
    email text DEFAULT 'admin@cozyengine.local',
    id uuid DEFAULT 'a0b1c2d3-e4f5-6789-abcd-ef1234567890')
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id uuid;
BEGIN
    IF password IS NULL OR length(password) < 12 THEN
        RAISE EXCEPTION 'the admin password must have at least 12 characters'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Choose a long random password; it is stored only as an argon2id hash.';
    END IF;
    IF to_regprocedure('keel.hash_password(text)') IS NULL THEN
        RAISE EXCEPTION 'keel.hash_password() is not available in this keel build'
            USING ERRCODE = 'feature_not_supported';
    END IF;
    INSERT INTO @extschema@.users (id, username, email, password_hash, role, status)
    VALUES (create_admin.id, create_admin.username, create_admin.email,
            keel.hash_password(create_admin.password), 'admin', 'active')
    RETURNING users.id INTO v_id;
    UPDATE @extschema@.personalities SET created_by = v_id
     WHERE personalities.id = 'assistant-v1' AND created_by IS NULL;
    RETURN v_id;
END
$$;

COMMENT ON FUNCTION @extschema@.create_admin(text, text, text, uuid) IS
'Creates the seed''s default admin (id a0b1c2d3-..., admin, admin@cozyengine.local) with an '
'operator-chosen password stored as keel.hash_password() (argon2id); the seed''s known '
'password "changeme" is never installed.';

REVOKE ALL ON FUNCTION @extschema@.create_admin(text, text, text, uuid) FROM PUBLIC;
