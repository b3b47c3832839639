-- queue 1.6 -> 1.7: positions skip the count of jobs not due yet when no
-- queued job can be waiting for its run_at.
-- * The shared counters count, per priority, the queued jobs whose run_at is
--   past their enqueued_at (jobs scheduled for later, and retried jobs): the
--   jobs of the index jobs_scheduled, the only ones that can be not due. A
--   position reads the table for jobs not due only when there are some in
--   its priority or an earlier one.
-- * So the counting trigger follows run_at and enqueued_at as well: an admin
--   who moves a queued job's run_at by hand moves it in or out of that count.

\echo Use "ALTER EXTENSION queue UPDATE TO '1.7'" to load this file. \quit

DROP TRIGGER jobs_track_counts ON queue.jobs;
CREATE TRIGGER jobs_track_counts
    AFTER INSERT OR DELETE OR UPDATE OF status, priority, resource, worker_id, run_at, enqueued_at
    ON queue.jobs FOR EACH ROW EXECUTE FUNCTION queue.track_counts();
