-- queue 1.6 -> 1.7: positions skip the count of jobs not due yet when no
-- queued job can be waiting for its run_at.
-- * The shared counters count, per priority, the queued jobs whose run_at is
--   past their enqueued_at (jobs scheduled for later, and retried jobs): the
--   jobs of the index jobs_scheduled, the only ones that can be not due. A
--   position reads the table for jobs not due only when there are some in
--   its priority or an earlier one.
-- * So the counting trigger follows run_at and enqueued_at as well: an admin
--   who moves a queued job's run_at by hand moves it in or out of that count.
-- * The monitoring pass folds 500 events at a time, not 2,000: a slice then
--   keeps the background worker from its wake-up relays for about 5 ms, not
--   12 to 25 (with a million jobs: 1 to 2 ms a call, 5 to 10 us an event). The
--   worker folds a backlog slice after slice, with relays in between, as
--   fast as before. The rest of monitor() is as in 1.5.

\echo Use "ALTER EXTENSION queue UPDATE TO '1.7'" to load this file. \quit

DROP TRIGGER jobs_track_counts ON queue.jobs;
CREATE TRIGGER jobs_track_counts
    AFTER INSERT OR DELETE OR UPDATE OF status, priority, resource, worker_id, run_at, enqueued_at
    ON queue.jobs FOR EACH ROW EXECUTE FUNCTION queue.track_counts();

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
    -- Events are folded on every call, a slice of 500 at most (a few
    -- milliseconds, kFoldSlice in tick.cpp), so that no pass keeps the
    -- background worker from its wake-up relays for long; while a whole
    -- slice more waits, slices follow at once.
    PERFORM queue.fold_events(500);
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
