-- keel_terminalpp--0.1.0.sql: generated from src/sql/keel_terminalpp/ by make; do not edit.
\echo Use "CREATE EXTENSION keel_terminalpp" to load this file. \quit

-- ---- src/sql/keel_terminalpp/010_schema.sql
-- keel_terminalpp: the DDL of seed 001 (Terminal++), table by table, column by column,
-- under the seed's names, in the schema chosen at CREATE EXTENSION (@extschema@).
-- Departures (each in docs/blueprints/terminalpp.md): ai_memory.embedding without pgvector,
-- command_executions.archived (used by the seed's retention policy, never defined there).

-- Users table
CREATE TABLE @extschema@.users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email VARCHAR(255) UNIQUE NOT NULL,
    username VARCHAR(50) UNIQUE NOT NULL,
    full_name VARCHAR(255),
    avatar_url TEXT,
    preferences JSONB DEFAULT '{}',
    subscription_tier VARCHAR(20) DEFAULT 'free',
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    last_active_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

-- User sessions
CREATE TABLE @extschema@.user_sessions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    token_hash VARCHAR(255) NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    last_used_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    user_agent TEXT,
    ip_address INET
);
-- Sandboxes (user environments)
CREATE TABLE @extschema@.sandboxes (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    container_id VARCHAR(255),
    image VARCHAR(255) DEFAULT 'ubuntu:22.04',
    status VARCHAR(20) DEFAULT 'stopped', -- stopped, starting, running, error
    resource_limits JSONB DEFAULT '{"cpu": "1", "memory": "1GB", "disk": "10GB"}',
    environment_vars JSONB DEFAULT '{}',
    exposed_ports JSONB DEFAULT '[]',
    last_activity_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    auto_sleep_after_minutes INTEGER DEFAULT 60,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

-- Sandbox collaborators
CREATE TABLE @extschema@.sandbox_collaborators (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    sandbox_id UUID REFERENCES @extschema@.sandboxes(id) ON DELETE CASCADE,
    user_id UUID REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    role VARCHAR(20) DEFAULT 'viewer', -- owner, editor, viewer
    invited_by UUID REFERENCES @extschema@.users(id),
    invited_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    accepted_at TIMESTAMP WITH TIME ZONE,
    UNIQUE(sandbox_id, user_id)
);
-- File system entries
CREATE TABLE @extschema@.fs_entries (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    sandbox_id UUID REFERENCES @extschema@.sandboxes(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    name VARCHAR(255) NOT NULL,
    type VARCHAR(20) NOT NULL, -- file, directory, symlink
    size_bytes BIGINT DEFAULT 0,
    mime_type VARCHAR(255),
    content_hash VARCHAR(64), -- SHA-256 of content
    permissions VARCHAR(10) DEFAULT '644',
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    deleted_at TIMESTAMP WITH TIME ZONE,
    UNIQUE(sandbox_id, path)
);

-- File versions/snapshots
CREATE TABLE @extschema@.file_versions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    fs_entry_id UUID REFERENCES @extschema@.fs_entries(id) ON DELETE CASCADE,
    version_number INTEGER NOT NULL,
    content_url TEXT, -- S3/storage URL
    content_preview TEXT, -- First 1000 chars for quick access
    size_bytes BIGINT NOT NULL,
    change_type VARCHAR(20), -- created, modified, deleted, renamed
    created_by UUID REFERENCES @extschema@.users(id),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    commit_message TEXT
);

-- Snapshots (point-in-time sandbox state)
CREATE TABLE @extschema@.snapshots (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    sandbox_id UUID REFERENCES @extschema@.sandboxes(id) ON DELETE CASCADE,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    snapshot_type VARCHAR(20) DEFAULT 'manual', -- manual, auto, scheduled
    file_count INTEGER DEFAULT 0,
    total_size_bytes BIGINT DEFAULT 0,
    metadata JSONB DEFAULT '{}',
    created_by UUID REFERENCES @extschema@.users(id),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
-- AI conversations
CREATE TABLE @extschema@.ai_conversations (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    sandbox_id UUID REFERENCES @extschema@.sandboxes(id) ON DELETE CASCADE,
    title VARCHAR(255),
    model_used VARCHAR(50),
    total_tokens INTEGER DEFAULT 0,
    status VARCHAR(20) DEFAULT 'active', -- active, archived, deleted
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

-- AI messages
CREATE TABLE @extschema@.ai_messages (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id UUID REFERENCES @extschema@.ai_conversations(id) ON DELETE CASCADE,
    role VARCHAR(20) NOT NULL, -- user, assistant, system
    content TEXT NOT NULL,
    metadata JSONB DEFAULT '{}', -- tokens, model info, etc.
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

-- AI agents
CREATE TABLE @extschema@.ai_agents (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id UUID REFERENCES @extschema@.ai_conversations(id) ON DELETE CASCADE,
    type VARCHAR(20) NOT NULL, -- planner, coder, critic, tester, executor
    name VARCHAR(100) NOT NULL,
    status VARCHAR(20) DEFAULT 'active', -- active, paused, terminated
    context JSONB DEFAULT '{}',
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

-- AI memory layers
-- ai_memory.embedding is VECTOR(1536) when pgvector is installed in this database at
-- CREATE EXTENSION time; otherwise real[] (1536 elements, checked) that
-- @extschema@.migrate_embedding_to_pgvector() converts later.  See docs/blueprints/terminalpp.md.
DO $do$
DECLARE
    v_vector_schema name;
    v_type text;
BEGIN
    SELECT n.nspname INTO v_vector_schema
      FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'vector';
    v_type := CASE WHEN v_vector_schema IS NULL THEN 'real[]'
                   ELSE pg_catalog.format('%I.vector(1536)', v_vector_schema) END;
    EXECUTE pg_catalog.format($ddl$
CREATE TABLE @extschema@.ai_memory (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    sandbox_id UUID REFERENCES @extschema@.sandboxes(id) ON DELETE CASCADE,
    memory_type VARCHAR(20) NOT NULL, -- session, project, global
    key VARCHAR(255) NOT NULL,
    value JSONB NOT NULL,
    embedding %s, -- For semantic search
    importance_score FLOAT DEFAULT 0.5,
    access_count INTEGER DEFAULT 0,
    last_accessed_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
$ddl$, v_type);
    IF v_vector_schema IS NULL THEN
        ALTER TABLE @extschema@.ai_memory ADD CONSTRAINT ai_memory_embedding_dims
            CHECK (embedding IS NULL OR (pg_catalog.array_ndims(embedding) = 1
                                         AND pg_catalog.array_length(embedding, 1) = 1536));
        -- The seed's index name, held by an exact-match hash index until pgvector arrives.
        CREATE INDEX idx_ai_memory_embedding ON @extschema@.ai_memory USING hash (embedding);
    ELSE
        EXECUTE pg_catalog.format('CREATE INDEX idx_ai_memory_embedding ON @extschema@.ai_memory '
                                  'USING ivfflat (embedding %I.vector_cosine_ops)', v_vector_schema);
    END IF;
END
$do$;
-- Command executions
CREATE TABLE @extschema@.command_executions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    sandbox_id UUID REFERENCES @extschema@.sandboxes(id) ON DELETE CASCADE,
    user_id UUID REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    command TEXT NOT NULL,
    working_directory VARCHAR(512) DEFAULT '/home/user',
    environment_vars JSONB DEFAULT '{}',
    execution_mode VARCHAR(20) DEFAULT 'manual', -- manual, auto, scheduled
    status VARCHAR(20) DEFAULT 'pending', -- pending, running, completed, failed, killed
    exit_code INTEGER,
    stdout TEXT,
    stderr TEXT,
    execution_time_ms INTEGER,
    started_at TIMESTAMP WITH TIME ZONE,
    completed_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    -- keel: the seed's retention policy sets this column but the seed never defines it.
    archived BOOLEAN NOT NULL DEFAULT false
);

-- Audit logs
CREATE TABLE @extschema@.audit_logs (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES @extschema@.users(id) ON DELETE SET NULL,
    sandbox_id UUID REFERENCES @extschema@.sandboxes(id) ON DELETE SET NULL,
    action VARCHAR(50) NOT NULL,
    resource_type VARCHAR(50) NOT NULL,
    resource_id UUID,
    details JSONB DEFAULT '{}',
    ip_address INET,
    user_agent TEXT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
-- GitHub connections
CREATE TABLE @extschema@.github_connections (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    github_user_id BIGINT NOT NULL,
    username VARCHAR(255) NOT NULL,
    access_token_hash VARCHAR(255) NOT NULL, -- Encrypted
    refresh_token_hash VARCHAR(255), -- Encrypted
    scope TEXT NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    UNIQUE(user_id)
);

-- Repository links
CREATE TABLE @extschema@.repository_links (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    sandbox_id UUID REFERENCES @extschema@.sandboxes(id) ON DELETE CASCADE,
    github_connection_id UUID REFERENCES @extschema@.github_connections(id) ON DELETE CASCADE,
    repository_full_name VARCHAR(255) NOT NULL, -- owner/repo
    clone_url TEXT NOT NULL,
    default_branch VARCHAR(255) DEFAULT 'main',
    current_branch VARCHAR(255),
    sync_status VARCHAR(20) DEFAULT 'synced', -- synced, pending, error
    last_sync_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
-- Encrypted secrets
CREATE TABLE @extschema@.secrets (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    sandbox_id UUID REFERENCES @extschema@.sandboxes(id) ON DELETE CASCADE,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    encrypted_value TEXT NOT NULL, -- Encrypted with user's key
    secret_type VARCHAR(50) DEFAULT 'env_var', -- env_var, api_key, ssh_key, certificate
    metadata JSONB DEFAULT '{}',
    last_used_at TIMESTAMP WITH TIME ZONE,
    expires_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    UNIQUE(sandbox_id, name)
);
-- Plugins
CREATE TABLE @extschema@.plugins (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) UNIQUE NOT NULL,
    display_name VARCHAR(255) NOT NULL,
    description TEXT,
    version VARCHAR(50) NOT NULL,
    author_id UUID REFERENCES @extschema@.users(id),
    category VARCHAR(100),
    tags TEXT[],
    manifest JSONB NOT NULL, -- Plugin configuration
    download_url TEXT,
    install_count INTEGER DEFAULT 0,
    rating_average FLOAT DEFAULT 0,
    rating_count INTEGER DEFAULT 0,
    status VARCHAR(20) DEFAULT 'pending', -- pending, approved, rejected
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

-- User plugin installations
CREATE TABLE @extschema@.user_plugins (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    plugin_id UUID REFERENCES @extschema@.plugins(id) ON DELETE CASCADE,
    sandbox_id UUID REFERENCES @extschema@.sandboxes(id) ON DELETE CASCADE,
    version VARCHAR(50) NOT NULL,
    config JSONB DEFAULT '{}',
    enabled BOOLEAN DEFAULT true,
    installed_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    UNIQUE(user_id, plugin_id, sandbox_id)
);
-- Performance indexes
CREATE INDEX idx_users_email ON @extschema@.users(email);
CREATE INDEX idx_users_username ON @extschema@.users(username);
CREATE INDEX idx_sandboxes_user_id ON @extschema@.sandboxes(user_id);
CREATE INDEX idx_sandboxes_status ON @extschema@.sandboxes(status);
CREATE INDEX idx_fs_entries_sandbox_path ON @extschema@.fs_entries(sandbox_id, path);
CREATE INDEX idx_command_executions_sandbox_user ON @extschema@.command_executions(sandbox_id, user_id);
CREATE INDEX idx_ai_conversations_user_sandbox ON @extschema@.ai_conversations(user_id, sandbox_id);
-- idx_ai_memory_embedding: made with ai_memory above (ivfflat with pgvector, else a hash placeholder).
CREATE INDEX idx_audit_logs_user_action ON @extschema@.audit_logs(user_id, action);
CREATE INDEX idx_file_versions_fs_entry ON @extschema@.file_versions(fs_entry_id);
-- Active sandboxes view
CREATE VIEW @extschema@.active_sandboxes AS
SELECT 
    s.*,
    u.username,
    u.email,
    COUNT(ce.id) as command_count,
    MAX(ce.created_at) as last_command_at
FROM @extschema@.sandboxes s
JOIN @extschema@.users u ON s.user_id = u.id
LEFT JOIN @extschema@.command_executions ce ON s.id = ce.sandbox_id
WHERE s.status IN ('running', 'starting')
GROUP BY s.id, u.username, u.email;

-- User storage usage view
CREATE VIEW @extschema@.user_storage_usage AS
SELECT 
    u.id as user_id,
    u.username,
    COUNT(s.id) as sandbox_count,
    COALESCE(SUM(fs.total_size), 0) as total_storage_bytes
FROM @extschema@.users u
LEFT JOIN @extschema@.sandboxes s ON u.id = s.user_id
LEFT JOIN (
    SELECT 
        sandbox_id,
        SUM(size_bytes) as total_size
    FROM @extschema@.fs_entries 
    WHERE deleted_at IS NULL
    GROUP BY sandbox_id
) fs ON s.id = fs.sandbox_id
GROUP BY u.id, u.username;

-- ---- src/sql/keel_terminalpp/020_comments.sql
-- Comments (the seed has none; keel's rule is that every object has one).
COMMENT ON TABLE @extschema@.users IS 'Terminal++ users (seed 001).';
COMMENT ON TABLE @extschema@.user_sessions IS 'Terminal++ login sessions; token_hash takes keel.hash_token() output (seed 001).';
COMMENT ON TABLE @extschema@.sandboxes IS 'Terminal++ sandboxes: user environments (seed 001).';
COMMENT ON TABLE @extschema@.sandbox_collaborators IS 'Terminal++ sandbox collaborators (seed 001).';
COMMENT ON TABLE @extschema@.fs_entries IS 'Terminal++ file system entries, soft-deleted by deleted_at (seed 001).';
COMMENT ON TABLE @extschema@.file_versions IS 'Terminal++ file versions; retention keeps the last 50 per file (seed 001).';
COMMENT ON TABLE @extschema@.snapshots IS 'Terminal++ point-in-time sandbox snapshots (seed 001).';
COMMENT ON TABLE @extschema@.ai_conversations IS 'Terminal++ AI conversations (seed 001).';
COMMENT ON TABLE @extschema@.ai_messages IS 'Terminal++ AI messages (seed 001).';
COMMENT ON TABLE @extschema@.ai_agents IS 'Terminal++ AI agents (seed 001).';
COMMENT ON TABLE @extschema@.ai_memory IS 'Terminal++ AI memory layers; expired rows removed by retention (seed 001).';
COMMENT ON COLUMN @extschema@.ai_memory.embedding IS 'VECTOR(1536) with pgvector; real[] of 1536 elements without it (see @extschema@.migrate_embedding_to_pgvector()).';
COMMENT ON TABLE @extschema@.command_executions IS 'Terminal++ command executions; archived after 90 days by retention (seed 001).';
COMMENT ON COLUMN @extschema@.command_executions.archived IS 'Set by the retention policy after 90 days; the seed uses it but never defines it (keel addition).';
COMMENT ON TABLE @extschema@.audit_logs IS 'Terminal++ audit log, kept in a tamper-evident keel audit chain (seed 001).';
COMMENT ON TABLE @extschema@.github_connections IS 'Terminal++ GitHub connections; the token columns are encrypted by keel (seed 001).';
COMMENT ON TABLE @extschema@.repository_links IS 'Terminal++ repository links (seed 001).';
COMMENT ON TABLE @extschema@.secrets IS 'Terminal++ user secrets; encrypted_value is encrypted by keel (seed 001).';
COMMENT ON TABLE @extschema@.plugins IS 'Terminal++ plugin marketplace (seed 001).';
COMMENT ON TABLE @extschema@.user_plugins IS 'Terminal++ plugin installations (seed 001).';
COMMENT ON VIEW @extschema@.active_sandboxes IS 'Running or starting sandboxes with owner and command statistics (seed 001).';
COMMENT ON VIEW @extschema@.user_storage_usage IS 'Per-user sandbox count and live file bytes (seed 001).';

-- ---- src/sql/keel_terminalpp/050_retention.sql
-- The seed's "Data Retention Policies", as one function.  "Now" is an argument so the
-- maintenance worker, a cron job and a test all get the same answer for the same instant.

CREATE FUNCTION @extschema@.apply_retention(as_of timestamptz DEFAULT pg_catalog.now())
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_total bigint := 0;
    v_rows  bigint;
BEGIN
    IF as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    -- Clean up old sessions
    DELETE FROM @extschema@.user_sessions WHERE expires_at < as_of - INTERVAL '7 days';
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_total := v_total + v_rows;

    -- Archive old command executions (rows already archived are left alone)
    UPDATE @extschema@.command_executions
       SET archived = true
     WHERE created_at < as_of - INTERVAL '90 days' AND NOT archived;
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_total := v_total + v_rows;

    -- Clean up expired AI memory
    DELETE FROM @extschema@.ai_memory WHERE expires_at IS NOT NULL AND expires_at < as_of;
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_total := v_total + v_rows;

    -- Remove old file versions (keep last 50 per file)
    WITH ranked_versions AS (
        SELECT id, ROW_NUMBER() OVER (PARTITION BY fs_entry_id ORDER BY created_at DESC) AS rn
          FROM @extschema@.file_versions
    )
    DELETE FROM @extschema@.file_versions WHERE id IN (
        SELECT id FROM ranked_versions WHERE rn > 50
    );
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_total := v_total + v_rows;

    RETURN v_total;
END
$$;

COMMENT ON FUNCTION @extschema@.apply_retention(timestamptz) IS
'Terminal++ data retention (seed 001): deletes user_sessions expired over 7 days, archives '
'command_executions older than 90 days, deletes expired ai_memory, keeps the last 50 '
'file_versions per file. Returns the number of rows affected. Registered as a keel maintenance task.';

REVOKE ALL ON FUNCTION @extschema@.apply_retention(timestamptz) FROM PUBLIC;

-- Moving ai_memory.embedding to pgvector once it is installed (no-op when it already is).
CREATE FUNCTION @extschema@.migrate_embedding_to_pgvector()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_vector_schema name;
    v_current regtype;
BEGIN
    SELECT n.nspname INTO v_vector_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'vector';
    IF v_vector_schema IS NULL THEN
        RAISE EXCEPTION 'pgvector is not installed in this database'
            USING ERRCODE = 'undefined_object',
                  HINT = 'Run CREATE EXTENSION vector first.';
    END IF;
    v_current := pg_typeof((NULL::@extschema@.ai_memory).embedding);
    IF v_current <> 'real[]'::regtype THEN
        RETURN format('ai_memory.embedding is already %s', v_current);
    END IF;
    DROP INDEX @extschema@.idx_ai_memory_embedding;
    ALTER TABLE @extschema@.ai_memory DROP CONSTRAINT ai_memory_embedding_dims;
    EXECUTE format('ALTER TABLE @extschema@.ai_memory ALTER COLUMN embedding TYPE %I.vector(1536) '
                   'USING embedding::%I.vector(1536)', v_vector_schema, v_vector_schema);
    EXECUTE format('CREATE INDEX idx_ai_memory_embedding ON @extschema@.ai_memory '
                   'USING ivfflat (embedding %I.vector_cosine_ops)', v_vector_schema);
    RETURN 'ai_memory.embedding is now vector(1536) with an ivfflat index';
END
$$;

COMMENT ON FUNCTION @extschema@.migrate_embedding_to_pgvector() IS
'Converts ai_memory.embedding from the real[] fallback to pgvector''s vector(1536) and '
'replaces the placeholder idx_ai_memory_embedding by the seed''s ivfflat index.';

REVOKE ALL ON FUNCTION @extschema@.migrate_embedding_to_pgvector() FROM PUBLIC;

-- ---- src/sql/keel_terminalpp/060_encryption.sql
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

-- ---- src/sql/keel_terminalpp/070_audit_chain.sql
-- audit_logs is a tamper-evident chain kept beside the table (keel.audit_link): the
-- seed's columns are unchanged; UPDATE, DELETE and TRUNCATE of audit rows are refused.
-- HMAC key: "terminalpp-audit:<schema>".
CREATE FUNCTION @extschema@.enable_audit_chain()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tbl regclass := (SELECT t.typrelid FROM pg_type t
                        WHERE t.oid = pg_typeof(NULL::@extschema@.audit_logs)::oid)::regclass;
    v_key text := keel.blueprint_key_name('terminalpp-audit',
                      (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_tbl));
BEGIN
    RETURN keel.chain_blueprint_table(v_key, v_tbl);
END
$$;

COMMENT ON FUNCTION @extschema@.enable_audit_chain() IS
'Chains audit_logs beside the table (run by the install; run it again after configuring keel''s '
'master key if the install found none). Returns chained, pending or restoring.';
REVOKE ALL ON FUNCTION @extschema@.enable_audit_chain() FROM PUBLIC;

-- ---- src/sql/keel_terminalpp/500_engine.sql
-- Wiring to the keel engine.

-- updated_at kept by keel's C++ trigger on every table that has the column (the seed
-- forgot the trigger everywhere).
-- (During CREATE EXTENSION current_schema() is the target schema; names are never
-- spliced into literals, so any schema name works.)
SELECT keel.enable_updated_at(pg_catalog.format('%I.%I', pg_catalog.current_schema(), t)::regclass)
  FROM unnest(ARRAY['users', 'sandboxes', 'fs_entries', 'ai_conversations', 'ai_agents',
                    'github_connections', 'secrets', 'plugins']) AS t;

-- The seed's data retention policies run with keel's maintenance (keel.run_maintenance()
-- and the background worker), once per schema the blueprint is installed in.
-- (During a pg_dump restore the registration comes from the dump.)
SELECT keel.register_maintenance_task(
    'terminalpp retention: ' || pg_catalog.current_schema(),
    pg_catalog.to_regprocedure(pg_catalog.format('%I.apply_retention(timestamptz)', pg_catalog.current_schema())))
 WHERE NOT keel.blueprint_restoring();

-- Secret columns: encrypted now, or guarded until the server has a master key.
SELECT enable_encryption();

-- The audit chain (or its guard, without a master key; nothing during a dump restore).
SELECT enable_audit_chain();

-- ---- src/sql/keel_terminalpp/900_dump.sql
-- pg_dump carries every row: each member table is registered with
-- pg_extension_config_dump() (keel.register_blueprint_tables, src/sql/keel/510_blueprints.sql).
SELECT keel.register_blueprint_tables('keel_terminalpp');
