-- Comments (the seed has none; keel's rule is that every object has one).
COMMENT ON TABLE @extschema@.users IS 'Studio users (seed 003); password_hash takes keel.hash_password() output.';
COMMENT ON TABLE @extschema@.sessions IS 'Studio sessions (seed 003).';
COMMENT ON TABLE @extschema@.runs IS 'Agent runs within a session (seed 003).';
COMMENT ON TABLE @extschema@.messages IS 'Messages exchanged during a run (seed 003).';
COMMENT ON TABLE @extschema@.files IS 'Files produced by a run (seed 003).';
COMMENT ON TABLE @extschema@.settings IS 'Per-user key/value settings (seed 003).';
COMMENT ON TABLE @extschema@.gallery IS 'Published run results (seed 003).';
