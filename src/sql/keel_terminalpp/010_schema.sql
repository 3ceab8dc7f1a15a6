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
