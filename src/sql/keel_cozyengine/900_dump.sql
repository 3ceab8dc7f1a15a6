-- audit_events is kept by keel after the install (its audit chain and its partitions), so it
-- leaves the extension: pg_dump then writes it whole, with the chain's triggers, and a
-- restore brings it back chained (keel.release_blueprint_table, 520_blueprint_release.sql).
-- It is still dropped with the blueprint.
SELECT keel.release_blueprint_table('keel_cozyengine',
    pg_catalog.format('%I.audit_events', pg_catalog.current_schema())::regclass);
-- pg_dump carries every row: each member table is registered with
-- pg_extension_config_dump(); audit_events' partitions are released from the extension
-- so pg_dump writes them (and partitions made later) as ordinary tables.  The default
-- personality is dumped too (edits included; a restore's install does not make it), but
-- while it is unchanged it is the install's own row and does not hold the blueprint
-- against DROP EXTENSION; see docs/blueprints/cozyengine.md.
SELECT keel.register_blueprint_tables('keel_cozyengine');
SELECT keel.mark_blueprint_own_rows('keel_cozyengine',
    pg_catalog.format('%I.personalities', pg_catalog.current_schema())::regclass,
    $$id = 'assistant-v1' AND updated_at = created_at$$);
