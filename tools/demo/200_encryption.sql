\echo
\echo '==> Chapter 3: keys stay in the server; secrets are stored encrypted'
\echo
SELECT name, purpose, version, state FROM keel.create_key('demo_secrets', if_not_exists => true);
\echo '    keel.create_key(''demo_secrets'')   -- a random key, wrapped by the master key file'
CREATE TABLE demo_secrets (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL,
    name text NOT NULL,
    encrypted_value text NOT NULL
);
SELECT keel.encrypt_column('demo_secrets', 'encrypted_value', 'demo_secrets', '{id,user_id}') AS trigger_attached;
INSERT INTO demo_secrets (user_id, name, encrypted_value) VALUES
    (1, 'github token', 'ghp_16C7e42F292c6912E7710c838347Ae178B4a'),
    (2, 'openai key', 'sk-proj-abc123');
\echo '    what the table holds (ciphertext, bound to its row):'
SELECT id, name, left(encrypted_value, 40) || '...' AS encrypted_value FROM demo_secrets ORDER BY id;
SELECT keel.create_decrypted_view('demo_secrets') AS view;
\echo '    what a member of keel_decrypt reads:'
SELECT id, name, encrypted_value FROM demo_secrets_decrypted ORDER BY id;
\echo
\echo '    Copying one row''s ciphertext into another row is refused:'
\set ON_ERROR_STOP 0
\set SHOW_CONTEXT never
UPDATE demo_secrets SET encrypted_value = (SELECT encrypted_value FROM demo_secrets WHERE id = 1) WHERE id = 2;
\set ON_ERROR_STOP 1
\echo
\echo '    Rotation: a new key version, then every row moved to it, in batches:'
SELECT name, version, state FROM keel.rotate_key('demo_secrets');
CALL keel.reencrypt('demo_secrets', 'encrypted_value');
SELECT name, version, state FROM keel.keys WHERE name = 'demo_secrets' ORDER BY version;
\echo
\echo '    Passwords (argon2id, OWASP parameters) and API keys:'
SELECT left(keel.hash_password('correct horse battery staple'), 31) || '...' AS password_hash;
SELECT keel.verify_password('correct horse battery staple',
                            keel.hash_password('correct horse battery staple')) AS verified;
SELECT key_prefix, key_hash FROM keel.issue_api_key('sk');
