-- pg_dump carries every row: each member table is registered with
-- pg_extension_config_dump() (keel.register_blueprint_tables, src/sql/keel/510_blueprints.sql).
SELECT keel.register_blueprint_tables('keel_terminalpp');
