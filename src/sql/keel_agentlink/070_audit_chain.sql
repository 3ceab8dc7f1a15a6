-- call_logs is a tamper-evident chain kept beside the table (keel.audit_link): the
-- seed's columns are unchanged; UPDATE, DELETE and TRUNCATE of call logs are refused.
-- HMAC key: "agentlink-audit:<schema>".
CREATE FUNCTION @extschema@.enable_audit_chain()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tbl regclass := (SELECT t.typrelid FROM pg_type t
                        WHERE t.oid = pg_typeof(NULL::@extschema@.call_logs)::oid)::regclass;
    v_key text := keel.blueprint_key_name('agentlink-audit',
                      (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_tbl));
BEGIN
    RETURN keel.chain_blueprint_table(v_key, v_tbl);
END
$$;

COMMENT ON FUNCTION @extschema@.enable_audit_chain() IS
'Chains call_logs beside the table (run by the install; run it again after configuring keel''s '
'master key if the install found none). Returns chained, pending or restoring.';
REVOKE ALL ON FUNCTION @extschema@.enable_audit_chain() FROM PUBLIC;
