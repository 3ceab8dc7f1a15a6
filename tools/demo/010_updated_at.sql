\echo
\echo '==> Chapter 1: updated_at, kept true by a C++ trigger'
\echo
CREATE EXTENSION keel;
\echo '    CREATE EXTENSION keel;   -- the engine, in schema keel'
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    plan_type text NOT NULL DEFAULT 'free',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO users (email, created_at, updated_at)
VALUES ('ada@example.com', '2024-01-01', '2024-01-01'),
       ('grace@example.com', '2024-01-01', '2024-01-01');
\echo '    a users table with two rows, last touched on 2024-01-01:'
SELECT email, plan_type, updated_at FROM users ORDER BY id;
\echo '    SELECT keel.enable_updated_at(''users'');'
SELECT keel.enable_updated_at('users') AS trigger_attached;
\echo '    UPDATE users SET plan_type = ''team'' WHERE email = ''ada@example.com'';'
UPDATE users SET plan_type = 'team' WHERE email = 'ada@example.com';
SELECT email, plan_type, updated_at,
       CASE WHEN updated_at > '2024-01-01' THEN 'touched just now' ELSE 'untouched' END AS what_happened
FROM users ORDER BY id;
\echo
\echo '    Bad input gets a clear error, never a crash:'
\set ON_ERROR_STOP 0
\set SHOW_CONTEXT never
SELECT keel.enable_updated_at('users', 'email');
\set ON_ERROR_STOP 1
