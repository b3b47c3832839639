-- One loop of a render worker (pgbench client): claim 1-3 jobs, "render"
-- for 20-90 ms, then complete most of them and fail some (mostly
-- retryable). The worker id is the client's; each client is its own worker,
-- so the jobs it holds are exactly its processing rows. Any answer that says
-- the worker no longer holds a job it claimed (complete() false, fail()
-- NULL) is an anomaly: nothing times out or dies during the run.
--
-- Now and then a claim or an ending is rolled back (a whole transaction or
-- a savepoint): the shared counters must give the slots back exactly, or the
-- limits drift (checked against the table at the end; a leaked slot would
-- also starve the final drain).
\set want random(1, 3)
\set render_ms random(20, 90)
\set claim_mode random(1, 20)
\set end_mode random(1, 20)
\if :claim_mode = 1
BEGIN;
SELECT count(*) AS claimed_then_aborted FROM queue.dequeue('w' || :client_id, :want);
ROLLBACK;
\elif :claim_mode = 2
BEGIN;
SAVEPOINT first_try;
SELECT count(*) AS claimed_then_rolled_back FROM queue.dequeue('w' || :client_id, :want);
ROLLBACK TO SAVEPOINT first_try;
SELECT count(*) AS claimed FROM queue.dequeue('w' || :client_id, :want);
COMMIT;
\else
SELECT count(*) AS claimed FROM queue.dequeue('w' || :client_id, :want);
\endif
\sleep :render_ms ms
\if :end_mode = 1
BEGIN;
SELECT queue.complete(id, 'w' || :client_id) FROM queue.jobs
 WHERE status = 'processing' AND worker_id = 'w' || :client_id;
ROLLBACK;
\else
INSERT INTO stress_anomalies (worker_id, job_id, what)
SELECT worker, id, outcome FROM (
    SELECT 'w' || :client_id AS worker, id,
           CASE WHEN random() < 0.8
                THEN CASE WHEN queue.complete(id, 'w' || :client_id, jsonb_build_object('frames', id % 500))
                          THEN 'completed' ELSE 'complete() returned false' END
                ELSE coalesce(queue.fail(id, 'w' || :client_id, 'stress: render failed', random() < 0.85)::text,
                              'fail() returned NULL')
           END AS outcome
      FROM queue.jobs
     WHERE status = 'processing' AND worker_id = 'w' || :client_id
     ORDER BY id) ended
 WHERE outcome NOT IN ('completed', 'retrying', 'failed');
\endif
