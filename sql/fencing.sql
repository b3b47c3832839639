-- fencing: a late result from an attempt that is over is never taken, even
-- when the same worker id holds the job again; refusals are counted.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS queue CASCADE;
RESET client_min_messages;
CREATE EXTENSION queue;
DELETE FROM queue.peak_windows;
UPDATE queue.settings SET retry_delay = '0';

\i test/sql/try.sql

-- refused_results counts since the server started: compare with its start.
SELECT refused_results AS refused_before FROM queue.stats() \gset
SELECT queue.enqueue('doubt') AS job \gset
SELECT attempts AS first_attempt FROM queue.dequeue('w1') \gset
-- The first attempt runs past its deadline and is timed out; w1 claims the
-- job again (attempt 2) while its first render is still finishing.
UPDATE queue.jobs SET deadline = now() - interval '1 second' WHERE id = :job;
SELECT timed_out, released FROM queue.tick();
SELECT attempts AS second_attempt FROM queue.dequeue('w1') \gset
SELECT :first_attempt AS first_attempt, :second_attempt AS second_attempt;
-- The first render reports: refused, whether it completes or fails.
SELECT queue.complete(:job, 'w1', '{"from": "attempt 1"}', attempt => :first_attempt) AS late_complete;
SELECT queue.fail(:job, 'w1', 'attempt 1 crashed', attempt => :first_attempt) AS late_fail;
SELECT status, result, attempts FROM queue.jobs WHERE id = :job;
SELECT refused_results - :refused_before AS refused FROM queue.stats();
-- The current attempt's result is taken.
SELECT queue.complete(:job, 'w1', '{"from": "attempt 2"}', attempt => :second_attempt) AS completed;
SELECT status, result FROM queue.jobs WHERE id = :job;
-- Without an attempt, only the worker id is checked (as before 1.1).
SELECT queue.enqueue('doubt') AS job2 \gset
SELECT count(*) FROM queue.dequeue('w1');
SELECT queue.fail(:job2, 'w1', 'no attempt given', retryable => false) AS failed;
SELECT queue.complete(:job2, 'w1') AS after_the_end;
SELECT refused_results - :refused_before AS refused FROM queue.stats();
-- An attempt must be positive.
SELECT qt.try(format('SELECT queue.complete(%s, %L, NULL, 0)', :job2, 'w1'));
SELECT qt.try(format('SELECT queue.fail(%s, %L, %L, true, -1)', :job2, 'w1', 'x'));

DROP EXTENSION queue CASCADE;
