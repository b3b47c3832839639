-- The monitoring pass's fold of queue.job_events (queue.fold_events()): each
-- event once, into the per-minute history, the job type totals with their
-- histograms and the workers' failure streaks. Ids taken by transactions that
-- had not committed when a pass read are looked at again until their events
-- come, or for an hour. The events are written by hand here, with the ids
-- and times each case needs.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS queue CASCADE;
CREATE EXTENSION queue;
RESET client_min_messages;
-- Nothing may analyze the events behind the test's back (see the end).
ALTER TABLE queue.job_events SET (autovacuum_enabled = off);
SET TimeZone = 'UTC';
UPDATE queue.monitor_state SET last_event_id = 100;

\i test/sql/try.sql

CREATE FUNCTION pg_temp.job(job_type text, enqueued text, run_at text, started text)
RETURNS bigint LANGUAGE sql AS $$
  INSERT INTO queue.jobs (job_type, priority, owner, max_attempts, timeout, enqueued_at, run_at,
                          started_at)
  VALUES (job_type, 'high', current_user::regrole, 4, '10 minutes', enqueued::timestamptz,
          run_at::timestamptz, started::timestamptz)
  RETURNING id $$;
CREATE FUNCTION pg_temp.event(id bigint, job_id bigint, at text, from_status text, to_status text,
                              worker_id text DEFAULT NULL, detail text DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO queue.job_events (id, job_id, at, from_status, to_status, worker_id, detail)
  OVERRIDING SYSTEM VALUE
  VALUES (id, job_id, ('2026-01-01 ' || at)::timestamptz, from_status::queue.job_status,
          to_status::queue.job_status, worker_id, detail) $$;
CREATE VIEW pg_temp.minutes AS
  SELECT to_char(minute, 'HH24:MI') AS minute, enqueued, started, completed, failed, retried,
         timed_out, cancelled, wait_seconds_sum, wait_count
    FROM queue.stats_minutes ORDER BY minute;
CREATE VIEW pg_temp.totals AS
  SELECT job_type, enqueued, started, completed, failed, retried, timed_out, cancelled,
         wait_buckets, wait_sum, run_buckets, run_sum
    FROM queue.job_type_totals ORDER BY job_type;
CREATE VIEW pg_temp.streaks AS
  SELECT worker_id, failures, to_char(last_failure_at, 'HH24:MI:SS') AS last_failure,
         to_char(last_success_at, 'HH24:MI:SS') AS last_success
    FROM queue.worker_failure_streaks ORDER BY worker_id;
CREATE VIEW pg_temp.ranges AS
  SELECT first_id, last_id, noted_at > now() - interval '1 minute' AS noted_lately
    FROM queue.rollup_gaps ORDER BY first_id;

SELECT pg_temp.job('doubt', '2026-01-01 10:00:00', '2026-01-01 10:00:00', '2026-01-01 10:00:30') AS j1 \gset
-- Retried: its run_at is the end of the backoff, its started_at the second attempt's.
SELECT pg_temp.job('topic_short', '2026-01-01 10:00:10', '2026-01-01 10:05:00', '2026-01-01 10:05:20') AS j2 \gset
SELECT pg_temp.job('doubt', '2026-01-01 10:02:00', '2026-01-01 10:02:00', NULL) AS j3 \gset
SELECT pg_temp.event(101, :j1, '10:00:00', NULL, 'queued');
SELECT pg_temp.event(102, :j2, '10:00:10', NULL, 'queued');
-- Waited 30 s from its run_at; ran 60 s.
SELECT pg_temp.event(103, :j1, '10:00:30', 'queued', 'processing', 'w1');
SELECT pg_temp.event(104, :j1, '10:01:30', 'processing', 'completed', 'w1');
-- The first attempt of a job since retried waited from the event that queued it (30 s).
SELECT pg_temp.event(106, :j2, '10:00:40', 'queued', 'processing', 'w2');
SELECT pg_temp.event(107, :j2, '10:01:40', 'processing', 'retrying', 'w2',
                     'attempt timed out after 60 seconds');
SELECT pg_temp.event(108, :j2, '10:05:00', 'retrying', 'queued');
SELECT pg_temp.event(109, :j2, '10:05:20', 'queued', 'processing', 'w2');
SELECT pg_temp.event(110, :j2, '10:06:20', 'processing', 'completed', 'w2');
SELECT pg_temp.event(112, :j3, '10:02:00', NULL, 'queued');
-- Its job is gone: it counts in its minute, not in a job type.
DELETE FROM queue.jobs WHERE id = :j3;

-- Bad input changes nothing.
SELECT qt.try($$SELECT queue.fold_events(-1)$$);
SELECT qt.try($$SELECT queue.fold_events(NULL)$$);
SELECT queue.fold_events(0) AS folded_of_none;
SELECT last_event_id FROM queue.monitor_state;

-- A slice is the first events in id order; the ids passed over (105) wait.
SELECT queue.fold_events(3) AS folded;
SELECT last_event_id FROM queue.monitor_state;
SELECT * FROM pg_temp.ranges;
SELECT queue.fold_events(100) AS folded;
SELECT last_event_id FROM queue.monitor_state;
SELECT * FROM pg_temp.minutes;
SELECT * FROM pg_temp.totals;
SELECT * FROM pg_temp.streaks;
SELECT * FROM pg_temp.ranges;
-- Ranges stay while a transaction that may fill them runs: as if one that
-- took those ids were still open, they are noted before an id far ahead.
UPDATE queue.rollup_gaps SET noted_before_xid = pg_current_xact_id()::text::int8 + 1000000;
SELECT queue.fold_events(100) AS folded_again;
SELECT * FROM pg_temp.ranges;

-- A late event turns up in its range and is folded once; its range goes. A
-- range noted two hours ago is given up; one where some events turned up
-- keeps the runs still missing, noted when it was.
SELECT pg_temp.job('daily_ca', '2026-01-01 10:00:00', '2026-01-01 10:00:00', NULL) AS j4 \gset
SELECT pg_temp.event(105, :j4, '10:01:50', 'queued', 'cancelled', NULL, 'cancelled by admin');
INSERT INTO queue.rollup_gaps (first_id, last_id, noted_at, noted_before_xid)
VALUES (50, 60, now() - interval '2 hours', pg_current_xact_id()::text::int8 + 1000000),
       (80, 90, now() - interval '5 minutes', pg_current_xact_id()::text::int8 + 1000000);
SELECT pg_temp.event(81, :j4, '10:01:51', NULL, 'queued');
SELECT pg_temp.event(87, :j4, '10:01:52', NULL, 'queued');
SELECT queue.fold_events(100) AS folded;
SELECT first_id, last_id, noted_at < now() - interval '4 minutes' AS noted_before
  FROM queue.rollup_gaps ORDER BY first_id;
SELECT minute, enqueued, cancelled FROM pg_temp.minutes WHERE minute = '10:01';
SELECT job_type, enqueued, cancelled FROM pg_temp.totals WHERE job_type = 'daily_ca';

-- A later slice adds to the rows: w1's errors extend its streak, w2's
-- success after an error restarts it from that error.
SELECT pg_temp.job('doubt', '2026-01-01 10:00:00', '2026-01-01 10:00:00', '2026-01-01 10:01:00') AS j5 \gset
SELECT pg_temp.event(113, :j5, '10:01:00', 'queued', 'processing', 'w1');
SELECT pg_temp.event(114, :j5, '10:01:10', 'processing', 'retrying', 'w1', 'render crashed');
SELECT pg_temp.event(115, :j5, '10:01:20', 'processing', 'failed', 'w1', 'render crashed');
SELECT pg_temp.event(116, :j5, '10:07:00', 'processing', 'failed', 'w2', 'render crashed');
SELECT pg_temp.event(117, :j5, '10:07:10', 'processing', 'completed', 'w2');
SELECT pg_temp.event(118, :j5, '10:07:20', 'processing', 'retrying', 'w2', 'render crashed');
SELECT queue.fold_events(100) AS folded;
SELECT * FROM pg_temp.streaks;
SELECT * FROM pg_temp.minutes WHERE minute = '10:01';
SELECT job_type, started, completed, failed, retried, wait_buckets, wait_sum, run_buckets, run_sum
  FROM pg_temp.totals WHERE job_type = 'doubt';
SELECT * FROM pg_temp.ranges;

-- Once every transaction that could fill them has ended, the next fold reads
-- the ranges once more, folds what turned up (111) and drops the rest, which
-- was rolled back: no pass reads them again.
UPDATE queue.rollup_gaps SET noted_before_xid = pg_current_xact_id()::text::int8;
SELECT pg_temp.event(111, :j5, '10:07:30', 'processing', 'completed', 'w1');
SELECT queue.fold_events(100) AS folded;
SELECT * FROM pg_temp.ranges;
SELECT job_type, completed FROM pg_temp.totals WHERE job_type = 'doubt';
-- A range noted before 1.13 (no transaction id) is given up after an hour, as before.
INSERT INTO queue.rollup_gaps (first_id, last_id, noted_at) VALUES (200, 210, now());
SELECT queue.fold_events(100) AS folded;
SELECT * FROM pg_temp.ranges;
DELETE FROM queue.rollup_gaps;

-- Claims of jobs since deleted look back for the event that queued them
-- through the index of events by job, whatever the statistics (the events
-- have none here): a walk back along the primary key read every earlier
-- event for each claim.
DELETE FROM queue.jobs;
SELECT setval(pg_get_serial_sequence('queue.job_events', 'id'), max(id)) AS last_event_id
  FROM queue.job_events;
UPDATE queue.settings SET max_concurrent = 600;
SELECT 1 AS registered FROM queue.register_worker('fold-w', NULL, 600);
SELECT count(queue.enqueue('daily_ca')) AS enqueued FROM generate_series(1, 600);
SELECT queue.fold_events(1000) AS folded;
SELECT count(*) AS claimed FROM queue.dequeue('fold-w', 600);
DELETE FROM queue.jobs WHERE worker_id = 'fold-w';
SELECT reltuples < 0 AS events_never_analyzed FROM pg_class WHERE oid = 'queue.job_events'::regclass;
-- Index entries the backend read, not sent to the statistics yet (a walk
-- reads many entries of a few blocks, which block counts would not show).
CREATE FUNCTION pg_temp.event_entries_read() RETURNS bigint LANGUAGE sql AS $$
  SELECT sum(pg_stat_get_xact_tuples_returned(r))
    FROM unnest(ARRAY['queue.job_events_pkey', 'queue.job_events_job']::regclass[]) r $$;
BEGIN;
SELECT pg_temp.event_entries_read() AS before \gset
SELECT queue.fold_events(500) AS folded;
SELECT pg_temp.event_entries_read() - :before < 5000 AS fold_reads_few_event_entries;
COMMIT;
SELECT sum(started) AS started, sum(wait_count) AS waits_counted
  FROM queue.stats_minutes WHERE minute > '2026-01-02';

-- A call asked for more than a slice (5,000 events) folds slice after slice:
-- these 5,100 events and the 100 claims left above.
SELECT pg_temp.job('doubt', '2026-01-01 11:00:00', '2026-01-01 11:00:00', NULL) AS j6 \gset
INSERT INTO queue.job_events (job_id, at, from_status, to_status)
SELECT :j6, '2026-01-01 11:00:00', 'retrying', 'queued' FROM generate_series(1, 5100);
SELECT queue.fold_events(100000) AS folded, queue.fold_events(100000) AS folded_again;
SELECT last_event_id = (SELECT max(id) FROM queue.job_events) AS cursor_at_last_event
  FROM queue.monitor_state;

DROP EXTENSION queue CASCADE;
