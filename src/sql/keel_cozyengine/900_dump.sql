-- pg_dump carries every row: each member table is registered with
-- pg_extension_config_dump(); audit_events' partitions are released from the extension
-- so pg_dump writes them (and partitions made later) as ordinary tables.  The default
-- personality is the install script's own row (CREATE EXTENSION makes it again on
-- restore), so the dump leaves it out; see docs/blueprints/cozyengine.md.
SELECT keel.register_blueprint_tables('keel_cozyengine',
    '{"personalities": "WHERE id <> ''assistant-v1''"}');
