-- keel_agentstudio--0.1.0.sql: generated from src/sql/keel_agentstudio/ by make; do not edit.
\echo Use "CREATE EXTENSION keel_agentstudio" to load this file. \quit

-- ---- src/sql/keel_agentstudio/010_schema.sql
-- keel_agentstudio: the DDL of seed 003 (an agent studio), table by table, column by
-- column, under the seed's names, in the schema chosen at CREATE EXTENSION (@extschema@).

-- 用户表
CREATE TABLE @extschema@.users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    username VARCHAR(50) UNIQUE NOT NULL,
    email VARCHAR(255) UNIQUE NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

-- 会话表
CREATE TABLE @extschema@.sessions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    title VARCHAR(255) NOT NULL,
    config JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

-- 运行表
CREATE TABLE @extschema@.runs (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id UUID NOT NULL REFERENCES @extschema@.sessions(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    task TEXT NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'running',
    config JSONB,
    result JSONB,
    usage_statistics JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    completed_at TIMESTAMP WITH TIME ZONE
);

-- 消息表
CREATE TABLE @extschema@.messages (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id UUID NOT NULL REFERENCES @extschema@.runs(id) ON DELETE CASCADE,
    sender VARCHAR(100) NOT NULL,
    content TEXT NOT NULL,
    message_type VARCHAR(20) NOT NULL DEFAULT 'text',
    metadata JSONB,
    timestamp TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

-- 文件表
CREATE TABLE @extschema@.files (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id UUID NOT NULL REFERENCES @extschema@.runs(id) ON DELETE CASCADE,
    name VARCHAR(255) NOT NULL,
    path VARCHAR(500) NOT NULL,
    size BIGINT NOT NULL,
    content_type VARCHAR(100),
    file_hash VARCHAR(64),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

-- 设置表
CREATE TABLE @extschema@.settings (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    key VARCHAR(100) NOT NULL,
    value JSONB NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    UNIQUE(user_id, key)
);

-- 画廊表
CREATE TABLE @extschema@.gallery (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    run_id UUID REFERENCES @extschema@.runs(id) ON DELETE CASCADE,
    title VARCHAR(255) NOT NULL,
    description TEXT,
    file_paths TEXT[],
    tags TEXT[],
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

-- 索引
CREATE INDEX idx_sessions_user_id ON @extschema@.sessions(user_id);
CREATE INDEX idx_runs_session_id ON @extschema@.runs(session_id);
CREATE INDEX idx_runs_user_id ON @extschema@.runs(user_id);
CREATE INDEX idx_runs_status ON @extschema@.runs(status);
CREATE INDEX idx_runs_created_at ON @extschema@.runs(created_at);
CREATE INDEX idx_messages_run_id ON @extschema@.messages(run_id);
CREATE INDEX idx_messages_timestamp ON @extschema@.messages(timestamp);
CREATE INDEX idx_files_run_id ON @extschema@.files(run_id);
CREATE INDEX idx_settings_user_key ON @extschema@.settings(user_id, key);
CREATE INDEX idx_gallery_user_id ON @extschema@.gallery(user_id);

-- ---- src/sql/keel_agentstudio/020_comments.sql
-- Comments (the seed has none; keel's rule is that every object has one).
COMMENT ON TABLE @extschema@.users IS 'Studio users (seed 003); password_hash takes keel.hash_password() output.';
COMMENT ON TABLE @extschema@.sessions IS 'Studio sessions (seed 003).';
COMMENT ON TABLE @extschema@.runs IS 'Agent runs within a session (seed 003).';
COMMENT ON TABLE @extschema@.messages IS 'Messages exchanged during a run (seed 003).';
COMMENT ON TABLE @extschema@.files IS 'Files produced by a run (seed 003).';
COMMENT ON TABLE @extschema@.settings IS 'Per-user key/value settings (seed 003).';
COMMENT ON TABLE @extschema@.gallery IS 'Published run results (seed 003).';

-- ---- src/sql/keel_agentstudio/500_engine.sql
-- Wiring to the keel engine.

-- updated_at kept by keel's C++ trigger on every table that has the column (the seed
-- defines no trigger at all).  current_schema() is the target schema during CREATE
-- EXTENSION; names are never spliced into literals, so any schema name works.
SELECT keel.enable_updated_at(pg_catalog.format('%I.%I', pg_catalog.current_schema(), t)::regclass)
  FROM unnest(ARRAY['users', 'sessions', 'runs', 'settings']) AS t;

-- ---- src/sql/keel_agentstudio/900_dump.sql
-- pg_dump carries every row: each member table is registered with
-- pg_extension_config_dump() (keel.register_blueprint_tables, src/sql/keel/510_blueprints.sql).
SELECT keel.register_blueprint_tables('keel_agentstudio');
