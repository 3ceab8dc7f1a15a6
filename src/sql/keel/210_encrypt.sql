-- Field encryption: AES-256-GCM envelopes in three shapes, the decrypt role, and
-- transparent column encryption with rotation (keel.encrypt_column, keel.reencrypt).

-- Decryption is a privilege: members of keel_decrypt (and superusers) may decrypt.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'keel_decrypt') THEN
        CREATE ROLE keel_decrypt NOLOGIN;
    END IF;
END
$$;
COMMENT ON ROLE keel_decrypt IS 'Members may decrypt keel ciphertext (keel.decrypt*, decrypting views).';

CREATE FUNCTION keel.encrypt(data bytea, key_name text, aad bytea DEFAULT NULL)
RETURNS bytea LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_encrypt';
CREATE FUNCTION keel.decrypt(data bytea, aad bytea DEFAULT NULL)
RETURNS bytea LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_decrypt';
CREATE FUNCTION keel.encrypt_text(data text, key_name text, aad bytea DEFAULT NULL)
RETURNS text LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_encrypt_text';
CREATE FUNCTION keel.decrypt_text(data text, aad bytea DEFAULT NULL)
RETURNS text LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_decrypt_text';
CREATE FUNCTION keel.encrypt_jsonb(data jsonb, key_name text, aad bytea DEFAULT NULL)
RETURNS jsonb LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_encrypt_jsonb';
CREATE FUNCTION keel.decrypt_jsonb(data jsonb, aad bytea DEFAULT NULL)
RETURNS jsonb LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_decrypt_jsonb';

COMMENT ON FUNCTION keel.encrypt(bytea, text, bytea) IS
'AES-256-GCM envelope of data under the active version of the named key; aad (optional) must be '
'given again to decrypt.';
COMMENT ON FUNCTION keel.decrypt(bytea, bytea) IS
'Decrypts a keel envelope (any shape''s payload, as bytes). Needs membership in keel_decrypt.';
COMMENT ON FUNCTION keel.encrypt_text(text, text, bytea) IS
'Like keel.encrypt, as printable text: ''keel1:'' followed by base64 (fits TEXT/VARCHAR).';
COMMENT ON FUNCTION keel.decrypt_text(text, bytea) IS
'Decrypts keel.encrypt_text output. Needs membership in keel_decrypt.';
COMMENT ON FUNCTION keel.encrypt_jsonb(jsonb, text, bytea) IS
'Like keel.encrypt, as a small JSON object {"ct": "<base64>", "keel": 1} (fits JSONB).';
COMMENT ON FUNCTION keel.decrypt_jsonb(jsonb, bytea) IS
'Decrypts keel.encrypt_jsonb output back to the jsonb value. Needs membership in keel_decrypt.';

-- Column encryption.
CREATE TABLE keel.encrypted_columns (
    tbl          regclass NOT NULL,
    col          name NOT NULL,
    key_name     text NOT NULL,
    aad_label    text NOT NULL,
    aad_columns  name[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (tbl, col)
);
COMMENT ON TABLE keel.encrypted_columns IS
'Columns encrypted by keel.encrypt_column: key, the AAD label bound into every value (fixed when '
'the column was set up, so renames and dump/restore keep values decryptable) and identifying columns.';
SELECT pg_catalog.pg_extension_config_dump('keel.encrypted_columns', '');
REVOKE ALL ON keel.encrypted_columns FROM PUBLIC;

CREATE FUNCTION keel.encrypt_column_trigger()
RETURNS trigger LANGUAGE c AS 'MODULE_PATHNAME', 'keel_encrypt_column_trigger';
COMMENT ON FUNCTION keel.encrypt_column_trigger() IS
'BEFORE INSERT OR UPDATE FOR EACH ROW trigger: stores plaintext of a column as keel ciphertext. '
'Attach with keel.encrypt_column().';

CREATE FUNCTION keel.column_aad(label text)
RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_column_aad';
CREATE FUNCTION keel.column_aad(label text, VARIADIC ids "any")
RETURNS bytea LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'keel_column_aad';
CREATE FUNCTION keel._needs_reencrypt(value anyelement, key_name text)
RETURNS boolean LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'keel_needs_reencrypt';
CREATE FUNCTION keel._reencrypt_value(value anyelement, key_name text, aad bytea)
RETURNS anyelement LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'keel_reencrypt_value';
COMMENT ON FUNCTION keel.column_aad(text) IS
'The associated data an encrypted column binds (label only).';
COMMENT ON FUNCTION keel.column_aad(text, "any") IS
'The associated data an encrypted column binds: label and the row''s identifying values.';
COMMENT ON FUNCTION keel._needs_reencrypt(anyelement, text) IS
'Internal: true for plaintext or ciphertext not under the key''s active version.';
COMMENT ON FUNCTION keel._reencrypt_value(anyelement, text, bytea) IS
'Internal: the value under the key''s active version (used by keel.reencrypt).';

-- The expression keel.column_aad(label, t.id, ...) for one configured column.
CREATE FUNCTION keel._column_aad_sql(cfg keel.encrypted_columns, alias text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('keel.column_aad(%L%s)', cfg.aad_label,
                  (SELECT coalesce(string_agg(format(', %I.%I', alias, c), '' ORDER BY o), '')
                     FROM unnest(cfg.aad_columns) WITH ORDINALITY AS u(c, o)))
$$;
COMMENT ON FUNCTION keel._column_aad_sql(keel.encrypted_columns, text) IS
'Internal: SQL text of the AAD expression for a configured encrypted column.';

CREATE FUNCTION keel.encrypt_column(tbl regclass, col name, key_name text,
                                    aad_columns name[] DEFAULT '{}')
RETURNS name
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_kind  "char";
    v_type  regtype;
    v_c     name;
    v_label text;
    v_trig  name := left('keel_encrypt_' || col, 63);
    v_args  text;
BEGIN
    IF tbl IS NULL OR col IS NULL OR key_name IS NULL OR aad_columns IS NULL THEN
        RAISE EXCEPTION 'keel.encrypt_column: tbl, col, key_name and aad_columns must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind INTO v_kind FROM pg_class c WHERE c.oid = tbl;
    IF v_kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', tbl
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'keel.encrypt_column() needs a table or a partitioned table.';
    END IF;
    SELECT a.atttypid::regtype INTO v_type FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', col, tbl
            USING ERRCODE = 'undefined_column';
    END IF;
    IF v_type NOT IN ('bytea'::regtype, 'text'::regtype, 'character varying'::regtype, 'jsonb'::regtype) THEN
        RAISE EXCEPTION 'column "%" of relation % is of type %', col, tbl, v_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'keel encrypts bytea, text, varchar and jsonb columns.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM keel.data_keys k WHERE k.name = key_name AND k.state = 'active') THEN
        RAISE EXCEPTION 'key "%" does not exist',
            left(key_name, 64) || CASE WHEN length(key_name) > 64 THEN '...' ELSE '' END
            USING ERRCODE = 'undefined_object', HINT = 'Create it with keel.create_key().';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM keel.data_keys k WHERE k.name = key_name AND k.purpose = 'encrypt') THEN
        RAISE EXCEPTION 'key "%" is not an encrypt key',
            left(key_name, 64) || CASE WHEN length(key_name) > 64 THEN '...' ELSE '' END
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF cardinality(aad_columns) > 16 THEN
        RAISE EXCEPTION 'too many AAD columns' USING ERRCODE = 'program_limit_exceeded',
              DETAIL = 'At most 16 identifying columns can be bound.';
    END IF;
    FOREACH v_c IN ARRAY aad_columns LOOP
        IF v_c = col THEN
            RAISE EXCEPTION 'column "%" cannot identify its own row', v_c
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = v_c
                          AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'column "%" of relation % does not exist', v_c, tbl
                USING ERRCODE = 'undefined_column';
        END IF;
    END LOOP;

    -- The label is fixed now, from names (not OIDs), and kept: values stay decryptable
    -- after a dump/restore or a rename.
    SELECT coalesce((SELECT e.aad_label FROM keel.encrypted_columns e
                      WHERE e.tbl = encrypt_column.tbl AND e.col = encrypt_column.col),
                    format('%s.%s.%s', n.nspname, c.relname, col))
      INTO v_label
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
    INSERT INTO keel.encrypted_columns AS e (tbl, col, key_name, aad_label, aad_columns)
    VALUES (tbl, col, key_name, v_label, aad_columns)
    ON CONFLICT ON CONSTRAINT encrypted_columns_pkey DO UPDATE SET key_name = excluded.key_name, aad_columns = excluded.aad_columns;

    SELECT string_agg(format('%L', a), ', ') INTO v_args
      FROM unnest(ARRAY[col::text, key_name, v_label] || aad_columns::text[]) AS a;
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE ON %s FOR EACH ROW '
                   'EXECUTE FUNCTION keel.encrypt_column_trigger(%s)', v_trig, tbl, v_args);
    RETURN v_trig;
END
$$;
COMMENT ON FUNCTION keel.encrypt_column(regclass, name, text, name[]) IS
'Encrypts a bytea/text/varchar/jsonb column transparently on INSERT and UPDATE, binding the table, '
'column and the given identifying columns as AAD. Existing rows: CALL keel.reencrypt(tbl, col).';

CREATE FUNCTION keel.decrypt_column_sql(tbl regclass, col name, alias text DEFAULT 't')
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_cfg  keel.encrypted_columns;
    v_type regtype;
BEGIN
    SELECT e.* INTO v_cfg FROM keel.encrypted_columns e
     WHERE e.tbl = decrypt_column_sql.tbl AND e.col = decrypt_column_sql.col;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % is not encrypted by keel', col, tbl
            USING ERRCODE = 'undefined_object', HINT = 'See keel.encrypted_columns.';
    END IF;
    SELECT a.atttypid::regtype INTO v_type FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = col;
    RETURN format('keel.%s(%I.%I, %s)',
                  CASE v_type WHEN 'bytea'::regtype THEN 'decrypt'
                              WHEN 'jsonb'::regtype THEN 'decrypt_jsonb'
                              ELSE 'decrypt_text' END,
                  alias, col, keel._column_aad_sql(v_cfg, alias));
END
$$;
COMMENT ON FUNCTION keel.decrypt_column_sql(regclass, name, text) IS
'SQL expression that decrypts an encrypted column of the row alias (for hand-written queries).';

CREATE FUNCTION keel.create_decrypted_view(tbl regclass, view_name text DEFAULT NULL)
RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_nsp   name;
    v_rel   name;
    v_cols  text;
    v_view  text;
    v_base  text;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'keel.create_decrypted_view: tbl must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT n.nspname, c.relname INTO v_nsp, v_rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
    IF NOT EXISTS (SELECT 1 FROM keel.encrypted_columns e WHERE e.tbl = create_decrypted_view.tbl) THEN
        RAISE EXCEPTION 'relation % has no column encrypted by keel', tbl
            USING ERRCODE = 'undefined_object', HINT = 'Use keel.encrypt_column() first.';
    END IF;
    SELECT string_agg(CASE WHEN e.col IS NULL THEN format('t.%I', a.attname)
                           ELSE format('%s AS %I', keel.decrypt_column_sql(create_decrypted_view.tbl, a.attname), a.attname) END,
                      ', ' ORDER BY a.attnum)
      INTO v_cols
      FROM pg_attribute a
      LEFT JOIN keel.encrypted_columns e ON e.tbl = a.attrelid AND e.col = a.attname
     WHERE a.attrelid = create_decrypted_view.tbl AND a.attnum > 0 AND NOT a.attisdropped;
    -- <table>_decrypted within 63 bytes (whole characters): a longer name would be
    -- truncated by PostgreSQL, and a 63-byte table name would become the table's own.
    v_base := v_rel;
    WHILE octet_length(v_base || '_decrypted') > 63 LOOP
        v_base := left(v_base, -1);
    END LOOP;
    v_view := format('%I.%I', v_nsp, coalesce(view_name, v_base || '_decrypted'));
    EXECUTE format('CREATE OR REPLACE VIEW %s AS SELECT %s FROM %s t', v_view, v_cols, tbl);
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', v_view);
    RETURN v_view::regclass;
END
$$;
COMMENT ON FUNCTION keel.create_decrypted_view(regclass, text) IS
'Creates <table>_decrypted: the table with its keel-encrypted columns decrypted. Reading it needs '
'SELECT on the view and membership in keel_decrypt.';

CREATE FUNCTION keel._reencrypt_batch(tbl regclass, col name, batch_size integer)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_cfg keel.encrypted_columns;
    v_n   bigint;
BEGIN
    SELECT e.* INTO v_cfg FROM keel.encrypted_columns e
     WHERE e.tbl = _reencrypt_batch.tbl AND e.col = _reencrypt_batch.col;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % is not encrypted by keel', col, tbl
            USING ERRCODE = 'undefined_object', HINT = 'Use keel.encrypt_column() first.';
    END IF;
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('UPDATE %1$s t SET %2$I = keel._reencrypt_value(t.%2$I, %3$L, %4$s) '
                   'WHERE t.ctid = ANY (ARRAY(SELECT s.ctid FROM %1$s s '
                   'WHERE keel._needs_reencrypt(s.%2$I, %3$L) LIMIT %5$s FOR UPDATE SKIP LOCKED))',
                   tbl, col, v_cfg.key_name, keel._column_aad_sql(v_cfg, 't'), batch_size);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION keel._reencrypt_batch(regclass, name, integer) IS
'Internal: re-encrypts up to batch_size rows of an encrypted column (plaintext or an older key '
'version) under the active key version; returns the rows done.';

-- A procedure, so each batch commits: online (only batch_size rows locked at a time)
-- and resumable (an interrupted run leaves finished batches done; run it again).
-- Procedures that COMMIT cannot carry a SET clause: every name below is qualified.
CREATE PROCEDURE keel.reencrypt(tbl regclass, col name, batch_size integer DEFAULT 1000,
                                INOUT rows_done bigint DEFAULT 0)
LANGUAGE plpgsql
AS $$
DECLARE
    v_n bigint;
BEGIN
    rows_done := 0;
    LOOP
        v_n := keel._reencrypt_batch(tbl, col, batch_size);
        rows_done := rows_done OPERATOR(pg_catalog.+) v_n;
        EXIT WHEN v_n OPERATOR(pg_catalog.<) batch_size;
        RAISE NOTICE 'keel.reencrypt: % rows done', rows_done;
        COMMIT;
    END LOOP;
END
$$;
COMMENT ON PROCEDURE keel.reencrypt(regclass, name, integer, bigint) IS
'Moves an encrypted column to its key''s active version (and encrypts leftover plaintext), in '
'committed batches; reports progress as NOTICEs and returns rows_done. Safe to interrupt and rerun.';
REVOKE ALL ON PROCEDURE keel.reencrypt(regclass, name, integer, bigint) FROM PUBLIC;

-- Administrators' tools (they run as the caller, who must own the table); column_aad
-- stays public because decrypting views call it as the reading role.
REVOKE ALL ON FUNCTION keel.encrypt_column(regclass, name, text, name[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.encrypt_column_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.decrypt_column_sql(regclass, name, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.create_decrypted_view(regclass, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._column_aad_sql(keel.encrypted_columns, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._needs_reencrypt(anyelement, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._reencrypt_value(anyelement, text, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._reencrypt_batch(regclass, name, integer) FROM PUBLIC;
