-- Capacity-aware load balancing: when the live workers' capacities exceed the
-- global limit, each registered worker holds at most its share of the limit in
-- proportion to its capacity, so a fast-polling worker cannot starve a larger one.
SET client_min_messages = warning;  -- whether a previous file left queue installed
DROP EXTENSION IF EXISTS queue CASCADE;
RESET client_min_messages;
CREATE EXTENSION queue;
DELETE FROM queue.peak_windows;                       -- a fixed limit at any hour
UPDATE queue.settings SET max_concurrent = 6;
SELECT count(queue.enqueue('doubt')) AS enqueued FROM generate_series(1, 20);
SELECT capacity FROM queue.register_worker('fast-small', NULL, 2);
SELECT capacity FROM queue.register_worker('slow-big', NULL, 10);

-- Shares of 6 by capacities 2 and 10: ceil(6*2/12) = 1 and ceil(6*10/12) = 5.
SELECT count(*) AS fast_first FROM queue.dequeue('fast-small', 10);
SELECT count(*) AS fast_again FROM queue.dequeue('fast-small', 10);
SELECT count(*) AS big FROM queue.dequeue('slow-big', 10);
SELECT count(*) AS big_again FROM queue.dequeue('slow-big', 10);

-- A draining worker gets nothing and stops counting as live: once its job is
-- done, the other worker may use the whole limit.
SELECT queue.drain_worker('fast-small');
SELECT count(*) AS drained FROM queue.dequeue('fast-small', 10);
SELECT queue.complete(id, worker_id) FROM queue.jobs WHERE worker_id = 'fast-small' AND status = 'processing';
SELECT count(*) AS big_takes_the_freed_slot FROM queue.dequeue('slow-big', 10);

-- An unregistered caller is limited only by max_jobs and the global limit.
UPDATE queue.settings SET max_concurrent = 8;
SELECT count(*) AS unregistered FROM queue.dequeue('psql-loop', 10);
SELECT worker_id, count(*) FROM queue.jobs WHERE status = 'processing' GROUP BY 1 ORDER BY 1;
DROP EXTENSION queue;
