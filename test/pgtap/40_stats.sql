-- 40_stats: stats() counts by status, queued by priority, processing by
-- resource against its limit, limits and peak flag, oldest queued age and
-- recent figures; tick() pruning removes a job with its audit rows. stats()
-- counts are applied at commit, so this file commits its changes and deletes
-- its jobs at the end.
SELECT plan(14);
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

-- pruning removes finished jobs past retention and their audit rows
UPDATE queue.jobs SET finished_at = now() - interval '8 days' WHERE id = :d;
SELECT is((SELECT pruned FROM queue.tick()), 1, 'one job pruned');
SELECT is((SELECT count(*) FROM queue.job_events WHERE job_id = :d), 0::bigint, 'its audit rows are gone');

DELETE FROM queue.jobs;
DELETE FROM queue.job_events;
DELETE FROM queue.workers;
SELECT * FROM finish();
