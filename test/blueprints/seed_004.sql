-- Reference DDL: the SQL blocks of ../shared/seeds/004_647a6c7ef2e0feb5.txt, verbatim, in order; blocks that are not DDL are commented out,
-- and every edit needed to run it on stock PostgreSQL 15 is marked "keel-test:".
-- ---- block 1
CREATE TABLE users (
    -- 主键
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    
    -- 基本信�
    username VARCHAR(50) UNIQUE NOT NULL,
    email VARCHAR(255) UNIQUE NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    
    -- ���状�
    role VARCHAR(20) NOT NULL DEFAULT 'user',  -- user | admin
    status VARCHAR(20) NOT NULL DEFAULT 'active',  -- active | inactive | suspended
    
    -- 元数�
    user_metadata JSONB DEFAULT '{}',  -- 扩展�段（头���好设置�）
    
    -- 时间戳
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_login_at TIMESTAMP,
    
    -- 约�
    CONSTRAINT chk_role CHECK (role IN ('user', 'admin')),
    CONSTRAINT chk_status CHECK (status IN ('active', 'inactive', 'suspended')),
    CONSTRAINT chk_email_format CHECK (email ~* '^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,}$')
);

-- 索引设计
CREATE INDEX idx_users_username ON users(username);
CREATE INDEX idx_users_email ON users(email);
CREATE INDEX idx_users_status ON users(status) WHERE status = 'active';  -- 部分索引
CREATE INDEX idx_users_role ON users(role);
CREATE INDEX idx_users_created_at ON users(created_at DESC);  -- ��索引（最新用户）

-- GIN 索引（JSONB 查询）
CREATE INDEX idx_users_metadata_gin ON users USING GIN (user_metadata);

-- 触�器：自动更新 updated_at
CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trigger_users_updated_at
    BEFORE UPDATE ON users
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_at_column();

-- 注释
COMMENT ON TABLE users IS '用户账�表';
COMMENT ON COLUMN users.id IS '用户唯一标识（UUID）';
COMMENT ON COLUMN users.user_metadata IS 'JSONB 扩展�段：头���好设置�UI �置�';
-- ---- block 2
CREATE TABLE sessions (
    -- 主键
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    
    -- 关�关系
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    personality_id VARCHAR(50) NOT NULL,  -- 人格 ID（关��置文件）
    
    -- 基本信�
    title VARCHAR(200),  -- 会�标题
    message_count INTEGER NOT NULL DEFAULT 0,  -- 消�数�（冗余�段，便�查询）
    
    -- 统计信�
    total_tokens INTEGER DEFAULT 0,  -- 总消耗 tokens
    total_cost_usd DECIMAL(10, 6) DEFAULT 0,  -- 总费用（�元）
    
    -- 会�元数�
    session_metadata JSONB DEFAULT '{}',  -- 扩展�段（标��摘��）
    
    -- 时间戳
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_message_at TIMESTAMP,  -- 最�一�消�时间
    deleted_at TIMESTAMP,  -- 软删除
    
    -- 约�
    CONSTRAINT chk_message_count CHECK (message_count >= 0),
    CONSTRAINT chk_total_tokens CHECK (total_tokens >= 0),
    CONSTRAINT chk_total_cost CHECK (total_cost_usd >= 0)
);

-- 索引设计
CREATE INDEX idx_sessions_user_id ON sessions(user_id) WHERE deleted_at IS NULL;  -- 部分索引
CREATE INDEX idx_sessions_personality_id ON sessions(personality_id);
CREATE INDEX idx_sessions_created_at ON sessions(created_at DESC);
CREATE INDEX idx_sessions_last_message_at ON sessions(last_message_at DESC NULLS LAST);
CREATE INDEX idx_sessions_deleted_at ON sessions(deleted_at) WHERE deleted_at IS NOT NULL;  -- 软删除索引

-- ��索引（常�查询）
CREATE INDEX idx_sessions_user_personality ON sessions(user_id, personality_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_sessions_user_last_message ON sessions(user_id, last_message_at DESC) WHERE deleted_at IS NULL;

-- GIN 索引
CREATE INDEX idx_sessions_metadata_gin ON sessions USING GIN (session_metadata);

-- 触�器
CREATE TRIGGER trigger_sessions_updated_at
    BEFORE UPDATE ON sessions
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_at_column();

-- 注释
COMMENT ON TABLE sessions IS '会�容器表（绑定用户�人格）';
COMMENT ON COLUMN sessions.message_count IS '消�数�（冗余�段，�� COUNT 查询）';
COMMENT ON COLUMN sessions.deleted_at IS '软删除时间戳（NULL = 未删除）';
COMMENT ON COLUMN sessions.session_metadata IS 'JSONB 扩展：标��摘��置顶�';
-- ---- block 3 (not DDL: kept for the record)
-- -- 查询 1: 用户的活跃会�列表（按最�消�时间��）
-- -- 使用索引: idx_sessions_user_last_message
-- SELECT * FROM sessions
-- WHERE user_id = $1 AND deleted_at IS NULL
-- ORDER BY last_message_at DESC NULLS LAST
-- LIMIT 20;
--
-- -- 查询 2: 统计用户会�数
-- -- 使用索引: idx_sessions_user_id
-- SELECT COUNT(*) FROM sessions
-- WHERE user_id = $1 AND deleted_at IS NULL;

-- ---- block 4
-- keel-test: the seed assumes a text search configuration named chinese.
CREATE TEXT SEARCH CONFIGURATION chinese (COPY = simple);
CREATE TABLE messages (
    -- 主键
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    
    -- 关�关系
    session_id UUID NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    
    -- 消�内容
    role VARCHAR(20) NOT NULL,  -- system | user | assistant | tool
    content TEXT,  -- 消�内容（�为空，如 tool_calls）
    
    -- 消�元数�
    message_metadata JSONB DEFAULT '{}',  -- token_count, model, tool_calls, voice, etc.
    
    -- 时间戳
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    deleted_at TIMESTAMP,  -- 软删除（新�）
    
    -- 约�
    CONSTRAINT chk_role CHECK (role IN ('system', 'user', 'assistant', 'tool'))
);

-- 索引设计
CREATE INDEX idx_messages_session_id ON messages(session_id, created_at) WHERE deleted_at IS NULL;  -- ��索引 + 部分索引
CREATE INDEX idx_messages_user_id ON messages(user_id);
CREATE INDEX idx_messages_created_at ON messages(created_at DESC);
CREATE INDEX idx_messages_role ON messages(role);

-- GIN 索引（元数�查询）
CREATE INDEX idx_messages_metadata_gin ON messages USING GIN (message_metadata);

-- 全文�索索引（content）
CREATE INDEX idx_messages_content_fts ON messages USING GIN (to_tsvector('chinese', COALESCE(content, '')));

-- 注释
COMMENT ON TABLE messages IS '对�消�表（��消�关�会�和用户）';
COMMENT ON COLUMN messages.content IS '消�内容（TEXT，支�长文本）';
COMMENT ON COLUMN messages.message_metadata IS 'JSONB 元数�：token_count, model, tool_calls, latency_ms, voice �';
COMMENT ON COLUMN messages.deleted_at IS '软删除时间戳（新�）';
-- ---- block 5 (not DDL: kept for the record)
-- -- 当 messages 表超过 1000 万行时，按月分区
-- CREATE TABLE messages (
--     ...
-- ) PARTITION BY RANGE (created_at);
--
-- -- 创建分区
-- CREATE TABLE messages_2026_02 PARTITION OF messages
--     FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
--
-- CREATE TABLE messages_2026_03 PARTITION OF messages
--     FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
--
-- -- 自动创建分区（PostgreSQL 14+）
-- CREATE EXTENSION IF NOT EXISTS pg_partman;

-- ---- block 6 (not DDL: kept for the record)
-- -- 查询 1: 会�的消���（最常�）
-- -- 使用索引: idx_messages_session_id
-- SELECT * FROM messages
-- WHERE session_id = $1 AND deleted_at IS NULL
-- ORDER BY created_at ASC
-- LIMIT 100;
--
-- -- 查询 2: 全文�索（用户�索��消�）
-- -- 使用索引: idx_messages_content_fts
-- SELECT * FROM messages
-- WHERE to_tsvector('chinese', content) @@ to_tsquery('chinese', $1)
--   AND user_id = $2
--   AND deleted_at IS NULL
-- ORDER BY created_at DESC
-- LIMIT 20;

-- ---- block 7
CREATE TABLE audit_events (
    -- 主键
    id UUID DEFAULT gen_random_uuid(),  -- �设为 PRIMARY KEY，分区表�支�
    
    -- 关�关系
    request_id VARCHAR(100),  -- 请求 ID（关�多个事件）
    user_id UUID REFERENCES users(id) ON DELETE SET NULL,  -- �许 NULL（匿�请求）
    session_id UUID REFERENCES sessions(id) ON DELETE SET NULL,
    personality_id VARCHAR(50),
    
    -- 事件信�
    event_type VARCHAR(50) NOT NULL,  -- TOOL_CALL | ENGINE_DEGRADED | AUTH_FAIL | ...
    event_level VARCHAR(20) NOT NULL DEFAULT 'info',  -- info | warning | error | critical
    
    -- 事件负载
    payload JSONB NOT NULL DEFAULT '{}',  -- 事件详细信�
    
    -- 完整性校验（新�）
    previous_hash VARCHAR(64),  -- 上一�审计事件的 hash
    signature VARCHAR(64),  -- HMAC ��
    
    -- 时间戳
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    
    -- 约�
    CONSTRAINT chk_event_level CHECK (event_level IN ('info', 'warning', 'error', 'critical'))
) PARTITION BY RANGE (created_at);  -- 按月分区

-- 创建分区（过� 3 个月 + 未� 3 个月）
CREATE TABLE audit_events_2026_01 PARTITION OF audit_events
    FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');

CREATE TABLE audit_events_2026_02 PARTITION OF audit_events
    FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');

CREATE TABLE audit_events_2026_03 PARTITION OF audit_events
    FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');

CREATE TABLE audit_events_2026_04 PARTITION OF audit_events
    FOR VALUES FROM ('2026-04-01') TO ('2026-05-01');

CREATE TABLE audit_events_2026_05 PARTITION OF audit_events
    FOR VALUES FROM ('2026-05-01') TO ('2026-06-01');

-- 索引设计（在分区表上创建）
CREATE INDEX idx_audit_events_user_id ON audit_events(user_id, created_at DESC);
CREATE INDEX idx_audit_events_session_id ON audit_events(session_id, created_at DESC);
CREATE INDEX idx_audit_events_request_id ON audit_events(request_id);
CREATE INDEX idx_audit_events_event_type ON audit_events(event_type, created_at DESC);
CREATE INDEX idx_audit_events_event_level ON audit_events(event_level) WHERE event_level IN ('error', 'critical');  -- 部分索引
CREATE INDEX idx_audit_events_created_at ON audit_events(created_at DESC);

-- GIN 索引
CREATE INDEX idx_audit_events_payload_gin ON audit_events USING GIN (payload);

-- 注释
COMMENT ON TABLE audit_events IS '审计事件表（按月分区，�留 6 个月）';
COMMENT ON COLUMN audit_events.previous_hash IS '审计链：上一�事件的 SHA256 hash';
COMMENT ON COLUMN audit_events.signature IS 'HMAC ��（防篡改）';
-- ---- block 8 (not DDL: kept for the record)
-- -- 自动创建未�分区（�月执行）
-- DO $$
-- DECLARE
--     partition_date DATE;
--     partition_name TEXT;
--     start_date TEXT;
--     end_date TEXT;
-- BEGIN
--     FOR i IN 1..3 LOOP
--         partition_date := DATE_TRUNC('month', CURRENT_DATE + INTERVAL '1 month' * i);
--         partition_name := 'audit_events_' || TO_CHAR(partition_date, 'YYYY_MM');
--         start_date := TO_CHAR(partition_date, 'YYYY-MM-DD');
--         end_date := TO_CHAR(partition_date + INTERVAL '1 month', 'YYYY-MM-DD');
--         
--         EXECUTE format(
--             'CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
--             partition_name, start_date, end_date
--         );
--     END LOOP;
-- END $$;
--
-- -- 自动删除旧分区（�留 6 个月）
-- DO $$
-- DECLARE
--     partition_name TEXT;
-- BEGIN
--     FOR partition_name IN
--         SELECT tablename FROM pg_tables
--         WHERE schemaname = 'public'
--           AND tablename LIKE 'audit_events_%'
--           AND tablename < 'audit_events_' || TO_CHAR(CURRENT_DATE - INTERVAL '6 months', 'YYYY_MM')
--     LOOP
--         EXECUTE 'DROP TABLE IF EXISTS ' || partition_name;
--     END LOOP;
-- END $$;

-- ---- block 9 (not DDL: kept for the record)
-- -- 查询 1: 查询用户近 7 天的审计事件
-- -- 使用索引: idx_audit_events_user_id
-- -- 分区剪�: �扫�当月分区
-- SELECT * FROM audit_events
-- WHERE user_id = $1
--   AND created_at >= CURRENT_DATE - INTERVAL '7 days'
-- ORDER BY created_at DESC
-- LIMIT 100;
--
-- -- 查询 2: 查询错误/关键事件
-- -- 使用索引: idx_audit_events_event_level
-- SELECT * FROM audit_events
-- WHERE event_level IN ('error', 'critical')
--   AND created_at >= CURRENT_DATE - INTERVAL '1 day'
-- ORDER BY created_at DESC;

-- ---- block 10
CREATE TABLE personalities (
    -- 主键
    id VARCHAR(50) PRIMARY KEY,  -- 人格 ID（如 "assistant-v1"）
    
    -- 基本信�
    name VARCHAR(100) NOT NULL,
    description TEXT,
    
    -- �置
    config JSONB NOT NULL DEFAULT '{}',  -- 完整的人格�置（system_prompt, model, tools, voice, memory_strategy）
    
    -- 状�
    is_active BOOLEAN NOT NULL DEFAULT true,
    version VARCHAR(20) NOT NULL DEFAULT '1.0',
    
    -- 时间戳
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    
    -- 创建者
    created_by UUID REFERENCES users(id) ON DELETE SET NULL
);

-- 索引
CREATE INDEX idx_personalities_is_active ON personalities(is_active) WHERE is_active = true;
CREATE INDEX idx_personalities_created_at ON personalities(created_at DESC);

-- GIN 索引
CREATE INDEX idx_personalities_config_gin ON personalities USING GIN (config);

-- 触�器
CREATE TRIGGER trigger_personalities_updated_at
    BEFORE UPDATE ON personalities
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_at_column();

-- 注释
COMMENT ON TABLE personalities IS '人格�置表（JSONB �储完整�置）';
COMMENT ON COLUMN personalities.config IS 'JSONB �置：system_prompt, model, allowed_tools, voice_strategy, memory_strategy';
-- ---- block 11
CREATE TABLE api_keys (
    -- 主键
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    
    -- 关�用户
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    
    -- 密钥信�
    key_hash VARCHAR(64) NOT NULL UNIQUE,  -- SHA256(api_key)
    key_prefix VARCHAR(10) NOT NULL,  -- �缀（如 "sk-proj"）显示用
    name VARCHAR(100),  -- 密钥�称
    
    -- ��
    scopes JSONB DEFAULT '[]',  -- ��范围（如 ["chat:read", "chat:write"]）
    
    -- ��
    rate_limit_per_minute INTEGER DEFAULT 60,
    
    -- 状�
    is_active BOOLEAN NOT NULL DEFAULT true,
    expires_at TIMESTAMP,  -- 过期时间
    
    -- 统计
    last_used_at TIMESTAMP,
    usage_count INTEGER DEFAULT 0,
    
    -- 时间戳
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    revoked_at TIMESTAMP,  -- 撤销时间
    
    -- 约�
    CONSTRAINT chk_rate_limit CHECK (rate_limit_per_minute > 0)
);

-- 索引
CREATE INDEX idx_api_keys_user_id ON api_keys(user_id);
CREATE INDEX idx_api_keys_key_hash ON api_keys(key_hash) WHERE is_active = true;
CREATE INDEX idx_api_keys_is_active ON api_keys(is_active);
CREATE INDEX idx_api_keys_expires_at ON api_keys(expires_at) WHERE expires_at IS NOT NULL;

-- 注释
COMMENT ON TABLE api_keys IS 'API 密钥管�表（支�多密钥����制）';
COMMENT ON COLUMN api_keys.key_hash IS 'SHA256 hash（��储�文）';
COMMENT ON COLUMN api_keys.scopes IS 'JSONB ��范围数组';
-- ---- block 12 (not DDL: kept for the record)
-- -- 安装 pg_stat_statements 扩展
-- CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
--
-- -- 查询最慢的 10 个查询
-- SELECT
--     query,
--     calls,
--     total_exec_time,
--     mean_exec_time,
--     max_exec_time
-- FROM pg_stat_statements
-- ORDER BY mean_exec_time DESC
-- LIMIT 10;
--
-- -- 查询缺失索引（需� pg_stat_statements）
-- SELECT
--     schemaname,
--     tablename,
--     attname,
--     n_distinct,
--     correlation
-- FROM pg_stats
-- WHERE schemaname = 'public'
--   AND tablename IN ('users', 'sessions', 'messages', 'audit_events')
-- ORDER BY correlation DESC;

-- ---- block 13
-- 自动 VACUUM �置
ALTER TABLE messages SET (
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02
);

-- keel-test: VACUUM is not DDL:
-- 手动 VACUUM（维护窗�）
-- VACUUM ANALYZE messages;
-- VACUUM ANALYZE audit_events;
-- ---- block 14 (not DDL: kept for the record)
-- -- backend/migrations/001_init_schema.sql
--
-- BEGIN;
--
-- -- 创建扩展
-- CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
-- CREATE EXTENSION IF NOT EXISTS "pg_trgm";  -- 模糊�索
-- CREATE EXTENSION IF NOT EXISTS "pg_stat_statements";
--
-- -- 创建表（按�赖顺�）
-- \i 001_create_users.sql
-- \i 002_create_sessions.sql
-- \i 003_create_messages.sql
-- \i 004_create_audit_events.sql
-- \i 005_create_personalities.sql
-- \i 006_create_api_keys.sql
--
-- -- 创建索引
-- \i 010_create_indexes.sql
--
-- -- �入�始数�
-- \i 020_seed_data.sql
--
-- COMMIT;

-- ---- block 15 (not DDL: kept for the record)
-- -- backend/migrations/020_seed_data.sql
--
-- BEGIN;
--
-- -- �入默认管�员
-- INSERT INTO users (id, username, email, password_hash, role, status)
-- VALUES (
--     'a0b1c2d3-e4f5-6789-abcd-ef1234567890'::UUID,
--     'admin',
--     'admin@cozyengine.local',
--     '$2b$12$...',  -- bcrypt hash of "changeme"
--     'admin',
--     'active'
-- );
--
-- -- �入默认人格�置
-- INSERT INTO personalities (id, name, description, config, created_by)
-- VALUES (
--     'assistant-v1',
--     'Default Assistant',
--     'Default conversational assistant',
--     '{
--         "system_prompt": "You are a helpful assistant.",
--         "model": "gpt-4",
--         "allowed_tools": ["search", "calculator"],
--         "voice_strategy": {"enabled": true, "voice": "alloy"},
--         "memory_strategy": {"enabled": true, "max_memories": 100}
--     }'::JSONB,
--     'a0b1c2d3-e4f5-6789-abcd-ef1234567890'::UUID
-- );
--
-- COMMIT;

-- ---- block 16 (not DDL: kept for the record)
-- -- 表大�监�
-- SELECT
--     schemaname,
--     tablename,
--     pg_size_pretty(pg_total_relation_size(schemaname||'.'||tablename)) AS size,
--     pg_total_relation_size(schemaname||'.'||tablename) AS size_bytes
-- FROM pg_tables
-- WHERE schemaname = 'public'
-- ORDER BY size_bytes DESC;
--
-- -- 索引使用�
-- SELECT
--     schemaname,
--     tablename,
--     indexname,
--     idx_scan,
--     idx_tup_read,
--     idx_tup_fetch
-- FROM pg_stat_user_indexes
-- WHERE schemaname = 'public'
-- ORDER BY idx_scan ASC;
--
-- -- 未使用的索引（idx_scan = 0）
-- SELECT
--     schemaname,
--     tablename,
--     indexname
-- FROM pg_stat_user_indexes
-- WHERE schemaname = 'public'
--   AND idx_scan = 0
--   AND indexrelname NOT LIKE '%_pkey';

