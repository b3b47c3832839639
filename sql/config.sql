-- config: the configuration tables.
--   every CHECK constraint refuses a bad value (23514, naming the rule), an
--   unknown time zone is refused with a hint (22023), the settings row cannot be
--   added or removed, job type and resource names are checked; peak windows and
--   time zones drive is_peak_hour() and effective_limit() (fixed timestamps only);
--   a valid change takes effect at once (effective_limit(), dequeue, enqueue).
-- qt.try(sql) (test/sql/try.sql) shows "SQLSTATE message [| hint]" or "ok".
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS queue CASCADE;
CREATE EXTENSION queue;
RESET client_min_messages;
SET timezone = 'UTC';

\i test/sql/try.sql

-- Seeded defaults.
SELECT max_concurrent, job_timeout, max_retries, retry_delay, retry_backoff, timezone,
       worker_timeout, retention FROM queue.settings;
SELECT * FROM queue.job_types ORDER BY job_type;
SELECT * FROM queue.resources ORDER BY resource;
SELECT * FROM queue.peak_windows ORDER BY starts;

-- settings: each constraint refuses a bad value.
SELECT qt.try($$UPDATE queue.settings SET max_concurrent = -1$$);
SELECT qt.try($$UPDATE queue.settings SET max_concurrent = 100001$$);
SELECT qt.try($$UPDATE queue.settings SET job_timeout = '0'$$);
SELECT qt.try($$UPDATE queue.settings SET job_timeout = '-1 minute'$$);
SELECT qt.try($$UPDATE queue.settings SET job_timeout = '8 days'$$);
SELECT qt.try($$UPDATE queue.settings SET max_retries = -1$$);
SELECT qt.try($$UPDATE queue.settings SET max_retries = 101$$);
SELECT qt.try($$UPDATE queue.settings SET retry_delay = '-1 second'$$);
SELECT qt.try($$UPDATE queue.settings SET retry_backoff = 0.99$$);
SELECT qt.try($$UPDATE queue.settings SET retry_backoff = 0$$);
SELECT qt.try($$UPDATE queue.settings SET max_retry_delay = '-1 second'$$);
SELECT qt.try($$UPDATE queue.settings SET worker_timeout = '0'$$);
SELECT qt.try($$UPDATE queue.settings SET retention = '-1 second'$$);
SELECT qt.try($$UPDATE queue.settings SET max_payload_bytes = 1$$);
SELECT qt.try($$UPDATE queue.settings SET stats_window = '10 seconds'$$);
SELECT qt.try($$UPDATE queue.settings SET alert_queue_depth = 0$$);
SELECT qt.try($$UPDATE queue.settings SET alert_failure_rate = 0$$);
SELECT qt.try($$UPDATE queue.settings SET alert_oldest_queued = '0'$$);
-- every interval has an upper bound, so no accepted value overflows a function
SELECT qt.try($$UPDATE queue.settings SET retention = '300000 years'$$);
SELECT qt.try($$UPDATE queue.settings SET worker_timeout = '2 days'$$);
SELECT qt.try($$UPDATE queue.settings SET alert_oldest_queued = '400000 years'$$);
-- bounds hold on the seconds the code reads: more than a day as an interval
-- (a year counts 360 days there), -4.25 days in seconds (365.25 days a year)
SELECT qt.try($$UPDATE queue.settings SET retention = '-1 year 361 days'$$);
SELECT qt.try($$UPDATE queue.settings SET retry_delay = '-1 year 361 days'$$);
-- a payload limit below the smallest useful document
SELECT qt.try($$UPDATE queue.settings SET max_payload_bytes = 8$$);
SELECT qt.try($$UPDATE queue.settings SET max_concurrent = NULL$$);
SELECT qt.try($$UPDATE queue.settings SET timezone = 'Mars/Base'$$);
SELECT qt.try($$UPDATE queue.settings SET timezone = ''$$);
SELECT qt.try($$UPDATE queue.settings SET singleton = false$$);
SELECT qt.try($$INSERT INTO queue.settings DEFAULT VALUES$$);
-- the row cannot be deleted: DELETE is refused with a message
DELETE FROM queue.settings;
SELECT count(*) AS settings_rows FROM queue.settings;
-- ... nor from another trigger, where the first check lets it through (a
-- restore replaces the row that way): the transaction is refused at commit
CREATE TEMP TABLE settings_zapper (x integer);
CREATE FUNCTION pg_temp.zap_settings() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN DELETE FROM queue.settings; RETURN NULL; END $$;
CREATE TRIGGER zap AFTER INSERT ON settings_zapper
    FOR EACH ROW EXECUTE FUNCTION pg_temp.zap_settings();
INSERT INTO settings_zapper VALUES (1);
SELECT count(*) AS settings_rows FROM queue.settings;
BEGIN;
INSERT INTO settings_zapper VALUES (2);
SET CONSTRAINTS ALL IMMEDIATE;
ROLLBACK;
DROP TABLE settings_zapper;
SELECT count(*) AS settings_rows FROM queue.settings;
-- boundary values are accepted
SELECT qt.try($$UPDATE queue.settings SET max_concurrent = 0, retry_backoff = 1, retry_delay = '0',
                                          retention = '0', max_retries = 0$$);
SELECT qt.try($$UPDATE queue.settings SET timezone = 'Asia/Kolkata'$$);
-- nothing of the refused values got in
SELECT max_concurrent, job_timeout, max_retries, retry_delay, retry_backoff, timezone,
       worker_timeout, retention FROM queue.settings;
UPDATE queue.settings SET max_concurrent = DEFAULT, retry_backoff = DEFAULT, retry_delay = DEFAULT,
                          retention = DEFAULT, max_retries = DEFAULT, timezone = 'UTC';

-- resources and job_types
SELECT qt.try($$INSERT INTO queue.resources VALUES ('gpu', -1)$$);
SELECT qt.try($$INSERT INTO queue.resources VALUES ('Gpu', 1)$$);
SELECT qt.try($$INSERT INTO queue.resources VALUES ('1gpu', 1)$$);
SELECT qt.try($$INSERT INTO queue.resources VALUES ('manim', 2)$$);
SELECT qt.try($$UPDATE queue.resources SET max_concurrent = -4$$);
SELECT qt.try($$INSERT INTO queue.job_types (job_type, priority) VALUES ('Bad Name', 'high')$$);
SELECT qt.try($$INSERT INTO queue.job_types (job_type, priority) VALUES ('x', NULL)$$);
SELECT qt.try($$INSERT INTO queue.job_types (job_type, priority, resource) VALUES ('x', 'high', 'gpu')$$);
SELECT qt.try($$INSERT INTO queue.job_types (job_type, priority, expected_duration) VALUES ('x', 'high', '0')$$);
SELECT qt.try($$UPDATE queue.job_types SET expected_duration = '400000 years'$$);
SELECT qt.try($$INSERT INTO queue.job_types (job_type, priority, timeout) VALUES ('x', 'high', '0')$$);
SELECT qt.try($$INSERT INTO queue.job_types (job_type, priority, max_retries) VALUES ('x', 'high', -1)$$);
-- a resource used by a job type cannot be dropped
SELECT qt.try($$INSERT INTO queue.resources VALUES ('gpu', 2)$$);
SELECT qt.try($$INSERT INTO queue.job_types (job_type, priority, resource) VALUES ('gpu_render', 'medium', 'gpu')$$);
SELECT qt.try($$DELETE FROM queue.resources WHERE resource = 'gpu'$$);

-- peak_windows
SELECT qt.try($$INSERT INTO queue.peak_windows VALUES ('10:00', '10:00', 1.5)$$);
SELECT qt.try($$INSERT INTO queue.peak_windows VALUES ('10:00', '11:00', 0)$$);
SELECT qt.try($$INSERT INTO queue.peak_windows VALUES ('10:00', '11:00', -1)$$);
SELECT qt.try($$INSERT INTO queue.peak_windows VALUES ('10:00', '11:00', 101)$$);
SELECT qt.try($$INSERT INTO queue.peak_windows VALUES ('24:00', '01:00', 1.5)$$);
SELECT qt.try($$INSERT INTO queue.peak_windows VALUES ('06:00', '07:00', 2)$$);

-- New job types and resources are usable at once; the hint lists them.
SELECT queue.enqueue('gpu_render') > 0 AS enqueued;
SELECT resource, priority FROM queue.jobs WHERE job_type = 'gpu_render';
SELECT qt.try($$SELECT queue.enqueue('nope')$$);
SELECT qt.try($$SELECT queue.enqueue('doubt', resource => 'nope')$$);
DELETE FROM queue.jobs;
DELETE FROM queue.job_types WHERE job_type = 'gpu_render';
DELETE FROM queue.resources WHERE resource = 'gpu';
SELECT qt.try($$SELECT queue.enqueue('gpu_render')$$);

-- Peak hours, seeded 06:00-09:00 and 20:00-23:00 x1.5, in settings.timezone (UTC).
SELECT at, queue.is_peak_hour(at) AS peak, queue.effective_limit(NULL, at) AS global_limit,
       queue.effective_limit('manim', at) AS manim_limit
  FROM unnest(ARRAY['2024-03-01 05:59:59+00', '2024-03-01 06:00:00+00', '2024-03-01 08:59:59+00',
                    '2024-03-01 09:00:00+00', '2024-03-01 12:00:00+00', '2024-03-01 20:30:00+00',
                    '2024-03-01 23:00:00+00']::timestamptz[]) AS at;
-- the same instants in Asia/Kolkata (UTC+05:30)
UPDATE queue.settings SET timezone = 'Asia/Kolkata';
SELECT at, queue.is_peak_hour(at) AS peak, queue.effective_limit(NULL, at) AS global_limit
  FROM unnest(ARRAY['2024-03-01 00:29:59+00', '2024-03-01 00:30:00+00', '2024-03-01 03:29:59+00',
                    '2024-03-01 03:30:00+00', '2024-03-01 06:00:00+00', '2024-03-01 15:00:00+00']::timestamptz[]) AS at;
UPDATE queue.settings SET timezone = 'UTC';
-- a resource with peak_scaling follows the multiplier
UPDATE queue.resources SET peak_scaling = true WHERE resource = 'manim';
SELECT queue.effective_limit('manim', '2024-03-01 07:00+00') AS manim_peak,
       queue.effective_limit('manim', '2024-03-01 12:00+00') AS manim_off_peak;
UPDATE queue.resources SET peak_scaling = false WHERE resource = 'manim';
-- a window crossing midnight, one ending at 24:00, and overlapping windows (largest multiplier wins)
DELETE FROM queue.peak_windows;
INSERT INTO queue.peak_windows VALUES ('22:00', '02:00', 2), ('12:00', '24:00', 1.2), ('13:00', '14:00', 3);
SELECT at, queue.is_peak_hour(at) AS peak, queue.effective_limit(NULL, at) AS global_limit
  FROM unnest(ARRAY['2024-03-01 11:59:59+00', '2024-03-01 12:00:00+00', '2024-03-01 13:30:00+00',
                    '2024-03-01 21:59:59+00', '2024-03-01 22:00:00+00', '2024-03-01 23:59:59+00',
                    '2024-03-02 00:00:00+00', '2024-03-02 01:59:59+00',
                    '2024-03-02 02:00:00+00']::timestamptz[]) AS at;
-- a window covering the whole day (00:00-24:00) is accepted, so it is in force all day
DELETE FROM queue.peak_windows;
INSERT INTO queue.peak_windows VALUES ('00:00', '24:00', 2);
SELECT at, queue.is_peak_hour(at) AS peak, queue.effective_limit(NULL, at) AS global_limit
  FROM unnest(ARRAY['2024-03-01 00:00:00+00', '2024-03-01 12:00:00+00',
                    '2024-03-01 23:59:59+00']::timestamptz[]) AS at;
-- without windows there is no peak
DELETE FROM queue.peak_windows;
SELECT queue.is_peak_hour('2024-03-01 07:00+00') AS peak,
       queue.effective_limit(NULL, '2024-03-01 07:00+00') AS global_limit;

-- A valid change takes effect at once: lowering max_concurrent lowers the limit and dequeue.
UPDATE queue.settings SET max_concurrent = 3;
SELECT queue.effective_limit() AS global_now, (SELECT effective_limit FROM queue.stats()) AS in_stats;
SELECT count(queue.enqueue('doubt')) FROM generate_series(1, 6);
SELECT count(*) AS claimed FROM queue.dequeue('w1', 10);
-- raising it again frees slots
UPDATE queue.settings SET max_concurrent = 5;
SELECT count(*) AS claimed FROM queue.dequeue('w1', 10);
-- lowering below the running count stops claims, it does not stop running jobs
UPDATE queue.settings SET max_concurrent = 2;
SELECT count(*) AS claimed FROM queue.dequeue('w1', 10);
SELECT count(*) AS still_running FROM queue.jobs WHERE status = 'processing';
-- max_concurrent = 0 pauses the farm
UPDATE queue.settings SET max_concurrent = 0;
DELETE FROM queue.jobs WHERE status = 'processing';
SELECT count(*) AS claimed_when_paused FROM queue.dequeue('w1', 10);
UPDATE queue.settings SET max_concurrent = DEFAULT;
-- a resource limit change applies at once; 0 blocks that resource only
DELETE FROM queue.jobs;
UPDATE queue.resources SET max_concurrent = 0 WHERE resource = 'manim';
SELECT queue.effective_limit('manim') AS manim_now;
SELECT count(queue.enqueue('topic_short', resource => 'manim')) FROM generate_series(1, 3);
SELECT count(queue.enqueue('daily_ca')) FROM generate_series(1, 2);
SELECT resource, count(*) FROM queue.dequeue('w1', 10) GROUP BY resource ORDER BY resource;
UPDATE queue.resources SET max_concurrent = 2 WHERE resource = 'manim';
SELECT resource, count(*) FROM queue.dequeue('w1', 10) GROUP BY resource ORDER BY resource;
UPDATE queue.resources SET max_concurrent = 4 WHERE resource = 'manim';
-- job_types changes apply to the next enqueue
UPDATE queue.job_types SET priority = 'low', max_retries = 1, timeout = '1 minute' WHERE job_type = 'doubt';
SELECT queue.enqueue('doubt') AS j \gset
SELECT priority, max_attempts, timeout FROM queue.jobs WHERE id = :j;
-- a change rolled back never applies
BEGIN;
UPDATE queue.settings SET max_concurrent = 1;
SELECT queue.effective_limit() AS inside_tx;
ROLLBACK;
SELECT queue.effective_limit() AS after_rollback;

SET client_min_messages = warning;
DROP SCHEMA qt CASCADE;
