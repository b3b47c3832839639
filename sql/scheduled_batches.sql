-- scheduled_batches: a batch of jobs scheduled for later heads a priority.
-- Claims start past it (the counters of scheduled jobs per block say where)
-- yet take every due job in dispatch order: a job of the batch made due, the
-- ordinary jobs behind the batch, a due job scheduled among them; and when
-- more of the batch is due than a claim looks up, they start where they did.
-- The oldest wait passes over the batch as well. Time moves by editing rows.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS queue CASCADE;
CREATE EXTENSION queue;
RESET client_min_messages;
DELETE FROM queue.peak_windows;

-- 600 jobs scheduled for tomorrow head the low priority; the 300th is due
-- since 10 minutes. Behind them: an ordinary job, one due since 5 minutes,
-- another ordinary job.
SELECT count(queue.enqueue('daily_ca', run_at => now() + interval '1 day')) AS batch
  FROM generate_series(1, 600);
SELECT id AS batch_300 FROM queue.jobs ORDER BY id OFFSET 299 LIMIT 1 \gset
UPDATE queue.jobs SET enqueued_at = now() - interval '1 hour', run_at = now() - interval '10 minutes'
 WHERE id = :batch_300;
SELECT queue.enqueue('daily_ca') AS first_ordinary \gset
SELECT queue.enqueue('daily_ca', run_at => now() + interval '1 day') AS due_behind \gset
UPDATE queue.jobs SET enqueued_at = now() - interval '1 hour', run_at = now() - interval '5 minutes'
 WHERE id = :due_behind;
SELECT queue.enqueue('daily_ca') AS second_ordinary \gset

SELECT priority, date_trunc('minute', oldest_wait) AS oldest_wait FROM queue.oldest_waits();

-- One claim at a time: the due jobs in dispatch order, and nothing more.
SELECT id = :batch_300 AS the_due_job_of_the_batch FROM queue.dequeue('w1', 1);
SELECT id = :first_ordinary AS then_the_first_ordinary_job FROM queue.dequeue('w1', 1);
SELECT id = :due_behind AS then_the_due_one_behind FROM queue.dequeue('w1', 1);
SELECT id = :second_ordinary AS then_the_second_ordinary_job FROM queue.dequeue('w1', 1);
SELECT count(*) AS nothing_more_is_due FROM queue.dequeue('w1', 5);

-- The last 400 of the batch become due: more than a claim looks up. Claims
-- take them from the first, past the 199 still scheduled ahead of them.
UPDATE queue.jobs SET run_at = now() - interval '1 minute'
 WHERE id IN (SELECT id FROM queue.jobs WHERE status = 'queued' ORDER BY id DESC LIMIT 400);
SELECT min(id) AS first_due FROM queue.jobs WHERE status = 'queued' AND run_at <= now() \gset
SELECT array_agg(id ORDER BY id) = ARRAY[:first_due, :first_due + 1, :first_due + 2]::bigint[]
       AS the_first_due_jobs_in_order
  FROM queue.dequeue('w1', 3);

-- The counters equal the table.
SELECT s.queued = t.queued AND s.processing = t.processing AS counters_equal_the_table
  FROM queue.stats() s,
       (SELECT count(*) FILTER (WHERE status = 'queued') AS queued,
               count(*) FILTER (WHERE status = 'processing') AS processing FROM queue.jobs) t;
