-- keel_agentlink: the DDL of seed 002 (AgentLink), table by table, column by column,
-- under the seed's names, in the schema chosen at CREATE EXTENSION (@extschema@).
-- The seed's CREATE EXTENSION pgcrypto is not needed: gen_random_uuid() is core since 13.

CREATE TABLE @extschema@.users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email VARCHAR(255) UNIQUE NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    user_type VARCHAR(20) NOT NULL CHECK (user_type IN ('creator', 'developer', 'admin')),
    wallet_address VARCHAR(42),
    email_verified BOOLEAN DEFAULT FALSE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

CREATE INDEX idx_users_email ON @extschema@.users(email);
CREATE INDEX idx_users_wallet ON @extschema@.users(wallet_address) WHERE wallet_address IS NOT NULL;
CREATE TABLE @extschema@.agents (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    creator_id UUID NOT NULL REFERENCES @extschema@.users(id),
    name VARCHAR(255) NOT NULL,
    description TEXT,
    status VARCHAR(20) DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'inactive')),
    price_per_call DECIMAL(10, 6) NOT NULL,
    config_encrypted BYTEA,
    config_iv BYTEA,
    version INTEGER DEFAULT 1,
    published_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

CREATE INDEX idx_agents_creator ON @extschema@.agents(creator_id);
CREATE INDEX idx_agents_status ON @extschema@.agents(status);
CREATE TABLE @extschema@.api_keys (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES @extschema@.users(id),
    key_hash VARCHAR(64) NOT NULL UNIQUE,
    key_prefix VARCHAR(11) NOT NULL,
    name VARCHAR(255),
    permissions JSONB DEFAULT '{}',
    last_used_at TIMESTAMP WITH TIME ZONE,
    revoked_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

CREATE INDEX idx_api_keys_user ON @extschema@.api_keys(user_id);
CREATE INDEX idx_api_keys_hash ON @extschema@.api_keys(key_hash);
CREATE TABLE @extschema@.quotas (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES @extschema@.users(id) UNIQUE,
    total_quota INTEGER DEFAULT 100,
    used_quota INTEGER DEFAULT 0,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

CREATE INDEX idx_quotas_user ON @extschema@.quotas(user_id);
CREATE TABLE @extschema@.call_logs (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id UUID NOT NULL REFERENCES @extschema@.agents(id),
    user_id UUID NOT NULL REFERENCES @extschema@.users(id),
    api_key_id UUID REFERENCES @extschema@.api_keys(id),
    request_tokens INTEGER,
    response_tokens INTEGER,
    total_tokens INTEGER,
    cost DECIMAL(10, 6),
    latency_ms INTEGER,
    status VARCHAR(20) NOT NULL,
    error_message TEXT,
    correlation_id VARCHAR(36),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

CREATE INDEX idx_call_logs_agent ON @extschema@.call_logs(agent_id);
CREATE INDEX idx_call_logs_user ON @extschema@.call_logs(user_id);
CREATE INDEX idx_call_logs_created ON @extschema@.call_logs(created_at);
