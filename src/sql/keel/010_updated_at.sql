-- updated_at maintenance: a C++ BEFORE ROW trigger and the function that attaches it.

CREATE FUNCTION keel.touch_updated_at()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_touch_updated_at';

COMMENT ON FUNCTION keel.touch_updated_at() IS
'BEFORE UPDATE FOR EACH ROW trigger: sets a timestamptz/timestamp/date column to the '
'transaction timestamp (NOW()). Arguments: column (default updated_at), on_unchanged '
'(touch|keep|skip), column to set on INSERT. Attach with keel.enable_updated_at().';

CREATE FUNCTION keel.enable_updated_at(
    tbl regclass,
    col name DEFAULT 'updated_at',
    on_unchanged text DEFAULT 'touch',
    created_col name DEFAULT NULL)
RETURNS name
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_kind  "char";
    v_trig  name;
    v_col   name;
    v_type  regtype;
BEGIN
    IF tbl IS NULL OR col IS NULL OR on_unchanged IS NULL THEN
        RAISE EXCEPTION 'keel.enable_updated_at: tbl, col and on_unchanged must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF on_unchanged NOT IN ('touch', 'keep', 'skip') THEN
        RAISE EXCEPTION 'invalid on_unchanged mode "%"',
            left(on_unchanged, 64) || CASE WHEN length(on_unchanged) > 64 THEN '...' ELSE '' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'on_unchanged must be touch (always set the column), keep (leave it '
                           'when nothing else changed) or skip (drop an UPDATE that changed nothing).';
    END IF;

    SELECT c.relkind INTO v_kind FROM pg_class c WHERE c.oid = tbl;
    IF v_kind NOT IN ('r', 'p', 'f') THEN
        RAISE EXCEPTION '"%" is not a table', tbl
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = format('keel.enable_updated_at() needs a table, a partitioned table or a '
                                  'foreign table; "%s" is a %s.', tbl,
                                  CASE v_kind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                              WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index'
                                              ELSE 'relation of kind ' || v_kind::text END);
    END IF;

    FOREACH v_col IN ARRAY ARRAY[col, created_col] LOOP
        CONTINUE WHEN v_col IS NULL;
        SELECT a.atttypid::regtype INTO v_type
          FROM pg_attribute a
         WHERE a.attrelid = tbl AND a.attname = v_col AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of relation "%" does not exist', v_col, tbl
                USING ERRCODE = 'undefined_column';
        END IF;
        IF v_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
            RAISE EXCEPTION 'column "%" of relation "%" is of type %', v_col, tbl, v_type
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'keel.enable_updated_at() maintains timestamptz, timestamp and date columns.';
        END IF;
    END LOOP;

    -- One trigger per maintained column; CREATE OR REPLACE makes a second call with
    -- other options update the first instead of adding a twin.
    v_trig := left('keel_touch_' || col, 63);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE %s ON %s FOR EACH ROW '
                   'EXECUTE FUNCTION keel.touch_updated_at(%L, %L, %L)',
                   v_trig,
                   CASE WHEN created_col IS NULL THEN 'UPDATE' ELSE 'INSERT OR UPDATE' END,
                   tbl, col, on_unchanged, coalesce(created_col, ''));
    RETURN v_trig;
END
$$;

COMMENT ON FUNCTION keel.enable_updated_at(regclass, name, text, name) IS
'Attaches keel.touch_updated_at() to a table (partitioned tables reach every partition). '
'Idempotent: calling again replaces the trigger with the new options. Returns the trigger name.';

CREATE FUNCTION keel.disable_updated_at(tbl regclass, col name DEFAULT 'updated_at')
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_trig name := left('keel_touch_' || col, 63);
BEGIN
    IF tbl IS NULL OR col IS NULL THEN
        RAISE EXCEPTION 'keel.disable_updated_at: tbl and col must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = v_trig AND NOT tgisinternal) THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TRIGGER %I ON %s', v_trig, tbl);
    RETURN true;
END
$$;

COMMENT ON FUNCTION keel.disable_updated_at(regclass, name) IS
'Removes the trigger that keel.enable_updated_at() attached; false when there was none.';
