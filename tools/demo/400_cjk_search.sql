\echo
\echo '==> Chapter 5: full-text search in Chinese, Japanese and Korean (a C++ parser)'
\echo
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
\echo '    Stock PostgreSQL sees a Chinese clause as one long word, so a word inside it is not found:'
SELECT to_tsvector('simple', '我们的数据库很快') AS simple_parser,
       to_tsvector('simple', '我们的数据库很快') @@ to_tsquery('simple', '数据库') AS found;
\echo '    keel.cjk_parser cuts CJK runs into overlapping bigrams and keeps Latin words whole:'
SELECT to_tsvector('keel.chinese', 'PostgreSQL数据库很快，支持全文检索！') AS keel_chinese;
\echo
\echo '    keel.create_cjk_config(schema) puts a configuration called chinese where your tables live,'
\echo '    so queries written as to_tsvector(''chinese'', ...) run unchanged (the blueprints do this):'
CREATE SCHEMA cjk_demo;
SELECT keel.create_cjk_config('cjk_demo') AS created;
SET search_path = cjk_demo, public;
CREATE TABLE messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    content text
);
CREATE INDEX messages_content_fts ON messages USING GIN (to_tsvector('chinese', content));
INSERT INTO messages (content) VALUES
    ('请帮我设计一个数据库表结构，需要支持全文检索。'),
    ('How do I tune PostgreSQL for 中文 search?'),
    ('数据仓库和数据湖有什么区别？'),
    ('東京でデータベースを勉強しています'),
    ('데이터베이스는 빠르다');
\echo '    WHERE to_tsvector(''chinese'', content) @@ to_tsquery(''chinese'', ...):'
SELECT q AS query, string_agg(m.id::text, ', ' ORDER BY m.id) AS matching_ids
  FROM unnest(ARRAY['数据库', '数据湖', 'postgresql & 中文', 'データベース', '데이터베이스', '数据']) AS q
  LEFT JOIN messages m ON to_tsvector('chinese', m.content) @@ to_tsquery('chinese', q)
 GROUP BY q ORDER BY min(m.id), q;
\echo '    ts_headline shows where, with the word highlighted whole:'
SELECT ts_headline('chinese', content, to_tsquery('chinese', '数据库')) AS headline
  FROM messages WHERE to_tsvector('chinese', content) @@ to_tsquery('chinese', '数据库');
\echo
\echo '    Bad input gets a clear error:'
\set ON_ERROR_STOP 0
\set SHOW_CONTEXT never
SELECT keel.create_cjk_config('no_such_schema');
\set ON_ERROR_STOP 1
RESET search_path;
