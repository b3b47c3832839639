-- 30_positions: position() equals 1 + the number of claimable queued jobs
-- dispatched before the job (higher priority, or same priority and smaller id),
-- for a mix of priorities over more than 256 ids (several id blocks), after
-- jobs ahead are claimed or cancelled, with a not-yet-due job in the queue,
-- inside the transaction that enqueued jobs, and with ids across the end of
-- a range of 256 blocks (where a block's earlier blocks are counted as the
-- range less its later blocks), with jobs of every priority not due yet,
-- and with run_at moved by hand, by a retry, and inside a transaction
-- (positions count jobs not due only while queued jobs are scheduled or
-- retried, so these must keep that count exact).
-- Positions are kept from
-- counters applied at commit, so this file commits its changes (no enclosing
-- transaction) and deletes its jobs at the end.
SELECT plan(16);
DELETE FROM queue.jobs;
DELETE FROM queue.job_events;

-- the expected position of every queued job, computed from the table
CREATE TEMP VIEW expected_positions AS
    SELECT j.id, 1 + (SELECT count(*) FROM queue.jobs o
                       WHERE o.status = 'queued' AND o.run_at <= now()
                         AND (o.priority < j.priority OR (o.priority = j.priority AND o.id < j.id))) AS pos
      FROM queue.jobs j WHERE j.status = 'queued';

SELECT count(queue.enqueue(CASE WHEN n % 7 IN (0, 3) THEN 'doubt'
                                WHEN n % 7 IN (1, 4, 6) THEN 'topic_short'
                                ELSE 'daily_ca' END))
  FROM generate_series(1, 700) n;
SELECT cmp_ok((SELECT max(id) - min(id) FROM queue.jobs), '>', 512::bigint, 'ids span more than two blocks of 256');
SELECT is((SELECT count(*) FROM expected_positions e WHERE queue.position(e.id) IS DISTINCT FROM e.pos), 0::bigint,
          'every position = 1 + queued jobs dispatched before it (700 jobs, mixed priorities)');
SELECT results_eq($$SELECT queue.position(id) FROM queue.jobs WHERE status = 'queued' ORDER BY priority, id$$,
                  $$SELECT generate_series(1, 700)$$, 'positions are 1..700 in dispatch order');

-- jobs ahead are claimed (all 10 slots) and cancelled in several blocks
SELECT count(*) FROM queue.dequeue('w-pos', 10);
SELECT count(queue.cancel(id)) FROM queue.jobs WHERE status = 'queued' AND id % 50 = 0;
SELECT is((SELECT count(*) FROM expected_positions e WHERE queue.position(e.id) IS DISTINCT FROM e.pos), 0::bigint,
          'positions after claims and cancellations');
SELECT is((SELECT count(*) FROM queue.jobs j WHERE j.status <> 'queued' AND queue.position(j.id) IS NOT NULL),
          0::bigint, 'no position for jobs that are not queued');

-- a job that is not due yet is not dispatched before anyone
SELECT queue.enqueue('doubt', run_at => now() + interval '1 hour') AS later, queue.enqueue('doubt') AS now_job \gset
SELECT is(queue.position(:now_job), (SELECT pos FROM expected_positions WHERE id = :now_job)::int,
          'a not-yet-due job ahead does not count (position among claimable jobs)');
DELETE FROM queue.jobs WHERE id IN (:later, :now_job);

-- positions seen inside the transaction that enqueued more jobs
BEGIN;
SELECT count(queue.enqueue('doubt')) FROM generate_series(1, 300);
SELECT count(*) AS wrong_in_tx FROM expected_positions e WHERE queue.position(e.id) IS DISTINCT FROM e.pos \gset
ROLLBACK;
SELECT is(:wrong_in_tx::bigint, 0::bigint, 'positions are consistent inside the enqueueing transaction');
SELECT is((SELECT count(*) FROM expected_positions e WHERE queue.position(e.id) IS DISTINCT FROM e.pos), 0::bigint,
          'positions after the rollback');

-- ids 101..120, then 65,001..65,700: the first and the last blocks of the
-- first range of 256 blocks (65,536 ids), and the first of the next
DELETE FROM queue.jobs;
SELECT setval(pg_get_serial_sequence('queue.jobs', 'id'), 100);
SELECT count(queue.enqueue(CASE WHEN n % 3 = 0 THEN 'doubt' ELSE 'daily_ca' END))
  FROM generate_series(1, 20) n;
SELECT setval(pg_get_serial_sequence('queue.jobs', 'id'), 65000);
SELECT count(queue.enqueue(CASE WHEN n % 5 IN (0, 3) THEN 'doubt'
                                WHEN n % 5 = 1 THEN 'topic_short'
                                ELSE 'daily_ca' END))
  FROM generate_series(1, 700) n;
SELECT count(*) FROM queue.dequeue('w-pos', 10);
SELECT count(queue.cancel(id)) FROM queue.jobs WHERE status = 'queued' AND id % 45 = 0;
SELECT is((SELECT count(*) FROM expected_positions e WHERE queue.position(e.id) IS DISTINCT FROM e.pos), 0::bigint,
          'positions with ids across the end of a range of blocks');
SELECT count(queue.enqueue(t, run_at => now() + interval '1 hour'))
  FROM unnest(ARRAY['doubt', 'topic_short', 'daily_ca']) AS t;
SELECT count(queue.enqueue(t)) FROM unnest(ARRAY['daily_ca', 'topic_short', 'doubt']) AS t;
SELECT is((SELECT count(*) FROM expected_positions e WHERE queue.position(e.id) IS DISTINCT FROM e.pos), 0::bigint,
          'positions with a job of every priority not due yet');
BEGIN;
SELECT count(queue.enqueue('daily_ca')) FROM generate_series(1, 300);
SELECT count(*) AS wrong_in_tx FROM expected_positions e WHERE queue.position(e.id) IS DISTINCT FROM e.pos \gset
ROLLBACK;
SELECT is(:wrong_in_tx::bigint, 0::bigint, 'positions across ranges inside the enqueueing transaction');

-- run_at moved by hand: no job is scheduled, then queued jobs of each
-- priority are put off and brought back, and one is made due while it stays
-- in the index of scheduled jobs
DELETE FROM queue.jobs WHERE run_at > enqueued_at;
UPDATE queue.jobs SET run_at = now() + interval '1 hour'
 WHERE id IN (SELECT min(id) FROM queue.jobs WHERE status = 'queued' GROUP BY priority);
SELECT is((SELECT count(*) FROM expected_positions e WHERE queue.position(e.id) IS DISTINCT FROM e.pos), 0::bigint,
          'positions after a job of every priority is put off by hand');
UPDATE queue.jobs SET run_at = enqueued_at WHERE run_at > now();
SELECT is((SELECT count(*) FROM expected_positions e WHERE queue.position(e.id) IS DISTINCT FROM e.pos), 0::bigint,
          'positions after they are brought back by hand');
UPDATE queue.jobs SET run_at = now() + interval '1 hour'
 WHERE id = (SELECT max(id) FROM queue.jobs WHERE status = 'queued' AND priority = 'high');
UPDATE queue.jobs SET run_at = now() - interval '1 second'
 WHERE id = (SELECT max(id) FROM queue.jobs WHERE status = 'queued' AND priority = 'high');
SELECT is((SELECT count(*) FROM expected_positions e WHERE queue.position(e.id) IS DISTINCT FROM e.pos), 0::bigint,
          'positions with a scheduled job that is due');

-- a retry: failed, released when due, queued again with run_at past its enqueued_at
DELETE FROM queue.jobs WHERE run_at > enqueued_at;
SELECT queue.complete(id, 'w-pos') FROM queue.jobs WHERE status = 'processing' ORDER BY id LIMIT 1;
SELECT id AS retried, attempts AS retried_attempt FROM queue.dequeue('w-pos', 1) \gset
SELECT queue.fail(:retried, 'w-pos', 'boom', attempt => :retried_attempt);
UPDATE queue.jobs SET run_at = now() - interval '1 second' WHERE id = :retried;
SELECT released >= 1 AS released FROM queue.tick();
SELECT is((SELECT count(*) FROM expected_positions e WHERE queue.position(e.id) IS DISTINCT FROM e.pos), 0::bigint,
          'positions with a released retry in the queue');

-- inside a transaction that schedules a job for later and puts one off
BEGIN;
SELECT queue.enqueue('doubt', run_at => now() + interval '1 hour') > 0 AS scheduled;
UPDATE queue.jobs SET run_at = now() + interval '1 hour'
 WHERE id = (SELECT min(id) FROM queue.jobs WHERE status = 'queued' AND priority = 'medium');
SELECT count(*) AS wrong_in_tx FROM expected_positions e WHERE queue.position(e.id) IS DISTINCT FROM e.pos \gset
ROLLBACK;
SELECT is(:wrong_in_tx::bigint, 0::bigint, 'positions inside a transaction that schedules and puts off jobs');

DELETE FROM queue.jobs;
DELETE FROM queue.job_events;
DELETE FROM queue.workers;
SELECT * FROM finish();
