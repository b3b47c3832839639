-- api_errors: every error path of every public function.
--   NULL arguments (22004), bad values (22023), unknown jobs and workers (P0002),
--   unknown job types and resources (22023, hint listing the known ones),
--   oversized payload and result (54000), and that a failed call changes nothing:
--   no job, no audit row, no counter or reserved slot left behind.
-- qt.try_detail(sql) runs a statement and shows "SQLSTATE message [| detail] [| hint]",
-- or "ok" when it succeeds.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS queue CASCADE;
CREATE EXTENSION queue;
RESET client_min_messages;
DELETE FROM queue.peak_windows;

\i test/sql/try.sql

-- One job that is processing (held by w1) and one that is queued.
SELECT queue.enqueue('doubt') AS j_run \gset
SELECT count(*) FROM queue.dequeue('w1');
SELECT queue.enqueue('daily_ca') AS j_wait \gset
SELECT (queue.register_worker('w-reg')).worker_id AS registered;

SELECT count(*) AS jobs, (SELECT count(*) FROM queue.job_events) AS events FROM queue.jobs \gset before_

-- enqueue
SELECT qt.try_detail($$SELECT queue.enqueue(NULL)$$);
SELECT qt.try_detail($$SELECT queue.enqueue('doubt', NULL)$$);
SELECT qt.try_detail($$SELECT queue.enqueue('')$$);
SELECT qt.try_detail($$SELECT queue.enqueue(repeat('x', 64))$$);
SELECT qt.try_detail($$SELECT queue.enqueue('no_such_type')$$);
SELECT qt.try_detail($$SELECT queue.enqueue('doubt', resource => 'gpu')$$);
SELECT qt.try_detail($$SELECT queue.enqueue('doubt', resource => '')$$);
SELECT qt.try_detail($$SELECT queue.enqueue('doubt', user_id => '')$$);
SELECT qt.try_detail($$SELECT queue.enqueue('doubt', user_id => repeat('u', 201))$$);
SELECT qt.try_detail($$SELECT queue.enqueue('doubt', dedupe_key => '')$$);
SELECT qt.try_detail($$SELECT queue.enqueue('doubt', dedupe_key => repeat('k', 201))$$);
SELECT qt.try_detail($$SELECT queue.enqueue('doubt', run_at => 'infinity')$$);
SELECT qt.try_detail($$SELECT queue.enqueue('doubt', run_at => '-infinity')$$);
SELECT qt.try_detail($$SELECT queue.enqueue('doubt', priority => 'urgent')$$);
SELECT qt.try_detail($$SELECT queue.enqueue('doubt', jsonb_build_object('x', repeat('a', 70000)))$$);
-- the payload limit is settings.max_payload_bytes
UPDATE queue.settings SET max_payload_bytes = 100;
SELECT qt.try_detail($$SELECT queue.enqueue('doubt', jsonb_build_object('x', repeat('a', 100)))$$);
UPDATE queue.settings SET max_payload_bytes = DEFAULT;
-- the longest accepted values are fine
SELECT qt.try_detail($$SELECT queue.enqueue('doubt', user_id => repeat('u', 200), dedupe_key => repeat('k', 200))$$);
DELETE FROM queue.job_events WHERE job_id IN (SELECT id FROM queue.jobs WHERE dedupe_key = repeat('k', 200));
DELETE FROM queue.jobs WHERE dedupe_key = repeat('k', 200);

-- dequeue
SELECT qt.try_detail($$SELECT * FROM queue.dequeue(NULL)$$);
SELECT qt.try_detail($$SELECT * FROM queue.dequeue('')$$);
SELECT qt.try_detail($$SELECT * FROM queue.dequeue('w1', NULL)$$);
SELECT qt.try_detail($$SELECT * FROM queue.dequeue('w1', 0)$$);
SELECT qt.try_detail($$SELECT * FROM queue.dequeue('w1', -1)$$);
SELECT qt.try_detail($$SELECT * FROM queue.dequeue('w1', 1001)$$);
SELECT qt.try_detail($$SELECT * FROM queue.dequeue('w1', 1, ARRAY['gpu'])$$);
SELECT qt.try_detail($$SELECT * FROM queue.dequeue('w1', 1, ARRAY['manim', NULL])$$);
SELECT qt.try_detail($$SELECT * FROM queue.dequeue('w1', 1, ARRAY[['manim']])$$);

-- complete
SELECT qt.try_detail(format('SELECT queue.complete(NULL, %L)', 'w1'));
SELECT qt.try_detail(format('SELECT queue.complete(%s, NULL)', :j_run));
SELECT qt.try_detail(format('SELECT queue.complete(%s, %L)', :j_run, ''));
SELECT qt.try_detail($$SELECT queue.complete(0, 'w1')$$);
SELECT qt.try_detail($$SELECT queue.complete(-5, 'w1')$$);
SELECT qt.try_detail($$SELECT queue.complete(999999, 'w1')$$);
UPDATE queue.settings SET max_payload_bytes = 100;
SELECT qt.try_detail(format('SELECT queue.complete(%s, %L, %L)', :j_run, 'w1',
                     jsonb_build_object('x', repeat('a', 100))));
UPDATE queue.settings SET max_payload_bytes = DEFAULT;

-- fail
SELECT qt.try_detail(format('SELECT queue.fail(NULL, %L, %L)', 'w1', 'e'));
SELECT qt.try_detail(format('SELECT queue.fail(%s, NULL, %L)', :j_run, 'e'));
SELECT qt.try_detail(format('SELECT queue.fail(%s, %L, NULL)', :j_run, 'w1'));
SELECT qt.try_detail(format('SELECT queue.fail(%s, %L, %L)', :j_run, 'w1', ''));
SELECT qt.try_detail(format('SELECT queue.fail(%s, %L, %L)', :j_run, 'w1', repeat('e', 10001)));
SELECT qt.try_detail(format('SELECT queue.fail(%s, %L, %L, NULL)', :j_run, 'w1', 'e'));
SELECT qt.try_detail($$SELECT queue.fail(999999, 'w1', 'e')$$);

-- cancel
SELECT qt.try_detail($$SELECT queue.cancel(NULL)$$);
SELECT qt.try_detail($$SELECT queue.cancel(999999)$$);
SELECT qt.try_detail($$SELECT queue.cancel(0)$$);
SELECT qt.try_detail(format('SELECT queue.cancel(%s, %L)', :j_wait, ''));

-- position and job_status (job_status(NULL) would be read as a cast to the
-- queue.job_status type, so the NULL is typed)
SELECT qt.try_detail($$SELECT queue.position(NULL)$$);
SELECT qt.try_detail($$SELECT queue.position(999999)$$);
SELECT qt.try_detail($$SELECT * FROM queue.job_status(NULL::bigint)$$);
SELECT qt.try_detail($$SELECT * FROM queue.job_status(999999)$$);
SELECT qt.try_detail($$SELECT * FROM queue.job_status(-1)$$);

-- is_peak_hour and effective_limit
SELECT qt.try_detail($$SELECT queue.is_peak_hour(NULL)$$);
SELECT qt.try_detail($$SELECT queue.is_peak_hour('infinity')$$);
SELECT qt.try_detail($$SELECT queue.effective_limit(NULL, NULL)$$);
SELECT qt.try_detail($$SELECT queue.effective_limit('manim', '-infinity')$$);
SELECT qt.try_detail($$SELECT queue.effective_limit('gpu')$$);

-- register_worker, heartbeat, drain_worker
SELECT qt.try_detail($$SELECT queue.register_worker(NULL)$$);
SELECT qt.try_detail($$SELECT queue.register_worker('')$$);
SELECT qt.try_detail($$SELECT queue.register_worker(repeat('w', 201))$$);
SELECT qt.try_detail($$SELECT queue.register_worker('w2', ARRAY['gpu'])$$);
SELECT qt.try_detail($$SELECT queue.register_worker('w2', ARRAY[NULL::text])$$);
SELECT qt.try_detail($$SELECT queue.register_worker('w2', NULL, NULL)$$);
SELECT qt.try_detail($$SELECT queue.register_worker('w2', NULL, 0)$$);
SELECT qt.try_detail($$SELECT queue.register_worker('w2', NULL, 10001)$$);
SELECT qt.try_detail($$SELECT * FROM queue.heartbeat(NULL)$$);
SELECT qt.try_detail($$SELECT * FROM queue.heartbeat('')$$);
SELECT qt.try_detail($$SELECT * FROM queue.heartbeat('ghost')$$);
SELECT qt.try_detail($$SELECT queue.drain_worker(NULL)$$);
SELECT qt.try_detail($$SELECT queue.drain_worker('ghost')$$);
-- heartbeat of a registered worker succeeds
SELECT qt.try_detail($$SELECT * FROM queue.heartbeat('w-reg')$$);
-- the claim's resource slots are dequeue()'s alone
SELECT qt.try_detail($$SELECT queue.claim_resource_slot('manim')$$);
-- the hold a rename or delete of a resource takes needs a resource name
SELECT qt.try_detail($$SELECT queue.hold_resource_for_change(NULL)$$);
SELECT qt.try_detail($$SELECT queue.hold_resource_for_change('')$$);

-- Nothing changed: no job, no audit row, no worker, same statuses.
SELECT count(*) = :before_jobs AS same_jobs,
       (SELECT count(*) FROM queue.job_events) = :before_events AS same_events
  FROM queue.jobs;
SELECT worker_id FROM queue.workers ORDER BY worker_id;
SELECT id = :j_run AS is_run, status, attempts, worker_id, last_error, result
  FROM queue.jobs ORDER BY id;
SELECT max_payload_bytes FROM queue.settings;
-- no slot was leaked: with one job running, exactly 9 more can be claimed
SELECT count(queue.enqueue('topic_short')) FROM generate_series(1, 12);
SELECT count(*) AS claimed FROM queue.dequeue('w3', 20);
SELECT queued, processing, completed, failed, cancelled FROM queue.stats();

-- A failed call inside a transaction block aborts it; nothing of it survives.
BEGIN;
SELECT queue.enqueue('doubt', dedupe_key => 'in-aborted-tx') > 0 AS enqueued;
SELECT queue.enqueue('no_such_type');
COMMIT;
SELECT count(*) AS from_aborted_tx FROM queue.jobs WHERE dedupe_key = 'in-aborted-tx';
SELECT queued, processing FROM queue.stats();

SET client_min_messages = warning;
DROP SCHEMA qt CASCADE;
