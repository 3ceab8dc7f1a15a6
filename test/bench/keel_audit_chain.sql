-- Loaded after the peers' SQL (EXTRA_SQL, with keel.sql first): wires keel's audit
-- chain to the peers' benchmark table audit_events.  A variant whose trigger call is
-- "keel:N" enables keel.enable_audit_chain('audit_events', 'previous_hash',
-- 'signature', sub_chains => N) instead of attaching a trigger, and "keel-beside:N"
-- enables it without the columns (the chain kept beside the table, in keel.audit_link
-- only: the seed's previous_hash and signature stay NULL, as in the plain variant);
-- every other call is handed to the peer's own functions unchanged.
--   AUDIT_VARIANTS="plain= peer=audit_chain_trigger() keel=keel:1 keel4=keel:4 keel4b=keel-beside:4"
--   AUDIT_CHAIN_CALL=keel:1
--   AUDIT_VERIFY_SQL="SELECT * FROM keel.verify_audit_chain('audit_events')"
CREATE EXTENSION IF NOT EXISTS keel;

DO $$
BEGIN
    IF to_regprocedure('peer_audit_chain_setup(boolean)') IS NULL THEN
        ALTER FUNCTION audit_chain_setup(boolean) RENAME TO peer_audit_chain_setup;
        ALTER FUNCTION audit_chain_reset() RENAME TO peer_audit_chain_reset;
        ALTER FUNCTION audit_chain_set_trigger(text) RENAME TO peer_audit_chain_set_trigger;
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS bench_keel_mode (id int PRIMARY KEY CHECK (id = 1), sub_chains int,
                                            beside boolean NOT NULL DEFAULT false);

-- Removes keel's chain from audit_events (and its links: this database is a benchmark).
CREATE OR REPLACE FUNCTION bench_keel_off()
RETURNS void LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
BEGIN
    IF keel._audit_chain_id(to_regclass('audit_events')) IS NOT NULL THEN
        PERFORM keel.disable_audit_chain('audit_events');
        TRUNCATE keel.audit_link, keel.audit_checkpoint;
        DELETE FROM keel.audit_chain;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION bench_keel_on(n int, beside boolean)
RETURNS void LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
BEGIN
    PERFORM bench_keel_off();
    TRUNCATE audit_events;
    IF beside THEN
        PERFORM keel.enable_audit_chain('audit_events', sub_chains => n);
    ELSE
        PERFORM keel.enable_audit_chain('audit_events', 'previous_hash', 'signature', sub_chains => n);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION audit_chain_setup(p_seed_indexes boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
BEGIN
    PERFORM bench_keel_off();
    PERFORM peer_audit_chain_setup(p_seed_indexes);
    -- A diagnostic: the peer's table indexes previous_hash for the peer's verifier (keel's
    -- does not use it).  Unchained rows put NULLs there, nearly free; chained rows put
    -- random 64-digit keys.  BENCH_PGOPTIONS="-c keel_bench.previous_hash_index=off"
    -- measures the chain without that index.
    IF current_setting('keel_bench.previous_hash_index', true) = 'off' THEN
        DROP INDEX idx_audit_events_previous_hash;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION audit_chain_set_trigger(p_call text)
RETURNS void LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
BEGIN
    PERFORM bench_keel_off();
    PERFORM peer_audit_chain_set_trigger(NULL);
    DELETE FROM bench_keel_mode;
    IF coalesce(p_call, '') ~ '^keel(-beside)?:' THEN
        INSERT INTO bench_keel_mode
            VALUES (1, split_part(p_call, ':', 2)::int, p_call LIKE 'keel-beside:%');
        PERFORM bench_keel_on(m.sub_chains, m.beside) FROM bench_keel_mode m;
    ELSE
        PERFORM peer_audit_chain_set_trigger(p_call);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION audit_chain_reset()
RETURNS void LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
DECLARE
    m bench_keel_mode;
BEGIN
    SELECT * INTO m FROM bench_keel_mode;
    IF m.sub_chains IS NOT NULL THEN
        PERFORM bench_keel_on(m.sub_chains, m.beside);
    ELSE
        PERFORM peer_audit_chain_reset();
    END IF;
END
$$;
