-- Wiring to the keel engine.  updated_at: the seed's own three triggers (010_schema.sql)
-- already run keel's C++ touch_updated_at under the seed's function name.

-- Secret columns: encrypted now, or guarded until the server has a master key.
SELECT enable_encryption();
