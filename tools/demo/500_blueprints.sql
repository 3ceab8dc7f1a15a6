\echo
\echo '==> Chapter 6: the five seeds as blueprint extensions'
\echo
CREATE SCHEMA cozy;
CREATE EXTENSION keel_cozyengine SCHEMA cozy CASCADE;
\echo '    CREATE EXTENSION keel_cozyengine SCHEMA cozy;   -- CozyEngine''s whole database (seed 004)'
CREATE SCHEMA tp;  CREATE EXTENSION keel_terminalpp SCHEMA tp;
CREATE SCHEMA al;  CREATE EXTENSION keel_agentlink SCHEMA al;
\echo '    ... and Terminal++ and AgentLink beside it, in schemas tp and al:'
SELECT e.extname AS blueprint, n.nspname AS schema,
       (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p') AND NOT c.relispartition) AS tables
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname LIKE 'keel\_%' ORDER BY 1;

SET search_path = cozy, public;
\echo
\echo '    The seed''s admin has no known password: it is made from one the operator chooses.'
SELECT create_admin('correct horse battery staple') IS NOT NULL AS admin_created;
SELECT username, role, left(password_hash, 10) || '...' AS password_hash FROM users;
INSERT INTO sessions (id, user_id, personality_id, title)
SELECT '00000000-0000-0000-0000-0000000000aa', id, 'assistant-v1', 'Demo' FROM users;
INSERT INTO messages (session_id, user_id, role, content, message_metadata, created_at)
SELECT '00000000-0000-0000-0000-0000000000aa', id, r, c, jsonb_build_object('token_count', t), now()::timestamp + o * interval '1 second'
  FROM users, (VALUES ('user', '我们今天讨论数据库索引', 12, 1), ('assistant', 'PostgreSQL 的 GIN 索引适合全文搜索', 30, 2),
                      ('user', 'thanks!', 3, 3)) m(r, c, t, o);
\echo '    Three messages later, the seed''s redundant session fields (kept by a C++ trigger):'
SELECT title, message_count, total_tokens, last_message_at IS NOT NULL AS has_last FROM sessions;
UPDATE messages SET deleted_at = now() WHERE content = 'thanks!';
\echo '    ... and after a soft delete:'
SELECT title, message_count, total_tokens FROM sessions;
\echo
\echo '    The seed''s Chinese full-text search, unchanged (to_tsvector(''chinese'', ...)):'
SELECT content FROM messages
WHERE to_tsvector('chinese', content) @@ to_tsquery('chinese', '索引')
  AND deleted_at IS NULL ORDER BY created_at;
\echo
\echo '    audit_events: monthly partitions around today, chained through previous_hash/signature:'
INSERT INTO audit_events (event_type, event_level, payload) VALUES ('AUTH_FAIL', 'warning', '{"ip": "203.0.113.7"}');
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'audit_events'::regclass;
SELECT event_type, length(previous_hash) AS hash_len, length(signature) AS sig_len FROM audit_events;
SELECT ok, rows_checked FROM keel.verify_audit_chain('cozy.audit_events');

\echo
\echo '    AgentLink''s quota cannot be overdrawn:'
INSERT INTO al.users (id, email, password_hash, user_type) VALUES ('00000000-0000-0000-0000-000000000001', 'dev@example.com', 'h', 'developer');
INSERT INTO al.quotas (user_id, total_quota, used_quota) VALUES ('00000000-0000-0000-0000-000000000001', 100, 95);
SELECT al.consume_quota('00000000-0000-0000-0000-000000000001', 3) AS took_3,
       al.consume_quota('00000000-0000-0000-0000-000000000001', 3) AS took_3_more;
\echo '    Terminal++''s secrets are stored encrypted:'
INSERT INTO tp.users (id, email, username) VALUES ('00000000-0000-0000-0000-000000000002', 'ops@example.com', 'ops');
INSERT INTO tp.secrets (user_id, name, encrypted_value) VALUES ('00000000-0000-0000-0000-000000000002', 'OPENAI_API_KEY', 'sk-demo-123');
SELECT name, left(encrypted_value, 24) || '...' AS stored FROM tp.secrets;

\echo
\echo '    Dropping a blueprint that holds rows is refused unless forced:'
\set ON_ERROR_STOP 0
\set SHOW_CONTEXT never
DROP EXTENSION keel_agentlink;
\set ON_ERROR_STOP 1
SELECT keel.drop_blueprint('keel_agentlink', force => true);
\echo '    SELECT keel.drop_blueprint(''keel_agentlink'', force => true);   -- done'
RESET search_path;
