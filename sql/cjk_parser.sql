-- keel.cjk_parser, keel.create_cjk_config and keel.chinese: CJK full-text search
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA cjk_parser_test;
SET search_path = cjk_parser_test, public;
\set SHOW_CONTEXT never

-- The parser reads UTF-8; the suite's database must be UTF8 for this file to mean anything.
SELECT getdatabaseencoding();

-- ---------------------------------------------------------------- the parser
SELECT * FROM ts_token_type('keel.cjk_parser');
SELECT prsname, prsstart::regproc, prstoken::regproc, prsend::regproc, prsheadline::regproc,
       prslextype::regproc
  FROM pg_ts_parser WHERE prsname = 'cjk_parser';

-- Mixed Chinese and English: bigrams for Han runs, words and numbers for the rest,
-- punctuation (ASCII and full-width) and emoji as blanks.
SELECT alias, token, dictionary, lexemes
  FROM ts_debug('keel.chinese', 'PostgreSQL数据库很快，支持全文检索！ v15发布于2022年。😀 OK');
SELECT * FROM ts_parse('keel.cjk_parser', '中文 a 好');

-- ---------------------------------------------------------------- a configuration in a schema
-- What blueprints do: a 'chinese' configuration in their own schema, found through
-- search_path, so the seed's to_tsvector('chinese', ...) runs unchanged.
SELECT keel.create_cjk_config('cjk_parser_test');
SELECT keel.create_cjk_config('cjk_parser_test', 'chinese');   -- idempotent
SELECT cfgname,
       (SELECT prsname FROM pg_ts_parser p WHERE p.oid = c.cfgparser) AS parser
  FROM pg_ts_config c WHERE cfgnamespace = 'cjk_parser_test'::regnamespace;
SELECT m.maptokentype, t.alias, m.mapdict::regdictionary
  FROM pg_ts_config_map m
  JOIN ts_token_type('keel.cjk_parser') t ON t.tokid = m.maptokentype
 WHERE m.mapcfg = 'chinese'::regconfig ORDER BY 1;
SELECT obj_description('chinese'::regconfig, 'pg_ts_config');

-- A Chinese word inside a longer sentence.
SELECT to_tsvector('chinese', '我们的数据库很快');
SELECT to_tsquery('chinese', '数据库'), plainto_tsquery('chinese', '数据库'),
       phraseto_tsquery('chinese', '数据库'), websearch_to_tsquery('chinese', '数据库 -缓存');
SELECT s AS sentence,
       to_tsvector('chinese', s) @@ to_tsquery('chinese', '数据库') AS to_tsquery,
       to_tsvector('chinese', s) @@ plainto_tsquery('chinese', '数据库') AS plainto,
       to_tsvector('chinese', s) @@ websearch_to_tsquery('chinese', '"数据库" -缓存') AS websearch
  FROM (VALUES ('今天我们讨论一下如何使用数据库来存储聊天记录。'),
               ('数据库'),
               ('数据很多，库存不足'),          -- both bigrams' characters, not the word
               ('我们的数据仓库'),              -- 数据 but not 据库
               ('数据库缓存太小')) AS v(s);
-- Two-character words and words at the start or end of a run.
SELECT to_tsvector('chinese', '关系型数据库管理系统') @@ to_tsquery('chinese', w) AS found, w
  FROM unnest(ARRAY['关系', '数据库', '管理系统', '系统', '关系型数据库管理系统', '理系', '库管理']) AS w;
-- A single character matches a single-character run; inside a run, use a prefix query.
SELECT to_tsvector('chinese', '2022年发布') @@ to_tsquery('chinese', '年') AS alone,
       to_tsvector('chinese', '年度报告') @@ to_tsquery('chinese', '年') AS in_run,
       to_tsvector('chinese', '年度报告') @@ to_tsquery('chinese', '年:*') AS prefix;

-- Mixed English and Chinese: words are lower-cased by the simple dictionary.
SELECT to_tsvector('chinese', '用PostgreSQL 15存储iPhone的聊天记录');
SELECT q, to_tsvector('chinese', '用PostgreSQL 15存储iPhone的聊天记录') @@ to_tsquery('chinese', q) AS found
  FROM unnest(ARRAY['postgresql', 'PostgreSQL & 聊天记录', '存储 <-> iphone', '15', 'postgres',
                    'postgres:*', 'android | 存储', '!聊天']) AS q;

-- Japanese (Kanji and Kana in one run) and Korean.
SELECT to_tsvector('chinese', '東京でデータベースを勉強します');
SELECT to_tsvector('chinese', '東京でデータベースを勉強します') @@ to_tsquery('chinese', 'データベース') AS ja,
       to_tsvector('chinese', '데이터베이스는 빠르다') @@ to_tsquery('chinese', '데이터베이스') AS ko,
       to_tsvector('chinese', '데이터베이스는 빠르다') @@ plainto_tsquery('chinese', '빠르다 데이터') AS ko2;
-- Full-width forms and emoji.
SELECT alias, token, lexemes FROM ts_debug('chinese', 'Ｐｏｓｔｇｒｅｓ１５（注）👍🏽好');

-- ---------------------------------------------------------------- the seed's index and query
-- CozyEngine (seed 004): the GIN index and the search query, verbatim.
CREATE TABLE messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id int NOT NULL,
    content text,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX idx_messages_content_fts ON messages USING GIN (to_tsvector('chinese', COALESCE(content, '')));
INSERT INTO messages (user_id, content, deleted_at, created_at)
SELECT 1 + i % 3,
       CASE i % 5 WHEN 0 THEN '请帮我设计一个数据库表结构，需要支持全文检索。'
                  WHEN 1 THEN 'How do I tune PostgreSQL for 中文 search?'
                  WHEN 2 THEN '今天天气很好，我们去公园散步吧。'
                  WHEN 3 THEN NULL
                  ELSE '数据仓库和数据湖有什么区别？' END,
       CASE WHEN i % 4 = 0 THEN '2024-02-01'::timestamptz END,
       '2024-01-01'::timestamptz + i * interval '1 minute'
  FROM generate_series(1, 60) AS i;
ANALYZE messages;
PREPARE seed_search(text, int) AS
SELECT * FROM messages
WHERE to_tsvector('chinese', content) @@ to_tsquery('chinese', $1)
  AND user_id = $2
  AND deleted_at IS NULL
ORDER BY created_at DESC
LIMIT 20;
EXECUTE seed_search('数据库', 1);
-- The seed's query cannot use idx_messages_content_fts, whose expression has COALESCE
-- (the seed's own mismatch): the plan is a scan.  The same search written with the
-- index's expression uses it; so does the seed's query once an index on its own
-- expression exists.
SET enable_seqscan = off;
EXPLAIN (costs off) EXECUTE seed_search('数据库', 1);
EXPLAIN (costs off)
SELECT id FROM messages WHERE to_tsvector('chinese', COALESCE(content, '')) @@ to_tsquery('chinese', '数据库');
SELECT count(*) FROM messages WHERE to_tsvector('chinese', COALESCE(content, '')) @@ to_tsquery('chinese', '数据库');
CREATE INDEX messages_content_fts_plain ON messages USING GIN (to_tsvector('chinese', content));
EXPLAIN (costs off) EXECUTE seed_search('数据库', 1);
EXECUTE seed_search('数据库', 1);
EXECUTE seed_search('postgresql & 中文', 2);
EXECUTE seed_search('数据湖', 1);
RESET enable_seqscan;

-- ---------------------------------------------------------------- ts_headline
SELECT ts_headline('chinese', '今天我们讨论一下如何使用PostgreSQL数据库来存储聊天记录，数据库的性能非常重要。',
                   to_tsquery('chinese', '数据库'));
SELECT ts_headline('chinese', '今天我们讨论一下如何使用PostgreSQL数据库来存储聊天记录，数据库的性能非常重要。',
                   to_tsquery('chinese', '数据库'), 'MaxWords=12, MinWords=4, StartSel=[, StopSel=]');
SELECT ts_headline('chinese', repeat('无关的内容。', 20) || '我们在这里讨论数据库。' || repeat('其他的话题。', 20) || 'PostgreSQL很好用。',
                   to_tsquery('chinese', '数据库 | postgresql'), 'MaxFragments=2, MaxWords=8, MinWords=3');
SELECT ts_headline('chinese', '没有匹配的句子，只显示开头的几个字。后面还有很多很多的内容。',
                   to_tsquery('chinese', '数据库'), 'MaxWords=8, MinWords=4');
SELECT ts_headline('chinese', '東京でデータベースを勉強します', to_tsquery('chinese', 'データベース'), 'HighlightAll=true');
SELECT ts_headline('chinese', 'keel 把 PostgreSQL 变成 CJK search engine', plainto_tsquery('chinese', 'postgresql 变成'));
-- Only whole words are highlighted: the 数据 of 数据湖 is half of the phrase 数据库,
-- and a negated operand is no match; a plain operand 数据 is highlighted anywhere.
SELECT ts_headline('chinese', '数据库和数据湖，没有缓存', websearch_to_tsquery('chinese', '"数据库" -缓存')) AS phrase_only,
       ts_headline('chinese', '数据库和数据湖', to_tsquery('chinese', '数据库 & 数据')) AS plain_too,
       ts_headline('chinese', '数据库数据库', to_tsquery('chinese', '数据库')) AS repeated;
SELECT ts_headline('chinese', '{"title": "我们的数据库很快", "tags": ["数据湖", "数据库管理"], "n": 1}'::jsonb,
                   to_tsquery('chinese', '数据库'));
SELECT ts_headline('chinese', '数据库', to_tsquery('chinese', '数据库'), 'MinWords=5, MaxWords=5');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT ts_headline('chinese', '数据库', to_tsquery('chinese', '数据库'), 'Colour=red');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT ts_headline('chinese', '数据库', to_tsquery('chinese', '数据库'), 'MaxWords=many');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- ---------------------------------------------------------------- bad and odd input
SELECT to_tsvector('chinese', NULL) IS NULL AS null_in_null_out,
       to_tsvector('chinese', '') AS empty, to_tsvector('chinese', ' 　，。！😀 ') AS only_blanks,
       to_tsquery('chinese', '') AS empty_query;
SELECT to_tsvector('chinese', '') @@ to_tsquery('chinese', '数据库') AS empty_matches;
SELECT ts_headline('chinese', '', to_tsquery('chinese', '数据库')) AS empty_headline;
SELECT ts_headline('chinese', NULL, to_tsquery('chinese', '数据库')) IS NULL AS null_headline;
-- A query with only blanks has no lexemes (PostgreSQL says so and ignores it).
SELECT plainto_tsquery('chinese', '，。！');
-- Very long text: 200,000 characters of Chinese, and a 5,000-letter word that is
-- skipped (long_word is not mapped) without a notice.
SELECT length(v::text) > 0 AS built, pg_column_size(v) < 1000000 AS fits,
       v @@ to_tsquery('chinese', '数据库') AS found
  FROM (SELECT to_tsvector('chinese', repeat('我们的数据库很快', 25000)) AS v) AS x;
SELECT to_tsvector('chinese', 'a ' || repeat('x', 5000) || ' b');
SELECT alias, length(token) FROM ts_debug('chinese', repeat('x', 4500));
SELECT count(*) FROM ts_parse('keel.cjk_parser', repeat(' ', 10000));
SELECT array_length(tsvector_to_array(to_tsvector('chinese', string_agg(chr(19968 + i), ''))), 1) AS distinct_bigrams
  FROM generate_series(0, 20000) AS i;

-- keel.create_cjk_config: bad arguments
SELECT keel.create_cjk_config('no_such_schema');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.create_cjk_config(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.create_cjk_config('cjk_parser_test', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.create_cjk_config('cjk_parser_test', 'x', 'no_such_dictionary');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a configuration of that name on another parser is not taken over
CREATE TEXT SEARCH CONFIGURATION cjk_parser_test.plain (COPY = pg_catalog.simple);
SELECT keel.create_cjk_config('cjk_parser_test', 'plain');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT (SELECT prsname FROM pg_ts_parser p WHERE p.oid = c.cfgparser) AS still_default
  FROM pg_ts_config c WHERE c.oid = 'cjk_parser_test.plain'::regconfig;

-- Weird schema and configuration names are quoted everywhere.
CREATE SCHEMA "we""ird; schema";
CREATE SCHEMA "with space";
CREATE SCHEMA "中文模式";
SELECT keel.create_cjk_config('we"ird; schema');
SELECT keel.create_cjk_config('with space', 'my config; DROP SCHEMA cjk_parser_test');
SELECT keel.create_cjk_config('中文模式', '中文');
SELECT keel.create_cjk_config('中文模式', '中文');   -- again: idempotent
SELECT to_tsvector('"we""ird; schema".chinese', '数据库') AS weird,
       to_tsvector('"with space"."my config; DROP SCHEMA cjk_parser_test"', '数据库') AS spaced,
       to_tsvector('中文模式.中文', '数据库') AS unicode;
SELECT count(*) AS schema_still_there FROM pg_namespace WHERE nspname = 'cjk_parser_test';

-- English stemming for words, on request.
SELECT keel.create_cjk_config('cjk_parser_test', 'chinese_en', 'english_stem');
SELECT to_tsvector('chinese_en', 'The databases 数据库 are running') @@ to_tsquery('chinese_en', 'database & run') AS stemmed,
       to_tsvector('chinese', 'The databases 数据库 are running') @@ to_tsquery('chinese', 'database & run') AS not_stemmed;
-- A second call changes the mapping of an existing configuration.
SELECT keel.create_cjk_config('cjk_parser_test', 'chinese_en');
SELECT to_tsvector('chinese_en', 'databases');

-- An application role (no superuser) searches with keel.chinese and makes its own
-- configuration where it may create; the parser's methods are not callable as functions.
CREATE ROLE cjk_parser_app;
GRANT USAGE, CREATE ON SCHEMA cjk_parser_test TO cjk_parser_app;
SET ROLE cjk_parser_app;
SELECT to_tsvector('keel.chinese', '我们的数据库') @@ to_tsquery('keel.chinese', '数据库') AS app_found,
       ts_headline('keel.chinese', '我们的数据库', to_tsquery('keel.chinese', '数据库')) AS app_headline;
SELECT alias, token FROM ts_debug('keel.chinese', '数据库 ok');
SELECT keel.create_cjk_config('cjk_parser_test', 'app_cfg');
SELECT keel.create_cjk_config('with space', 'app_cfg');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT has_function_privilege('keel.cjk_prstoken(internal, internal, internal)', 'EXECUTE') AS can_call_prstoken;
RESET ROLE;

-- keel.chinese ships ready and belongs to the extension.
SELECT to_tsvector('keel.chinese', '全文检索');
SELECT pg_describe_object(classid, objid, 0) FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'keel')
   AND classid IN ('pg_ts_parser'::regclass, 'pg_ts_config'::regclass)
 ORDER BY 1;

-- Another database: UTF8 or SQL_ASCII (read as UTF-8) work, other encodings are refused.
SELECT current_database() AS regress_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS cjk_parser_latin1;
DROP DATABASE IF EXISTS cjk_parser_ascii;
RESET client_min_messages;
CREATE DATABASE cjk_parser_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
CREATE DATABASE cjk_parser_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c cjk_parser_latin1
\set SHOW_CONTEXT never
CREATE EXTENSION keel;
SELECT to_tsvector('keel.chinese', 'abc');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
\c cjk_parser_ascii
CREATE EXTENSION keel;
SELECT to_tsvector('keel.chinese', '我们的数据库') @@ to_tsquery('keel.chinese', '数据库') AS found_in_sql_ascii;
\c :regress_db
\set SHOW_CONTEXT never
DROP DATABASE cjk_parser_latin1;
DROP DATABASE cjk_parser_ascii;

SET client_min_messages = warning;
DROP SCHEMA "we""ird; schema", "with space", "中文模式" CASCADE;
DROP SCHEMA cjk_parser_test CASCADE;
DROP ROLE cjk_parser_app;
RESET client_min_messages;
