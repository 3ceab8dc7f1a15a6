-- The keel schema is fixed (control file: schema = keel, relocatable = false).
COMMENT ON SCHEMA keel IS 'keel engine: triggers, key store, audit chain, partition upkeep';

-- Applications call keel's functions (hashing, encryption, triggers) from any role;
-- what is not for them is revoked function by function.
GRANT USAGE ON SCHEMA keel TO PUBLIC;
