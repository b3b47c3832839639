-- queue 1.8 -> 1.9: the counters hold against direct edits and the settings
-- row against nested deletes.
-- * The counting trigger follows id as well: an admin who moves a queued job
--   to another id (UPDATE ... SET id = DEFAULT) moves it to another block of
--   the position counters. It did not, and positions across the two blocks
--   stayed wrong until the counters were rebuilt.
-- * queue.settings keeps its row whatever deletes it: the trigger that
--   refuses an admin's DELETE let through one issued from another trigger
--   (it must, for the restore of a dump, which replaces the shipped row), and
--   every queue function then failed. A deferred check now refuses, at
--   commit, any transaction that leaves the table without its row.

-- * enqueue_batch() refuses what it used to record as a batch that adds
--   nothing, or never can: an unknown job type with no payloads (every later
--   call with that key then added nothing), a batch key too long for the
--   dedupe keys made of it, and a payload array of more than one dimension
--   (its payloads were enqueued flattened).

-- * A job scheduled for later waits for nobody: the oldest queued age of
--   stats() (and with it the oldest_queued and no_live_worker alerts) and the
--   queue_oldest_queued_age_seconds gauge of metrics() are the wait of the
--   first claimable job in dispatch order since it became due (enqueued, or
--   its run_at passed). A daily batch enqueued the evening before for the
--   morning raised both alerts after 15 minutes and kept them up all night.

\echo Use "ALTER EXTENSION queue UPDATE TO '1.9'" to load this file. \quit

DROP TRIGGER jobs_track_counts ON queue.jobs;
CREATE TRIGGER jobs_track_counts
    AFTER INSERT OR DELETE OR UPDATE OF id, status, priority, resource, worker_id, run_at, enqueued_at
    ON queue.jobs FOR EACH ROW EXECUTE FUNCTION queue.track_counts();

CREATE FUNCTION queue.settings_row_kept() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM queue.settings) THEN
        RAISE EXCEPTION 'queue.settings must keep its row'
            USING ERRCODE = 'restrict_violation',
                  HINT = 'Change its values with UPDATE instead.';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION queue.settings_row_kept() IS
    'refuses, at commit, a transaction that leaves queue.settings without its row';
REVOKE ALL ON FUNCTION queue.settings_row_kept() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER settings_row_kept AFTER DELETE ON queue.settings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION queue.settings_row_kept();

CREATE OR REPLACE FUNCTION queue.enqueue_batch(job_type text, batch_key text, payloads jsonb[])
RETURNS integer
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    -- Each job's dedupe key is the batch key, ':' and the payload's number.
    longest_key integer := 200 - 1 - length(coalesce(cardinality(payloads), 0)::text);
    added integer;
BEGIN
    IF job_type IS NULL OR batch_key IS NULL OR payloads IS NULL THEN
        RAISE EXCEPTION 'job_type, batch_key and payloads must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM queue.job_types t WHERE t.job_type = enqueue_batch.job_type) THEN
        RAISE EXCEPTION 'unknown job type "%"', job_type
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Known job types: %s. An admin adds types to queue.job_types.',
                                (SELECT string_agg(t.job_type, ', ' ORDER BY t.job_type)
                                   FROM queue.job_types t));
    END IF;
    IF length(batch_key) NOT BETWEEN 1 AND longest_key THEN
        RAISE EXCEPTION 'batch_key must have 1 to % characters', longest_key
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Each job''s dedupe key is the batch key, '':'' and the number of its '
                         'payload, 200 characters at most.';
    END IF;
    IF array_ndims(payloads) > 1 THEN
        RAISE EXCEPTION 'payloads must be a one-dimensional array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO queue.batches (batch_key, job_type, jobs)
    VALUES (batch_key, job_type, cardinality(payloads))
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    SELECT count(queue.enqueue(enqueue_batch.job_type, p.payload,
                               dedupe_key => enqueue_batch.batch_key || ':' || p.n))
      INTO added
      FROM unnest(payloads) WITH ORDINALITY AS p(payload, n);
    RETURN added;
END
$$;

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
        'How long the first claimable job in dispatch order has waited since it became due, per priority (0 when none is claimable).',
        ARRAY(SELECT format('queue_oldest_queued_age_seconds{priority=%s} %s',
                            queue.prometheus_label(p::text),
                            coalesce((SELECT extract(epoch FROM now() - greatest(j.enqueued_at, j.run_at))
                                        FROM queue.jobs j
                                       WHERE j.status = 'queued' AND j.priority = p AND j.run_at <= now()
                                       ORDER BY j.priority, j.id LIMIT 1), 0))
                FROM unnest(enum_range(NULL::queue.priority)) AS p))
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
