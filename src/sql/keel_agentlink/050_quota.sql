-- Atomic quota consumption.  One UPDATE whose WHERE clause is the quota test: under READ
-- COMMITTED a concurrent consumer waits for the row lock and then re-checks the condition
-- against the row as committed (EvalPlanQual), so no interleaving can push used_quota past
-- total_quota; under REPEATABLE READ / SERIALIZABLE the loser gets a serialization
-- failure (40001) instead.  test/isolation/specs/agentlink_quota.spec races it.

CREATE FUNCTION @extschema@.consume_quota(user_id uuid, amount integer DEFAULT 1)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_user uuid := consume_quota.user_id;
BEGIN
    IF v_user IS NULL OR amount IS NULL THEN
        RAISE EXCEPTION 'user_id and amount must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF amount <= 0 THEN
        RAISE EXCEPTION 'quota amount must be positive, not %', amount
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    UPDATE @extschema@.quotas q
       SET used_quota = coalesce(q.used_quota, 0) + amount
     WHERE q.user_id = v_user
       AND coalesce(q.used_quota, 0)::bigint + amount <= coalesce(q.total_quota, 0);
    IF FOUND THEN
        RETURN true;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM @extschema@.quotas q WHERE q.user_id = v_user) THEN
        RAISE EXCEPTION 'no quota row for user %', v_user
            USING ERRCODE = 'no_data_found',
                  HINT = 'Insert a row into quotas for this user first.';
    END IF;
    RETURN false;
END
$$;

COMMENT ON FUNCTION @extschema@.consume_quota(uuid, integer) IS
'Consumes amount units of the user''s quota atomically: true when consumed, false (and no '
'change) when used_quota + amount would pass total_quota. A NULL total_quota allows nothing.';

CREATE FUNCTION @extschema@.release_quota(user_id uuid, amount integer DEFAULT 1)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_user uuid := release_quota.user_id;
BEGIN
    IF v_user IS NULL OR amount IS NULL THEN
        RAISE EXCEPTION 'user_id and amount must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF amount <= 0 THEN
        RAISE EXCEPTION 'quota amount must be positive, not %', amount
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE @extschema@.quotas q
       SET used_quota = greatest(coalesce(q.used_quota, 0) - amount, 0)
     WHERE q.user_id = v_user;
    RETURN FOUND;
END
$$;

COMMENT ON FUNCTION @extschema@.release_quota(uuid, integer) IS
'Gives back amount units (for a failed call), never below zero; false when the user has no quota row.';
