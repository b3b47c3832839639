-- lifecycle: a job's life over time, with time moved by editing rows (no sleeps).
--   retry backoff (run_at - now() = 5, 10, 20 min, capped by max_retry_delay),
--   then failed; tick(): overdue attempts time out (-> retrying, or failed on the
--   last attempt), due retries are released (and not before), silent workers are
--   marked dead and their jobs recovered, finished jobs past retention are pruned
--   with their audit rows; cancel of a running job (cancel_requested, surfaced by
--   heartbeat, ended as cancelled); stale workers; the audit trail of every step.
-- Statements that compare run_at with now() run in one transaction, where now()
-- is fixed, so the differences are exact.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS queue CASCADE;
CREATE EXTENSION queue;
RESET client_min_messages;
DELETE FROM queue.peak_windows;

-- Retry backoff: delay x backoff^(attempt-1) = 5, 10, 20 minutes; the 4th failure is final.
SELECT queue.enqueue('topic_short') AS j \gset
SELECT attempts FROM queue.dequeue('w1');
BEGIN;
SELECT queue.fail(:j, 'w1', 'crash 1') AS status;
SELECT status, attempts, run_at - now() AS backoff, deadline, last_error FROM queue.jobs WHERE id = :j;
COMMIT;
-- not due yet: tick releases nothing and the job cannot be claimed
SELECT released FROM queue.tick();
SELECT count(*) AS claimed FROM queue.dequeue('w1');
SELECT queue.position(:j) AS position_while_retrying;
SELECT status, estimated_wait > '4 minutes' AS waits_out_backoff FROM queue.job_status(:j);
UPDATE queue.jobs SET run_at = now() - interval '1 second' WHERE id = :j;
SELECT timed_out, released FROM queue.tick();
SELECT status, queue.position(:j) AS position FROM queue.jobs WHERE id = :j;
SELECT attempts FROM queue.dequeue('w1');
BEGIN;
SELECT queue.fail(:j, 'w1', 'crash 2') AS status;
SELECT status, attempts, run_at - now() AS backoff FROM queue.jobs WHERE id = :j;
COMMIT;
UPDATE queue.jobs SET run_at = now() - interval '1 second' WHERE id = :j;
SELECT released FROM queue.tick();
SELECT attempts FROM queue.dequeue('w1');
BEGIN;
SELECT queue.fail(:j, 'w1', 'crash 3') AS status;
SELECT status, attempts, run_at - now() AS backoff FROM queue.jobs WHERE id = :j;
COMMIT;
UPDATE queue.jobs SET run_at = now() - interval '1 second' WHERE id = :j;
SELECT released FROM queue.tick();
SELECT attempts, max_attempts FROM queue.dequeue('w1');
SELECT queue.fail(:j, 'w1', 'crash 4') AS status;
SELECT status, attempts, last_error, finished_at IS NOT NULL AS finished, deadline
  FROM queue.jobs WHERE id = :j;
SELECT queue.fail(:j, 'w1', 'crash 5') AS fail_after_failed, queue.cancel(:j) AS cancel_after_failed;
-- the whole story in the audit trail, one row per transition
SELECT from_status, to_status, worker_id, detail FROM queue.job_events WHERE job_id = :j ORDER BY id;

-- Other backoff settings apply at once; max_retry_delay caps the delay.
UPDATE queue.settings SET retry_delay = '1 minute', retry_backoff = 3, max_retry_delay = '5 minutes';
SELECT queue.enqueue('doubt') AS j \gset
SELECT attempts FROM queue.dequeue('w1');
BEGIN;
SELECT queue.fail(:j, 'w1', 'e1');
SELECT run_at - now() AS backoff FROM queue.jobs WHERE id = :j;
COMMIT;
UPDATE queue.jobs SET run_at = now() WHERE id = :j;
SELECT released FROM queue.tick();
SELECT attempts FROM queue.dequeue('w1');
BEGIN;
SELECT queue.fail(:j, 'w1', 'e2');
SELECT run_at - now() AS backoff FROM queue.jobs WHERE id = :j;
COMMIT;
UPDATE queue.jobs SET run_at = now() WHERE id = :j;
SELECT released FROM queue.tick();
SELECT attempts FROM queue.dequeue('w1');
BEGIN;
SELECT queue.fail(:j, 'w1', 'e3');
SELECT run_at - now() AS capped FROM queue.jobs WHERE id = :j;
COMMIT;
UPDATE queue.settings SET retry_delay = DEFAULT, retry_backoff = DEFAULT, max_retry_delay = DEFAULT;
-- a type with max_retries = 0 fails on its first error
INSERT INTO queue.job_types (job_type, priority, max_retries) VALUES ('one_shot', 'low', 0);
SELECT queue.enqueue('one_shot') AS j \gset
SELECT attempts, max_attempts FROM queue.dequeue('w1');
SELECT queue.fail(:j, 'w1', 'no luck') AS status;

-- Timeouts: an attempt past its deadline is ended by tick().
DELETE FROM queue.jobs;
DELETE FROM queue.job_events;
SELECT queue.enqueue('doubt') AS j \gset
SELECT attempts, deadline - started_at AS timeout FROM queue.dequeue('w1');
-- not overdue yet: nothing happens
SELECT timed_out FROM queue.tick();
UPDATE queue.jobs SET deadline = now() - interval '1 second' WHERE id = :j;
BEGIN;
SELECT timed_out, released, dead_workers, recovered, pruned FROM queue.tick();
SELECT status, attempts, last_error, run_at - now() AS backoff, deadline FROM queue.jobs WHERE id = :j;
COMMIT;
-- the timed-out worker is stale: it can neither complete nor fail the job
SELECT queue.complete(:j, 'w1') AS stale_complete, queue.fail(:j, 'w1', 'late') AS stale_fail;
UPDATE queue.jobs SET run_at = now() - interval '1 second' WHERE id = :j;
SELECT released FROM queue.tick();
SELECT attempts, worker_id FROM queue.dequeue('w2');
-- the old worker still cannot touch the new attempt; the new one can
SELECT queue.complete(:j, 'w1') AS old_worker, queue.fail(:j, 'w1', 'x') AS old_worker_fail;
SELECT queue.complete(:j, 'w2') AS new_worker;
-- a per-type timeout is used for the deadline
UPDATE queue.job_types SET timeout = '30 seconds' WHERE job_type = 'daily_ca';
SELECT queue.enqueue('daily_ca') AS j2 \gset
SELECT deadline - started_at AS timeout FROM queue.dequeue('w1');
UPDATE queue.job_types SET timeout = NULL WHERE job_type = 'daily_ca';
-- the last attempt timing out is final
-- (the attempt in flight is made the last one allowed)
UPDATE queue.jobs SET attempts = max_attempts, deadline = now() - interval '1 second' WHERE id = :j2;
SELECT attempts, max_attempts FROM queue.jobs WHERE id = :j2;
SELECT timed_out, released FROM queue.tick();
SELECT status, attempts, last_error, finished_at IS NOT NULL AS finished FROM queue.jobs WHERE id = :j2;
SELECT job_id = :j AS first_job, from_status, to_status, worker_id, detail
  FROM queue.job_events ORDER BY id;

-- Cancelling a running job: flagged, reported by heartbeat, ended as cancelled.
DELETE FROM queue.jobs;
SELECT (queue.register_worker('w-beat')).state;
SELECT queue.enqueue('doubt') AS j \gset
SELECT count(*) FROM queue.dequeue('w-beat');
SELECT queue.cancel(:j, 'student closed the app') AS cancel_running;
SELECT status, cancel_requested FROM queue.jobs WHERE id = :j;
SELECT count(*) AS cancel_requests FROM queue.heartbeat('w-beat') AS h(id) WHERE id = :j;
SELECT queue.fail(:j, 'w-beat', 'stopped on request') AS status;
SELECT status, finished_at IS NOT NULL AS finished, last_error FROM queue.jobs WHERE id = :j;
SELECT count(*) AS cancel_requests_after FROM queue.heartbeat('w-beat');
SELECT from_status, to_status, detail FROM queue.job_events WHERE job_id = :j ORDER BY id;
-- a cancel requested on a job that then times out ends it as cancelled, not retried
SELECT queue.enqueue('doubt') AS j \gset
SELECT count(*) FROM queue.dequeue('w-beat');
SELECT queue.cancel(:j);
UPDATE queue.jobs SET deadline = now() - interval '1 second' WHERE id = :j;
SELECT timed_out FROM queue.tick();
SELECT status, finished_at IS NOT NULL AS finished FROM queue.jobs WHERE id = :j;

-- Dead workers: silent for longer than worker_timeout (60 s) -> dead, jobs recovered.
DELETE FROM queue.jobs;
SELECT (queue.register_worker('w-dead', NULL, 3)).capacity;
SELECT (queue.register_worker('w-alive', NULL, 3)).capacity;
SELECT count(queue.enqueue('topic_short')) FROM generate_series(1, 4);
SELECT count(*) FROM queue.dequeue('w-dead', 3);
SELECT count(*) FROM queue.dequeue('w-alive', 3);
-- 59 seconds of silence is not enough
UPDATE queue.workers SET last_heartbeat = now() - interval '59 seconds' WHERE worker_id = 'w-dead';
SELECT dead_workers, recovered FROM queue.tick();
UPDATE queue.workers SET last_heartbeat = now() - interval '61 seconds' WHERE worker_id = 'w-dead';
SELECT timed_out, released, dead_workers, recovered FROM queue.tick();
SELECT worker_id, state FROM queue.workers ORDER BY worker_id;
SELECT status, count(*), min(attempts) AS attempts FROM queue.jobs GROUP BY status ORDER BY status;
SELECT DISTINCT last_error FROM queue.jobs WHERE status = 'queued';
-- the dead worker's late completion is refused
SELECT bool_or(queue.complete(id, 'w-dead')) AS any_stale_complete FROM queue.jobs;
-- recovered jobs can be claimed again by live workers (w-alive has 2 free slots)
SELECT count(*) AS claimed FROM queue.dequeue('w-alive', 3);
-- a heartbeat brings a dead worker back
UPDATE queue.workers SET state = 'dead' WHERE worker_id = 'w-alive';
SELECT count(*) FROM queue.heartbeat('w-alive');
SELECT state FROM queue.workers WHERE worker_id = 'w-alive';

-- Pruning: finished jobs older than retention (7 days) go, with their audit rows.
DELETE FROM queue.jobs;
DELETE FROM queue.job_events;
SELECT queue.enqueue('doubt') AS old_done, queue.enqueue('doubt') AS new_done,
       queue.enqueue('doubt') AS old_cancelled, queue.enqueue('doubt') AS waiting \gset
SELECT count(*) FROM queue.dequeue('w1', 2);
SELECT queue.complete(:old_done, 'w1'), queue.complete(:new_done, 'w1'), queue.cancel(:old_cancelled);
UPDATE queue.jobs SET finished_at = now() - interval '8 days' WHERE id IN (:old_done, :old_cancelled);
UPDATE queue.jobs SET finished_at = now() - interval '6 days' WHERE id = :new_done;
-- an old enqueue time alone does not make a job prunable
UPDATE queue.jobs SET enqueued_at = now() - interval '30 days' WHERE id = :waiting;
SELECT pruned FROM queue.tick();
SELECT id = :new_done AS is_new_done, id = :waiting AS is_waiting, status FROM queue.jobs ORDER BY id;
SELECT count(*) AS orphan_events FROM queue.job_events
 WHERE job_id NOT IN (SELECT id FROM queue.jobs);
SELECT job_id = :new_done AS of_new_done, count(*) FROM queue.job_events GROUP BY 1 ORDER BY 1;
-- a shorter retention applies at once
UPDATE queue.settings SET retention = '1 day';
SELECT pruned FROM queue.tick();
SELECT status FROM queue.jobs ORDER BY id;
-- a job that finished before the jobs pruned already (a finish committed
-- late, or a job locked while the pass ran) is pruned too, within 60 passes
SELECT count(queue.enqueue('doubt'));
SELECT id AS late_done FROM queue.dequeue('w1', 1) \gset
SELECT queue.complete(:late_done, 'w1');
UPDATE queue.jobs SET finished_at = now() - interval '9 days' WHERE id = :late_done;
SELECT sum((queue.tick()).pruned) AS pruned_within_60_passes FROM generate_series(1, 60);
SELECT count(*) AS late_done_left FROM queue.jobs WHERE id = :late_done;
-- so is a retry due before the retries released already (a failure that
-- committed late, or a run_at moved back by hand)
SELECT count(queue.enqueue('doubt'));
SELECT id AS late_retry FROM queue.dequeue('w1', 1) \gset
SELECT queue.fail(:late_retry, 'w1', 'render crashed') IS NOT NULL AS failed;
SELECT released FROM queue.tick();  -- not due yet
UPDATE queue.jobs SET run_at = now() - interval '1 hour' WHERE id = :late_retry;
SELECT sum((queue.tick()).released) AS released_within_60_passes FROM generate_series(1, 60);
SELECT status FROM queue.jobs WHERE id = :late_retry;
UPDATE queue.settings SET retention = DEFAULT;
SELECT completed, cancelled, queued FROM queue.stats();
