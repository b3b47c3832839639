-- baseline of "batch": claim up to :batch jobs of bench.jobs_raw with SKIP
-- LOCKED, then complete them all with one UPDATE, an audit row per transition
-- in bench.events_raw (as the queue writes), in one transaction.
BEGIN;
WITH claimed AS (
  UPDATE bench.jobs_raw
     SET status = 'processing', attempts = attempts + 1, started_at = now(),
         deadline = now() + timeout, worker_id = 'w' || :client_id
   WHERE id IN (SELECT id FROM bench.jobs_raw
                 WHERE status = 'queued' AND run_at <= now()
                 ORDER BY priority, id LIMIT :batch FOR UPDATE SKIP LOCKED)
  RETURNING id, attempts, worker_id),
 logged AS (
  INSERT INTO bench.events_raw (job_id, from_status, to_status, worker_id, detail)
  SELECT id, 'queued', 'processing', worker_id, 'attempt ' || attempts FROM claimed)
SELECT array_agg(id) AS ids FROM claimed \gset
WITH done AS (
  UPDATE bench.jobs_raw
     SET status = 'completed', finished_at = now(), deadline = NULL
   WHERE id = ANY(:ids::bigint[]) AND status = 'processing' AND worker_id = 'w' || :client_id
  RETURNING id, worker_id),
 logged AS (
  INSERT INTO bench.events_raw (job_id, from_status, to_status, worker_id)
  SELECT id, 'processing', 'completed', worker_id FROM done)
SELECT count(*) FROM done;
COMMIT;
