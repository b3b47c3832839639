-- Admins may edit queue.jobs directly: the lifecycle still holds, and the
-- shared counters follow every change (stats() agrees with the table), even
-- after TRUNCATE.
SET client_min_messages = warning;  -- whether a previous file left queue installed
DROP EXTENSION IF EXISTS queue CASCADE;
RESET client_min_messages;
CREATE EXTENSION queue;
DELETE FROM queue.peak_windows;
UPDATE queue.settings SET max_concurrent = 2;
SELECT count(queue.enqueue('doubt')) FROM generate_series(1, 4);
SELECT count(*) AS claimed FROM queue.dequeue('w1', 4);

-- Counters against the table.
CREATE FUNCTION pg_temp.counts_match() RETURNS boolean LANGUAGE sql AS $$
  SELECT s.queued = (SELECT count(*) FROM queue.jobs WHERE status = 'queued')
     AND s.processing = (SELECT count(*) FROM queue.jobs WHERE status = 'processing')
     AND s.completed = (SELECT count(*) FROM queue.jobs WHERE status = 'completed')
    FROM queue.stats() s $$;
SELECT pg_temp.counts_match();

-- A finished job stays finished; a queued job cannot be completed unclaimed.
SELECT queue.complete(1, 'w1');
UPDATE queue.jobs SET status = 'queued' WHERE id = 1;
UPDATE queue.jobs SET status = 'completed' WHERE id = 3;
SELECT id, status FROM queue.jobs ORDER BY id;

-- Putting a running job back in line by hand frees its slot at commit.
UPDATE queue.jobs SET status = 'queued' WHERE id = 2;
SELECT pg_temp.counts_match();
SELECT count(*) AS claimed_again FROM queue.dequeue('w2', 4);

-- Deleting a running job frees its slot too.
DELETE FROM queue.jobs WHERE status = 'processing' AND worker_id = 'w2' AND id = 2;
SELECT pg_temp.counts_match();
SELECT count(*) AS claimed_after_delete FROM queue.dequeue('w3', 4);

-- TRUNCATE: the counters are rebuilt from the (now empty) table.
TRUNCATE queue.jobs;
SELECT queued, processing, completed FROM queue.stats();
SELECT count(queue.enqueue('topic_short')) FROM generate_series(1, 3);
SELECT count(*) AS claimed_after_truncate FROM queue.dequeue('w4', 4);
SELECT pg_temp.counts_match();
DROP EXTENSION queue;
