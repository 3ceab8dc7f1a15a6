-- Objects keel adds to the seed (extras, each explained in docs/blueprints/cozyengine.md).

-- The seed's search query says to_tsvector('chinese', content), but its index is on
-- to_tsvector('chinese', COALESCE(content, '')): a different expression, which the planner
-- cannot use for that query.  This index is the query's own expression, so the seed's
-- query runs unchanged and index-backed; idx_messages_content_fts stays as the seed wrote it.
CREATE INDEX idx_messages_content_fts_query ON @extschema@.messages
    USING GIN (to_tsvector('chinese', content));
COMMENT ON INDEX @extschema@.idx_messages_content_fts_query IS
'keel addition: the expression of the seed''s own search query (to_tsvector(''chinese'', content)).';
