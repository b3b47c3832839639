-- queue 1.8 -> 1.9: the counters hold against direct edits and the settings
-- row against nested deletes.
-- * The counting trigger follows id as well: an admin who moves a queued job
--   to another id (UPDATE ... SET id = DEFAULT) moves it to another block of
--   the position counters. It did not, and positions across the two blocks
--   stayed wrong until the counters were rebuilt.
-- * queue.settings keeps its row whatever deletes it: the trigger that
--   refuses an admin's DELETE let through one issued from another trigger
--   (it must, for the restore of a dump, which replaces the shipped row), and
--   every queue function then failed. A deferred check now refuses, at
--   commit, any transaction that leaves the table without its row.
-- * enqueue_batch() refuses what it used to record as a batch that adds
--   nothing, or never can: an unknown job type with no payloads (every later
--   call with that key then added nothing), a batch key too long for the
--   dedupe keys made of it, and a payload array of more than one dimension
--   (its payloads were enqueued flattened).

\echo Use "ALTER EXTENSION queue UPDATE TO '1.9'" to load this file. \quit

DROP TRIGGER jobs_track_counts ON queue.jobs;
CREATE TRIGGER jobs_track_counts
    AFTER INSERT OR DELETE OR UPDATE OF id, status, priority, resource, worker_id, run_at, enqueued_at
    ON queue.jobs FOR EACH ROW EXECUTE FUNCTION queue.track_counts();

CREATE FUNCTION queue.settings_row_kept() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM queue.settings) THEN
        RAISE EXCEPTION 'queue.settings must keep its row'
            USING ERRCODE = 'restrict_violation',
                  HINT = 'Change its values with UPDATE instead.';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION queue.settings_row_kept() IS
    'refuses, at commit, a transaction that leaves queue.settings without its row';
REVOKE ALL ON FUNCTION queue.settings_row_kept() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER settings_row_kept AFTER DELETE ON queue.settings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION queue.settings_row_kept();

CREATE OR REPLACE FUNCTION queue.enqueue_batch(job_type text, batch_key text, payloads jsonb[])
RETURNS integer
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    -- Each job's dedupe key is the batch key, ':' and the payload's number.
    longest_key integer := 200 - 1 - length(coalesce(cardinality(payloads), 0)::text);
    added integer;
BEGIN
    IF job_type IS NULL OR batch_key IS NULL OR payloads IS NULL THEN
        RAISE EXCEPTION 'job_type, batch_key and payloads must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM queue.job_types t WHERE t.job_type = enqueue_batch.job_type) THEN
        RAISE EXCEPTION 'unknown job type "%"', job_type
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Known job types: %s. An admin adds types to queue.job_types.',
                                (SELECT string_agg(t.job_type, ', ' ORDER BY t.job_type)
                                   FROM queue.job_types t));
    END IF;
    IF length(batch_key) NOT BETWEEN 1 AND longest_key THEN
        RAISE EXCEPTION 'batch_key must have 1 to % characters', longest_key
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Each job''s dedupe key is the batch key, '':'' and the number of its '
                         'payload, 200 characters at most.';
    END IF;
    IF array_ndims(payloads) > 1 THEN
        RAISE EXCEPTION 'payloads must be a one-dimensional array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO queue.batches (batch_key, job_type, jobs)
    VALUES (batch_key, job_type, cardinality(payloads))
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    SELECT count(queue.enqueue(enqueue_batch.job_type, p.payload,
                               dedupe_key => enqueue_batch.batch_key || ':' || p.n))
      INTO added
      FROM unnest(payloads) WITH ORDINALITY AS p(payload, n);
    RETURN added;
END
$$;
