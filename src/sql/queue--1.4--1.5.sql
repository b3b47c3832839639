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
-- * The ids a pass skips (taken by transactions that had not committed yet)
--   are kept as ranges, not one row each, and a pass reads the events that
--   turned up in them with a range scan each. A rolled-back batch of 40,000
--   enqueues used to leave 40,000 rows, each looked up on every pass for an
--   hour; it now leaves one range with nothing in it.
-- * The C functions pin their search path in the library, at the entry
--   point every one of them goes through, instead of with a SET clause:
--   each call of a function with SET saves, sets and restores the GUC, and
--   makes every statement inside look its search path up again, a tenth of
--   the CPU of a claim and its completion. The pin is stricter than the
--   clause it replaces: pg_catalog alone, not even the temporary schema.

\echo Use "ALTER EXTENSION queue UPDATE TO '1.5'" to load this file. \quit

-- SECURITY DEFINER without a SET search_path, on purpose: these run no SQL
-- before queue's entry point pins pg_catalog as the whole search path
-- (PinSearchPath in the library); sql/security.sql calls each with a hostile
-- search_path.
ALTER FUNCTION queue.enqueue(text, jsonb, text, queue.priority, text, timestamptz, text) RESET search_path;
ALTER FUNCTION queue.dequeue(text, integer, text[]) RESET search_path;
ALTER FUNCTION queue.complete(bigint, text, jsonb, integer) RESET search_path;
ALTER FUNCTION queue.complete_many(bigint[], text, jsonb[], integer[]) RESET search_path;
ALTER FUNCTION queue.fail(bigint, text, text, boolean, integer) RESET search_path;
ALTER FUNCTION queue.cancel(bigint, text) RESET search_path;
ALTER FUNCTION queue.position(bigint) RESET search_path;
ALTER FUNCTION queue.job_status(bigint) RESET search_path;
ALTER FUNCTION queue.stats() RESET search_path;
ALTER FUNCTION queue.is_peak_hour(timestamptz) RESET search_path;
ALTER FUNCTION queue.effective_limit(text, timestamptz) RESET search_path;
ALTER FUNCTION queue.tick() RESET search_path;
ALTER FUNCTION queue.register_worker(text, text[], integer) RESET search_path;
ALTER FUNCTION queue.heartbeat(text) RESET search_path;
ALTER FUNCTION queue.drain_worker(text) RESET search_path;

-- A skipped id is now a range of them (first_id..last_id).
ALTER TABLE queue.rollup_gaps DROP CONSTRAINT rollup_gaps_pkey;
ALTER TABLE queue.rollup_gaps RENAME COLUMN event_id TO first_id;
ALTER TABLE queue.rollup_gaps ADD COLUMN last_id bigint;
UPDATE queue.rollup_gaps SET last_id = first_id;
ALTER TABLE queue.rollup_gaps
    ALTER COLUMN last_id SET NOT NULL,
    ADD CONSTRAINT rollup_gaps_pkey PRIMARY KEY (first_id),
    ADD CONSTRAINT rollup_gaps_range CHECK (first_id <= last_id);
COMMENT ON TABLE queue.rollup_gaps IS
    'ranges of queue.job_events ids the monitoring pass skipped because they were not committed yet';

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
    -- (max(), not EXISTS of id > cursor_id: a generic plan of that may read
    -- the whole table.)
    IF coalesce((SELECT max(id) FROM queue.job_events), 0) <= cursor_id
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

-- A pass folds a slice of the events waiting (2,000, not 10,000: a slice of
-- 10,000 took some 40 ms, and the background worker relays no wake-up while
-- it runs a pass); the worker runs the next pass at once while events wait,
-- and tick() folds slices until none wait. The rest of monitor() is as in 1.3.
CREATE OR REPLACE FUNCTION queue.monitor(min_interval interval DEFAULT '5 seconds') RETURNS boolean
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET jit = off
    AS $$
DECLARE
    previous_pass timestamptz;
    kept interval;
BEGIN
    -- One pass at a time: tick() may run concurrently with itself.
    SELECT last_pass_at INTO previous_pass FROM queue.monitor_state FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- Events are folded on every call, a slice of 2,000 at most (a few
    -- milliseconds, kFoldSlice in tick.cpp), so that no pass keeps the
    -- background worker from its wake-up relays for long; while a whole
    -- slice more waits, passes follow at once.
    PERFORM queue.fold_events(2000);
    IF previous_pass > now() - min_interval THEN
        RETURN false;
    END IF;
    INSERT INTO queue.stats_minutes AS m (minute, queued, processing)
    SELECT date_trunc('minute', now()), s.queued, s.processing FROM queue.stats() s
    ON CONFLICT (minute) DO UPDATE SET queued = excluded.queued, processing = excluded.processing;
    PERFORM queue.evaluate_alerts();

    SELECT greatest(retention, interval '1 day') INTO kept FROM queue.settings;
    DELETE FROM queue.stats_minutes WHERE minute < now() - kept;
    DELETE FROM queue.alert_log WHERE cleared_at < now() - kept;
    DELETE FROM queue.worker_failure_streaks f
     WHERE greatest(f.last_failure_at, f.last_success_at) < now() - kept
       AND NOT EXISTS (SELECT 1 FROM queue.workers w WHERE w.worker_id = f.worker_id);
    UPDATE queue.monitor_state SET last_pass_at = now();
    RETURN true;
END
$$;
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
