-- Capacity-aware load balancing: when the live workers' capacities exceed the
-- global limit, each registered worker is guaranteed its share of the limit in
-- proportion to its capacity. The share is a guarantee, not a cap: while no
-- other worker waits for slots, a worker may fill free slots up to its
-- capacity; once another one's claim comes back short, each holds to its share
-- (running jobs are never taken away), so a fast-polling worker cannot starve
-- a larger one.
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
-- slow-big is idle: fast-small bursts to its capacity of 2.
SELECT count(*) AS fast_bursts FROM queue.dequeue('fast-small', 10);
-- slow-big takes the 4 slots left and comes back short of what it could hold.
SELECT count(*) AS big FROM queue.dequeue('slow-big', 10);
SELECT worker_id, short_claim_at IS NOT NULL AS waiting FROM queue.workers ORDER BY 1;
-- While slow-big waits, fast-small holds to its share: a slot it frees goes
-- to slow-big, not back to itself.
SELECT queue.complete(min(id), 'fast-small') FROM queue.jobs
 WHERE worker_id = 'fast-small' AND status = 'processing';
SELECT count(*) AS fast_held_to_share FROM queue.dequeue('fast-small', 10);
SELECT count(*) AS big_gets_the_freed_slot FROM queue.dequeue('slow-big', 10);
SELECT worker_id, count(*) FROM queue.jobs WHERE status = 'processing' GROUP BY 1 ORDER BY 1;

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
