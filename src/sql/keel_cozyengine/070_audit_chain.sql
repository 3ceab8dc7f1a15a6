-- audit_events is a tamper-evident chain "through its own previous_hash / signature"
-- (seed 004): keel.enable_audit_chain writes hex(previous link hash) and hex(HMAC) into
-- the seed's two VARCHAR(64) columns, and refuses UPDATE, DELETE and TRUNCATE of events
-- (old partitions are retired by partition maintenance through
-- keel.audit_chain_retire_partition).  HMAC key: "cozyengine-audit:<schema>".
CREATE FUNCTION @extschema@.enable_audit_chain()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tbl regclass := (SELECT t.typrelid FROM pg_type t
                        WHERE t.oid = pg_typeof(NULL::@extschema@.audit_events)::oid)::regclass;
    v_key text := keel.blueprint_key_name('cozyengine-audit',
                      (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_tbl));
BEGIN
    RETURN keel.chain_blueprint_table(v_key, v_tbl, 'previous_hash', 'signature');
END
$$;

COMMENT ON FUNCTION @extschema@.enable_audit_chain() IS
'Chains audit_events through previous_hash/signature (run by the install; run it again after '
'configuring keel''s master key if the install found none). Returns chained, pending or restoring.';
REVOKE ALL ON FUNCTION @extschema@.enable_audit_chain() FROM PUBLIC;
