-- monitoring: per-minute history, Prometheus exposition, alerts, audited
-- admin actions (queue 1.3).
--   monitor() folds each transition of queue.job_events once into the minute
--   and the job type's totals, samples queued/processing, and starts and
--   clears alerts in queue.alert_log; metrics() renders the figures in the
--   Prometheus text format with escaped labels; the new thresholds are
--   bounded; queue_dashboard reads, queue_admin acts and is audited (with
--   the session's login role: SET ROLE does not change it).
-- monitor('0') runs a full pass now (tick() runs one at most every 5 s).
-- The failure_rate alert reads the server-wide per-minute figures, which
-- earlier tests fill, so it is left out of the output.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS queue CASCADE;
CREATE EXTENSION queue;
DROP ROLE IF EXISTS regress_mon_dash, regress_mon_admin, regress_mon_app;
RESET client_min_messages;
DELETE FROM queue.peak_windows;

\i test/sql/try.sql

SELECT extversion = default_version AS current_version
  FROM pg_extension JOIN pg_available_extensions ON name = extname WHERE extname = 'queue';
SELECT alert_resource_wait, alert_no_worker, alert_worker_failures FROM queue.settings;
-- The fold runs in the library (1.12), its statements planned as index walks
-- whatever the statistics (burst_plans.sql checks them after a burst).
SELECT l.lanname, p.prosrc, p.proconfig
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.oid = 'queue.fold_events(integer)'::regprocedure;

-- Thresholds are bounded like every setting.
SELECT qt.try($$UPDATE queue.settings SET alert_resource_wait = '0'$$);
SELECT qt.try($$UPDATE queue.settings SET alert_no_worker = '2 days'$$);
SELECT qt.try($$UPDATE queue.settings SET alert_worker_failures = 0$$);
SELECT qt.try($$UPDATE queue.settings SET alert_worker_failures = NULL$$);

-- Nothing happened yet: a pass runs, folds nothing, fires nothing.
SELECT queue.monitor('0') AS ran;
SELECT count(*) AS alerts, (SELECT count(*) FROM queue.job_type_totals) AS job_types
  FROM queue.alert_log WHERE alert <> 'failure_rate';
SELECT last_pass_at IS NOT NULL AS pass_recorded FROM queue.monitor_state;
SELECT queue.monitor() AS ran_again_within_5s;

-- no_live_worker: jobs have waited past the threshold, no worker is alive
-- and none started a job.
UPDATE queue.settings SET alert_no_worker = '1 minute';
SELECT count(queue.enqueue('doubt', user_id => 'student-' || n)) FROM generate_series(1, 3) n;
SELECT count(queue.enqueue('topic_short', resource => 'manim')) FROM generate_series(1, 3);
UPDATE queue.jobs SET enqueued_at = now() - interval '5 minutes', run_at = now() - interval '5 minutes';
SELECT queue.monitor('0') AS ran;
SELECT alert, subject, cleared_at IS NULL AS active FROM queue.alert_log
 WHERE alert <> 'failure_rate' ORDER BY id;

-- Work starts: the alert clears; a manim job waits behind the full resource.
UPDATE queue.resources SET max_concurrent = 1 WHERE resource = 'manim';
UPDATE queue.settings SET alert_resource_wait = '1 minute', alert_worker_failures = 2;
SELECT (queue.register_worker('box-1', capacity => 4)).worker_id;
SELECT count(*) AS claimed FROM queue.dequeue('box-1', 4);
SELECT queue.complete(id, 'box-1', '{"url": "v.mp4"}') FROM queue.jobs
 WHERE status = 'processing' AND job_type = 'doubt' ORDER BY id LIMIT 1;
SELECT queue.fail(id, 'box-1', 'ffmpeg exited 1') FROM queue.jobs
 WHERE status = 'processing' AND job_type = 'doubt' ORDER BY id LIMIT 1;
SELECT queue.fail(id, 'box-1', 'ffmpeg exited 1', retryable => false) FROM queue.jobs
 WHERE status = 'processing' AND job_type = 'doubt' ORDER BY id LIMIT 1;
SELECT queue.cancel(queue.enqueue('daily_ca'));
SELECT queue.monitor('0') AS ran;
SELECT alert, subject, cleared_at IS NULL AS active FROM queue.alert_log
 WHERE alert <> 'failure_rate' ORDER BY id;
SELECT detail FROM queue.alert_log
 WHERE cleared_at IS NULL AND alert <> 'failure_rate' ORDER BY alert;

-- Each transition counted once, in its minute and per job type.
SELECT sum(enqueued) AS enqueued, sum(started) AS started, sum(completed) AS completed,
       sum(failed) AS failed, sum(retried) AS retried, sum(timed_out) AS timed_out,
       sum(cancelled) AS cancelled, (array_agg(queued ORDER BY minute DESC))[1] AS queued,
       (array_agg(processing ORDER BY minute DESC))[1] AS processing,
       bool_or(avg_wait IS NOT NULL) AS has_wait
  FROM queue.stats_history('1 hour');
SELECT job_type, enqueued, started, completed, failed, retried, cancelled,
       wait_buckets[cardinality(wait_buckets)] AS waits, run_buckets[cardinality(run_buckets)] AS runs
  FROM queue.job_type_totals ORDER BY job_type;
SELECT queue.monitor('0') AS ran;
SELECT sum(enqueued) AS enqueued_after_second_pass FROM queue.stats_history('1 hour');
SELECT worker_id, failures FROM queue.worker_failure_streaks;

-- A completed attempt restarts the worker's streak; the alert clears.
SELECT count(queue.complete(id, 'box-1')) FROM queue.jobs WHERE status = 'processing';
SELECT queue.monitor('0') AS ran;
SELECT worker_id, failures FROM queue.worker_failure_streaks;
SELECT alert, subject, cleared_at IS NULL AS active FROM queue.alert_log
 WHERE alert <> 'failure_rate' ORDER BY id;

-- The exposition: families with HELP and TYPE, escaped labels, no job or user ids.
INSERT INTO queue.job_types (job_type, priority) VALUES ('quote_test', 'low');
SELECT queue.enqueue('quote_test', user_id => 'student-"<x>');
SELECT queue.monitor('0') AS ran;
SELECT line FROM regexp_split_to_table(queue.metrics(), E'\n') WITH ORDINALITY AS t(line, n)
 WHERE (line ~ '^queue_(jobs|queued_jobs|running_jobs|concurrency_limit|peak_hour|workers|jobs_enqueued_total|jobs_completed_total|jobs_failed_total|alert_firing)[{ ]'
        OR line ~ '^queue_job_run_seconds_(bucket\{job_type="doubt",le="(5|\+Inf)"\}|count)'
        OR line ~ '^# TYPE queue_job_(wait|run)_seconds')
   AND line !~ 'failure_rate'
 ORDER BY n;
SELECT count(*) AS failure_rate_line_matches
  FROM regexp_split_to_table(queue.metrics(), E'\n') AS line
 WHERE line = 'queue_alert_firing{alert="failure_rate"} '
              || (SELECT count(*) FROM queue.alert_log WHERE alert = 'failure_rate' AND cleared_at IS NULL);
SELECT count(*) AS type_lines, count(DISTINCT line) AS distinct_type_lines
  FROM regexp_split_to_table(queue.metrics(), E'\n') AS line WHERE line LIKE '# TYPE %';
SELECT queue.metrics() ~ 'student|box-1' AS names_ids,
       queue.metrics() ~ 'queue_tick_last_success_timestamp_seconds [0-9]+' AS has_tick_time,
       queue.metrics() ~ 'queue_oldest_queued_age_seconds\{priority="high"\} ' AS has_age;
SELECT queue.prometheus_label(E'a"b\\c\nd') AS escaped;

SELECT qt.try($$SELECT * FROM queue.stats_history(NULL)$$);
SELECT qt.try($$SELECT * FROM queue.stats_history('-1 minute')$$);

-- Cleared alerts are kept for the retention period, at least a day.
UPDATE queue.alert_log SET started_at = started_at - interval '2 days',
                           cleared_at = cleared_at - interval '2 days' WHERE cleared_at IS NOT NULL;
SELECT queue.monitor('0') AS ran;
SELECT count(*) FILTER (WHERE cleared_at IS NOT NULL) AS cleared_kept
  FROM queue.alert_log WHERE alert <> 'failure_rate';
UPDATE queue.settings SET retention = '0';
SELECT queue.monitor('0') AS ran;
SELECT count(*) FILTER (WHERE cleared_at IS NOT NULL) AS cleared_after_a_day,
       count(*) FILTER (WHERE cleared_at IS NULL) AS active
  FROM queue.alert_log WHERE alert <> 'failure_rate';
UPDATE queue.settings SET retention = '7 days';

-- Roles: the dashboard reads; the admin acts through audited functions.
CREATE ROLE regress_mon_dash;
CREATE ROLE regress_mon_admin;
CREATE ROLE regress_mon_app;
GRANT queue_dashboard TO regress_mon_dash;
GRANT queue_admin TO regress_mon_admin;
GRANT queue_app TO regress_mon_app;
SET ROLE regress_mon_app;
SELECT queue.enqueue('doubt') AS app_job \gset
SELECT qt.try($$SELECT queue.metrics()$$);
SELECT qt.try($$SELECT count(*) FROM queue.job_list$$);
RESET ROLE;
SET ROLE regress_mon_dash;
SELECT length(queue.metrics()) > 0 AS dashboard_reads_metrics;
SELECT count(*) > 0 AS dashboard_reads_history FROM queue.stats_history('1 hour');
SELECT count(*) > 0 AS dashboard_reads_jobs FROM queue.job_list;
SELECT count(*) > 0 AS dashboard_reads_events FROM queue.job_timeline;
SELECT count(*) >= 0 AS dashboard_reads_alerts FROM queue.alert_log;
SELECT qt.try($$SELECT queue.admin_cancel(1, 'mallory')$$);
SELECT qt.try($$SELECT queue.admin_set_limit(50)$$);
SELECT qt.try($$SELECT count(*) FROM queue.admin_audit$$);
SELECT qt.try($$SELECT queue.monitor()$$);
RESET ROLE;
SET ROLE regress_mon_admin;
SELECT queue.admin_cancel(:app_job, 'alice') AS cancelled;
SELECT queue.admin_drain_worker('box-1', 'alice') AS drained;
SELECT queue.admin_set_limit(12, actor => 'alice') AS old_global;
SELECT queue.admin_set_limit(3, 'manim', 'alice') AS old_manim;
SELECT qt.try($$SELECT queue.admin_set_limit(3, 'nope', 'alice')$$);
SELECT qt.try($$SELECT queue.admin_set_limit(-1, 'manim', 'alice')$$);
SELECT db_role, actor, action, target, detail FROM queue.admin_audit ORDER BY id;
RESET ROLE;
SELECT max_concurrent FROM queue.settings;
SELECT status, last_error FROM queue.jobs WHERE id = :app_job;

-- After TRUNCATE queue.job_events the events to come are folded, also when
-- the truncation restarted their ids below the monitor's cursor; the ids
-- skipped on the way are not taken for events to wait for.
SELECT sum(enqueued) AS enqueued_before FROM queue.job_type_totals \gset
TRUNCATE queue.job_events RESTART IDENTITY;
SELECT count(queue.enqueue('doubt')) AS enqueued FROM generate_series(1, 2);
SELECT queue.monitor('0') AS ran;
SELECT sum(enqueued) - :enqueued_before AS folded_after_restart FROM queue.job_type_totals;
TRUNCATE queue.job_events;
SELECT count(queue.enqueue('doubt')) AS enqueued;
SELECT queue.monitor('0') AS ran;
SELECT sum(enqueued) - :enqueued_before AS folded_after_truncate FROM queue.job_type_totals;
SELECT count(*) AS gaps FROM queue.rollup_gaps;

-- The histogram buckets each fold adds (queue 1.8: in C, not SQL): for each
-- bound, the samples at or below it, then all samples. A NULL sample counts
-- only in the total, NaN lies above every number and equals NaN, bounds need
-- not be sorted, and no samples at all make a bucket of zeros.
SELECT queue.cumulative_buckets('{0.5, 1, 3, 7, 20, 5000}', '{1, 5, 15, 30}') AS sorted,
       queue.cumulative_buckets('{1, 10, 100}', '{50, 5}') AS unsorted,
       queue.cumulative_buckets('{1, NULL, NaN, Infinity}', '{1, Infinity, NaN}') AS odd_samples,
       queue.cumulative_buckets(NULL, '{1, 5}') AS no_samples,
       queue.cumulative_buckets('{}', '{1, 5}') AS empty_samples,
       queue.cumulative_buckets('{1, 2}', '{}') AS no_bounds,
       queue.cumulative_buckets('{1, 2}', NULL) AS null_bounds;
SELECT qt.try($$SELECT queue.cumulative_buckets('{1}', '{1, NULL}')$$);
SELECT qt.try($$SELECT queue.cumulative_buckets('{{1}}', '{1}')$$);
-- A fold of many samples puts each in its buckets: waits of 0 to 99 s.
SELECT queue.cumulative_buckets(array_agg(i::float8), queue.wait_bounds()) AS waits_0_to_99
  FROM generate_series(0, 99) AS i;

DROP EXTENSION queue CASCADE;
DROP ROLE regress_mon_dash, regress_mon_admin, regress_mon_app;
CREATE EXTENSION queue;
