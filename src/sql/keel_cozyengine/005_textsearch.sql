-- The seed indexes and searches messages with to_tsvector('chinese', ...): a text search
-- configuration named chinese in this schema, built on keel's C++ CJK parser
-- (keel.create_cjk_config), so the seed's index and query run unchanged.
DO $do$
BEGIN
    IF pg_catalog.to_regprocedure('keel.create_cjk_config(name,name)') IS NOT NULL THEN
        PERFORM keel.create_cjk_config(pg_catalog.current_schema(), 'chinese');
    ELSE
        -- keel without its CJK parser: a stand-in so the schema installs (words only).
        EXECUTE pg_catalog.format('CREATE TEXT SEARCH CONFIGURATION %I.chinese (COPY = pg_catalog.simple)',
                                  pg_catalog.current_schema());
        EXECUTE pg_catalog.format('COMMENT ON TEXT SEARCH CONFIGURATION %I.chinese IS %L',
                                  pg_catalog.current_schema(),
                                  'Stand-in for keel''s CJK configuration (copy of simple).');
    END IF;
END
$do$;
