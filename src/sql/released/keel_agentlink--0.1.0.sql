-- keel_agentlink--0.1.0.sql: generated from src/sql/keel_agentlink/ by make; do not edit.
\echo Use "CREATE EXTENSION keel_agentlink" to load this file. \quit

-- ---- src/sql/keel_agentlink/010_schema.sql
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

-- ---- src/sql/keel_agentlink/020_comments.sql
-- Comments (the seed has none; keel's rule is that every object has one).
COMMENT ON TABLE @extschema@.users IS 'AgentLink users (seed 002); password_hash takes keel.hash_password() output.';
COMMENT ON TABLE @extschema@.agents IS 'AgentLink agents; config_encrypted/config_iv are kept encrypted by keel (seed 002).';
COMMENT ON TABLE @extschema@.api_keys IS 'AgentLink API keys: key_hash/key_prefix take keel.issue_api_key() output (seed 002).';
COMMENT ON TABLE @extschema@.quotas IS 'AgentLink call quotas; consume with consume_quota(), which never lets used_quota pass total_quota (seed 002).';
COMMENT ON TABLE @extschema@.call_logs IS 'AgentLink call log, kept in a tamper-evident keel audit chain (seed 002).';

-- ---- src/sql/keel_agentlink/050_quota.sql
-- Atomic quota consumption.  One UPDATE whose WHERE clause is the quota test: under READ
-- COMMITTED a concurrent consumer waits for the row lock and then re-checks the condition
-- against the row as committed (EvalPlanQual), so no interleaving can push used_quota past
-- total_quota; under REPEATABLE READ / SERIALIZABLE the loser gets a serialization
-- failure (40001) instead.  test/isolation/specs/agentlink_quota.spec races it.

CREATE FUNCTION @extschema@.consume_quota(user_id uuid, amount integer DEFAULT 1)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_user uuid := consume_quota.user_id;
BEGIN
    IF v_user IS NULL OR amount IS NULL THEN
        RAISE EXCEPTION 'user_id and amount must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF amount <= 0 THEN
        RAISE EXCEPTION 'quota amount must be positive, not %', amount
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    UPDATE @extschema@.quotas q
       SET used_quota = coalesce(q.used_quota, 0) + amount
     WHERE q.user_id = v_user
       AND coalesce(q.used_quota, 0)::bigint + amount <= coalesce(q.total_quota, 0);
    IF FOUND THEN
        RETURN true;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM @extschema@.quotas q WHERE q.user_id = v_user) THEN
        RAISE EXCEPTION 'no quota row for user %', v_user
            USING ERRCODE = 'no_data_found',
                  HINT = 'Insert a row into quotas for this user first.';
    END IF;
    RETURN false;
END
$$;

COMMENT ON FUNCTION @extschema@.consume_quota(uuid, integer) IS
'Consumes amount units of the user''s quota atomically: true when consumed, false (and no '
'change) when used_quota + amount would pass total_quota. A NULL total_quota allows nothing.';

CREATE FUNCTION @extschema@.release_quota(user_id uuid, amount integer DEFAULT 1)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_user uuid := release_quota.user_id;
BEGIN
    IF v_user IS NULL OR amount IS NULL THEN
        RAISE EXCEPTION 'user_id and amount must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF amount <= 0 THEN
        RAISE EXCEPTION 'quota amount must be positive, not %', amount
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE @extschema@.quotas q
       SET used_quota = greatest(coalesce(q.used_quota, 0) - amount, 0)
     WHERE q.user_id = v_user;
    RETURN FOUND;
END
$$;

COMMENT ON FUNCTION @extschema@.release_quota(uuid, integer) IS
'Gives back amount units (for a failed call), never below zero; false when the user has no quota row.';

-- ---- src/sql/keel_agentlink/060_encryption.sql
-- agents.config_encrypted / config_iv: encrypted by keel (keel.encrypt_column, AES-256-GCM
-- with its own nonce inside the ciphertext, bound to the row id) under the key
-- "agentlink:<schema>".  The application writes plaintext and reads through keel's
-- decryption; config_iv is kept (and encrypted) for applications that still write one.
-- Installed before the server has a master key, the columns refuse writes with the key
-- store's error until enable_encryption() is run.
CREATE FUNCTION @extschema@.enable_encryption()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tbl regclass := (SELECT t.typrelid FROM pg_type t
                        WHERE t.oid = pg_typeof(NULL::@extschema@.agents)::oid)::regclass;
    v_key text := keel.blueprint_key_name('agentlink', (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                          WHERE c.oid = v_tbl));
BEGIN
    RETURN keel.protect_columns(v_key, v_tbl, '{config_encrypted,config_iv}');
END
$$;

COMMENT ON FUNCTION @extschema@.enable_encryption() IS
'Encrypts agents.config_encrypted and config_iv with keel (run by the install; run it again after '
'configuring keel''s master key if the install found none). Returns encrypted or pending.';
REVOKE ALL ON FUNCTION @extschema@.enable_encryption() FROM PUBLIC;

-- ---- src/sql/keel_agentlink/070_audit_chain.sql
-- call_logs is a tamper-evident chain kept beside the table (keel.audit_link): the
-- seed's columns are unchanged; UPDATE, DELETE and TRUNCATE of call logs are refused.
-- HMAC key: "agentlink-audit:<schema>".
CREATE FUNCTION @extschema@.enable_audit_chain()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tbl regclass := (SELECT t.typrelid FROM pg_type t
                        WHERE t.oid = pg_typeof(NULL::@extschema@.call_logs)::oid)::regclass;
    v_key text := keel.blueprint_key_name('agentlink-audit',
                      (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_tbl));
BEGIN
    RETURN keel.chain_blueprint_table(v_key, v_tbl);
END
$$;

COMMENT ON FUNCTION @extschema@.enable_audit_chain() IS
'Chains call_logs beside the table (run by the install; run it again after configuring keel''s '
'master key if the install found none). Returns chained, pending or restoring.';
REVOKE ALL ON FUNCTION @extschema@.enable_audit_chain() FROM PUBLIC;

-- ---- src/sql/keel_agentlink/500_engine.sql
-- Wiring to the keel engine.

-- updated_at kept by keel's C++ trigger on every table that has the column (the seed
-- defines no trigger at all).  current_schema() is the target schema during CREATE
-- EXTENSION; names are never spliced into literals, so any schema name works.
SELECT keel.enable_updated_at(pg_catalog.format('%I.%I', pg_catalog.current_schema(), t)::regclass)
  FROM unnest(ARRAY['users', 'agents', 'quotas']) AS t;

-- Secret columns: encrypted now, or guarded until the server has a master key.
SELECT enable_encryption();

-- The audit chain (or its guard, without a master key; nothing during a dump restore).
SELECT enable_audit_chain();

-- ---- src/sql/keel_agentlink/900_dump.sql
-- pg_dump carries every row: each member table is registered with
-- pg_extension_config_dump() (keel.register_blueprint_tables, src/sql/keel/510_blueprints.sql).
SELECT keel.register_blueprint_tables('keel_agentlink');
