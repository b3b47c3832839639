-- baseline of "claim + complete" with an audit trail: the SKIP LOCKED claim
-- and the UPDATE to completed on bench.jobs_raw, each writing one row into
-- bench.events_raw (shaped like queue.job_events), in one transaction.
BEGIN;
WITH claimed AS (
  UPDATE bench.jobs_raw
     SET status = 'processing', attempts = attempts + 1, started_at = now(),
         deadline = now() + timeout, worker_id = 'w' || :client_id
   WHERE id = (SELECT id FROM bench.jobs_raw
                WHERE status = 'queued' AND run_at <= now()
                ORDER BY priority, id LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING id, attempts, worker_id),
 logged AS (
  INSERT INTO bench.events_raw (job_id, from_status, to_status, worker_id, detail)
  SELECT id, 'queued', 'processing', worker_id, 'attempt ' || attempts FROM claimed)
SELECT id AS job_id FROM claimed \gset
WITH done AS (
  UPDATE bench.jobs_raw
     SET status = 'completed', finished_at = now(), deadline = NULL
   WHERE id = :job_id AND status = 'processing' AND worker_id = 'w' || :client_id
  RETURNING id, worker_id),
 logged AS (
  INSERT INTO bench.events_raw (job_id, from_status, to_status, worker_id)
  SELECT id, 'processing', 'completed', worker_id FROM done)
SELECT count(*) FROM done;
COMMIT;
