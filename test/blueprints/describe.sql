-- Structural description of one schema, for comparing a blueprint to its seed's DDL.
-- pg_temp.bp_describe(schema) returns one row per column (type, default, nullability),
-- constraint, index, view, enum type, trigger, comment and table kind, with the schema
-- name stripped from every definition so two schemas compare equal when their objects do.
CREATE FUNCTION pg_temp.bp_describe(s name)
RETURNS TABLE (kind text, object text, definition text)
LANGUAGE sql STABLE
AS $$
    WITH n AS (SELECT oid, quote_ident(nspname) || '.' AS prefix FROM pg_namespace WHERE nspname = s),
    rel AS (SELECT c.* FROM pg_class c, n WHERE c.relnamespace = n.oid),
    d(kind, object, definition) AS (
        SELECT 'table', c.relname::text,
               CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
                              ELSE c.relkind::text END
               || coalesce(' partition by ' || pg_get_partkeydef(c.oid), '')
               || CASE WHEN c.relispartition THEN ' partition of ' || p.relname || ' ' || pg_get_expr(c.relpartbound, c.oid) ELSE '' END
               || coalesce(' with ' || array_to_string(c.reloptions, ','), '')
          FROM rel c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
         WHERE c.relkind IN ('r', 'p', 'v')
        UNION ALL
        SELECT 'column', c.relname || '.' || a.attname,
               format_type(a.atttypid, a.atttypmod)
               || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
               || ' #' || a.attnum
          FROM rel c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
         WHERE c.relkind IN ('r', 'p', 'v')
        UNION ALL
        SELECT 'constraint', c.relname || '.' || co.conname, pg_get_constraintdef(co.oid)
          FROM rel c JOIN pg_constraint co ON co.conrelid = c.oid
        UNION ALL
        SELECT 'index', i.relname, pg_get_indexdef(i.oid)
          FROM rel i WHERE i.relkind IN ('i', 'I')
        UNION ALL
        SELECT 'view', c.relname, pg_get_viewdef(c.oid)
          FROM rel c WHERE c.relkind = 'v'
        UNION ALL
        SELECT 'type', t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
          FROM pg_type t JOIN n ON t.typnamespace = n.oid JOIN pg_enum e ON e.enumtypid = t.oid
         GROUP BY t.typname
        UNION ALL
        SELECT 'trigger', c.relname || '.' || tg.tgname, pg_get_triggerdef(tg.oid)
          FROM rel c JOIN pg_trigger tg ON tg.tgrelid = c.oid AND NOT tg.tgisinternal
        UNION ALL
        SELECT 'comment', c.relname || coalesce('.' || a.attname, ''), ds.description
          FROM rel c JOIN pg_description ds ON ds.objoid = c.oid AND ds.classoid = 'pg_class'::regclass
          LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ds.objsubid AND ds.objsubid > 0
         WHERE c.relkind IN ('r', 'p', 'v')
    )
    SELECT d.kind, d.object,
           regexp_replace(replace(replace(d.definition, n.prefix, ''), 'ON ONLY ', 'ON '),
                          'audit_chain_append\(''\d+''\)', 'audit_chain_append(<chain id>)')
      FROM d, n
$$;

-- Rows of the seed's schema that the blueprint lacks or defines differently (a defect
-- unless the blueprint's doc lists it as a departure), then the blueprint's additions.
CREATE FUNCTION pg_temp.bp_compare(seed name, blueprint name)
RETURNS TABLE (diff text, kind text, object text, definition text)
LANGUAGE sql STABLE
AS $$
    (SELECT 'seed only', * FROM pg_temp.bp_describe(seed)
     EXCEPT SELECT 'seed only', * FROM pg_temp.bp_describe(blueprint))
    UNION ALL
    (SELECT 'blueprint only', * FROM pg_temp.bp_describe(blueprint)
     EXCEPT SELECT 'blueprint only', * FROM pg_temp.bp_describe(seed))
    ORDER BY 1 DESC, 2, 3, 4
$$;

-- EXPLAIN (costs off) of a query, made independent of the calendar: time partitions
-- (name_YYYY_MM) print as name_YYYY_MM, their aliases (name_1, name_2) as name_N,
-- "Subplans Removed" counts are dropped, and a line already shown (the same scan of
-- another partition) is not repeated.
CREATE FUNCTION pg_temp.bp_plan(q text)
RETURNS SETOF text
LANGUAGE plpgsql
AS $$
DECLARE
    line text;
    seen text[] := '{}';
BEGIN
    -- Whether autovacuum has set a table's visibility map by then would decide between an
    -- index-only and a bitmap scan of the same index: the index is what is checked.
    PERFORM set_config('enable_indexonlyscan', 'off', true);
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        line := regexp_replace(line, '_\d{4}_\d{2}(_|\M)', '_YYYY_MM\1', 'g');
        line := regexp_replace(line, '( on \S+ [a-z_]+)_\d+$', '\1_N');
        CONTINUE WHEN line ~ 'Subplans Removed';
        CONTINUE WHEN line = ANY (seen);
        seen := seen || line;
        RETURN NEXT line;
    END LOOP;
END
$$;
