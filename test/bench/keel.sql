-- Loaded after the peers' SQL (EXTRA_SQL): keel into the benchmark database.
CREATE EXTENSION IF NOT EXISTS keel;
