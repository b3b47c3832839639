-- 35_positions_scheduled: positions behind batches scheduled for later.
-- With many queued jobs scheduled for later or retried in its way, a
-- position counts the ones not due yet as the scheduled jobs of the counters
-- less the due ones, read from the index of scheduled jobs by run_at; it
-- does not read the batch. Every position must stay exact: with batches in every
-- priority spread over several id blocks, some of their jobs due, jobs
-- scheduled inside the job's own block, inside a transaction that changes
-- them, when more are due than a look-up reads (then the jobs not due are
-- read instead), and when more are on both sides (then they are counted in
-- the table). Positions are kept from counters applied at
-- commit, so this file commits its changes and deletes its jobs at the end.
SELECT plan(11);
DELETE FROM queue.jobs;
DELETE FROM queue.job_events;

-- The expected position of every queued job: 1 + the claimable queued jobs
-- before it in dispatch order.
CREATE TEMP VIEW misplaced AS
    SELECT id FROM (
        SELECT id, queue.position(id) AS position,
               1 + coalesce(count(*) FILTER (WHERE run_at <= now())
                                OVER (ORDER BY priority, id
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS expected
          FROM queue.jobs WHERE status = 'queued') p
     WHERE position IS DISTINCT FROM expected;

-- Tonight's batches: 300 high, 300 medium and 600 low jobs scheduled for
-- later, interleaved with jobs to render now, over five blocks of 256 ids.
SELECT count(queue.enqueue(CASE WHEN n % 4 = 0 THEN 'doubt' WHEN n % 4 = 1 THEN 'topic_short'
                                ELSE 'daily_ca' END,
                           run_at => now() + interval '1 day'))
  FROM generate_series(1, 1200) n;
SELECT count(queue.enqueue(CASE WHEN n % 3 = 0 THEN 'doubt' WHEN n % 3 = 1 THEN 'topic_short'
                                ELSE 'daily_ca' END))
  FROM generate_series(1, 150) n;
SELECT cmp_ok((SELECT max(id) - min(id) FROM queue.jobs), '>', 1024::bigint,
              'the jobs span more than four blocks of 256 ids');
SELECT is((SELECT count(*) FROM misplaced), 0::bigint,
          'positions behind batches scheduled for later in every priority');

-- A position behind the batch reads the due scheduled jobs, not the batch:
-- few entries of the two indexes of scheduled jobs (the backend's counts of
-- entries read, taken around the call in one transaction).
CREATE TEMP VIEW scheduled_entries_read AS
    SELECT pg_stat_get_xact_tuples_returned('queue.jobs_scheduled'::regclass)
           + pg_stat_get_xact_tuples_returned('queue.jobs_scheduled_due'::regclass) AS entries;
BEGIN;
SELECT entries AS read_before FROM scheduled_entries_read \gset
SELECT queue.position(max(id)) > 0 AS positioned FROM queue.jobs WHERE priority = 'low';
SELECT cmp_ok((SELECT entries FROM scheduled_entries_read) - :read_before, '<', 256::bigint,
              'a position behind 600 scheduled jobs reads fewer than 256 of them');
COMMIT;

-- Some of each batch fall due (as retries released by tick() do), and jobs
-- scheduled for later join the last block, ahead of a job to render now.
UPDATE queue.jobs SET enqueued_at = now() - interval '2 hours', run_at = now() - interval '1 hour'
 WHERE run_at > enqueued_at AND id % 9 = 0;
SELECT count(queue.enqueue(t, run_at => now() + interval '1 hour'))
  FROM unnest(ARRAY['doubt', 'topic_short', 'daily_ca']) AS t;
SELECT count(queue.enqueue(t)) FROM unnest(ARRAY['daily_ca', 'topic_short', 'doubt']) AS t;
SELECT is((SELECT count(*) FROM misplaced), 0::bigint,
          'positions with due jobs inside the batches and scheduled jobs in the last block');

-- Claims take the due and ordinary jobs ahead, and cancels remove some of
-- the batches.
SELECT count(*) > 0 AS claimed FROM queue.dequeue('w-pos-scheduled', 10);
SELECT count(queue.cancel(id)) > 0 AS cancelled FROM queue.jobs
 WHERE status = 'queued' AND run_at > now() AND id % 13 = 0;
SELECT is((SELECT count(*) FROM misplaced), 0::bigint, 'positions after claims and cancels');

-- Inside a transaction that schedules more, brings some forward and puts
-- off an ordinary job of each priority.
BEGIN;
SELECT count(queue.enqueue('daily_ca', run_at => now() + interval '1 day')) FROM generate_series(1, 50);
UPDATE queue.jobs SET enqueued_at = now() - interval '2 hours', run_at = now() - interval '1 hour'
 WHERE run_at > now() AND id % 11 = 0;
UPDATE queue.jobs SET run_at = now() + interval '1 hour'
 WHERE id IN (SELECT min(id) FROM queue.jobs
               WHERE status = 'queued' AND run_at = enqueued_at GROUP BY priority);
SELECT count(*) AS wrong_in_tx FROM misplaced \gset
ROLLBACK;
SELECT is(:wrong_in_tx::bigint, 0::bigint, 'positions inside a transaction that changes the batches');
SELECT is((SELECT count(*) FROM misplaced), 0::bigint, 'positions after its rollback');

-- More of the low batch due than a look-up reads: the jobs not due yet are
-- read instead, fewer entries than the scheduled jobs ahead.
UPDATE queue.jobs SET enqueued_at = now() - interval '2 hours', run_at = now() - interval '1 hour'
 WHERE id IN (SELECT id FROM queue.jobs
               WHERE status = 'queued' AND priority = 'low' AND run_at > now() ORDER BY id LIMIT 300);
SELECT cmp_ok((SELECT count(*) FROM queue.jobs
                WHERE status = 'queued' AND priority = 'low' AND run_at > enqueued_at
                  AND run_at <= now()), '>', 256::bigint, 'more than 256 low jobs scheduled and due');
SELECT is((SELECT count(*) FROM misplaced), 0::bigint,
          'positions when more scheduled jobs are due than a look-up reads');
SELECT max(id) AS last_low FROM queue.jobs WHERE status = 'queued' AND priority = 'low' \gset
BEGIN;
SELECT entries AS read_before FROM scheduled_entries_read \gset
SELECT queue.position(:last_low) > 0 AS positioned;
SELECT cmp_ok((SELECT entries FROM scheduled_entries_read) - :read_before, '<',
              (SELECT count(*) FROM queue.jobs WHERE status = 'queued' AND run_at > enqueued_at
                  AND id < :last_low),
              'a position behind a batch that fell due reads fewer entries than the scheduled jobs ahead');
COMMIT;

-- More than a look-up reads on both sides: the jobs not due yet are counted
-- in the table.
SELECT count(queue.enqueue('daily_ca', run_at => now() + interval '1 day')) FROM generate_series(1, 300);
SELECT is((SELECT count(*) FROM misplaced), 0::bigint,
          'positions when more scheduled jobs are due and not due than a look-up reads');

DELETE FROM queue.jobs;
DELETE FROM queue.job_events;
DELETE FROM queue.workers;
SELECT * FROM finish();
