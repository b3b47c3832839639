-- 10_dispatch: enqueue defaults, dispatch order, the global and manim limits,
-- dedupe, worker capacity, drain and cancel, inside one transaction that is
-- rolled back. Peak windows are removed so that the limits at now() are the
-- base ones (global 10, manim 4).
-- Note: within one transaction a slot freed by complete() or by deleting a
-- processing row is only given back at commit, so the global-limit checks come
-- first and later sections raise max_concurrent.
BEGIN;
SELECT plan(34);
DELETE FROM queue.jobs;
DELETE FROM queue.workers;
DELETE FROM queue.peak_windows;

-- enqueue defaults and overrides
SELECT queue.enqueue('doubt') AS d, queue.enqueue('topic_short') AS t, queue.enqueue('daily_ca') AS c,
       queue.enqueue('daily_ca', priority => 'high', resource => 'manim') AS o \gset
SELECT is((SELECT priority FROM queue.jobs WHERE id = :d), 'high', 'doubt defaults to high');
SELECT is((SELECT priority FROM queue.jobs WHERE id = :t), 'medium', 'topic_short defaults to medium');
SELECT is((SELECT priority FROM queue.jobs WHERE id = :c), 'low', 'daily_ca defaults to low');
SELECT is((SELECT max_attempts FROM queue.jobs WHERE id = :d), 4, 'max_attempts = 1 + max_retries');
SELECT is((SELECT timeout FROM queue.jobs WHERE id = :d), interval '10 minutes', 'timeout from settings');
SELECT is((SELECT priority::text || '/' || resource FROM queue.jobs WHERE id = :o), 'high/manim',
          'explicit priority and resource win');
SELECT throws_ok($$SELECT queue.enqueue('nope')$$, '22023', 'unknown job type "nope"', 'unknown job type is 22023');
SELECT throws_ok($$SELECT queue.enqueue(NULL)$$, '22004', NULL, 'NULL job type is 22004');
SELECT throws_ok($$SELECT queue.enqueue('doubt', resource => 'gpu')$$, '22023', 'unknown resource "gpu"',
                 'unknown resource is 22023');
DELETE FROM queue.jobs;

-- ordering: strictly by priority, FIFO within a priority; global limit 10
CREATE TEMP TABLE enq (n int, id bigint, job_type text);
INSERT INTO enq SELECT n, queue.enqueue(t), t
  FROM unnest(ARRAY['daily_ca', 'topic_short', 'doubt', 'daily_ca', 'doubt', 'topic_short', 'doubt',
                    'daily_ca', 'topic_short', 'doubt', 'daily_ca', 'daily_ca']) WITH ORDINALITY AS u(t, n);
SELECT results_eq(
    $$SELECT id FROM queue.dequeue('w-order', 4)$$,
    $$SELECT id FROM enq WHERE job_type = 'doubt' ORDER BY n$$,
    'all high jobs first, in enqueue order');
SELECT results_eq(
    $$SELECT id FROM queue.dequeue('w-order', 2)$$,
    $$SELECT id FROM enq WHERE job_type = 'topic_short' ORDER BY n LIMIT 2$$,
    'then medium in enqueue order');
-- a new high job jumps ahead of waiting medium and low jobs
SELECT queue.enqueue('doubt') AS late_high \gset
SELECT results_eq($$SELECT id FROM queue.dequeue('w-order', 1)$$, ARRAY[:late_high::bigint],
                  'a later high job goes before waiting medium/low jobs');
SELECT results_eq(
    $$SELECT id FROM queue.dequeue('w-other', 10)$$,
    $$(SELECT id FROM enq WHERE job_type = 'topic_short' ORDER BY n OFFSET 2)
      UNION ALL (SELECT id FROM (SELECT id FROM enq WHERE job_type = 'daily_ca' ORDER BY n LIMIT 2) l)$$,
    'rest of medium then low, only up to the global limit of 10');
SELECT is((SELECT count(*)::int FROM queue.dequeue('w-other', 10)), 0, 'global limit 10 reached: nothing claimed');
SELECT is((SELECT count(*)::int FROM queue.jobs WHERE status = 'processing'), 10, 'exactly 10 processing');
SELECT is((SELECT count(*)::int FROM queue.jobs WHERE status = 'queued'), 3, 'the rest still queued');

-- manim limit 4, other jobs still claimable
UPDATE queue.settings SET max_concurrent = 1000;
DELETE FROM queue.jobs;
SELECT count(queue.enqueue('doubt', resource => 'manim')) FROM generate_series(1, 6);
SELECT count(queue.enqueue('daily_ca')) FROM generate_series(1, 4);
SELECT results_eq($$SELECT resource, count(*)::int FROM queue.dequeue('w-m', 10) GROUP BY 1 ORDER BY 1$$,
                  $$VALUES ('manim', 4), (NULL, 4)$$,
                  '4 manim jobs claimed, the manim jobs behind them skipped, other jobs claimed');
SELECT is((SELECT count(*)::int FROM queue.dequeue('w-m', 10)), 0, 'manim full: nothing more to claim');
SELECT is((SELECT count(*)::int FROM queue.jobs WHERE resource = 'manim' AND status = 'queued'), 2,
          'two manim jobs wait');

-- dedupe
DELETE FROM queue.jobs;
SELECT queue.enqueue('doubt', dedupe_key => 'video-1') AS first_id \gset
SELECT is(queue.enqueue('doubt', dedupe_key => 'video-1'), :first_id::bigint, 'same dedupe key returns the same id');
SELECT is((SELECT count(*) FROM queue.jobs), 1::bigint, 'dedupe adds no job');
SELECT is((SELECT count(*)::int FROM queue.dequeue('w-d')), 1, 'deduped job claimed');
SELECT is(queue.enqueue('doubt', dedupe_key => 'video-1'), :first_id::bigint, 'still the same id while processing');
SELECT ok(queue.complete(:first_id, 'w-d'), 'completed');
SELECT isnt(queue.enqueue('doubt', dedupe_key => 'video-1'), :first_id::bigint, 'a finished job frees the key');

-- worker capacity and drain
DELETE FROM queue.jobs;
SELECT is((queue.register_worker('w-cap', NULL, 2)).capacity, 2, 'registered with capacity 2');
SELECT count(queue.enqueue('doubt')) FROM generate_series(1, 5);
SELECT is((SELECT count(*)::int FROM queue.dequeue('w-cap', 5)), 2, 'capacity caps the claim');
SELECT is((SELECT count(*)::int FROM queue.dequeue('w-cap', 5)), 0, 'no free slot, no claim');
SELECT ok(queue.drain_worker('w-cap'), 'drain_worker');
SELECT ok(queue.complete((SELECT min(id) FROM queue.jobs WHERE worker_id = 'w-cap'), 'w-cap'),
          'a running job of a draining worker finishes normally');
SELECT is((SELECT count(*)::int FROM queue.dequeue('w-cap', 5)), 0, 'a draining worker gets no new jobs');

-- cancel
SELECT queue.enqueue('daily_ca') AS c \gset
SELECT ok(queue.cancel(:c, 'not needed'), 'cancel a queued job');
SELECT is((SELECT status FROM queue.jobs WHERE id = :c), 'cancelled', 'queued -> cancelled');
SELECT ok(NOT queue.cancel(:c), 'cancel of a finished job returns false');

SELECT * FROM finish();
ROLLBACK;
