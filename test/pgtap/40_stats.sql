-- 40_stats: stats() counts by status, queued by priority, processing by
-- resource against its limit, limits and peak flag, oldest queued age and
-- recent figures; a job waits only once it is due; tick() pruning removes a
-- job with its audit rows. stats()
-- counts are applied at commit, so this file commits its changes and deletes
-- its jobs at the end.
SELECT plan(21);
DELETE FROM queue.jobs;
DELETE FROM queue.job_events;
DELETE FROM queue.workers;

-- 3 queued (one per priority), 2 processing (one manim), 1 completed,
-- 1 failed, 1 cancelled, 1 retrying
SELECT queue.enqueue('doubt', resource => 'manim') AS m, queue.enqueue('topic_short') AS p2,
       queue.enqueue('daily_ca') AS f, queue.enqueue('daily_ca') AS r, queue.enqueue('daily_ca') AS d \gset
SELECT count(*) FROM queue.dequeue('w-stats', 5);
SELECT queue.complete(:d, 'w-stats'), queue.fail(:f, 'w-stats', 'broken', false), queue.fail(:r, 'w-stats', 'flaky');
SELECT queue.enqueue('doubt'), queue.enqueue('topic_short'), queue.enqueue('daily_ca');
SELECT queue.cancel(queue.enqueue('daily_ca'));

SELECT results_eq(
    $$SELECT queued, retrying, processing, completed, failed, cancelled, queued_high, queued_medium, queued_low
        FROM queue.stats()$$,
    $$VALUES (3::bigint, 1::bigint, 2::bigint, 1::bigint, 1::bigint, 1::bigint, 1::bigint, 1::bigint, 1::bigint)$$,
    'counts by status and queued by priority');
SELECT results_eq(
    $$SELECT status, count(*) FROM queue.jobs GROUP BY status ORDER BY status$$,
    $$SELECT s, n FROM (VALUES ('queued'::queue.job_status, 3::bigint), ('retrying', 1), ('processing', 2),
                               ('completed', 1), ('failed', 1), ('cancelled', 1)) v(s, n) ORDER BY s$$,
    'stats agrees with the table');
SELECT is((SELECT processing_by_resource -> 'manim' FROM queue.stats()),
          jsonb_build_object('running', 1, 'limit', queue.effective_limit('manim')),
          'manim: 1 running against its limit');
SELECT is((SELECT effective_limit FROM queue.stats()), queue.effective_limit(), 'global effective limit');
SELECT is((SELECT is_peak FROM queue.stats()), queue.is_peak_hour(now()), 'peak flag');
SELECT ok((SELECT oldest_queued_age >= '0' FROM queue.stats()), 'oldest queued age');
SELECT is((SELECT stats_window FROM queue.stats()), interval '15 minutes', 'stats window from settings');
SELECT ok((SELECT completed_per_minute > 0 AND failure_rate > 0 AND failure_rate <= 1 FROM queue.stats()),
          'recent throughput and failure rate');
SELECT ok((SELECT avg_wait IS NOT NULL AND avg_run IS NOT NULL FROM queue.stats()), 'average wait and run time');
SELECT is((SELECT count(*) FROM queue.overview), 1::bigint, 'overview view: one row');

-- a queue with nothing waiting has no oldest age
SELECT count(queue.cancel(id)) FROM queue.jobs WHERE status = 'queued';
SELECT is((SELECT oldest_queued_age FROM queue.stats()), NULL, 'no queued job: no oldest age');
SELECT is((SELECT queued FROM queue.stats()), 0::bigint, 'queued count back to 0');

-- A job waits from its enqueue, or from its run_at when that came later.
-- Times are set by hand: each job's enqueue and run_at lie in the past.
-- high: a retry, enqueued 3 hours ago, due again 10 minutes ago;
-- medium: scheduled for later (first in dispatch order, enqueued 5 hours
-- ago), then one enqueued 20 minutes ago with a run_at a day before that;
-- low: scheduled, enqueued 2 hours ago and due 5 seconds ago, then one
-- enqueued 40 minutes ago: the job due first is not the one waiting longest.
SELECT queue.enqueue('doubt') AS retried,
       queue.enqueue('topic_short', run_at => now() + interval '1 hour') AS later,
       queue.enqueue('topic_short', run_at => now() - interval '1 day') AS past_run_at,
       queue.enqueue('daily_ca', run_at => now() + interval '1 day') AS just_due,
       queue.enqueue('daily_ca') AS waiting \gset
UPDATE queue.jobs SET enqueued_at = now() - interval '3 hours', run_at = now() - interval '10 minutes'
 WHERE id = :retried;
UPDATE queue.jobs SET enqueued_at = now() - interval '5 hours' WHERE id = :later;
UPDATE queue.jobs SET enqueued_at = now() - interval '20 minutes' WHERE id = :past_run_at;
UPDATE queue.jobs SET enqueued_at = now() - interval '2 hours', run_at = now() - interval '5 seconds'
 WHERE id = :just_due;
UPDATE queue.jobs SET enqueued_at = now() - interval '40 minutes', run_at = now() - interval '40 minutes'
 WHERE id = :waiting;
SELECT results_eq(
    $$SELECT priority, date_trunc('minute', oldest_wait) FROM queue.oldest_waits()$$,
    $$VALUES ('high'::queue.priority, interval '10 minutes'), ('medium', '20 minutes'), ('low', '40 minutes')$$,
    'each priority''s longest wait counts from the enqueue or the later run_at, never before it is due');
SELECT is((SELECT date_trunc('minute', oldest_queued_age) FROM queue.stats()), interval '40 minutes',
          'the oldest queued age is the longest of them');
SELECT ok(queue.metrics() ~ 'queue_oldest_queued_age_seconds\{priority="low"\} 24\d\d',
          'the metrics gauge gives the same wait');
SELECT ok(EXISTS (SELECT FROM queue.alerts WHERE alert = 'oldest_queued'), 'the oldest_queued alert fires');

-- Only the job scheduled for later is left: nothing waits.
SELECT queue.cancel(:retried), queue.cancel(:past_run_at), queue.cancel(:just_due), queue.cancel(:waiting);
SELECT is((SELECT format('%s queued, oldest age %s', queued, coalesce(oldest_queued_age::text, 'none'))
             FROM queue.stats()), '1 queued, oldest age none', 'a job not due yet does not wait');
SELECT ok(NOT EXISTS (SELECT FROM queue.alerts WHERE alert = 'oldest_queued'), 'and fires no alert');
SELECT queue.cancel(:later);

-- The counts of jobs scheduled for later per block of ids follow each job:
-- of 600 jobs scheduled for tomorrow (three blocks of 256 ids or more), the
-- 300th is made due half an hour ago by hand; after them, a job enqueued 10
-- minutes ago. The blocks before the 300th's hold only scheduled jobs.
SELECT count(queue.enqueue('daily_ca', run_at => now() + interval '1 day')) FROM generate_series(1, 600);
UPDATE queue.jobs SET enqueued_at = now() - interval '30 minutes', run_at = now() - interval '30 minutes'
 WHERE id = (SELECT id FROM queue.jobs WHERE status = 'queued' ORDER BY id OFFSET 299 LIMIT 1);
SELECT queue.enqueue('daily_ca') AS recent \gset
UPDATE queue.jobs SET enqueued_at = now() - interval '10 minutes', run_at = now() - interval '10 minutes'
 WHERE id = :recent;
SELECT is((SELECT date_trunc('minute', oldest_wait) FROM queue.oldest_waits() WHERE priority = 'low'),
          interval '30 minutes', 'a job made due amid blocks of scheduled jobs waits longest');
SELECT count(queue.cancel(id)) FROM queue.jobs WHERE status = 'queued';

-- pruning removes finished jobs past retention and their audit rows
UPDATE queue.jobs SET finished_at = now() - interval '8 days' WHERE id = :d;
SELECT is((SELECT pruned FROM queue.tick()), 1, 'one job pruned');
SELECT is((SELECT count(*) FROM queue.job_events WHERE job_id = :d), 0::bigint, 'its audit rows are gone');

DELETE FROM queue.jobs;
DELETE FROM queue.job_events;
DELETE FROM queue.workers;
SELECT * FROM finish();
