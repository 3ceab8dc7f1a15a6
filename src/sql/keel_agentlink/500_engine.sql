-- Wiring to the keel engine.

-- updated_at kept by keel's C++ trigger on every table that has the column (the seed
-- defines no trigger at all).  current_schema() is the target schema during CREATE
-- EXTENSION; names are never spliced into literals, so any schema name works.
SELECT keel.enable_updated_at(pg_catalog.format('%I.%I', pg_catalog.current_schema(), t)::regclass)
  FROM unnest(ARRAY['users', 'agents', 'quotas']) AS t;

-- Secret columns: encrypted now, or guarded until the server has a master key.
SELECT enable_encryption();

-- The audit chain (or its guard, without a master key; nothing during a dump restore).
SELECT enable_audit_chain();
