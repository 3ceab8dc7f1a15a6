-- keel_coderunner--0.1.0.sql: generated from src/sql/keel_coderunner/ by make; do not edit.
\echo Use "CREATE EXTENSION keel_coderunner" to load this file. \quit

-- ---- src/sql/keel_coderunner/010_schema.sql
-- keel_coderunner: the DDL of seed 000 (CodeRunner), table by table, column by column,
-- under the seed's names, in the schema chosen at CREATE EXTENSION (@extschema@).
-- gen_random_uuid() is core PostgreSQL since 13, so no pgcrypto is needed.

-- ## 表: users ##
CREATE TABLE @extschema@.users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email VARCHAR(255) UNIQUE NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    plan_type VARCHAR(50) NOT NULL DEFAULT 'free',
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_users_email ON @extschema@.users(email);

-- ## 表: projects ##
CREATE TABLE @extschema@.projects (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES @extschema@.users(id) ON DELETE CASCADE,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_projects_user_id ON @extschema@.projects(user_id);

-- ## 表: deployments ##
CREATE TYPE @extschema@.deployment_status AS ENUM (
    'PENDING',
    'PROVISIONING',
    'BUILDING',
    'RUNNING',
    'STOPPED',
    'FAILED',
    'DESTROYED'
);

CREATE TABLE @extschema@.deployments (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id UUID NOT NULL REFERENCES @extschema@.projects(id) ON DELETE CASCADE,
    app_sandbox_id VARCHAR(255) UNIQUE,
    public_url VARCHAR(255) UNIQUE,
    db_sandbox_id VARCHAR(255) UNIQUE,
    db_connection_info JSONB,
    status @extschema@.deployment_status NOT NULL DEFAULT 'PENDING',
    runtime_type VARCHAR(50),
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_deployments_project_id ON @extschema@.deployments(project_id);
CREATE INDEX idx_deployments_status ON @extschema@.deployments(status);

-- The seed's trigger function, under the seed's name, is keel's C++ touch_updated_at
-- (no arguments: column updated_at, always touched -- the seed's NEW.updated_at = NOW()).
CREATE FUNCTION @extschema@.update_updated_at_column()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_touch_updated_at';

CREATE TRIGGER update_users_updated_at BEFORE UPDATE ON @extschema@.users FOR EACH ROW EXECUTE FUNCTION @extschema@.update_updated_at_column();
CREATE TRIGGER update_projects_updated_at BEFORE UPDATE ON @extschema@.projects FOR EACH ROW EXECUTE FUNCTION @extschema@.update_updated_at_column();
CREATE TRIGGER update_deployments_updated_at BEFORE UPDATE ON @extschema@.deployments FOR EACH ROW EXECUTE FUNCTION @extschema@.update_updated_at_column();

COMMENT ON FUNCTION @extschema@.update_updated_at_column() IS
'The seed''s updated_at trigger function, implemented by keel''s C++ keel.touch_updated_at(): sets updated_at to NOW() on every UPDATE.';
COMMENT ON TYPE @extschema@.deployment_status IS 'CodeRunner deployment life cycle (seed 000).';
COMMENT ON TABLE @extschema@.users IS 'CodeRunner users (seed 000). password_hash takes keel.hash_password() output.';
COMMENT ON TABLE @extschema@.projects IS 'CodeRunner projects; a project has many deployments (seed 000).';
COMMENT ON TABLE @extschema@.deployments IS 'CodeRunner deployments, the core table (seed 000). db_connection_info is encrypted by keel.';

-- ---- src/sql/keel_coderunner/050_encryption.sql
-- deployments.db_connection_info "must be stored encrypted" (seed 000): keel encrypts it
-- transparently (keel.encrypt_column, AES-256-GCM, bound to the row id) under the key
-- "coderunner:<schema>".  Installed before the server has a master key, the column
-- refuses writes with the key store's error until enable_encryption() is run.
CREATE FUNCTION @extschema@.enable_encryption()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tbl regclass := (SELECT t.typrelid FROM pg_type t
                        WHERE t.oid = pg_typeof(NULL::@extschema@.deployments)::oid)::regclass;
    v_key text := keel.blueprint_key_name('coderunner', (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                           WHERE c.oid = v_tbl));
BEGIN
    RETURN keel.protect_columns(v_key, v_tbl, '{db_connection_info}');
END
$$;

COMMENT ON FUNCTION @extschema@.enable_encryption() IS
'Encrypts deployments.db_connection_info with keel (run by the install; run it again after '
'configuring keel''s master key if the install found none). Returns encrypted or pending.';
REVOKE ALL ON FUNCTION @extschema@.enable_encryption() FROM PUBLIC;

-- ---- src/sql/keel_coderunner/500_engine.sql
-- Wiring to the keel engine.  updated_at: the seed's own three triggers (010_schema.sql)
-- already run keel's C++ touch_updated_at under the seed's function name.

-- Secret columns: encrypted now, or guarded until the server has a master key.
SELECT enable_encryption();

-- ---- src/sql/keel_coderunner/900_dump.sql
-- pg_dump carries every row: each member table is registered with
-- pg_extension_config_dump() (keel.register_blueprint_tables, src/sql/keel/510_blueprints.sql).
SELECT keel.register_blueprint_tables('keel_coderunner');
