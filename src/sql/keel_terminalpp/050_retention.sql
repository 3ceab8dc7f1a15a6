-- The seed's "Data Retention Policies", as one function.  "Now" is an argument so the
-- maintenance worker, a cron job and a test all get the same answer for the same instant.

CREATE FUNCTION @extschema@.apply_retention(as_of timestamptz DEFAULT pg_catalog.now())
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_total bigint := 0;
    v_rows  bigint;
BEGIN
    IF as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    -- Clean up old sessions
    DELETE FROM @extschema@.user_sessions WHERE expires_at < as_of - INTERVAL '7 days';
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_total := v_total + v_rows;

    -- Archive old command executions (rows already archived are left alone)
    UPDATE @extschema@.command_executions
       SET archived = true
     WHERE created_at < as_of - INTERVAL '90 days' AND NOT archived;
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_total := v_total + v_rows;

    -- Clean up expired AI memory
    DELETE FROM @extschema@.ai_memory WHERE expires_at IS NOT NULL AND expires_at < as_of;
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_total := v_total + v_rows;

    -- Remove old file versions (keep last 50 per file)
    WITH ranked_versions AS (
        SELECT id, ROW_NUMBER() OVER (PARTITION BY fs_entry_id ORDER BY created_at DESC) AS rn
          FROM @extschema@.file_versions
    )
    DELETE FROM @extschema@.file_versions WHERE id IN (
        SELECT id FROM ranked_versions WHERE rn > 50
    );
    GET DIAGNOSTICS v_rows = ROW_COUNT; v_total := v_total + v_rows;

    RETURN v_total;
END
$$;

COMMENT ON FUNCTION @extschema@.apply_retention(timestamptz) IS
'Terminal++ data retention (seed 001): deletes user_sessions expired over 7 days, archives '
'command_executions older than 90 days, deletes expired ai_memory, keeps the last 50 '
'file_versions per file. Returns the number of rows affected. Registered as a keel maintenance task.';

REVOKE ALL ON FUNCTION @extschema@.apply_retention(timestamptz) FROM PUBLIC;

-- Moving ai_memory.embedding to pgvector once it is installed (no-op when it already is).
CREATE FUNCTION @extschema@.migrate_embedding_to_pgvector()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_vector_schema name;
    v_current regtype;
BEGIN
    SELECT n.nspname INTO v_vector_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'vector';
    IF v_vector_schema IS NULL THEN
        RAISE EXCEPTION 'pgvector is not installed in this database'
            USING ERRCODE = 'undefined_object',
                  HINT = 'Run CREATE EXTENSION vector first.';
    END IF;
    v_current := pg_typeof((NULL::@extschema@.ai_memory).embedding);
    IF v_current <> 'real[]'::regtype THEN
        RETURN format('ai_memory.embedding is already %s', v_current);
    END IF;
    DROP INDEX @extschema@.idx_ai_memory_embedding;
    ALTER TABLE @extschema@.ai_memory DROP CONSTRAINT ai_memory_embedding_dims;
    EXECUTE format('ALTER TABLE @extschema@.ai_memory ALTER COLUMN embedding TYPE %I.vector(1536) '
                   'USING embedding::%I.vector(1536)', v_vector_schema, v_vector_schema);
    EXECUTE format('CREATE INDEX idx_ai_memory_embedding ON @extschema@.ai_memory '
                   'USING ivfflat (embedding %I.vector_cosine_ops)', v_vector_schema);
    RETURN 'ai_memory.embedding is now vector(1536) with an ivfflat index';
END
$$;

COMMENT ON FUNCTION @extschema@.migrate_embedding_to_pgvector() IS
'Converts ai_memory.embedding from the real[] fallback to pgvector''s vector(1536) and '
'replaces the placeholder idx_ai_memory_embedding by the seed''s ivfflat index.';

REVOKE ALL ON FUNCTION @extschema@.migrate_embedding_to_pgvector() FROM PUBLIC;
