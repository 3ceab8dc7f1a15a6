-- keel_cozyengine: the DDL of seed 004 (CozyEngine), table by table, column by column,
-- under the seed's names, in the schema chosen at CREATE EXTENSION (@extschema@).
-- Sections follow the seed: 1.1 users, 1.2 sessions, 1.3 messages, 1.4 audit_events,
-- 2.1 personalities, 2.2 api_keys, 3.3 autovacuum settings.  The seed's CREATE EXTENSION
-- lines (uuid-ossp, pg_trgm, pg_stat_statements, pg_partman) are not run: see
-- docs/blueprints/cozyengine.md.

-- ---- 1.1 users
CREATE TABLE @extschema@.users (
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
CREATE INDEX idx_users_username ON @extschema@.users(username);
CREATE INDEX idx_users_email ON @extschema@.users(email);
CREATE INDEX idx_users_status ON @extschema@.users(status) WHERE status = 'active';  -- 部分索引
CREATE INDEX idx_users_role ON @extschema@.users(role);
CREATE INDEX idx_users_created_at ON @extschema@.users(created_at DESC);  -- ��索引（最新用户）

-- GIN 索引（JSONB 查询）
CREATE INDEX idx_users_metadata_gin ON @extschema@.users USING GIN (user_metadata);

-- 触�器：自动更新 updated_at
-- keel: the seed's PL/pgSQL function, under the seed's name, is keel's C++ touch_updated_at
-- (no arguments: column updated_at set to the transaction timestamp, CURRENT_TIMESTAMP).
CREATE FUNCTION @extschema@.update_updated_at_column()
RETURNS TRIGGER
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_touch_updated_at';

CREATE TRIGGER trigger_users_updated_at
    BEFORE UPDATE ON @extschema@.users
    FOR EACH ROW
    EXECUTE FUNCTION @extschema@.update_updated_at_column();

-- 注释
COMMENT ON TABLE @extschema@.users IS '用户账�表';
COMMENT ON COLUMN @extschema@.users.id IS '用户唯一标识（UUID）';
COMMENT ON COLUMN @extschema@.users.user_metadata IS 'JSONB 扩展�段：头���好设置�UI �置�';

-- ---- 1.2 sessions
CREATE TABLE @extschema@.sessions (
    -- 主键
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    
    -- 关�关系
    user_id UUID NOT NULL REFERENCES @extschema@.users(id) ON DELETE CASCADE,
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
CREATE INDEX idx_sessions_user_id ON @extschema@.sessions(user_id) WHERE deleted_at IS NULL;  -- 部分索引
CREATE INDEX idx_sessions_personality_id ON @extschema@.sessions(personality_id);
CREATE INDEX idx_sessions_created_at ON @extschema@.sessions(created_at DESC);
CREATE INDEX idx_sessions_last_message_at ON @extschema@.sessions(last_message_at DESC NULLS LAST);
CREATE INDEX idx_sessions_deleted_at ON @extschema@.sessions(deleted_at) WHERE deleted_at IS NOT NULL;  -- 软删除索引

-- ��索引（常�查询）
CREATE INDEX idx_sessions_user_personality ON @extschema@.sessions(user_id, personality_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_sessions_user_last_message ON @extschema@.sessions(user_id, last_message_at DESC) WHERE deleted_at IS NULL;

-- GIN 索引
CREATE INDEX idx_sessions_metadata_gin ON @extschema@.sessions USING GIN (session_metadata);

-- 触�器
CREATE TRIGGER trigger_sessions_updated_at
    BEFORE UPDATE ON @extschema@.sessions
    FOR EACH ROW
    EXECUTE FUNCTION @extschema@.update_updated_at_column();

-- 注释
COMMENT ON TABLE @extschema@.sessions IS '会�容器表（绑定用户�人格）';
COMMENT ON COLUMN @extschema@.sessions.message_count IS '消�数�（冗余�段，�� COUNT 查询）';
COMMENT ON COLUMN @extschema@.sessions.deleted_at IS '软删除时间戳（NULL = 未删除）';
COMMENT ON COLUMN @extschema@.sessions.session_metadata IS 'JSONB 扩展：标��摘��置顶�';

-- ---- 1.3 messages (the 'chinese' text search configuration is made by 005_textsearch.sql)
CREATE TABLE @extschema@.messages (
    -- 主键
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    
    -- 关�关系
    session_id UUID NOT NULL REFERENCES @extschema@.sessions(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    
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
CREATE INDEX idx_messages_session_id ON @extschema@.messages(session_id, created_at) WHERE deleted_at IS NULL;  -- ��索引 + 部分索引
CREATE INDEX idx_messages_user_id ON @extschema@.messages(user_id);
CREATE INDEX idx_messages_created_at ON @extschema@.messages(created_at DESC);
CREATE INDEX idx_messages_role ON @extschema@.messages(role);

-- GIN 索引（元数�查询）
CREATE INDEX idx_messages_metadata_gin ON @extschema@.messages USING GIN (message_metadata);

-- 全文�索索引（content）
CREATE INDEX idx_messages_content_fts ON @extschema@.messages USING GIN (to_tsvector('chinese', COALESCE(content, '')));

-- 注释
COMMENT ON TABLE @extschema@.messages IS '对�消�表（��消�关�会�和用户）';
COMMENT ON COLUMN @extschema@.messages.content IS '消�内容（TEXT，支�长文本）';
COMMENT ON COLUMN @extschema@.messages.message_metadata IS 'JSONB 元数�：token_count, model, tool_calls, latency_ms, voice �';
COMMENT ON COLUMN @extschema@.messages.deleted_at IS '软删除时间戳（新�）';

-- ---- 1.4 audit_events (keel.partition_by_time adds the partitions around today: 500_engine.sql)
CREATE TABLE @extschema@.audit_events (
    -- 主键
    id UUID DEFAULT gen_random_uuid(),  -- �设为 PRIMARY KEY，分区表�支�
    
    -- 关�关系
    request_id VARCHAR(100),  -- 请求 ID（关�多个事件）
    user_id UUID REFERENCES @extschema@.users(id) ON DELETE SET NULL,  -- �许 NULL（匿�请求）
    session_id UUID REFERENCES @extschema@.sessions(id) ON DELETE SET NULL,
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
    -- keel: the seed's CHECK (event_level IN ('info', 'warning', 'error', 'critical')),
    -- written as PostgreSQL prints it back.  The seed's spelling of an IN list over a
    -- varchar column does not survive pg_dump for partitions (the restored ATTACH
    -- PARTITION finds a "different definition"); this spelling is the tree a restore
    -- makes of it: the same check, printed with the casts inside the array.
    CONSTRAINT chk_event_level CHECK (((event_level)::text = ANY ((ARRAY['info'::character varying, 'warning'::character varying, 'error'::character varying, 'critical'::character varying])::text[])))
) PARTITION BY RANGE (created_at);  -- 按月分区

-- 创建分区（过� 3 个月 + 未� 3 个月）
CREATE TABLE @extschema@.audit_events_2026_01 PARTITION OF @extschema@.audit_events
    FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');

CREATE TABLE @extschema@.audit_events_2026_02 PARTITION OF @extschema@.audit_events
    FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');

CREATE TABLE @extschema@.audit_events_2026_03 PARTITION OF @extschema@.audit_events
    FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');

CREATE TABLE @extschema@.audit_events_2026_04 PARTITION OF @extschema@.audit_events
    FOR VALUES FROM ('2026-04-01') TO ('2026-05-01');

CREATE TABLE @extschema@.audit_events_2026_05 PARTITION OF @extschema@.audit_events
    FOR VALUES FROM ('2026-05-01') TO ('2026-06-01');

-- 索引设计（在分区表上创建）
CREATE INDEX idx_audit_events_user_id ON @extschema@.audit_events(user_id, created_at DESC);
CREATE INDEX idx_audit_events_session_id ON @extschema@.audit_events(session_id, created_at DESC);
CREATE INDEX idx_audit_events_request_id ON @extschema@.audit_events(request_id);
CREATE INDEX idx_audit_events_event_type ON @extschema@.audit_events(event_type, created_at DESC);
CREATE INDEX idx_audit_events_event_level ON @extschema@.audit_events(event_level) WHERE event_level IN ('error', 'critical');  -- 部分索引
CREATE INDEX idx_audit_events_created_at ON @extschema@.audit_events(created_at DESC);

-- GIN 索引
CREATE INDEX idx_audit_events_payload_gin ON @extschema@.audit_events USING GIN (payload);

-- 注释
COMMENT ON TABLE @extschema@.audit_events IS '审计事件表（按月分区，�留 6 个月）';
COMMENT ON COLUMN @extschema@.audit_events.previous_hash IS '审计链：上一�事件的 SHA256 hash';
COMMENT ON COLUMN @extschema@.audit_events.signature IS 'HMAC ��（防篡改）';

-- ---- 2.1 personalities
CREATE TABLE @extschema@.personalities (
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
    created_by UUID REFERENCES @extschema@.users(id) ON DELETE SET NULL
);

-- 索引
CREATE INDEX idx_personalities_is_active ON @extschema@.personalities(is_active) WHERE is_active = true;
CREATE INDEX idx_personalities_created_at ON @extschema@.personalities(created_at DESC);

-- GIN 索引
CREATE INDEX idx_personalities_config_gin ON @extschema@.personalities USING GIN (config);

-- 触�器
CREATE TRIGGER trigger_personalities_updated_at
    BEFORE UPDATE ON @extschema@.personalities
    FOR EACH ROW
    EXECUTE FUNCTION @extschema@.update_updated_at_column();

-- 注释
COMMENT ON TABLE @extschema@.personalities IS '人格�置表（JSONB �储完整�置）';
COMMENT ON COLUMN @extschema@.personalities.config IS 'JSONB �置：system_prompt, model, allowed_tools, voice_strategy, memory_strategy';

-- ---- 2.2 api_keys
CREATE TABLE @extschema@.api_keys (
    -- 主键
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    
    -- 关�用户
    user_id UUID NOT NULL REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    
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
CREATE INDEX idx_api_keys_user_id ON @extschema@.api_keys(user_id);
CREATE INDEX idx_api_keys_key_hash ON @extschema@.api_keys(key_hash) WHERE is_active = true;
CREATE INDEX idx_api_keys_is_active ON @extschema@.api_keys(is_active);
CREATE INDEX idx_api_keys_expires_at ON @extschema@.api_keys(expires_at) WHERE expires_at IS NOT NULL;

-- 注释
COMMENT ON TABLE @extschema@.api_keys IS 'API 密钥管�表（支�多密钥����制）';
COMMENT ON COLUMN @extschema@.api_keys.key_hash IS 'SHA256 hash（��储�文）';
COMMENT ON COLUMN @extschema@.api_keys.scopes IS 'JSONB ��范围数组';

-- ---- 3.3 autovacuum settings
-- 自动 VACUUM �置
ALTER TABLE @extschema@.messages SET (
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02
);

