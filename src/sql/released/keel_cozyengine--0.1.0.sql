-- keel_cozyengine--0.1.0.sql: generated from src/sql/keel_cozyengine/ by make; do not edit.
\echo Use "CREATE EXTENSION keel_cozyengine" to load this file. \quit

-- ---- src/sql/keel_cozyengine/005_textsearch.sql
-- The seed indexes and searches messages with to_tsvector('chinese', ...): a text search
-- configuration named chinese in this schema, built on keel's C++ CJK parser (overlapping
-- bigrams over Han/Kana/Hangul runs, words for Latin runs), so the seed's index and query
-- run unchanged and find Chinese words inside sentences.
SELECT keel.create_cjk_config(pg_catalog.current_schema(), 'chinese');

-- ---- src/sql/keel_cozyengine/010_schema.sql
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


-- ---- src/sql/keel_cozyengine/020_extras.sql
-- Objects keel adds to the seed (extras, each explained in docs/blueprints/cozyengine.md).

-- The seed's search query says to_tsvector('chinese', content), but its index is on
-- to_tsvector('chinese', COALESCE(content, '')): a different expression, which the planner
-- cannot use for that query.  This index is the query's own expression, so the seed's
-- query runs unchanged and index-backed; idx_messages_content_fts stays as the seed wrote it.
CREATE INDEX idx_messages_content_fts_query ON @extschema@.messages
    USING GIN (to_tsvector('chinese', content));
COMMENT ON INDEX @extschema@.idx_messages_content_fts_query IS
'keel addition: the expression of the seed''s own search query (to_tsvector(''chinese'', content)).';

-- ---- src/sql/keel_cozyengine/050_session_stats.sql
-- sessions.message_count, total_tokens and last_message_at: "redundant fields, to avoid
-- COUNT queries" in the seed's words, kept true here by keel's C++ trigger on messages
-- (src/pg/session_stats.cpp).  A live message is one with deleted_at IS NULL; its tokens
-- are message_metadata->>'token_count' (absent or null: 0).

CREATE FUNCTION @extschema@.maintain_session_stats()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_session_stats';

COMMENT ON FUNCTION @extschema@.maintain_session_stats() IS
'AFTER ROW trigger on messages (C++): keeps sessions.message_count, total_tokens and '
'last_message_at equal to the count, token sum and latest created_at of the session''s live messages.';

CREATE TRIGGER trigger_messages_session_stats
    AFTER INSERT OR DELETE OR UPDATE OF session_id, deleted_at, created_at, message_metadata
    ON @extschema@.messages
    FOR EACH ROW
    EXECUTE FUNCTION @extschema@.maintain_session_stats('sessions');

-- TRUNCATE fires no row trigger: the statistics follow in one statement.
CREATE FUNCTION @extschema@.messages_truncated()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE @extschema@.sessions
       SET message_count = 0, total_tokens = 0, last_message_at = NULL
     WHERE message_count <> 0 OR total_tokens <> 0 OR last_message_at IS NOT NULL;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION @extschema@.messages_truncated() IS
'AFTER TRUNCATE trigger on messages: zeroes every session''s message statistics.';

CREATE TRIGGER trigger_messages_truncated
    AFTER TRUNCATE ON @extschema@.messages
    FOR EACH STATEMENT
    EXECUTE FUNCTION @extschema@.messages_truncated();

-- Recount from the messages themselves: repair after triggers were bypassed (for example
-- session_replication_role = replica) and the oracle the tests compare against.
CREATE FUNCTION @extschema@.refresh_session_stats(session_id uuid DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_rows bigint;
BEGIN
    UPDATE @extschema@.sessions s
       SET message_count = c.n, total_tokens = c.tokens, last_message_at = c.last
      FROM (SELECT s2.id,
                   count(m.id)::integer AS n,
                   coalesce(sum((m.message_metadata ->> 'token_count')::integer), 0)::integer AS tokens,
                   max(m.created_at) AS last
              FROM @extschema@.sessions s2
              LEFT JOIN @extschema@.messages m ON m.session_id = s2.id AND m.deleted_at IS NULL
             WHERE refresh_session_stats.session_id IS NULL OR s2.id = refresh_session_stats.session_id
             GROUP BY s2.id) c
     WHERE s.id = c.id
       AND (s.message_count, s.total_tokens, s.last_message_at)
           IS DISTINCT FROM (c.n, c.tokens, c.last);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;

COMMENT ON FUNCTION @extschema@.refresh_session_stats(uuid) IS
'Recomputes message_count, total_tokens and last_message_at from the live messages (one '
'session, or all when NULL); returns how many sessions were wrong.';

REVOKE ALL ON FUNCTION @extschema@.refresh_session_stats(uuid) FROM PUBLIC;

-- ---- src/sql/keel_cozyengine/060_seed_data.sql
-- The seed's 020_seed_data.sql, made safe.
--
-- The default personality is installed as written (created_by is NULL until an admin
-- exists).  The default admin is NOT: the seed gives it the password "changeme", and a
-- known password on an admin account is a hole.  create_admin() makes that row (same
-- id, username and e-mail as the seed unless told otherwise) from a password the
-- operator chooses, hashed by keel.hash_password() (argon2id), and makes it the
-- creator of the default personality.

INSERT INTO @extschema@.personalities (id, name, description, config, created_by)
VALUES (
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
);

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

-- ---- src/sql/keel_cozyengine/070_audit_chain.sql
-- audit_events is a tamper-evident chain "through its own previous_hash / signature"
-- (seed 004): keel.enable_audit_chain writes hex(previous link hash) and hex(HMAC) into
-- the seed's two VARCHAR(64) columns, and refuses UPDATE, DELETE and TRUNCATE of events
-- (old partitions are retired by partition maintenance through
-- keel.audit_chain_retire_partition).  HMAC key: "cozyengine-audit:<schema>".
CREATE FUNCTION @extschema@.enable_audit_chain()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tbl regclass := (SELECT t.typrelid FROM pg_type t
                        WHERE t.oid = pg_typeof(NULL::@extschema@.audit_events)::oid)::regclass;
    v_key text := keel.blueprint_key_name('cozyengine-audit',
                      (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_tbl));
BEGIN
    RETURN keel.chain_blueprint_table(v_key, v_tbl, 'previous_hash', 'signature');
END
$$;

COMMENT ON FUNCTION @extschema@.enable_audit_chain() IS
'Chains audit_events through previous_hash/signature (run by the install; run it again after '
'configuring keel''s master key if the install found none). Returns chained, pending or restoring.';
REVOKE ALL ON FUNCTION @extschema@.enable_audit_chain() FROM PUBLIC;

-- ---- src/sql/keel_cozyengine/500_engine.sql
-- Wiring to the keel engine.  updated_at: the seed's own three triggers (010_schema.sql)
-- run keel's C++ touch_updated_at under the seed's function name; the seed's tables
-- without updated_at (messages, audit_events, api_keys) need none.

-- audit_events: monthly partitions, 3 back and 3 ahead of today, retention 6 months, and
-- a default partition so no event is ever refused for want of a partition.  This
-- replaces the seed's pg_partman line and its two maintenance DO blocks; the first run
-- retires the seed's hard-coded partitions that are already past the retention.
-- (During a pg_dump restore the registration and the partitions come from the dump.)
SELECT keel.partition_by_time(
    pg_catalog.format('%I.audit_events', pg_catalog.current_schema())::regclass,
    part_interval => 'month', premake => 3, start_back => 3, retention => interval '6 months')
 WHERE NOT keel.blueprint_restoring();

-- The audit chain (or its guard, without a master key; nothing during a dump restore).
SELECT enable_audit_chain();

-- ---- src/sql/keel_cozyengine/900_dump.sql
-- pg_dump carries every row: each member table is registered with
-- pg_extension_config_dump(); audit_events' partitions are released from the extension
-- so pg_dump writes them (and partitions made later) as ordinary tables.  The default
-- personality is the install script's own row (CREATE EXTENSION makes it again on
-- restore), so the dump leaves it out; see docs/blueprints/cozyengine.md.
SELECT keel.register_blueprint_tables('keel_cozyengine',
    '{"personalities": "WHERE id <> ''assistant-v1''"}');
