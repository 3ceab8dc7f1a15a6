-- The seed indexes and searches messages with to_tsvector('chinese', ...): a text search
-- configuration named chinese in this schema, built on keel's C++ CJK parser (overlapping
-- bigrams over Han/Kana/Hangul runs, words for Latin runs), so the seed's index and query
-- run unchanged and find Chinese words inside sentences.
SELECT keel.create_cjk_config(pg_catalog.current_schema(), 'chinese');
