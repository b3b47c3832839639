-- queue 1.1 -> 1.2
\echo Use "ALTER EXTENSION queue UPDATE TO '1.2'" to load this file. \quit

-- Each worker id's running jobs are counted in shared memory (dequeue()
-- checks a worker's capacity against that count), so the counters follow a
-- running job moved to another worker id as well.
DROP TRIGGER jobs_track_counts ON queue.jobs;
CREATE TRIGGER jobs_track_counts AFTER INSERT OR DELETE OR UPDATE OF status, priority, resource, worker_id
    ON queue.jobs FOR EACH ROW EXECUTE FUNCTION queue.track_counts();
