-- CJK full-text search: a C++ text search parser (overlapping bigrams over Han, Kana
-- and Hangul runs, words for alphabetic runs), keel.create_cjk_config() to put a
-- configuration that uses it into any schema, and a ready one, keel.chinese.

CREATE FUNCTION keel.cjk_prsstart(internal, integer)
RETURNS internal
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_cjk_prsstart';

CREATE FUNCTION keel.cjk_prstoken(internal, internal, internal)
RETURNS internal
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_cjk_prstoken';

CREATE FUNCTION keel.cjk_prsend(internal)
RETURNS void
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_cjk_prsend';

CREATE FUNCTION keel.cjk_prsheadline(internal, internal, tsquery)
RETURNS internal
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_cjk_prsheadline';

CREATE FUNCTION keel.cjk_prslextype(internal)
RETURNS internal
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_cjk_prslextype';

-- Only the text search machinery calls these (it checks no EXECUTE privilege on
-- parser methods), so nobody needs them as functions.
REVOKE ALL ON FUNCTION keel.cjk_prsstart(internal, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.cjk_prstoken(internal, internal, internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.cjk_prsend(internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.cjk_prsheadline(internal, internal, tsquery) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.cjk_prslextype(internal) FROM PUBLIC;

COMMENT ON FUNCTION keel.cjk_prsstart(internal, integer) IS
'keel.cjk_parser start method (called by the text search machinery, not by users).';
COMMENT ON FUNCTION keel.cjk_prstoken(internal, internal, internal) IS
'keel.cjk_parser token method (called by the text search machinery, not by users).';
COMMENT ON FUNCTION keel.cjk_prsend(internal) IS
'keel.cjk_parser end method (called by the text search machinery, not by users).';
COMMENT ON FUNCTION keel.cjk_prsheadline(internal, internal, tsquery) IS
'keel.cjk_parser headline method for ts_headline (called by the text search machinery).';
COMMENT ON FUNCTION keel.cjk_prslextype(internal) IS
'keel.cjk_parser token types: word, number, cjk_bigram, cjk_unigram, long_word, blank.';

CREATE TEXT SEARCH PARSER keel.cjk_parser (
    START    = keel.cjk_prsstart,
    GETTOKEN = keel.cjk_prstoken,
    END      = keel.cjk_prsend,
    HEADLINE = keel.cjk_prsheadline,
    LEXTYPES = keel.cjk_prslextype
);

COMMENT ON TEXT SEARCH PARSER keel.cjk_parser IS
'CJK-aware parser (C++): overlapping bigrams over runs of Han, Kana and Hangul (a lone '
'character is a unigram), words and numbers for alphabetic and digit runs, blanks for '
'spaces, punctuation (ASCII and full-width) and emoji. Needs a UTF8 database.';

CREATE FUNCTION keel.create_cjk_config(
    target_schema name,
    cfg_name name DEFAULT 'chinese',
    word_dictionary regdictionary DEFAULT 'simple')
RETURNS regconfig
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_nsp    oid;
    v_prs    oid;
    v_cfg    oid;
    v_cfgprs oid;
    v_name   text;
    v_mapped text;
BEGIN
    IF target_schema IS NULL OR cfg_name IS NULL OR word_dictionary IS NULL THEN
        RAISE EXCEPTION 'keel.create_cjk_config: target_schema, cfg_name and word_dictionary must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT n.oid INTO v_nsp FROM pg_namespace n WHERE n.nspname = target_schema;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schema "%" does not exist', target_schema
            USING ERRCODE = 'invalid_schema_name',
                  HINT = 'Create the schema first, or pass the schema the configuration belongs in.';
    END IF;
    SELECT p.oid INTO STRICT v_prs
      FROM pg_ts_parser p JOIN pg_namespace n ON n.oid = p.prsnamespace
     WHERE n.nspname = 'keel' AND p.prsname = 'cjk_parser';

    v_name := format('%I.%I', target_schema, cfg_name);
    SELECT c.oid, c.cfgparser INTO v_cfg, v_cfgprs
      FROM pg_ts_config c WHERE c.cfgnamespace = v_nsp AND c.cfgname = cfg_name;
    IF FOUND AND v_cfgprs <> v_prs THEN
        RAISE EXCEPTION 'text search configuration % already exists and does not use keel.cjk_parser', v_name
            USING ERRCODE = 'duplicate_object',
                  DETAIL = (SELECT format('It uses the parser %I.%I.', n.nspname, p.prsname)
                              FROM pg_ts_parser p JOIN pg_namespace n ON n.oid = p.prsnamespace
                             WHERE p.oid = v_cfgprs),
                  HINT = 'Drop it, or choose another configuration name.';
    END IF;
    IF NOT FOUND THEN
        EXECUTE format('CREATE TEXT SEARCH CONFIGURATION %s (PARSER = keel.cjk_parser)', v_name);
    END IF;

    -- (Re)write every mapping, so a second call repairs or changes a configuration.
    SELECT string_agg(DISTINCT t.alias, ', ') INTO v_mapped
      FROM pg_ts_config_map m JOIN ts_token_type(v_prs) t ON t.tokid = m.maptokentype
     WHERE m.mapcfg = v_cfg;
    IF v_mapped IS NOT NULL THEN
        EXECUTE format('ALTER TEXT SEARCH CONFIGURATION %s DROP MAPPING FOR %s', v_name, v_mapped);
    END IF;
    EXECUTE format('ALTER TEXT SEARCH CONFIGURATION %s ADD MAPPING FOR cjk_bigram, cjk_unigram, number '
                   'WITH pg_catalog.simple', v_name);
    EXECUTE format('ALTER TEXT SEARCH CONFIGURATION %s ADD MAPPING FOR word WITH %s',
                   v_name, word_dictionary::text);
    EXECUTE format('COMMENT ON TEXT SEARCH CONFIGURATION %s IS %L', v_name,
                   'CJK full-text search (keel.cjk_parser): bigrams and numbers through simple, '
                   'words through ' || word_dictionary::text || '. Made by keel.create_cjk_config().');

    RETURN (SELECT c.oid FROM pg_ts_config c WHERE c.cfgnamespace = v_nsp AND c.cfgname = cfg_name)::regconfig;
END
$$;

COMMENT ON FUNCTION keel.create_cjk_config(name, name, regdictionary) IS
'Creates (or repairs) the text search configuration target_schema.cfg_name on keel.cjk_parser: '
'CJK bigrams/unigrams and numbers through the simple dictionary, words through word_dictionary '
'(default simple; english_stem stems English). Idempotent; returns the configuration.';

-- A ready configuration: to_tsvector('keel.chinese', ...) works everywhere.
SELECT keel.create_cjk_config('keel', 'chinese');
