-- Wiring to the keel engine.

-- updated_at kept by keel's C++ trigger on every table that has the column (the seed
-- forgot the trigger everywhere).
-- (During CREATE EXTENSION current_schema() is the target schema; names are never
-- spliced into literals, so any schema name works.)
SELECT keel.enable_updated_at(pg_catalog.format('%I.%I', pg_catalog.current_schema(), t)::regclass)
  FROM unnest(ARRAY['users', 'sandboxes', 'fs_entries', 'ai_conversations', 'ai_agents',
                    'github_connections', 'secrets', 'plugins']) AS t;

-- The seed's data retention policies run with keel's maintenance (keel.run_maintenance()
-- and the background worker), once per schema the blueprint is installed in.
-- (During a pg_dump restore the registration comes from the dump.)
SELECT keel.register_maintenance_task(
    'terminalpp retention: ' || pg_catalog.current_schema(),
    pg_catalog.to_regprocedure(pg_catalog.format('%I.apply_retention(timestamptz)', pg_catalog.current_schema())))
 WHERE NOT keel.blueprint_restoring();

-- Secret columns: encrypted now, or guarded until the server has a master key.
SELECT enable_encryption();

-- The audit chain (or its guard, without a master key; nothing during a dump restore).
SELECT enable_audit_chain();
