-- Passwords (argon2id, PHC strings) and API keys / session tokens (SHA-256 hex).

CREATE FUNCTION keel.hash_password(password text)
RETURNS text LANGUAGE c VOLATILE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_hash_password';
COMMENT ON FUNCTION keel.hash_password(text) IS
'argon2id hash of a password as a PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash, '
'fits VARCHAR(255)); cost from keel.password_memory_kib / _iterations / _parallelism '
'(default OWASP: 19 MiB, 2, 1).';

CREATE FUNCTION keel.verify_password(password text, hash text)
RETURNS boolean LANGUAGE c STABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_verify_password';
COMMENT ON FUNCTION keel.verify_password(text, text) IS
'True when the password matches the argon2id PHC hash (constant-time comparison).';

CREATE FUNCTION keel.password_needs_rehash(hash text)
RETURNS boolean LANGUAGE c STABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_password_needs_rehash';
COMMENT ON FUNCTION keel.password_needs_rehash(text) IS
'True when the hash was made with weaker parameters than the current settings (or by another '
'algorithm): rehash the password at the next successful login.';

CREATE FUNCTION keel.issue_api_key(prefix text, OUT api_key text, OUT key_prefix text,
                                   OUT key_hash text)
RETURNS record LANGUAGE c VOLATILE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_issue_api_key';
COMMENT ON FUNCTION keel.issue_api_key(text) IS
'A new API key <prefix>_<43 URL-safe characters, 256 bits>, its display prefix (<= 10 characters) '
'and its SHA-256 hex (64 characters). Store prefix and hash; show the key once.';

CREATE FUNCTION keel.hash_api_key(api_key text)
RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_hash_api_key';
COMMENT ON FUNCTION keel.hash_api_key(text) IS
'SHA-256 hex of an API key, for the lookup WHERE key_hash = keel.hash_api_key($1).';

CREATE FUNCTION keel.hash_token(token text)
RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_hash_token';
COMMENT ON FUNCTION keel.hash_token(text) IS
'SHA-256 hex of a session token (user_sessions.token_hash).';
