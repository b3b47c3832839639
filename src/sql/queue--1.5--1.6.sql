-- queue 1.5 -> 1.6: passes that read a few blocks whatever the statistics
-- say and however long a transaction elsewhere stays open.
-- * fold_events() looks for events past its cursor with the first id past
--   it, in index order. Before, it read max(id): when statistics called a
--   big queue.job_events empty (ANALYZE running while a burst had not
--   committed yet leaves them so), that was planned as a walk of the whole
--   index and heap, 72 ms a pass with 300,000 events, on every pass until
--   the next ANALYZE. The rest of the function is as in 1.5.
-- * The index of processing jobs by worker serves only statements that name
--   a worker: the timeout pass uses the deadline index, which reads only the
--   attempts past their deadline, however many dead entries a long
--   transaction elsewhere keeps.

\echo Use "ALTER EXTENSION queue UPDATE TO '1.6'" to load this file. \quit

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
    folded_up_to bigint;
BEGIN
    SELECT last_event_id INTO cursor_id FROM queue.monitor_state;
    -- Most passes find nothing new: two index probes, no statement to plan.
    -- The first event past the cursor in id order is the one probe every
    -- plan makes from the index, whatever the statistics: max() was planned
    -- as a walk of the whole index when they called the table empty, and
    -- EXISTS of id > cursor_id as a sequential scan when they called it big.
    IF (SELECT id FROM queue.job_events WHERE id > cursor_id ORDER BY id LIMIT 1) IS NULL
       AND NOT EXISTS (SELECT 1 FROM queue.rollup_gaps) THEN
        RETURN 0;
    END IF;
    WITH batch AS MATERIALIZED (
        SELECT e.id, e.gap, e.at, e.worker_id, j.job_type,
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
              (SELECT *, NULL::bigint AS gap FROM queue.job_events
                WHERE id > cursor_id ORDER BY id LIMIT batch_limit)
              UNION ALL
              -- The events that turned up in the skipped ranges, each with
              -- its range: a range scan a range, none to read in the range
              -- of a rolled-back transaction.
              SELECT late.*, g.first_id FROM queue.rollup_gaps g
                CROSS JOIN LATERAL (SELECT * FROM queue.job_events
                                     WHERE id BETWEEN g.first_id AND g.last_id OFFSET 0) late
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
    -- A range where events turned up gives way to the runs of it still
    -- missing: before the first of them, between two, after the last.
    seen_gaps AS (
        DELETE FROM queue.rollup_gaps g
         WHERE g.first_id IN (SELECT gap FROM batch WHERE gap IS NOT NULL)
        RETURNING g.first_id, g.last_id, g.noted_at),
    still_missing AS (
        INSERT INTO queue.rollup_gaps (first_id, last_id, noted_at)
        SELECT first_id, last_id, noted_at FROM (
            SELECT lag(b.id, 1, g.first_id - 1) OVER (PARTITION BY g.first_id ORDER BY b.id) + 1
                       AS first_id,
                   b.id - 1 AS last_id, g.noted_at
              FROM seen_gaps g JOIN batch b ON b.gap = g.first_id
            UNION ALL
            SELECT max(b.id) + 1, g.last_id, g.noted_at
              FROM seen_gaps g JOIN batch b ON b.gap = g.first_id
             GROUP BY g.first_id, g.last_id, g.noted_at) runs
         WHERE first_id <= last_id),
    -- The ids this pass passed over: the runs between its new events.
    new_gaps AS (
        INSERT INTO queue.rollup_gaps (first_id, last_id)
        SELECT previous + 1, id - 1 FROM (
            SELECT id, lag(id, 1, cursor_id) OVER (ORDER BY id) AS previous
              FROM batch WHERE gap IS NULL) new_events
         WHERE id > previous + 1)
    SELECT count(*), max(id) INTO folded, folded_up_to FROM batch;

    UPDATE queue.monitor_state SET last_event_id = greatest(last_event_id, folded_up_to)
     WHERE folded_up_to IS NOT NULL;
    DELETE FROM queue.rollup_gaps WHERE noted_at < now() - interval '1 hour';
    RETURN folded;
END
$$;
COMMENT ON FUNCTION queue.fold_events(integer) IS
    'folds queue.job_events not folded yet into stats_minutes, job_type_totals and worker_failure_streaks, each event once';

-- Processing jobs by worker, for the statements that name a worker: the
-- predicate is now implied only when a statement names one (or asks for a
-- worker id). Rebuilt under an exclusive lock of queue.jobs, for one scan. Before, the
-- timeout pass and the read of the running renders could be planned on this
-- index (both partial indexes of processing jobs look alike to the planner)
-- and walk every entry, dead ones a long transaction elsewhere keeps
-- included, where the deadline index reads only the attempts past their
-- deadline. Processing jobs always have a worker id: the index holds the
-- same entries.
DROP INDEX queue.jobs_worker;
CREATE INDEX jobs_worker ON queue.jobs (worker_id) WHERE status = 'processing' AND worker_id IS NOT NULL;
