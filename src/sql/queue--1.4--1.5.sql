-- queue 1.4 -> 1.5: monitoring that keeps its cost per event.
-- * fold_events() looks each event's job up by its primary key. Before, the
--   planner costed the join by the batch limit (10,000) and hashed the whole
--   jobs table on every pass that had events to fold: a cost that grew with
--   the table, whatever the batch (a pass folding 100 events took 8.5 ms
--   with 140k jobs, 3 ms now). The ids of events skipped while uncommitted
--   are looked up the same way, not by scanning queue.job_events.
-- * TRUNCATE queue.job_events moves the monitor's cursor to where the events
--   to come begin: after TRUNCATE ... RESTART IDENTITY their ids start again
--   below the cursor, and before, no event was folded until the ids passed
--   it again.

\echo Use "ALTER EXTENSION queue UPDATE TO '1.5'" to load this file. \quit

-- Fold up to batch_limit events not folded yet into the minutes, the job
-- type totals and the workers' failure streaks; returns how many it folded.
CREATE OR REPLACE FUNCTION queue.fold_events(batch_limit integer) RETURNS integer
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    SET jit = off
    AS $$
DECLARE
    cursor_id bigint;
    folded integer;
    last_id bigint;
BEGIN
    SELECT last_event_id INTO cursor_id FROM queue.monitor_state;
    -- Most passes find nothing new: two index probes, no statement to plan.
    -- (max(), not EXISTS of id > cursor_id: a generic plan of that may read
    -- the whole table.)
    IF coalesce((SELECT max(id) FROM queue.job_events), 0) <= cursor_id
       AND NOT EXISTS (SELECT 1 FROM queue.rollup_gaps) THEN
        RETURN 0;
    END IF;
    WITH batch AS MATERIALIZED (
        SELECT e.id, e.at, e.worker_id, j.job_type,
               date_trunc('minute', e.at) AS minute,
               e.from_status IS NULL AS enqueued,
               coalesce(e.from_status = 'queued' AND e.to_status = 'processing', false) AS started,
               e.to_status = 'completed' AS completed,
               e.to_status = 'failed' AS failed,
               e.to_status = 'retrying' AS retried,
               coalesce(e.from_status = 'processing' AND e.to_status <> 'processing'
                        AND e.detail LIKE 'attempt timed out after %', false) AS timed_out,
               e.to_status = 'cancelled' AS cancelled,
               coalesce(e.from_status = 'processing'
                        AND e.to_status IN ('completed', 'retrying', 'failed'), false) AS attempt_end,
               -- Claimable since run_at (the enqueue, or a retry's backoff); when
               -- the job has moved on to a later attempt, since the event that
               -- queued it last.
               CASE WHEN e.from_status = 'queued' AND e.to_status = 'processing' THEN
                   extract(epoch FROM e.at - CASE WHEN j.run_at <= e.at THEN j.run_at ELSE
                       (SELECT p.at FROM queue.job_events p
                         WHERE p.job_id = e.job_id AND p.id < e.id AND p.to_status = 'queued'
                         ORDER BY p.id DESC LIMIT 1) END)::double precision
               END AS wait_seconds,
               CASE WHEN e.to_status = 'completed' AND j.started_at <= e.at
                    THEN extract(epoch FROM e.at - j.started_at)::double precision END AS run_seconds
          FROM (
              -- Two index range scans: an OR of both would walk the whole
              -- table from its first id.
              (SELECT * FROM queue.job_events WHERE id > cursor_id ORDER BY id LIMIT batch_limit)
              UNION ALL
              SELECT gap.* FROM queue.rollup_gaps g
                CROSS JOIN LATERAL (SELECT * FROM queue.job_events WHERE id = g.event_id OFFSET 0) gap
          ) e
          -- Each event's job through the primary key (OFFSET 0 keeps it a
          -- lookup): a join the planner costs by the batch limit hashes the
          -- whole jobs table, whatever the batch.
          LEFT JOIN LATERAL (SELECT job_type, run_at, started_at FROM queue.jobs
                              WHERE id = e.job_id OFFSET 0) j ON true
         ORDER BY e.id
         LIMIT batch_limit),
    minutes AS (
        INSERT INTO queue.stats_minutes AS m (minute, enqueued, started, completed, failed, retried,
                                              timed_out, cancelled, wait_seconds_sum, wait_count)
        SELECT minute, count(*) FILTER (WHERE enqueued), count(*) FILTER (WHERE started),
               count(*) FILTER (WHERE completed), count(*) FILTER (WHERE failed),
               count(*) FILTER (WHERE retried), count(*) FILTER (WHERE timed_out),
               count(*) FILTER (WHERE cancelled), coalesce(sum(wait_seconds), 0), count(wait_seconds)
          FROM batch GROUP BY minute
        ON CONFLICT (minute) DO UPDATE SET
            enqueued = m.enqueued + excluded.enqueued, started = m.started + excluded.started,
            completed = m.completed + excluded.completed, failed = m.failed + excluded.failed,
            retried = m.retried + excluded.retried, timed_out = m.timed_out + excluded.timed_out,
            cancelled = m.cancelled + excluded.cancelled,
            wait_seconds_sum = m.wait_seconds_sum + excluded.wait_seconds_sum,
            wait_count = m.wait_count + excluded.wait_count),
    totals AS (
        INSERT INTO queue.job_type_totals AS t (job_type, enqueued, started, completed, failed,
                                                retried, timed_out, cancelled, wait_buckets,
                                                wait_sum, run_buckets, run_sum)
        SELECT job_type, count(*) FILTER (WHERE enqueued), count(*) FILTER (WHERE started),
               count(*) FILTER (WHERE completed), count(*) FILTER (WHERE failed),
               count(*) FILTER (WHERE retried), count(*) FILTER (WHERE timed_out),
               count(*) FILTER (WHERE cancelled),
               queue.cumulative_buckets(array_agg(wait_seconds) FILTER (WHERE wait_seconds IS NOT NULL),
                                        queue.wait_bounds()),
               coalesce(sum(wait_seconds), 0),
               queue.cumulative_buckets(array_agg(run_seconds) FILTER (WHERE run_seconds IS NOT NULL),
                                        queue.run_bounds()),
               coalesce(sum(run_seconds), 0)
          FROM batch WHERE job_type IS NOT NULL GROUP BY job_type
        ON CONFLICT (job_type) DO UPDATE SET
            enqueued = t.enqueued + excluded.enqueued, started = t.started + excluded.started,
            completed = t.completed + excluded.completed, failed = t.failed + excluded.failed,
            retried = t.retried + excluded.retried, timed_out = t.timed_out + excluded.timed_out,
            cancelled = t.cancelled + excluded.cancelled,
            wait_buckets = queue.add_counts(t.wait_buckets, excluded.wait_buckets),
            wait_sum = t.wait_sum + excluded.wait_sum,
            run_buckets = queue.add_counts(t.run_buckets, excluded.run_buckets),
            run_sum = t.run_sum + excluded.run_sum),
    attempt_ends AS (
        SELECT worker_id, id, at, completed,
               max(id) FILTER (WHERE completed) OVER (PARTITION BY worker_id) AS last_success_id
          FROM batch WHERE attempt_end AND worker_id IS NOT NULL),
    streaks AS (
        -- A completed attempt in the batch restarts the streak from the
        -- errors after it; otherwise the batch's errors extend it.
        INSERT INTO queue.worker_failure_streaks AS s (worker_id, failures, last_failure_at,
                                                       last_success_at)
        SELECT worker_id,
               count(*) FILTER (WHERE NOT completed AND id > coalesce(last_success_id, 0)),
               max(at) FILTER (WHERE NOT completed), max(at) FILTER (WHERE completed)
          FROM attempt_ends GROUP BY worker_id
        ON CONFLICT (worker_id) DO UPDATE SET
            failures = CASE WHEN excluded.last_success_at IS NOT NULL THEN excluded.failures
                            ELSE s.failures + excluded.failures END,
            last_failure_at = coalesce(excluded.last_failure_at, s.last_failure_at),
            last_success_at = coalesce(excluded.last_success_at, s.last_success_at)),
    seen_gaps AS (
        DELETE FROM queue.rollup_gaps g WHERE g.event_id IN (SELECT id FROM batch)),
    new_gaps AS (
        INSERT INTO queue.rollup_gaps (event_id)
        SELECT i FROM generate_series(cursor_id + 1, (SELECT max(id) FROM batch)) AS i
         WHERE NOT EXISTS (SELECT 1 FROM batch b WHERE b.id = i))
    SELECT count(*), max(id) INTO folded, last_id FROM batch;

    UPDATE queue.monitor_state SET last_event_id = greatest(last_event_id, last_id)
     WHERE last_id IS NOT NULL;
    DELETE FROM queue.rollup_gaps WHERE noted_at < now() - interval '1 hour';
    RETURN folded;
END
$$;
COMMENT ON FUNCTION queue.fold_events(integer) IS
    'folds queue.job_events not folded yet into stats_minutes, job_type_totals and worker_failure_streaks, each event once';

-- The events to come get ids past the sequence's position: the cursor moves
-- there, back when the truncation restarted the identity. The ids skipped
-- while uncommitted belonged to truncated events.
CREATE FUNCTION queue.job_events_truncated() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ids regclass := pg_get_serial_sequence('queue.job_events', 'id')::regclass;
BEGIN
    UPDATE queue.monitor_state
       SET last_event_id = coalesce(pg_sequence_last_value(ids),
                                    (SELECT seqstart - seqincrement FROM pg_sequence
                                      WHERE seqrelid = ids));
    DELETE FROM queue.rollup_gaps;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION queue.job_events_truncated() IS
    'moves the monitoring cursor to the first event id to come after queue.job_events is truncated';
REVOKE ALL ON FUNCTION queue.job_events_truncated() FROM PUBLIC;
CREATE TRIGGER job_events_truncated AFTER TRUNCATE ON queue.job_events
    FOR EACH STATEMENT EXECUTE FUNCTION queue.job_events_truncated();
