-- queue 1.9 -> 1.10: a job scheduled for later waits only once it is due.
-- * The oldest queued age of stats() (and with it the oldest_queued and
--   no_live_worker alerts) and the per-priority gauge of metrics() counted a
--   job scheduled for later as waiting from its enqueue: an evening batch
--   enqueued in the morning fired the alerts all day. They now report how
--   long the longest-waiting claimable job has waited: since its enqueue, or
--   since its run_at when that came later (a job scheduled for later, a
--   retry after its backoff). queue.oldest_waits() gives it per priority.
-- * Of the jobs scheduled for later or retried, the one due first is found
--   through a new index by run_at that ordinary enqueues never enter.

\echo Use "ALTER EXTENSION queue UPDATE TO '1.10'" to load this file. \quit

-- Queued jobs scheduled for later or retried, by the time they are due.
CREATE INDEX jobs_scheduled_due ON queue.jobs (priority, run_at)
    WHERE status = 'queued' AND run_at > enqueued_at;

CREATE FUNCTION queue.oldest_waits(OUT priority queue.priority, OUT oldest_wait interval)
RETURNS SETOF record
    LANGUAGE c STABLE PARALLEL RESTRICTED SECURITY DEFINER
    AS 'MODULE_PATHNAME', 'queue_oldest_waits';
COMMENT ON FUNCTION queue.oldest_waits() IS
    'per priority, how long its longest-waiting claimable queued job has waited (NULL: none is due)';
REVOKE ALL ON FUNCTION queue.oldest_waits() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION queue.oldest_waits() TO queue_dashboard;

CREATE OR REPLACE FUNCTION queue.metrics() RETURNS text
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET jit = off
    AS $$
DECLARE
    s record;
    body text;
BEGIN
    SELECT * INTO s FROM queue.stats();
    body := queue.metric_family('queue_jobs', 'gauge',
        'Jobs in queue.jobs by status (finished ones are kept for settings.retention).',
        ARRAY[format('queue_jobs{status="queued"} %s', s.queued),
              format('queue_jobs{status="retrying"} %s', s.retrying),
              format('queue_jobs{status="processing"} %s', s.processing),
              format('queue_jobs{status="completed"} %s', s.completed),
              format('queue_jobs{status="failed"} %s', s.failed),
              format('queue_jobs{status="cancelled"} %s', s.cancelled)])
    || queue.metric_family('queue_queued_jobs', 'gauge', 'Queued jobs by priority.',
        ARRAY[format('queue_queued_jobs{priority="high"} %s', s.queued_high),
              format('queue_queued_jobs{priority="medium"} %s', s.queued_medium),
              format('queue_queued_jobs{priority="low"} %s', s.queued_low)])
    || queue.metric_family('queue_running_jobs', 'gauge',
        'Renders running, per resource; resource="*" counts every running render.',
        ARRAY[format('queue_running_jobs{resource="*"} %s', s.processing)] || ARRAY(
            SELECT format('queue_running_jobs{resource=%s} %s', queue.prometheus_label(r.key),
                          r.value ->> 'running')
              FROM jsonb_each(s.processing_by_resource) r ORDER BY r.key))
    || queue.metric_family('queue_concurrency_limit', 'gauge',
        'Effective concurrency limit (peak-scaled), per resource; resource="*" is the global limit.',
        ARRAY[format('queue_concurrency_limit{resource="*"} %s', s.effective_limit)] || ARRAY(
            SELECT format('queue_concurrency_limit{resource=%s} %s', queue.prometheus_label(r.key),
                          r.value ->> 'limit')
              FROM jsonb_each(s.processing_by_resource) r ORDER BY r.key))
    || queue.metric_family('queue_peak_hour', 'gauge', '1 during a peak window, else 0.',
        ARRAY[format('queue_peak_hour %s', s.is_peak::int)])
    || queue.metric_family('queue_oldest_queued_age_seconds', 'gauge',
        'How long the longest-waiting claimable job has waited, per priority (0 when none is due).',
        ARRAY(SELECT format('queue_oldest_queued_age_seconds{priority=%s} %s',
                            queue.prometheus_label(w.priority::text),
                            coalesce(extract(epoch FROM w.oldest_wait), 0))
                FROM queue.oldest_waits() w ORDER BY w.priority))
    || queue.metric_family('queue_workers', 'gauge',
        'Registered render workers by state; state="live" counts active ones heard from within worker_timeout.',
        ARRAY(SELECT format('queue_workers{state=%s} %s', queue.prometheus_label(st.state),
                            (SELECT count(*) FROM queue.workers w, queue.settings c
                              WHERE CASE st.state WHEN 'live'
                                         THEN w.state = 'active' AND w.last_heartbeat >= now() - c.worker_timeout
                                         ELSE w.state::text = st.state END))
                FROM unnest(ARRAY['active', 'draining', 'dead', 'live']) AS st(state)))
    || queue.metric_family('queue_alert_firing', 'gauge',
        'Alerts firing now (1) or not (0), by alert; subjects of one alert are counted together.',
        ARRAY(SELECT format('queue_alert_firing{alert=%s} %s', queue.prometheus_label(a.alert),
                            (SELECT count(*) FROM queue.alert_log l
                              WHERE l.alert = a.alert AND l.cleared_at IS NULL))
                FROM unnest(ARRAY['queue_depth', 'oldest_queued', 'failure_rate', 'resource_wait',
                                  'no_live_worker', 'worker_failing']) AS a(alert)))
    || queue.metric_family('queue_tick_last_success_timestamp_seconds', 'gauge',
        'Unix time of the last committed monitoring pass of tick() (runs at most every 5 s).',
        ARRAY(SELECT format('queue_tick_last_success_timestamp_seconds %s',
                            extract(epoch FROM m.last_pass_at))
                FROM queue.monitor_state m WHERE m.last_pass_at IS NOT NULL))
    || queue.metric_family('queue_refused_results_total', 'counter',
        'complete()/fail() calls refused because the attempt was no longer held, since the server started.',
        ARRAY[format('queue_refused_results_total %s', s.refused_results)]);
    -- One counter family per column of queue.job_type_totals.
    body := body
    || (SELECT string_agg(queue.metric_family(format('queue_jobs_%s_total', c.name), 'counter', c.help,
               ARRAY(SELECT format('queue_jobs_%s_total{job_type=%s} %s', c.name,
                                   queue.prometheus_label(t.job_type), to_jsonb(t) ->> c.name)
                       FROM queue.job_type_totals t ORDER BY t.job_type)), '' ORDER BY c.n)
          FROM (VALUES (1, 'enqueued', 'Jobs enqueued, per job type.'),
                       (2, 'started', 'Attempts started, per job type.'),
                       (3, 'completed', 'Jobs completed, per job type.'),
                       (4, 'failed', 'Jobs failed for good (attempts exhausted or not retryable), per job type.'),
                       (5, 'retried', 'Attempts that ended in an error with attempts left, per job type.'),
                       (6, 'timed_out', 'Attempts ended by their timeout, per job type.'),
                       (7, 'cancelled', 'Jobs cancelled, per job type.')) AS c(n, name, help))
    || queue.metric_family('queue_job_wait_seconds', 'histogram',
        'Time from claimable (enqueue or retry due) to the start of an attempt, per job type.',
        queue.histogram_samples('queue_job_wait_seconds', queue.wait_bounds(), 'wait'))
    || queue.metric_family('queue_job_run_seconds', 'histogram',
        'Run time of completed attempts, per job type.',
        queue.histogram_samples('queue_job_run_seconds', queue.run_bounds(), 'run'));
    RETURN body;
END
$$;
COMMENT ON FUNCTION queue.metrics() IS
    'the queue''s figures in the Prometheus text exposition format (counters and histograms as of the last monitoring pass)';
