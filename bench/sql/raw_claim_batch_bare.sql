-- diagnostic baseline of "batch": raw_claim_batch.sql without its audit rows
-- (the claim of up to :batch jobs with SKIP LOCKED and the UPDATE that
-- completes them, in one transaction), to show what the audit trail costs.
BEGIN;
WITH claimed AS (
  UPDATE bench.jobs_raw
     SET status = 'processing', attempts = attempts + 1, started_at = now(),
         deadline = now() + timeout, worker_id = 'w' || :client_id
   WHERE id IN (SELECT id FROM bench.jobs_raw
                 WHERE status = 'queued' AND run_at <= now()
                 ORDER BY priority, id LIMIT :batch FOR UPDATE SKIP LOCKED)
  RETURNING id)
SELECT array_agg(id) AS ids FROM claimed \gset
UPDATE bench.jobs_raw
   SET status = 'completed', finished_at = now(), deadline = NULL
 WHERE id = ANY(:ids::bigint[]) AND status = 'processing' AND worker_id = 'w' || :client_id;
COMMIT;
