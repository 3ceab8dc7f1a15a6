-- sessions.message_count, total_tokens and last_message_at: "redundant fields, to avoid
-- COUNT queries" in the seed's words, kept true here by keel's C++ trigger on messages
-- (src/pg/session_stats.cpp).  A live message is one with deleted_at IS NULL; its tokens
-- are message_metadata->>'token_count' (absent or null: 0).

CREATE FUNCTION @extschema@.maintain_session_stats()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_session_stats';

COMMENT ON FUNCTION @extschema@.maintain_session_stats() IS
'AFTER ROW trigger on messages (C++): keeps sessions.message_count, total_tokens and '
'last_message_at equal to the count, token sum and latest created_at of the session''s live messages.';

CREATE TRIGGER trigger_messages_session_stats
    AFTER INSERT OR DELETE OR UPDATE OF session_id, deleted_at, created_at, message_metadata
    ON @extschema@.messages
    FOR EACH ROW
    EXECUTE FUNCTION @extschema@.maintain_session_stats('sessions');

-- TRUNCATE fires no row trigger: the statistics follow in one statement.
CREATE FUNCTION @extschema@.messages_truncated()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE @extschema@.sessions
       SET message_count = 0, total_tokens = 0, last_message_at = NULL
     WHERE message_count <> 0 OR total_tokens <> 0 OR last_message_at IS NOT NULL;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION @extschema@.messages_truncated() IS
'AFTER TRUNCATE trigger on messages: zeroes every session''s message statistics.';

CREATE TRIGGER trigger_messages_truncated
    AFTER TRUNCATE ON @extschema@.messages
    FOR EACH STATEMENT
    EXECUTE FUNCTION @extschema@.messages_truncated();

-- Recount from the messages themselves: repair after triggers were bypassed (for example
-- session_replication_role = replica) and the oracle the tests compare against.
CREATE FUNCTION @extschema@.refresh_session_stats(session_id uuid DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_rows bigint;
BEGIN
    UPDATE @extschema@.sessions s
       SET message_count = c.n, total_tokens = c.tokens, last_message_at = c.last
      FROM (SELECT s2.id,
                   count(m.id)::integer AS n,
                   coalesce(sum((m.message_metadata ->> 'token_count')::integer), 0)::integer AS tokens,
                   max(m.created_at) AS last
              FROM @extschema@.sessions s2
              LEFT JOIN @extschema@.messages m ON m.session_id = s2.id AND m.deleted_at IS NULL
             WHERE refresh_session_stats.session_id IS NULL OR s2.id = refresh_session_stats.session_id
             GROUP BY s2.id) c
     WHERE s.id = c.id
       AND (s.message_count, s.total_tokens, s.last_message_at)
           IS DISTINCT FROM (c.n, c.tokens, c.last);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;

COMMENT ON FUNCTION @extschema@.refresh_session_stats(uuid) IS
'Recomputes message_count, total_tokens and last_message_at from the live messages (one '
'session, or all when NULL); returns how many sessions were wrong.';

REVOKE ALL ON FUNCTION @extschema@.refresh_session_stats(uuid) FROM PUBLIC;
