-- The tamper-evident audit chain (docs/audit_chain.md).
--
-- State lives in keel-owned tables registered with pg_extension_config_dump, so a
-- pg_dump carries every chain, link and checkpoint; keel.database_incarnation is NOT
-- dumped: a restored database gets a new incarnation id (CREATE EXTENSION makes one).

CREATE SEQUENCE keel.audit_chain_id_seq AS integer;

CREATE TABLE keel.audit_chain (
    chain_id         integer PRIMARY KEY DEFAULT nextval('keel.audit_chain_id_seq'),
    table_name       text NOT NULL,
    hash_column      name,
    signature_column name,
    key_name         text NOT NULL,
    sub_chains       integer NOT NULL DEFAULT 1 CHECK (sub_chains BETWEEN 1 AND 64),
    salt             bytea NOT NULL CHECK (length(salt) = 16),
    enabled_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- The chained table itself (regclass: follows renames, and a dump writes its name, so
    -- a restore points it at the restored table).  The append trigger refuses to link a
    -- row of any other table into the chain, so the trigger function may be executable by
    -- PUBLIC (PostgreSQL checks that privilege when it copies the trigger to a partition).
    tbl              regclass,
    CHECK ((hash_column IS NULL) = (signature_column IS NULL))
);
ALTER SEQUENCE keel.audit_chain_id_seq OWNED BY keel.audit_chain.chain_id;

CREATE TABLE keel.audit_link (
    chain_id    integer NOT NULL,
    sub         integer NOT NULL,
    pos         bigint NOT NULL,
    row_digest  bytea NOT NULL,
    link_hash   bytea NOT NULL,
    signature   bytea NOT NULL,
    key_id      integer NOT NULL,
    key_version integer NOT NULL,
    PRIMARY KEY (chain_id, sub, pos)
);

CREATE TABLE keel.audit_checkpoint (
    chain_id       integer NOT NULL,
    sub            integer NOT NULL,
    pos            bigint NOT NULL,
    link_hash      bytea NOT NULL,
    signature      bytea NOT NULL,
    key_id         integer NOT NULL,
    key_version    integer NOT NULL,
    partition_name text NOT NULL,
    rows_retired   bigint NOT NULL,
    made_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (chain_id, sub, pos)
);

-- Which database this is: a random id made by CREATE EXTENSION, deliberately not
-- dumped (a restore runs CREATE EXTENSION again and so becomes a new incarnation).
CREATE TABLE keel.database_incarnation (
    incarnation uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
INSERT INTO keel.database_incarnation (incarnation) VALUES (pg_catalog.gen_random_uuid());

SELECT pg_catalog.pg_extension_config_dump('keel.audit_chain', '');
SELECT pg_catalog.pg_extension_config_dump('keel.audit_chain_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('keel.audit_link', '');
SELECT pg_catalog.pg_extension_config_dump('keel.audit_checkpoint', '');

-- Written and read by keel's C++ code directly (no privilege on them is needed for
-- chained inserts or verification); administrators may read them.
REVOKE ALL ON keel.audit_chain, keel.audit_link, keel.audit_checkpoint,
              keel.database_incarnation FROM PUBLIC;

COMMENT ON TABLE keel.audit_chain IS
'One row per chained table: columns that carry the chain (NULL: links kept in keel.audit_link only), '
'HMAC key name, number of sub-chains, random chain salt. Written by keel.enable_audit_chain().';
COMMENT ON TABLE keel.audit_link IS
'Every link of every audit chain: position, SHA-256 of the canonical row, link hash, HMAC signature '
'and the key id/version that made it. Written only by keel''s C++ trigger.';
COMMENT ON TABLE keel.audit_checkpoint IS
'Tamper-evident checkpoints left by keel.audit_chain_retire_partition(): where each sub-chain now starts.';
COMMENT ON TABLE keel.database_incarnation IS
'Random id of this database incarnation (not dumped: a restore is a new incarnation). Named by digests.';
COMMENT ON SEQUENCE keel.audit_chain_id_seq IS 'Chain ids for keel.audit_chain.';

-- ---------------------------------------------------------------- C++ functions

CREATE FUNCTION keel.audit_chain_append()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_audit_chain_append';

COMMENT ON FUNCTION keel.audit_chain_append() IS
'BEFORE INSERT FOR EACH ROW trigger of a chained table (argument: chain id). Links the row into the '
'chain under a lock held until commit. Attached by keel.enable_audit_chain().';

CREATE FUNCTION keel.audit_chain_refuse()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_audit_chain_refuse';

COMMENT ON FUNCTION keel.audit_chain_refuse() IS
'Trigger that refuses UPDATE, DELETE and TRUNCATE on a chained (append-only) table.';

CREATE FUNCTION keel.verify_audit_chain(tbl regclass, digest text DEFAULT NULL,
    OUT ok boolean, OUT rows_checked bigint, OUT first_bad_position bigint,
    OUT break_kind text, OUT sub_chain integer, OUT detail text)
RETURNS record
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_verify_audit_chain';

COMMENT ON FUNCTION keel.verify_audit_chain(regclass, text) IS
'Recomputes every row''s canonical hash, every link and every HMAC signature in one streaming pass; '
'reports rows checked and the first broken link (position, sub-chain and kind: content changed, '
'row deleted, row inserted, rows reordered, signature invalid). With a digest from '
'keel.audit_chain_digest() also proves the chain still contains it. Needs SELECT on the table.';

CREATE FUNCTION keel.audit_chain_digest(tbl regclass)
RETURNS text
LANGUAGE c
AS 'MODULE_PATHNAME', 'keel_audit_chain_digest';

COMMENT ON FUNCTION keel.audit_chain_digest(regclass) IS
'A small signed digest of the chain''s committed heads (position and link hash of every sub-chain), '
'naming this database incarnation; keep it outside the database and pass it to verify_audit_chain(). '
'Needs SELECT on the table.';

CREATE FUNCTION keel._audit_row_digest(chain_id integer, r anyelement)
RETURNS bytea
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_audit_row_digest';

CREATE FUNCTION keel._audit_chain_link_digest(chain_id integer, digest bytea)
RETURNS text[]
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_audit_chain_link_digest';

REVOKE ALL ON FUNCTION keel._audit_chain_link_digest(integer, bytea) FROM PUBLIC;
COMMENT ON FUNCTION keel._audit_chain_link_digest(integer, bytea) IS
'Internal: appends a link for a row with this canonical digest, as the append trigger does; '
'returns {previous link hash, signature} in hex. Used to chain the rows a table already holds.';

CREATE FUNCTION keel._audit_lock_chain(chain_id integer)
RETURNS void
LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'keel_audit_lock_chain';

-- Executable by PUBLIC (as PostgreSQL's default): a table owner's new partition gets a
-- copy of the chain's triggers only if the owner may execute their functions.  Safe:
-- audit_chain_append links only rows of the table its chain was enabled on (and that
-- table's partitions), and audit_chain_refuse only refuses.
-- (Revoked, then granted: the ACL reads the same as on a database updated from 0.1.0.)
REVOKE ALL ON FUNCTION keel.audit_chain_append() FROM PUBLIC;
REVOKE ALL ON FUNCTION keel.audit_chain_refuse() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION keel.audit_chain_append() TO PUBLIC;
GRANT EXECUTE ON FUNCTION keel.audit_chain_refuse() TO PUBLIC;
REVOKE ALL ON FUNCTION keel._audit_row_digest(integer, anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION keel._audit_lock_chain(integer) FROM PUBLIC;

COMMENT ON FUNCTION keel._audit_row_digest(integer, anyelement) IS
'Internal: SHA-256 of the canonical encoding of a row of a chained table (or one of its partitions).';
COMMENT ON FUNCTION keel._audit_lock_chain(integer) IS
'Internal: takes every sub-chain lock of a chain until the end of the transaction.';

-- ---------------------------------------------------------------- SQL API

CREATE FUNCTION keel._audit_chain_id(tbl regclass)
RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.convert_from(
               pg_catalog.substr(t.tgargs, 1, pg_catalog.position(t.tgargs, '\x00'::bytea) - 1),
               'SQL_ASCII')::integer
      FROM pg_catalog.pg_trigger t
     WHERE t.tgrelid = tbl AND t.tgname = 'zz_keel_audit_chain' AND t.tgnargs = 1
$$;

REVOKE ALL ON FUNCTION keel._audit_chain_id(regclass) FROM PUBLIC;
COMMENT ON FUNCTION keel._audit_chain_id(regclass) IS
'Internal: the chain id of a chained table (from its trigger, so it survives renames and dump/restore).';

CREATE FUNCTION keel._audit_require_chain(tbl regclass)
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id integer;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    v_id := keel._audit_chain_id(tbl);
    IF v_id IS NULL OR NOT EXISTS (SELECT 1 FROM keel.audit_chain c WHERE c.chain_id = v_id) THEN
        RAISE EXCEPTION 'table "%" has no audit chain', tbl
            USING ERRCODE = 'undefined_object',
                  HINT = 'Call keel.enable_audit_chain() on it first.';
    END IF;
    RETURN v_id;
END
$$;

REVOKE ALL ON FUNCTION keel._audit_require_chain(regclass) FROM PUBLIC;
COMMENT ON FUNCTION keel._audit_require_chain(regclass) IS
'Internal: the chain id of a chained table, or a clear ERROR.';

CREATE FUNCTION keel.enable_audit_chain(
    tbl regclass,
    hash_column name DEFAULT NULL,
    signature_column name DEFAULT NULL,
    key_name text DEFAULT NULL,
    sub_chains integer DEFAULT 1,
    existing_rows_order name[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_kind  "char";
    v_order text;
    v_adopt record;
    v_link  text[];
    v_after bytea;
    v_rows  bigint := 0;
    v_id    integer;
    v_col   name;
    v_type  regtype;
    v_typmod integer;
    v_key   text := coalesce(key_name, 'audit_chain');
    v_part  regclass;
    v_bad   text;
    v_empty boolean;
BEGIN
    IF tbl IS NULL OR sub_chains IS NULL THEN
        RAISE EXCEPTION 'keel.enable_audit_chain: tbl and sub_chains must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF (hash_column IS NULL) <> (signature_column IS NULL) THEN
        RAISE EXCEPTION 'hash_column and signature_column must be given together'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Either name both columns (the chain is kept in the rows) or neither '
                           '(the chain is kept beside the table).';
    END IF;
    IF hash_column = signature_column THEN
        RAISE EXCEPTION 'hash_column and signature_column must be different columns'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF sub_chains < 1 OR sub_chains > 64 THEN
        RAISE EXCEPTION 'sub_chains must be between 1 and 64, not %', sub_chains
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_key = '' THEN
        RAISE EXCEPTION 'key_name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT c.relkind INTO v_kind FROM pg_class c WHERE c.oid = tbl;
    IF v_kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%" is not a table', tbl
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'keel.enable_audit_chain() needs a table or a partitioned table.';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = tbl) THEN
        RAISE EXCEPTION '"%" is a partition or an inheritance child', tbl
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Enable the chain on the partitioned table itself.';
    END IF;
    IF keel._audit_chain_id(tbl) IS NOT NULL THEN
        RAISE EXCEPTION 'table "%" already has an audit chain', tbl
            USING ERRCODE = 'duplicate_object';
    END IF;

    FOREACH v_col IN ARRAY ARRAY[hash_column, signature_column] LOOP
        CONTINUE WHEN v_col IS NULL;
        SELECT a.atttypid::regtype, a.atttypmod INTO v_type, v_typmod
          FROM pg_attribute a
         WHERE a.attrelid = tbl AND a.attname = v_col AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of relation "%" does not exist', v_col, tbl
                USING ERRCODE = 'undefined_column';
        END IF;
        IF v_type NOT IN ('text'::regtype, 'varchar'::regtype)
           OR (v_type = 'varchar'::regtype AND v_typmod <> -1 AND v_typmod - 4 < 64) THEN
            RAISE EXCEPTION 'column "%" of relation "%" is of type %', v_col, tbl,
                            format_type(v_type, v_typmod)
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'The chain writes 64 hexadecimal characters: use text or varchar(64).';
        END IF;
    END LOOP;

    -- Columns keel cannot encode so that they survive a dump/restore unchanged.
    SELECT string_agg(format('%I (%s)', a.attname, format_type(a.atttypid, a.atttypmod)), ', ')
      INTO v_bad
      FROM pg_attribute a
      JOIN pg_type t ON t.oid = coalesce(nullif(keel._audit_base_type(a.atttypid), 0), a.atttypid)
     WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
       AND (t.typtype IN ('c', 'p')
            OR EXISTS (SELECT 1 FROM pg_type e WHERE e.oid = t.typelem AND t.typlen = -1
                                                 AND e.typtype IN ('c', 'p')));
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'relation "%" has columns of composite type: %', tbl, v_bad
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'The canonical row encoding covers scalar, enum, domain and array columns.';
    END IF;

    -- Rows already there are chained first, in the order the caller names (nobody may
    -- write meanwhile: EXCLUSIVE lets readers in, writers wait for the commit).
    IF existing_rows_order IS NOT NULL THEN
        IF cardinality(existing_rows_order) = 0 OR array_position(existing_rows_order, NULL) IS NOT NULL THEN
            RAISE EXCEPTION 'existing_rows_order must name at least one column, and no NULL'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF EXISTS (SELECT 1 FROM unnest(existing_rows_order) o
                    WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = tbl
                                         AND a.attname = o AND a.attnum > 0 AND NOT a.attisdropped)) THEN
            RAISE EXCEPTION 'existing_rows_order names a column that relation "%" does not have', tbl
                USING ERRCODE = 'undefined_column',
                      DETAIL = format('Columns given: %s.', existing_rows_order::text);
        END IF;
        SELECT string_agg(format('t.%I', o), ', ' ORDER BY i) INTO v_order
          FROM unnest(existing_rows_order) WITH ORDINALITY AS u(o, i);
        IF hash_column = ANY (existing_rows_order) OR signature_column = ANY (existing_rows_order) THEN
            RAISE EXCEPTION 'existing_rows_order cannot use the chain''s own columns'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', tbl);
    END IF;
    EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s)', tbl) INTO STRICT v_empty;
    IF NOT v_empty AND existing_rows_order IS NULL THEN
        RAISE EXCEPTION 'table "%" is not empty', tbl
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Which order its rows were written in is not in the table; keel must be told.',
                  HINT = 'Name the columns that order the existing rows, e.g. existing_rows_order => ''{created_at,id}'': they are chained first, in that order.';
    END IF;

    -- The HMAC key (made on first use; an existing key must have purpose hmac).
    PERFORM keel.create_key(v_key, 'hmac', if_not_exists => true);

    INSERT INTO keel.audit_chain (table_name, hash_column, signature_column, key_name, sub_chains, salt, tbl)
    VALUES (tbl::text, hash_column, signature_column, v_key, sub_chains, uuid_send(gen_random_uuid()), tbl)
    RETURNING chain_id INTO v_id;

    -- The existing rows, linked one by one as the append trigger would link them.  In
    -- row mode each row then gets its previous_hash and signature; a trigger of the
    -- table that changed the row on that UPDATE would make its digest wrong, so the row
    -- is hashed again afterwards and the whole call fails (and leaves nothing) if it moved.
    IF NOT v_empty THEN
        FOR v_adopt IN EXECUTE format(
                'SELECT keel._audit_row_digest(%s, t) AS digest, t.tableoid AS rel, t.ctid AS tid '
                'FROM %s t ORDER BY %s, t.tableoid, t.ctid', v_id, tbl, v_order) LOOP
            v_link := keel._audit_chain_link_digest(v_id, v_adopt.digest);
            IF hash_column IS NOT NULL THEN
                EXECUTE format('UPDATE %s t SET %I = $1, %I = $2 WHERE t.tableoid = $3 AND t.ctid = $4 '
                               'RETURNING keel._audit_row_digest(%s, t)',
                               tbl, hash_column, signature_column, v_id)
                   INTO v_after USING v_link[1], v_link[2], v_adopt.rel, v_adopt.tid;
                IF v_after IS DISTINCT FROM v_adopt.digest THEN
                    RAISE EXCEPTION 'a row of "%" changed while it was being chained', tbl
                        USING ERRCODE = 'object_not_in_prerequisite_state',
                              DETAIL = 'Writing the chain columns fired a trigger that changed other columns of the row.',
                              HINT = 'Disable that trigger for the call (ALTER TABLE ... DISABLE TRIGGER), then enable it again.';
                END IF;
            END IF;
            v_rows := v_rows + 1;
        END LOOP;
        RAISE NOTICE 'chained the % existing rows of "%"', v_rows, tbl;
    END IF;

    -- zz_: fires after every other BEFORE INSERT trigger, so it hashes the final row.
    EXECUTE format('CREATE TRIGGER zz_keel_audit_chain BEFORE INSERT ON %s FOR EACH ROW '
                   'EXECUTE FUNCTION keel.audit_chain_append(%L)', tbl, v_id);
    EXECUTE format('CREATE TRIGGER keel_audit_chain_guard BEFORE UPDATE OR DELETE ON %s FOR EACH ROW '
                   'EXECUTE FUNCTION keel.audit_chain_refuse()', tbl);
    EXECUTE format('CREATE TRIGGER keel_audit_chain_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT '
                   'EXECUTE FUNCTION keel.audit_chain_refuse()', tbl);
    -- TRUNCATE triggers are not inherited by partitions: guard each one.
    FOR v_part IN SELECT p.relid FROM pg_partition_tree(tbl) p WHERE p.relid <> tbl LOOP
        EXECUTE format('CREATE TRIGGER keel_audit_chain_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT '
                       'EXECUTE FUNCTION keel.audit_chain_refuse()', v_part);
    END LOOP;
    RETURN v_id;
END
$$;

REVOKE ALL ON FUNCTION keel.enable_audit_chain(regclass, name, name, text, integer, name[]) FROM PUBLIC;

COMMENT ON FUNCTION keel.enable_audit_chain(regclass, name, name, text, integer, name[]) IS
'Makes a table (or partitioned table) a tamper-evident, append-only audit chain. With '
'hash_column and signature_column (text or varchar(64)) each row carries hex(previous link hash) and '
'hex(HMAC signature); without them the chain is kept beside the table in keel.audit_link. '
'sub_chains > 1 is the scaling mode (independent sub-chains, one per concurrent writer). A table '
'that already holds rows needs existing_rows_order (columns): those rows are chained first, in that '
'order. Returns the chain id.';

CREATE FUNCTION keel._audit_base_type(t oid)
RETURNS oid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE d(oid, base) AS (
        SELECT ty.oid, ty.typbasetype FROM pg_catalog.pg_type ty WHERE ty.oid = t
        UNION ALL
        SELECT ty.oid, ty.typbasetype FROM pg_catalog.pg_type ty JOIN d ON ty.oid = d.base
    )
    SELECT d.oid FROM d WHERE d.base = 0
$$;

REVOKE ALL ON FUNCTION keel._audit_base_type(oid) FROM PUBLIC;
COMMENT ON FUNCTION keel._audit_base_type(oid) IS 'Internal: the base type of a domain (the type itself otherwise).';

CREATE FUNCTION keel.disable_audit_chain(tbl regclass, forget boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id integer;
    v_part regclass;
BEGIN
    IF tbl IS NULL OR forget IS NULL THEN
        RAISE EXCEPTION 'keel.disable_audit_chain: tbl and forget must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    v_id := keel._audit_chain_id(tbl);
    IF v_id IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TRIGGER zz_keel_audit_chain ON %s', tbl);
    EXECUTE format('DROP TRIGGER IF EXISTS keel_audit_chain_guard ON %s', tbl);
    FOR v_part IN SELECT p.relid FROM pg_partition_tree(tbl) p LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS keel_audit_chain_truncate ON %s', v_part);
    END LOOP;
    IF forget THEN
        DELETE FROM keel.audit_link l WHERE l.chain_id = v_id;
        DELETE FROM keel.audit_checkpoint c WHERE c.chain_id = v_id;
        DELETE FROM keel.audit_chain c WHERE c.chain_id = v_id;
    END IF;
    RETURN true;
END
$$;

REVOKE ALL ON FUNCTION keel.disable_audit_chain(regclass, boolean) FROM PUBLIC;

COMMENT ON FUNCTION keel.disable_audit_chain(regclass, boolean) IS
'Removes the chain''s triggers (the table becomes writable again). With forget => true also deletes '
'its links and checkpoints; otherwise they stay in keel.audit_link for the record.';

CREATE FUNCTION keel.audit_chain_retire_partition(parent regclass, partition regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id      integer;
    v_rows    bigint;
    v_links   bigint;
    r         record;
BEGIN
    IF parent IS NULL OR partition IS NULL THEN
        RAISE EXCEPTION 'keel.audit_chain_retire_partition: parent and partition must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    v_id := keel._audit_require_chain(parent);
    IF partition = parent OR NOT EXISTS (
           SELECT 1 FROM pg_partition_ancestors(partition) a WHERE a.relid = parent) THEN
        RAISE EXCEPTION '"%" is not a partition of "%"', partition, parent
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- No appends while the checkpoint is made.
    PERFORM keel._audit_lock_chain(v_id);

    CREATE TEMP TABLE IF NOT EXISTS pg_temp.keel_retire_digest (dg bytea, n bigint) ON COMMIT DROP;
    TRUNCATE pg_temp.keel_retire_digest;
    EXECUTE format('INSERT INTO pg_temp.keel_retire_digest SELECT keel._audit_row_digest(%s, p), count(*) '
                   'FROM %s p GROUP BY 1', v_id, partition);
    SELECT coalesce(sum(d.n), 0) INTO v_rows FROM pg_temp.keel_retire_digest d;
    SELECT count(*) INTO v_links
      FROM keel.audit_link l JOIN pg_temp.keel_retire_digest d ON d.dg = l.row_digest
     WHERE l.chain_id = v_id;
    -- Retired already (a logical-replication subscriber receives the publisher's
    -- checkpoint and link deletions, not its DROP): none of the rows is linked any more
    -- and the chain's checkpoints for this partition account for all of them. Nothing
    -- to record; the drop or detach is permitted.
    IF v_links = 0 AND v_rows > 0 AND v_rows = (
           SELECT sum(c.rows_retired) FROM keel.audit_checkpoint c
            WHERE c.chain_id = v_id AND c.partition_name = partition::text) THEN
        TRUNCATE pg_temp.keel_retire_digest;
        PERFORM keel._audit_chain_permit_retire(partition);
        RETURN;
    END IF;
    IF v_links <> v_rows THEN
        RAISE EXCEPTION 'cannot retire partition "%" of "%": % of its % rows are not in the chain',
                        partition, parent, v_rows - v_links, v_rows
            USING ERRCODE = 'data_corrupted',
                  DETAIL = 'Rows that were inserted around the chain (or tampered with) would vanish unrecorded.',
                  HINT = 'Run keel.verify_audit_chain() on the table to see the break.';
    END IF;

    FOR r IN
        WITH gone AS (
            SELECT l.sub, l.pos FROM keel.audit_link l JOIN pg_temp.keel_retire_digest d ON d.dg = l.row_digest
             WHERE l.chain_id = v_id)
        SELECT g.sub, min(g.pos) AS lo, max(g.pos) AS hi, count(*) AS n,
               (SELECT min(l.pos) FROM keel.audit_link l WHERE l.chain_id = v_id AND l.sub = g.sub) AS first
          FROM gone g GROUP BY g.sub ORDER BY g.sub
    LOOP
        IF r.lo <> r.first OR r.hi - r.lo + 1 <> r.n THEN
            RAISE EXCEPTION 'cannot retire partition "%" of "%": its rows are not the oldest of sub-chain %',
                            partition, parent, r.sub
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('The partition holds %s links between positions %s and %s; the sub-chain '
                                      'starts at %s. Retiring it would leave a hole that verification '
                                      'reports as deleted rows.', r.n, r.lo, r.hi, r.first),
                      HINT = 'Retire older partitions first.';
        END IF;
        INSERT INTO keel.audit_checkpoint (chain_id, sub, pos, link_hash, signature, key_id, key_version,
                                           partition_name, rows_retired)
        SELECT l.chain_id, l.sub, l.pos, l.link_hash, l.signature, l.key_id, l.key_version,
               partition::text, r.n
          FROM keel.audit_link l WHERE l.chain_id = v_id AND l.sub = r.sub AND l.pos = r.hi;
        DELETE FROM keel.audit_link l WHERE l.chain_id = v_id AND l.sub = r.sub AND l.pos <= r.hi;
    END LOOP;
    TRUNCATE pg_temp.keel_retire_digest;
    -- The chain guard (310_audit_chain_guards.sql) now lets this transaction drop or detach it.
    PERFORM keel._audit_chain_permit_retire(partition);
END
$$;

REVOKE ALL ON FUNCTION keel.audit_chain_retire_partition(regclass, regclass) FROM PUBLIC;

COMMENT ON FUNCTION keel.audit_chain_retire_partition(regclass, regclass) IS
'Retention path: before dropping or detaching an old partition of a chained table (same transaction), '
'records a signed checkpoint per sub-chain at the last link the partition holds and retires its links, '
'so verification of the remaining rows still passes. Raises if the partition''s rows are not the '
'oldest of their sub-chains (a hole) or are not all in the chain.';
