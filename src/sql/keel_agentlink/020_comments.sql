-- Comments (the seed has none; keel's rule is that every object has one).
COMMENT ON TABLE @extschema@.users IS 'AgentLink users (seed 002); password_hash takes keel.hash_password() output.';
COMMENT ON TABLE @extschema@.agents IS 'AgentLink agents; config_encrypted/config_iv are kept encrypted by keel (seed 002).';
COMMENT ON TABLE @extschema@.api_keys IS 'AgentLink API keys: key_hash/key_prefix take keel.issue_api_key() output (seed 002).';
COMMENT ON TABLE @extschema@.quotas IS 'AgentLink call quotas; consume with consume_quota(), which never lets used_quota pass total_quota (seed 002).';
COMMENT ON TABLE @extschema@.call_logs IS 'AgentLink call log, kept in a tamper-evident keel audit chain (seed 002).';
