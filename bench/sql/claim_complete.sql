-- queue side of "claim + complete": a render worker claims one job and
-- completes it, in one transaction (two round trips, like a real worker).
BEGIN;
SELECT id AS job_id FROM queue.dequeue('w' || :client_id, 1) \gset
SELECT queue.complete(:job_id, 'w' || :client_id);
COMMIT;
