-- api_basics: the everyday SQL API on a fresh extension.
--   enqueue defaults from queue.job_types and explicit overrides, dedupe keys,
--   dequeue order (strict priority, FIFO within a priority), the global limit
--   (10) and the manim limit (4) with other jobs still claimable, complete /
--   fail / cancel, position and job_status, stats counts, worker capacity and
--   drain_worker.
-- Peak windows are deleted so that the limits in force at now() are known;
-- the extension is created afresh so that job ids are deterministic.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS queue CASCADE;
CREATE EXTENSION queue;
RESET client_min_messages;
DELETE FROM queue.peak_windows;

-- Defaults from job_types: priority, no resource, max_attempts = 1 + max_retries,
-- timeout = settings.job_timeout, run_at = enqueue time.
SELECT queue.enqueue('doubt') AS d1, queue.enqueue('topic_short') AS t1,
       queue.enqueue('daily_ca') AS c1;
SELECT id, job_type, priority, resource, status, payload, attempts, max_attempts, timeout,
       run_at = enqueued_at AS run_now, owner, cancel_requested
  FROM queue.jobs ORDER BY id;

-- Per-type overrides: resource, timeout and max_retries in job_types.
INSERT INTO queue.job_types (job_type, priority, resource, timeout, max_retries)
VALUES ('manim_short', 'medium', 'manim', '3 minutes', 0);
SELECT queue.enqueue('manim_short', '{"topic": "vectors"}', 'student-7');
SELECT job_type, priority, resource, payload, user_id, max_attempts, timeout
  FROM queue.jobs WHERE id = 4;

-- Explicit overrides win over the type's defaults.
SELECT queue.enqueue('daily_ca', priority => 'high', resource => 'manim',
                     run_at => now() + interval '1 hour');
SELECT priority, resource, run_at > now() AS later FROM queue.jobs WHERE id = 5;
UPDATE queue.settings SET max_retries = 5, job_timeout = '20 minutes';
SELECT queue.enqueue('doubt');
SELECT max_attempts, timeout FROM queue.jobs WHERE id = 6;
UPDATE queue.settings SET max_retries = DEFAULT, job_timeout = DEFAULT;
-- Every enqueue leaves one audit row.
SELECT job_id, from_status, to_status, detail FROM queue.job_events ORDER BY id;

-- Dedupe: the same key returns the unfinished job and adds nothing.
SELECT queue.enqueue('doubt', dedupe_key => 'q-42') AS first_id \gset
SELECT queue.enqueue('doubt', dedupe_key => 'q-42') = :first_id AS same_id,
       queue.enqueue('topic_short', '{"other": true}', dedupe_key => 'q-42') = :first_id AS same_id_other_type;
SELECT count(*) AS jobs_with_key FROM queue.jobs WHERE dedupe_key = 'q-42';
SELECT count(*) AS events_of_key FROM queue.job_events WHERE job_id = :first_id;

-- Start over for dispatch order.
DELETE FROM queue.jobs;
DELETE FROM queue.job_events;
UPDATE queue.job_types SET max_retries = NULL, timeout = NULL WHERE job_type = 'manim_short';

-- Interleaved priorities: dispatch is high first, then medium, then low,
-- each in enqueue order. n is the enqueue order (id relative to the last id used).
SELECT last_value AS base FROM queue.jobs_id_seq \gset
SELECT count(queue.enqueue(t)) AS enqueued
  FROM unnest(ARRAY['daily_ca', 'topic_short', 'doubt', 'daily_ca', 'doubt', 'topic_short',
                    'doubt']) WITH ORDINALITY AS u(t, n);
SELECT id - :base AS n, priority, queue.position(id) FROM queue.jobs ORDER BY queue.position(id);
SELECT id - :base AS n, priority, status, attempts, worker_id FROM queue.dequeue('w-order', 3);
SELECT id - :base AS n, priority FROM queue.dequeue('w-order', 1);
SELECT id - :base AS n, priority, queue.position(id) FROM queue.jobs WHERE status = 'queued' ORDER BY id;
SELECT id - :base AS n, priority FROM queue.dequeue('w-order', 5);
-- Nothing left: no rows, no error.
SELECT count(*) AS claimed FROM queue.dequeue('w-order', 5);
-- A job scheduled for later is not claimable until its run_at.
SELECT queue.enqueue('doubt', run_at => now() + interval '10 minutes') AS later_id \gset
SELECT count(*) AS claimed FROM queue.dequeue('w-order');
UPDATE queue.jobs SET run_at = now() - interval '1 second' WHERE id = :later_id;
SELECT id = :later_id AS claimed_the_due_job FROM queue.dequeue('w-order');

-- The three high jobs (n = 3, 5, 7) are held by w-order.
SELECT :base + 3 AS j_done, :base + 5 AS j_retry, :base + 7 AS j_fail \gset
-- complete: the holder ends the attempt; a second complete or another worker gets false.
SELECT queue.complete(:j_done, 'someone-else') AS by_other_worker;
SELECT queue.complete(:j_done, 'w-order', '{"url": "s3://videos/1.mp4"}') AS completed;
SELECT queue.complete(:j_done, 'w-order') AS completed_again;
SELECT status, result, deadline IS NULL AS no_deadline, finished_at IS NOT NULL AS finished
  FROM queue.jobs WHERE id = :j_done;
-- fail: retrying while attempts remain, failed when not retryable; NULL for a non-holder.
SELECT queue.fail(:j_retry, 'someone-else', 'boom') AS by_other_worker;
SELECT queue.fail(:j_retry, 'w-order', 'encoder crashed') AS status;
SELECT queue.fail(:j_fail, 'w-order', 'bad script', retryable => false) AS status;
SELECT id - :base AS n, status, attempts, last_error, deadline IS NULL AS no_deadline,
       finished_at IS NOT NULL AS finished
  FROM queue.jobs WHERE id IN (:j_retry, :j_fail) ORDER BY id;
-- a finished attempt can no longer be completed or failed by its old worker
SELECT queue.complete(:j_fail, 'w-order') AS complete_failed, queue.fail(:j_done, 'w-order', 'x') AS fail_completed;
-- cancel: a retrying job is cancelled, a finished one is not.
SELECT queue.cancel(:j_retry, 'student left') AS cancelled_retrying,
       queue.cancel(:j_done) AS cancelled_completed, queue.cancel(:j_fail) AS cancelled_failed;
SELECT status, last_error, finished_at IS NOT NULL AS finished FROM queue.jobs WHERE id = :j_retry;
-- a queued job is cancelled at once and loses its position
SELECT queue.enqueue('daily_ca') AS j_q \gset
SELECT queue.position(:j_q) AS before_cancel, queue.cancel(:j_q) AS cancelled,
       queue.cancel(:j_q) AS cancelled_again;
SELECT status, last_error, queue.position(:j_q) AS position FROM queue.jobs WHERE id = :j_q;
-- a cancelled job no longer holds its dedupe key
SELECT queue.enqueue('doubt', dedupe_key => 'k-1') AS j_k \gset
SELECT queue.cancel(:j_k);
SELECT queue.enqueue('doubt', dedupe_key => 'k-1') <> :j_k AS new_job_after_cancel;

-- job_status: what a student sees.
SELECT status, position, estimated_wait IS NULL AS no_wait, estimated_start IS NULL AS no_start,
       attempts, max_attempts, last_error, started_at IS NOT NULL AS started,
       finished_at IS NOT NULL AS finished
  FROM queue.job_status(:j_done);
SELECT status, position, estimated_wait, attempts, last_error
  FROM queue.job_status(:j_retry);
SELECT queue.enqueue('doubt') AS j_new \gset
SELECT status, position = queue.position(:j_new) AS same_position, estimated_wait >= '0' AS has_wait,
       estimated_start >= now() AS starts_later_or_now, attempts, max_attempts
  FROM queue.job_status(:j_new);
-- The estimate is a plausible interval, not memory freed with SPI (an
-- assert-enabled build fills freed memory with 0x7f: a wait of millions of years).
SELECT estimated_wait < interval '1 year' AS plausible_wait,
       estimated_start < now() + interval '1 year' AS plausible_start
  FROM queue.job_status(:j_new);

-- stats counts by status (committed changes).
SELECT queued, retrying, processing, completed, failed, cancelled,
       queued_high, queued_medium, queued_low, effective_limit, is_peak
  FROM queue.stats();

-- Global limit: 10 renders at once, whatever the callers ask for.
DELETE FROM queue.jobs;
SELECT count(queue.enqueue('topic_short')) FROM generate_series(1, 14);
SELECT count(*) AS first_claim FROM queue.dequeue('w-a', 6);
SELECT count(*) AS second_claim FROM queue.dequeue('w-b', 6);
SELECT count(*) AS third_claim FROM queue.dequeue('w-c', 6);
SELECT processing, queued, effective_limit FROM queue.stats();
-- Finishing one frees exactly one slot.
SELECT queue.complete(min(id), worker_id) FROM queue.jobs
 WHERE status = 'processing' GROUP BY worker_id ORDER BY worker_id LIMIT 1;
SELECT count(*) AS after_complete FROM queue.dequeue('w-c', 6);
SELECT count(*) AS full_again FROM queue.dequeue('w-c', 6);

-- Manim limit: at most 4 manim renders; other jobs behind them are still claimed.
DELETE FROM queue.jobs;
SELECT count(queue.enqueue('topic_short', resource => 'manim')) FROM generate_series(1, 6);
SELECT count(queue.enqueue('daily_ca')) FROM generate_series(1, 3);
SELECT resource, count(*) FROM queue.dequeue('w-m', 8) GROUP BY resource ORDER BY resource;
SELECT processing_by_resource FROM queue.stats();
SELECT resource, count(*) FROM queue.dequeue('w-m2', 8) GROUP BY resource ORDER BY resource;
SELECT count(*) AS manim_still_queued FROM queue.jobs WHERE status = 'queued' AND resource = 'manim';
-- A worker asking only for manim gets nothing while manim is full.
SELECT queue.enqueue('doubt', resource => 'manim') > 0 AS enqueued;
SELECT count(*) AS claimed FROM queue.dequeue('w-m3', 5, ARRAY['manim']);

-- Worker registry: capacity caps a worker's running jobs, resources restrict what it gets,
-- drain_worker stops new claims.
DELETE FROM queue.jobs;
SELECT worker_id, resources, capacity, state FROM queue.register_worker('w-cap', NULL, 2);
SELECT count(queue.enqueue('doubt')) FROM generate_series(1, 5);
SELECT count(*) AS claimed FROM queue.dequeue('w-cap', 5);
SELECT count(*) AS claimed_when_full FROM queue.dequeue('w-cap', 5);
SELECT queue.complete(min(id), 'w-cap') FROM queue.jobs WHERE worker_id = 'w-cap';
SELECT count(*) AS claimed_after_complete FROM queue.dequeue('w-cap', 5);
SELECT worker_id, resources, capacity, state FROM queue.register_worker('w-manim', ARRAY['manim'], 3);
SELECT worker_id, resources, capacity, state FROM queue.register_worker('w-plain', ARRAY[]::text[], 3);
DELETE FROM queue.jobs WHERE status = 'queued';
SELECT queue.enqueue('topic_short', resource => 'manim') AS manim_job \gset
SELECT count(*) AS plain_worker_gets_no_manim FROM queue.dequeue('w-plain', 1);
SELECT id = :manim_job AS manim_worker_gets_it, resource FROM queue.dequeue('w-manim', 1);
SELECT queue.drain_worker('w-cap') AS drained;
SELECT state FROM queue.workers WHERE worker_id = 'w-cap';
SELECT count(*) AS claimed_while_draining FROM queue.dequeue('w-cap', 5);
SELECT worker_id, state, capacity, running FROM queue.worker_load ORDER BY worker_id;
