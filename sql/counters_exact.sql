-- counters_exact: the shared counters equal the table after what operators do.
--   a multi-row statement right after CREATE EXTENSION (the first statement
--   also rebuilds the counters); a transaction's own releases are usable by
--   its own later claims, and undone with them; TRUNCATE cannot be prepared;
--   renaming or deleting a resource cannot let running jobs escape its limit;
--   a resource missing from queue.resources has no slots; changes made as a
--   replica, or by an admin's BEFORE trigger, are counted; the extension
--   created again in a transaction that had changed jobs is refused until
--   that transaction ends; a position over ids far apart stays quick.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS queue CASCADE;
RESET client_min_messages;
CREATE EXTENSION queue;
DELETE FROM queue.peak_windows;

\i test/sql/try.sql

CREATE FUNCTION pg_temp.counts() RETURNS text LANGUAGE sql AS $$
  SELECT format('stats %s/%s/%s, table %s/%s/%s (queued/processing/completed)',
                s.queued, s.processing, s.completed,
                (SELECT count(*) FROM queue.jobs WHERE status = 'queued'),
                (SELECT count(*) FROM queue.jobs WHERE status = 'processing'),
                (SELECT count(*) FROM queue.jobs WHERE status = 'completed'))
    FROM queue.stats() s $$;

-- A fresh extension: the first statement that touches queue.jobs is one
-- INSERT of five rows; its counts are taken once, not once per row.
INSERT INTO queue.jobs (job_type, priority, owner, max_attempts, timeout)
SELECT 'doubt', 'high', current_user::regrole, 4, '10 minutes' FROM generate_series(1, 5);
SELECT pg_temp.counts();

-- Own releases: with every slot taken, a transaction that completes jobs can
-- claim as many in their place; on rollback both are undone together.
UPDATE queue.settings SET max_concurrent = 3;
SELECT count(queue.enqueue('doubt')) AS enqueued FROM generate_series(1, 4);
SELECT count(*) AS claimed FROM queue.dequeue('w1', 3);
BEGIN;
SELECT count(queue.complete(id, 'w1')) AS completed
  FROM queue.jobs WHERE status = 'processing' AND worker_id = 'w1';
SELECT count(*) AS claimed_in_their_place FROM queue.dequeue('w1', 3);
SELECT pg_temp.counts();
ROLLBACK;
SELECT pg_temp.counts();
SELECT count(*) AS nothing_free FROM queue.dequeue('w2', 3);
BEGIN;
SELECT count(queue.complete(id, 'w1')) AS completed
  FROM queue.jobs WHERE status = 'processing' AND worker_id = 'w1';
SELECT count(*) AS claimed_in_their_place FROM queue.dequeue('w1', 3);
COMMIT;
SELECT pg_temp.counts();
SELECT count(*) AS still_nothing_free FROM queue.dequeue('w2', 3);

-- TRUNCATE cannot be prepared: its commit would never reset the counters.
BEGIN;
TRUNCATE queue.jobs;
PREPARE TRANSACTION 'queue_truncate';
SELECT count(*) AS prepared FROM pg_prepared_xacts;
SELECT pg_temp.counts();
-- Nor can one that wrote queue.jobs without changing a count (a cancel
-- request for a running job): it holds a lock that the counters' rebuild
-- after a restart would wait for, and every caller with it. A transaction
-- that only read the queue can be prepared.
BEGIN;
SELECT queue.cancel(min(id)) AS cancel_requested FROM queue.jobs WHERE status = 'processing';
PREPARE TRANSACTION 'queue_cancel_running';
SELECT count(*) AS prepared FROM pg_prepared_xacts;
SELECT count(*) AS cancel_requested FROM queue.jobs WHERE cancel_requested;
-- Nor one that only locked the table by hand, without a queue function.
BEGIN;
LOCK TABLE queue.jobs IN ROW EXCLUSIVE MODE;
PREPARE TRANSACTION 'queue_locked';
SELECT count(*) AS prepared FROM pg_prepared_xacts;
BEGIN;
SELECT queued > 0 AS read_only FROM queue.stats();
PREPARE TRANSACTION 'queue_read_only';
COMMIT PREPARED 'queue_read_only';

-- Resources: renaming one moves its unfinished jobs with it, so the running
-- ones still count against its limit.
DELETE FROM queue.jobs;
UPDATE queue.settings SET max_concurrent = 10;
SELECT count(queue.enqueue('topic_short', resource => 'manim')) FROM generate_series(1, 8);
SELECT count(*) AS manim_running FROM queue.dequeue('w1', 8);
UPDATE queue.resources SET resource = 'gpu' WHERE resource = 'manim';
SELECT resource, status, count(*) FROM queue.jobs GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS more_gpu FROM queue.dequeue('w2', 8);
SELECT processing_by_resource FROM queue.stats();
-- ... and one with unfinished jobs cannot be deleted.
SELECT qt.try($$DELETE FROM queue.resources WHERE resource = 'gpu'$$);
SELECT count(queue.complete(id, 'w1')) AS completed FROM queue.jobs WHERE worker_id = 'w1';
SELECT count(queue.cancel(id)) AS cancelled FROM queue.jobs WHERE status = 'queued';
SELECT qt.try($$DELETE FROM queue.resources WHERE resource = 'gpu'$$);
-- A job whose resource is unknown (written by hand) is never claimed.
INSERT INTO queue.jobs (job_type, priority, resource, owner, max_attempts, timeout)
VALUES ('doubt', 'high', 'vanished', current_user::regrole, 4, '10 minutes');
SELECT count(*) AS unknown_resource_claimed FROM queue.dequeue('w3', 5);
SELECT pg_temp.counts();

-- A worker's running jobs are counted per worker id: every way a job stops
-- running under an id frees that id's slot, and nothing else does.
DELETE FROM queue.jobs;
DELETE FROM queue.workers;  -- alone, it is owed no fair share of others
SELECT count(queue.enqueue('topic_short')) FROM generate_series(1, 12);
SELECT capacity FROM queue.register_worker('w-cap', NULL, 3);
SELECT count(*) AS claimed FROM queue.dequeue('w-cap', 5);
SELECT count(*) AS full FROM queue.dequeue('w-cap', 5);
-- a claim rolled back to a savepoint gives its slot back
BEGIN;
SELECT count(queue.complete(id, 'w-cap')) AS completed
  FROM (SELECT id FROM queue.jobs WHERE worker_id = 'w-cap' AND status = 'processing'
         ORDER BY id LIMIT 1) j;
SAVEPOINT s;
SELECT count(*) AS claimed_in_savepoint FROM queue.dequeue('w-cap', 5);
ROLLBACK TO SAVEPOINT s;
SELECT count(*) AS claimed_again FROM queue.dequeue('w-cap', 5);
COMMIT;
-- a failure and an admin moving a running job to another id free a slot each
SELECT count(queue.fail(id, 'w-cap', 'boom', true)) AS failed
  FROM (SELECT id FROM queue.jobs WHERE worker_id = 'w-cap' AND status = 'processing'
         ORDER BY id LIMIT 1) j;
UPDATE queue.jobs SET worker_id = 'elsewhere'
 WHERE id = (SELECT min(id) FROM queue.jobs WHERE worker_id = 'w-cap' AND status = 'processing');
SELECT count(*) AS claimed_two FROM queue.dequeue('w-cap', 5);
SELECT count(*) AS full_again FROM queue.dequeue('w-cap', 5);
-- ... and the counts come back from the table when they are rebuilt
SELECT count(*) FROM queue.jobs WHERE worker_id = 'w-cap' AND status = 'processing';
BEGIN;
CREATE TEMP TABLE kept AS SELECT * FROM queue.jobs;
TRUNCATE queue.jobs;
INSERT INTO queue.jobs OVERRIDING SYSTEM VALUE SELECT * FROM kept;
DROP TABLE kept;
COMMIT;
SELECT count(*) AS full_after_rebuild FROM queue.dequeue('w-cap', 5);
UPDATE queue.workers SET capacity = 4 WHERE worker_id = 'w-cap';
SELECT count(*) AS one_more_after_rebuild FROM queue.dequeue('w-cap', 5);
SELECT pg_temp.counts();

-- An admin who moves a queued job to another id moves it to another block
-- of the position counters: positions stay exact on both sides.
DELETE FROM queue.jobs;
SELECT count(queue.enqueue('doubt')) AS enqueued FROM generate_series(1, 3);
SELECT setval('queue.jobs_id_seq', (SELECT max(id) FROM queue.jobs) + 600) > 0 AS moved_on;
UPDATE queue.jobs SET id = DEFAULT WHERE id = (SELECT min(id) FROM queue.jobs);
SELECT array_agg(queue.position(id) ORDER BY id) AS positions FROM queue.jobs;
SELECT count(queue.enqueue('doubt')) AS enqueued_after FROM generate_series(1, 2);
SELECT array_agg(queue.position(id) ORDER BY id) AS positions FROM queue.jobs;
SELECT pg_temp.counts();

-- An admin's BEFORE trigger that changes a counted column in an UPDATE that
-- names none (editing the payload demotes the job): the change is counted,
-- and positions follow the table.
DELETE FROM queue.jobs;
SELECT count(queue.enqueue('doubt')) AS enqueued FROM generate_series(1, 3);
CREATE FUNCTION qt.demote() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN NEW.priority := 'low'; RETURN NEW; END $$;
CREATE TRIGGER demote BEFORE UPDATE ON queue.jobs
    FOR EACH ROW WHEN (NEW.payload ? 'demote') EXECUTE FUNCTION qt.demote();
UPDATE queue.jobs SET payload = '{"demote": true}' WHERE id = (SELECT min(id) FROM queue.jobs);
DROP TRIGGER demote ON queue.jobs;
SELECT array_agg(queue.position(id) ORDER BY id) AS positions,
       array_agg(place ORDER BY id) AS in_table
  FROM (SELECT id, row_number() OVER (ORDER BY priority, id) AS place
          FROM queue.jobs WHERE status = 'queued') AS q;

-- Ids far apart (an admin moved the id sequence on by 2^46): a position sums
-- the counters there are, not every empty range of ids in between (which
-- held the counters' lock, and every claim and commit, for minutes).
DELETE FROM queue.jobs;
SELECT count(queue.enqueue('doubt')) AS enqueued FROM generate_series(1, 2);
SELECT setval('queue.jobs_id_seq', 70368744177664) > 0 AS moved_far;
SELECT queue.enqueue('doubt') > 70368744177664 AS far_id;
SET statement_timeout = '10s';
SELECT array_agg(queue.position(id) ORDER BY id) AS positions FROM queue.jobs;
RESET statement_timeout;
SELECT pg_temp.counts();

-- Changes made with session_replication_role = replica (how a logical
-- replication subscriber applies them, and some restores) are counted too.
SET session_replication_role = replica;
UPDATE queue.jobs SET status = 'cancelled', finished_at = now()
 WHERE id = (SELECT min(id) FROM queue.jobs WHERE status = 'queued');
INSERT INTO queue.jobs (job_type, priority, owner, max_attempts, timeout)
SELECT 'doubt', 'high', current_user::regrole, 4, '10 minutes' FROM generate_series(1, 2);
RESET session_replication_role;
SELECT pg_temp.counts();

-- The extension dropped and created again in a transaction that had changed
-- queue jobs: the new queue refuses (55000) until that transaction ends,
-- rather than count its new table and then add the old table's changes to
-- those counts at commit.
DELETE FROM queue.jobs;
UPDATE queue.settings SET max_concurrent = 2;
SELECT count(queue.enqueue('doubt')) AS enqueued FROM generate_series(1, 3);
SELECT count(*) AS claimed FROM queue.dequeue('w-recreate', 2);
BEGIN;
SELECT count(queue.complete(id, 'w-recreate')) AS completed
  FROM queue.jobs WHERE status = 'processing';
DROP EXTENSION queue CASCADE;
CREATE EXTENSION queue;
SELECT qt.try($$SELECT queue.enqueue('doubt')$$);
SELECT qt.try($$INSERT INTO queue.jobs (job_type, priority, owner, max_attempts, timeout)
                VALUES ('doubt', 'high', current_user::regrole, 4, '10 minutes')$$);
ROLLBACK;
SELECT pg_temp.counts();
-- Held by a savepoint rolled back to: the old queue goes on as before.
BEGIN;
SELECT count(queue.enqueue('doubt')) AS enqueued;
SAVEPOINT recreate;
DROP EXTENSION queue CASCADE;
CREATE EXTENSION queue;
SELECT qt.try('SELECT queue.stats()');
ROLLBACK TO recreate;
COMMIT;
SELECT pg_temp.counts();
-- Dropped and created in a transaction that changed no jobs before: the new
-- queue is counted afresh and its limit holds.
BEGIN;
DROP EXTENSION queue CASCADE;
CREATE EXTENSION queue;
DELETE FROM queue.peak_windows;
UPDATE queue.settings SET max_concurrent = 2;
SELECT count(queue.enqueue('doubt')) AS enqueued FROM generate_series(1, 4);
SELECT count(*) AS claimed FROM queue.dequeue('w-recreate', 4);
COMMIT;
SELECT pg_temp.counts();
SELECT count(*) AS claimed_past_limit FROM queue.dequeue('w-recreate-2', 4);

DROP EXTENSION queue CASCADE;
