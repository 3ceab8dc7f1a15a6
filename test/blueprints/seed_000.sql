-- Reference DDL: the SQL blocks of ../shared/seeds/000_c0ce7e6b68ac06f5.txt, verbatim, in order; blocks that are not DDL are commented out,
-- and every edit needed to run it on stock PostgreSQL 15 is marked "keel-test:".
-- ---- block 1
-- ## 表: users (用户信�) ##
-- �储使用 CodeRunner �务的用户信�。
CREATE TABLE users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email VARCHAR(255) UNIQUE NOT NULL,
    password_hash VARCHAR(255) NOT NULL, -- �储哈希�的密�，��能��文
    plan_type VARCHAR(50) NOT NULL DEFAULT 'free', -- e.g., 'free', 'personal', 'team'
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- 索引: 加速邮箱查找
CREATE INDEX idx_users_email ON users(email);

-- ## 表: projects (用户项目) ##
-- �储用户创建的项目的元数�。一个项目�以有多次部署。
CREATE TABLE projects (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE, -- 当用户被删除时，其所有项目也被删除
    name VARCHAR(255) NOT NULL,
    description TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- 索引: 加速用户项目查找
CREATE INDEX idx_projects_user_id ON projects(user_id);

-- ## 表: deployments (部署�例) ##
-- �储项目的�一次具体部署�例。这是本系统的核心表。
CREATE TYPE deployment_status AS ENUM (
    'PENDING',      -- �在�队�待部署
    'PROVISIONING', -- �在创建沙箱和资�
    'BUILDING',     -- �在安装�赖�编译代�
    'RUNNING',      -- 部署�功，�在�行
    'STOPPED',      -- 用户手动��
    'FAILED',       -- 部署过程��生错误
    'DESTROYED'     -- 部署已被销�
);

CREATE TABLE deployments (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id UUID NOT NULL REFERENCES projects(id) ON DELETE CASCADE, -- 当项目被删除时，其所有部署也被删除

    -- 应用沙箱信�
    app_sandbox_id VARCHAR(255) UNIQUE, -- AgentSphere 返�的应用沙箱ID
    public_url VARCHAR(255) UNIQUE,     -- 应用的公开访问URL

    -- 数�库沙箱信� (�以为 NULL，因为�是所有应用都需�数�库)
    db_sandbox_id VARCHAR(255) UNIQUE,  -- AgentSphere 返�的数�库沙箱ID
    db_connection_info JSONB,           -- �储加密�的数�库��信�，如 host, port, user, password

    -- 状���置
    status deployment_status NOT NULL DEFAULT 'PENDING',
    runtime_type VARCHAR(50),           -- e.g., 'nodejs', 'python', 'manifest'
    
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- 索引: 加速项目部署查找和状�查询
CREATE INDEX idx_deployments_project_id ON deployments(project_id);
CREATE INDEX idx_deployments_status ON deployments(status);

-- 触�器: 自动更新 updated_at 时间戳 --
CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
   NEW.updated_at = NOW();
   RETURN NEW;
END;
$$ language 'plpgsql';

CREATE TRIGGER update_users_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_projects_updated_at BEFORE UPDATE ON projects FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_deployments_updated_at BEFORE UPDATE ON deployments FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

