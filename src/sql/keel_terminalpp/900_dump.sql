-- audit_logs is kept by keel after the install (its audit chain), so it
-- leaves the extension: pg_dump then writes it whole, with the chain's triggers, and a
-- restore brings it back chained (keel.release_blueprint_table, 520_blueprint_release.sql).
-- It is still dropped with the blueprint.
SELECT keel.release_blueprint_table('keel_terminalpp',
    pg_catalog.format('%I.audit_logs', pg_catalog.current_schema())::regclass);
-- pg_dump carries every row: each member table is registered with
-- pg_extension_config_dump() (keel.register_blueprint_tables, src/sql/keel/510_blueprints.sql).
SELECT keel.register_blueprint_tables('keel_terminalpp');
