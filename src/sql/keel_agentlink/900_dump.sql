-- Tables keel keeps wiring after the install leave the extension, so pg_dump writes them
-- whole, with keel's triggers on them, and a restore brings them back working
-- (keel.release_blueprint_table, src/sql/keel/520_blueprint_release.sql): call_logs (its
-- audit chain) and agents (its encrypted config).  call_logs first: it references agents.
-- They are still dropped with the blueprint.
SELECT keel.release_blueprint_table('keel_agentlink',
    pg_catalog.format('%I.call_logs', pg_catalog.current_schema())::regclass);
SELECT keel.release_blueprint_table('keel_agentlink',
    pg_catalog.format('%I.agents', pg_catalog.current_schema())::regclass);
-- pg_dump carries every row: each member table is registered with
-- pg_extension_config_dump() (keel.register_blueprint_tables, src/sql/keel/510_blueprints.sql).
SELECT keel.register_blueprint_tables('keel_agentlink');
