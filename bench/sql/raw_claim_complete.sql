-- baseline of "claim + complete": the classic SKIP LOCKED claim and an
-- UPDATE to completed on bench.jobs_raw, in one transaction.
BEGIN;
UPDATE bench.jobs_raw
   SET status = 'processing', attempts = attempts + 1, started_at = now(),
       deadline = now() + timeout, worker_id = 'w' || :client_id
 WHERE id = (SELECT id FROM bench.jobs_raw
              WHERE status = 'queued' AND run_at <= now()
              ORDER BY priority, id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id AS job_id \gset
UPDATE bench.jobs_raw
   SET status = 'completed', finished_at = now(), deadline = NULL
 WHERE id = :job_id AND status = 'processing' AND worker_id = 'w' || :client_id;
COMMIT;
