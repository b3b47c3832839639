-- 20_lifecycle: retries with backoff, timeouts, dead workers, cancellation of a
-- running job, stale workers and the audit trail, in one rolled-back
-- transaction. Time is moved by editing rows; now() is fixed inside the
-- transaction, so run_at - now() is exact.
BEGIN;
SELECT plan(39);
DELETE FROM queue.jobs;
DELETE FROM queue.job_events;
DELETE FROM queue.workers;
DELETE FROM queue.peak_windows;
-- slots freed inside a transaction come back only at commit: keep the limit out of the way
UPDATE queue.settings SET max_concurrent = 1000;

-- retries: 5, 10, 20 minutes, then failed
SELECT queue.enqueue('topic_short') AS j \gset
CREATE TEMP TABLE backoffs (attempt int, status queue.job_status, delay interval);
CREATE FUNCTION pg_temp.attempt_and_fail(job bigint, n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    s queue.job_status;
BEGIN
    UPDATE queue.jobs SET run_at = now() - interval '1 second' WHERE id = job AND status = 'retrying';
    PERFORM queue.tick();
    PERFORM * FROM queue.dequeue('w1');
    s := queue.fail(job, 'w1', 'crash ' || n);
    INSERT INTO backoffs SELECT n, s, CASE WHEN s = 'retrying' THEN run_at - now() END
      FROM queue.jobs WHERE id = job;
END
$$;
SELECT pg_temp.attempt_and_fail(:j, n) FROM generate_series(1, 4) n;
SELECT results_eq($$SELECT attempt, status, delay FROM backoffs ORDER BY attempt$$,
                  $$VALUES (1, 'retrying'::queue.job_status, interval '5 minutes'),
                           (2, 'retrying', interval '10 minutes'),
                           (3, 'retrying', interval '20 minutes'),
                           (4, 'failed', NULL)$$,
                  'backoff 5, 10, 20 minutes, then failed on the 4th failure');
SELECT is((SELECT attempts FROM queue.jobs WHERE id = :j), 4, '4 attempts');
SELECT ok((SELECT finished_at IS NOT NULL FROM queue.jobs WHERE id = :j), 'failed job has finished_at');
SELECT is((SELECT last_error FROM queue.jobs WHERE id = :j), 'crash 4', 'last error kept');
SELECT results_eq(
    $$SELECT coalesce(from_status::text, '') || '>' || to_status FROM queue.job_events WHERE job_id = $$ || :j || $$ ORDER BY id$$,
    ARRAY['>queued', 'queued>processing', 'processing>retrying', 'retrying>queued', 'queued>processing',
          'processing>retrying', 'retrying>queued', 'queued>processing', 'processing>retrying',
          'retrying>queued', 'queued>processing', 'processing>failed'],
    'one audit row per transition');
SELECT is((SELECT count(*)::int FROM queue.job_events WHERE job_id = :j AND to_status = 'processing' AND worker_id = 'w1'),
          4, 'claims record the worker');

-- a retrying job is not released before run_at
SELECT queue.enqueue('doubt') AS r \gset
SELECT count(*) FROM queue.dequeue('w1');
SELECT is(queue.fail(:r, 'w1', 'oops'), 'retrying', 'first failure retries');
SELECT is((SELECT released FROM queue.tick()), 0, 'not due: not released');
SELECT is((SELECT count(*)::int FROM queue.dequeue('w1')), 0, 'a retrying job is not claimable');
SELECT is(queue.position(:r), NULL, 'no position while retrying');
SELECT is((SELECT estimated_start FROM queue.job_status(:r)), (SELECT run_at FROM queue.jobs WHERE id = :r),
          'job_status of a retrying job: starts at run_at');
SELECT ok(queue.fail(:r, 'w1', 'x') IS NULL, 'fail of a job not held returns NULL');
-- non-retryable failure
UPDATE queue.jobs SET run_at = now() - interval '1 second' WHERE id = :r;
SELECT is((SELECT released FROM queue.tick()), 1, 'due: released');
SELECT count(*) FROM queue.dequeue('w1');
SELECT is(queue.fail(:r, 'w1', 'bad input', retryable => false), 'failed', 'not retryable: failed at once');

-- timeouts
SELECT queue.enqueue('doubt') AS t \gset
SELECT count(*) FROM queue.dequeue('w1');
SELECT is((SELECT deadline - started_at FROM queue.jobs WHERE id = :t), interval '10 minutes', 'deadline = start + timeout');
SELECT is((SELECT timed_out FROM queue.tick()), 0, 'not overdue: nothing times out');
UPDATE queue.jobs SET deadline = now() - interval '1 second' WHERE id = :t;
SELECT is((SELECT timed_out FROM queue.tick()), 1, 'overdue attempt timed out');
SELECT is((SELECT status FROM queue.jobs WHERE id = :t), 'retrying', 'timed out -> retrying');
SELECT is((SELECT run_at - now() FROM queue.jobs WHERE id = :t), interval '5 minutes', 'with backoff');
SELECT ok(NOT queue.complete(:t, 'w1'), 'the timed-out worker cannot complete');
UPDATE queue.jobs SET run_at = now() - interval '1 second' WHERE id = :t;
SELECT queue.tick();
SELECT is((SELECT worker_id FROM queue.dequeue('w2')), 'w2', 'reclaimed by another worker');
SELECT ok(NOT queue.complete(:t, 'w1'), 'the stale worker cannot complete the new attempt');
SELECT ok(queue.complete(:t, 'w2'), 'the new worker can');
-- timeout of the last attempt is final
SELECT queue.enqueue('doubt') AS t2 \gset
SELECT count(*) FROM queue.dequeue('w1');
UPDATE queue.jobs SET attempts = max_attempts, deadline = now() - interval '1 second' WHERE id = :t2;
SELECT queue.tick();
SELECT is((SELECT status FROM queue.jobs WHERE id = :t2), 'failed', 'last attempt timed out -> failed');

-- dead worker recovery
SELECT (queue.register_worker('w-dead', NULL, 2)).state;
SELECT count(queue.enqueue('doubt')) FROM generate_series(1, 2);
SELECT is((SELECT count(*)::int FROM queue.dequeue('w-dead', 2)), 2, 'dead-to-be worker claims 2');
UPDATE queue.workers SET last_heartbeat = now() - interval '61 seconds' WHERE worker_id = 'w-dead';
SELECT results_eq($$SELECT dead_workers, recovered FROM queue.tick()$$, $$VALUES (1, 2)$$,
                  'silent worker marked dead, its 2 jobs recovered');
SELECT is((SELECT state FROM queue.workers WHERE worker_id = 'w-dead'), 'dead', 'state dead');
SELECT is((SELECT count(*)::int FROM queue.jobs WHERE worker_id = 'w-dead' AND status = 'queued'), 2,
          'recovered jobs are queued again');

-- cancel of a running job
SELECT (queue.register_worker('w-c')).state;
DELETE FROM queue.jobs WHERE status = 'queued';
SELECT queue.enqueue('doubt') AS c \gset
SELECT is((SELECT id FROM queue.dequeue('w-c')), :c::bigint, 'w-c claims the job');
SELECT ok(queue.cancel(:c), 'cancel of a running job accepted');
SELECT is((SELECT status::text || '/' || cancel_requested FROM queue.jobs WHERE id = :c), 'processing/true',
          'running job flagged cancel_requested');
SELECT lives_ok($$SELECT * FROM queue.heartbeat('w-c')$$, 'heartbeat of a registered worker works');
-- (an error in heartbeat is turned into NULL so that the remaining tests still run)
CREATE FUNCTION pg_temp.beat(worker text) RETURNS bigint[] LANGUAGE plpgsql AS $$
BEGIN
    RETURN ARRAY(SELECT * FROM queue.heartbeat(worker));
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;
SELECT is(pg_temp.beat('w-c'), ARRAY[:c::bigint], 'heartbeat returns the job whose cancellation was requested');
SELECT is(queue.fail(:c, 'w-c', 'stopped'), 'cancelled', 'the worker''s fail ends it as cancelled');
SELECT ok((SELECT finished_at IS NOT NULL FROM queue.jobs WHERE id = :c), 'cancelled job is finished');
SELECT is(pg_temp.beat('w-c'), ARRAY[]::bigint[], 'nothing left to cancel');

-- enqueued_at is never ahead of the clock: the counters take a job as
-- possibly not due only when its run_at is past its enqueued_at
SELECT queue.enqueue('doubt') AS ahead \gset
SELECT throws_ok(format($$UPDATE queue.jobs SET enqueued_at = now() + interval '1 hour',
                                                 run_at = now() + interval '10 minutes' WHERE id = %s$$, :ahead),
                 '23514', format('enqueued_at of job %s is in the future', :ahead),
                 'an enqueued_at moved into the future is refused');
SELECT throws_ok($$INSERT INTO queue.jobs (job_type, priority, owner, max_attempts, timeout, enqueued_at)
                   VALUES ('doubt', 'high', current_user::regrole, 4, '10 minutes', now() + interval '1 minute')$$,
                 '23514', NULL, 'a job inserted with a future enqueued_at is refused');
SELECT lives_ok(format($$UPDATE queue.jobs SET enqueued_at = clock_timestamp() WHERE id = %s$$, :ahead),
                'an enqueued_at set to the clock is accepted');

SELECT * FROM finish();
ROLLBACK;
