-- complete_many: a worker reports a claimed batch in one call, each job held
-- to complete()'s rules (held by the worker id, on the given attempt, claimed
-- by the calling role); the others are skipped and counted as refused.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS queue CASCADE;
DROP ROLE IF EXISTS regress_farm1, regress_farm2;
RESET client_min_messages;
CREATE EXTENSION queue;
DELETE FROM queue.peak_windows;

\i test/sql/try.sql

CREATE ROLE regress_farm1;
CREATE ROLE regress_farm2;
GRANT queue_worker TO regress_farm1, regress_farm2;

SELECT count(queue.enqueue('doubt', jsonb_build_object('n', n))) FROM generate_series(1, 8) n;
SELECT refused_results AS refused_before FROM queue.stats() \gset
SET ROLE regress_farm1;
SELECT array_agg(id ORDER BY id) AS batch, array_agg(attempts ORDER BY id) AS batch_attempts
  FROM queue.dequeue('farm-1', 5) \gset
-- All five, with results and attempts.
SELECT queue.complete_many(:'batch', 'farm-1',
       ARRAY(SELECT jsonb_build_object('url', 'v' || id) FROM unnest(:'batch'::int8[]) id),
       :'batch_attempts') AS completed;
-- Again: nothing is held any more, all refused.
SELECT queue.complete_many(:'batch', 'farm-1') AS completed_again;
RESET ROLE;
SELECT count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE result ->> 'url' = 'v' || id) AS with_result
  FROM queue.jobs;
SELECT count(*) AS completion_events FROM queue.job_events WHERE to_status = 'completed';
SELECT refused_results - :refused_before AS refused FROM queue.stats();

-- A mixed batch: one held, one on another attempt, one unknown id.
SET ROLE regress_farm1;
SELECT array_agg(id ORDER BY id) AS held FROM queue.dequeue('farm-1', 2) \gset
SELECT queue.complete_many(ARRAY[(:'held'::int8[])[1], (:'held'::int8[])[2], 999999], 'farm-1',
       attempts => ARRAY[1, 7, NULL]) AS completed_of_three;
RESET ROLE;
-- A repeated id is one result: completed once, never counted as refused.
SELECT refused_results AS refused_before_repeat FROM queue.stats() \gset
SET ROLE regress_farm1;
SELECT id AS repeated FROM queue.dequeue('farm-1') \gset
SELECT queue.complete_many(ARRAY[:repeated, :repeated]::int8[], 'farm-1') AS completed_of_repeated;
RESET ROLE;
SELECT refused_results - :refused_before_repeat AS refused_for_repeat FROM queue.stats();

-- Another role cannot complete farm-1's attempt (42501), nor can a bad call.
SET ROLE regress_farm2;
SELECT qt.try(format('SELECT queue.complete_many(%L, %L)', :'held', 'farm-1'));
RESET ROLE;
SET ROLE regress_farm1;
SELECT qt.try($$SELECT queue.complete_many(NULL, 'farm-1')$$);
SELECT qt.try($$SELECT queue.complete_many(ARRAY[1, NULL]::int8[], 'farm-1')$$);
SELECT qt.try($$SELECT queue.complete_many(ARRAY[1, 2], 'farm-1', ARRAY['{}']::jsonb[])$$);
SELECT qt.try($$SELECT queue.complete_many(ARRAY[1], 'farm-1', attempts => ARRAY[0])$$);
SELECT qt.try($$SELECT queue.complete_many(ARRAY(SELECT generate_series(1, 1001))::int8[], 'farm-1')$$);
SELECT qt.try($$SELECT queue.complete_many(ARRAY[[1, 2]]::int8[], 'farm-1')$$);
SELECT queue.complete_many('{}', 'farm-1') AS empty_batch;
RESET ROLE;
SELECT s.processing = (SELECT count(*) FROM queue.jobs WHERE status = 'processing')
   AND s.completed = (SELECT count(*) FROM queue.jobs WHERE status = 'completed') AS counters_match
  FROM queue.stats() s;

DROP EXTENSION queue CASCADE;
DROP ROLE regress_farm1, regress_farm2;
