-- queue side of "claim + complete": a registered render worker claims one job
-- and completes it with the attempt dequeue() returned (the fenced form), in
-- one transaction (two round trips, like a real worker).
BEGIN;
SELECT id AS job_id, attempts AS attempt FROM queue.dequeue('w' || :client_id, 1) \gset
SELECT queue.complete(:job_id, 'w' || :client_id, NULL, :attempt);
COMMIT;
