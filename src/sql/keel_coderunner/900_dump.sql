-- deployments is kept by keel after the install (its encrypted db_connection_info), so it
-- leaves the extension: pg_dump writes it whole, with the encryption trigger, and a restore
-- brings it back encrypting (keel.release_blueprint_table, 520_blueprint_release.sql).  It
-- is still dropped with the blueprint.
SELECT keel.release_blueprint_table('keel_coderunner',
    pg_catalog.format('%I.deployments', pg_catalog.current_schema())::regclass);
-- pg_dump carries every row: each member table is registered with
-- pg_extension_config_dump() (keel.register_blueprint_tables, src/sql/keel/510_blueprints.sql).
SELECT keel.register_blueprint_tables('keel_coderunner');
