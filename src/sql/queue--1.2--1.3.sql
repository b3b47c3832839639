-- queue 1.2 -> 1.3: monitoring for people and machines. Per-minute history for
-- a dashboard's chart, cumulative figures per job type for Prometheus
-- (queue.metrics()), alerts that start and clear with a NOTIFY, and admin
-- actions that leave an audit trail.
--
-- Nothing here adds work to enqueue, dequeue, complete or fail: every figure
-- is derived in the maintenance pass (tick() calls queue.monitor()) from
-- queue.job_events, which records every transition, and from the shared
-- counters that stats() reads.
--
-- The functions that read queue.jobs run with jit = off: the planner's
-- estimates for a million queued rows cross jit_above_cost, and compiling
-- would take a second for statements that run in a few milliseconds.
--
-- Words: a *monitoring pass* is queue.monitor() doing its work (at most every
-- few seconds, however often tick() runs); *folding* an event adds it to the
-- minute it happened in and to its job type's totals, exactly once.

\echo Use "ALTER EXTENSION queue UPDATE TO '1.3'" to load this file. \quit

------------------------------------------------------------------------------
-- Alert thresholds, beside the existing ones in queue.settings
------------------------------------------------------------------------------

ALTER TABLE queue.settings
    ADD COLUMN alert_resource_wait interval NOT NULL DEFAULT '10 minutes'
        CONSTRAINT alert_resource_wait_range CHECK (
            extract(epoch FROM alert_resource_wait) >= 1 AND
            extract(epoch FROM alert_resource_wait) <= extract(epoch FROM interval '1 day')),
    ADD COLUMN alert_no_worker interval NOT NULL DEFAULT '2 minutes'
        CONSTRAINT alert_no_worker_range CHECK (
            extract(epoch FROM alert_no_worker) >= 1 AND
            extract(epoch FROM alert_no_worker) <= extract(epoch FROM interval '1 day')),
    ADD COLUMN alert_worker_failures integer NOT NULL DEFAULT 5
        CONSTRAINT alert_worker_failures_range CHECK (alert_worker_failures BETWEEN 1 AND 1000);
COMMENT ON COLUMN queue.settings.alert_resource_wait IS
    'alert resource_wait: a resource runs at its limit while one of its jobs has been claimable this long (1 s to 1 day)';
COMMENT ON COLUMN queue.settings.alert_no_worker IS
    'alert no_live_worker: jobs have waited this long, no registered worker is alive and none started a job meanwhile (1 s to 1 day)';
COMMENT ON COLUMN queue.settings.alert_worker_failures IS
    'alert worker_failing: a worker''s last this many attempts all ended in an error or timeout (1 to 1000)';

------------------------------------------------------------------------------
-- State of the monitoring pass
------------------------------------------------------------------------------

CREATE TABLE queue.monitor_state (
    singleton       boolean PRIMARY KEY DEFAULT true
        CONSTRAINT monitor_state_single_row CHECK (singleton),
    last_pass_at    timestamptz,
    last_event_id   bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE queue.monitor_state IS
    'when the monitoring pass last ran (inside a committed tick) and the queue.job_events id it has folded up to';
-- History starts now: events written before 1.2 are not counted.
INSERT INTO queue.monitor_state (last_event_id)
SELECT coalesce(max(id), 0) FROM queue.job_events;

-- An event id at or below last_event_id may still commit later (ids are
-- taken in one order and committed in another): ids skipped by a pass wait
-- here until they are seen, or for an hour (a rolled-back transaction's ids
-- never come).
CREATE TABLE queue.rollup_gaps (
    event_id    bigint PRIMARY KEY,
    noted_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE queue.rollup_gaps IS
    'queue.job_events ids the monitoring pass skipped because they were not committed yet';

------------------------------------------------------------------------------
-- Per-minute history and cumulative totals
------------------------------------------------------------------------------

CREATE TABLE queue.stats_minutes (
    minute              timestamptz PRIMARY KEY,
    queued              bigint,
    processing          bigint,
    enqueued            bigint NOT NULL DEFAULT 0,
    started             bigint NOT NULL DEFAULT 0,
    completed           bigint NOT NULL DEFAULT 0,
    failed              bigint NOT NULL DEFAULT 0,
    retried             bigint NOT NULL DEFAULT 0,
    timed_out           bigint NOT NULL DEFAULT 0,
    cancelled           bigint NOT NULL DEFAULT 0,
    wait_seconds_sum    double precision NOT NULL DEFAULT 0,
    wait_count          bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE queue.stats_minutes IS
    'one row per minute: queued and processing as the last monitoring pass of the minute saw them (NULL: no pass), transitions that happened in it, waits of the attempts started in it';

-- Histogram bounds (seconds) of queue_job_wait_seconds and queue_job_run_seconds.
CREATE FUNCTION queue.wait_bounds() RETURNS double precision[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN '{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600}'::double precision[];
COMMENT ON FUNCTION queue.wait_bounds() IS 'bucket bounds in seconds of the wait-time histogram';
CREATE FUNCTION queue.run_bounds() RETURNS double precision[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN '{5, 15, 30, 60, 90, 120, 180, 300, 600, 1200}'::double precision[];
COMMENT ON FUNCTION queue.run_bounds() IS 'bucket bounds in seconds of the run-time histogram';

CREATE TABLE queue.job_type_totals (
    job_type        text PRIMARY KEY,
    enqueued        bigint NOT NULL DEFAULT 0,
    started         bigint NOT NULL DEFAULT 0,
    completed       bigint NOT NULL DEFAULT 0,
    failed          bigint NOT NULL DEFAULT 0,
    retried         bigint NOT NULL DEFAULT 0,
    timed_out       bigint NOT NULL DEFAULT 0,
    cancelled       bigint NOT NULL DEFAULT 0,
    wait_buckets    bigint[] NOT NULL,
    wait_sum        double precision NOT NULL DEFAULT 0,
    run_buckets     bigint[] NOT NULL,
    run_sum         double precision NOT NULL DEFAULT 0
);
COMMENT ON TABLE queue.job_type_totals IS
    'transitions per job type since 1.2 was installed, and cumulative histogram buckets (the bounds of wait_bounds()/run_bounds(), then +Inf) of waits and run times';

CREATE TABLE queue.worker_failure_streaks (
    worker_id       text PRIMARY KEY,
    failures        integer NOT NULL,
    last_failure_at timestamptz,
    last_success_at timestamptz
);
COMMENT ON TABLE queue.worker_failure_streaks IS
    'attempts each worker ended in an error or timeout since its last completed one';

-- Cumulative bucket counts of samples: element i counts samples <= bounds[i];
-- the last element counts them all (+Inf).
CREATE FUNCTION queue.cumulative_buckets(samples double precision[], bounds double precision[])
RETURNS bigint[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN ARRAY(
        SELECT (SELECT count(*) FROM unnest(samples) AS v
                 WHERE i > cardinality(bounds) OR v <= bounds[i])
          FROM generate_series(1, cardinality(bounds) + 1) AS i
         ORDER BY i);
COMMENT ON FUNCTION queue.cumulative_buckets(double precision[], double precision[]) IS
    'cumulative histogram bucket counts of samples for the given upper bounds, then +Inf';

CREATE FUNCTION queue.add_counts(a bigint[], b bigint[]) RETURNS bigint[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN ARRAY(SELECT coalesce(x, 0) + coalesce(y, 0) FROM unnest(a, b) AS t(x, y));
COMMENT ON FUNCTION queue.add_counts(bigint[], bigint[]) IS 'element-wise sum of two count arrays';

-- Fold up to batch_limit events not folded yet into the minutes, the job
-- type totals and the workers' failure streaks; returns how many it folded.
CREATE FUNCTION queue.fold_events(batch_limit integer) RETURNS integer
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    SET jit = off
    AS $$
DECLARE
    cursor_id bigint;
    folded integer;
    last_id bigint;
BEGIN
    SELECT last_event_id INTO cursor_id FROM queue.monitor_state;
    -- Most passes find nothing new: two index probes, no statement to plan.
    -- (max(), not EXISTS of id > cursor_id: a generic plan of that may read
    -- the whole table.)
    IF coalesce((SELECT max(id) FROM queue.job_events), 0) <= cursor_id
       AND NOT EXISTS (SELECT 1 FROM queue.rollup_gaps) THEN
        RETURN 0;
    END IF;
    WITH batch AS MATERIALIZED (
        SELECT e.id, e.at, e.worker_id, j.job_type,
               date_trunc('minute', e.at) AS minute,
               e.from_status IS NULL AS enqueued,
               coalesce(e.from_status = 'queued' AND e.to_status = 'processing', false) AS started,
               e.to_status = 'completed' AS completed,
               e.to_status = 'failed' AS failed,
               e.to_status = 'retrying' AS retried,
               coalesce(e.from_status = 'processing' AND e.to_status <> 'processing'
                        AND e.detail LIKE 'attempt timed out after %', false) AS timed_out,
               e.to_status = 'cancelled' AS cancelled,
               coalesce(e.from_status = 'processing'
                        AND e.to_status IN ('completed', 'retrying', 'failed'), false) AS attempt_end,
               -- Claimable since run_at (the enqueue, or a retry's backoff); when
               -- the job has moved on to a later attempt, since the event that
               -- queued it last.
               CASE WHEN e.from_status = 'queued' AND e.to_status = 'processing' THEN
                   extract(epoch FROM e.at - CASE WHEN j.run_at <= e.at THEN j.run_at ELSE
                       (SELECT p.at FROM queue.job_events p
                         WHERE p.job_id = e.job_id AND p.id < e.id AND p.to_status = 'queued'
                         ORDER BY p.id DESC LIMIT 1) END)::double precision
               END AS wait_seconds,
               CASE WHEN e.to_status = 'completed' AND j.started_at <= e.at
                    THEN extract(epoch FROM e.at - j.started_at)::double precision END AS run_seconds
          FROM (
              -- Two index range scans: an OR of both would walk the whole
              -- table from its first id.
              (SELECT * FROM queue.job_events WHERE id > cursor_id ORDER BY id LIMIT batch_limit)
              UNION ALL
              SELECT * FROM queue.job_events WHERE id IN (SELECT event_id FROM queue.rollup_gaps)
          ) e
          LEFT JOIN queue.jobs j ON j.id = e.job_id
         ORDER BY e.id
         LIMIT batch_limit),
    minutes AS (
        INSERT INTO queue.stats_minutes AS m (minute, enqueued, started, completed, failed, retried,
                                              timed_out, cancelled, wait_seconds_sum, wait_count)
        SELECT minute, count(*) FILTER (WHERE enqueued), count(*) FILTER (WHERE started),
               count(*) FILTER (WHERE completed), count(*) FILTER (WHERE failed),
               count(*) FILTER (WHERE retried), count(*) FILTER (WHERE timed_out),
               count(*) FILTER (WHERE cancelled), coalesce(sum(wait_seconds), 0), count(wait_seconds)
          FROM batch GROUP BY minute
        ON CONFLICT (minute) DO UPDATE SET
            enqueued = m.enqueued + excluded.enqueued, started = m.started + excluded.started,
            completed = m.completed + excluded.completed, failed = m.failed + excluded.failed,
            retried = m.retried + excluded.retried, timed_out = m.timed_out + excluded.timed_out,
            cancelled = m.cancelled + excluded.cancelled,
            wait_seconds_sum = m.wait_seconds_sum + excluded.wait_seconds_sum,
            wait_count = m.wait_count + excluded.wait_count),
    totals AS (
        INSERT INTO queue.job_type_totals AS t (job_type, enqueued, started, completed, failed,
                                                retried, timed_out, cancelled, wait_buckets,
                                                wait_sum, run_buckets, run_sum)
        SELECT job_type, count(*) FILTER (WHERE enqueued), count(*) FILTER (WHERE started),
               count(*) FILTER (WHERE completed), count(*) FILTER (WHERE failed),
               count(*) FILTER (WHERE retried), count(*) FILTER (WHERE timed_out),
               count(*) FILTER (WHERE cancelled),
               queue.cumulative_buckets(array_agg(wait_seconds) FILTER (WHERE wait_seconds IS NOT NULL),
                                        queue.wait_bounds()),
               coalesce(sum(wait_seconds), 0),
               queue.cumulative_buckets(array_agg(run_seconds) FILTER (WHERE run_seconds IS NOT NULL),
                                        queue.run_bounds()),
               coalesce(sum(run_seconds), 0)
          FROM batch WHERE job_type IS NOT NULL GROUP BY job_type
        ON CONFLICT (job_type) DO UPDATE SET
            enqueued = t.enqueued + excluded.enqueued, started = t.started + excluded.started,
            completed = t.completed + excluded.completed, failed = t.failed + excluded.failed,
            retried = t.retried + excluded.retried, timed_out = t.timed_out + excluded.timed_out,
            cancelled = t.cancelled + excluded.cancelled,
            wait_buckets = queue.add_counts(t.wait_buckets, excluded.wait_buckets),
            wait_sum = t.wait_sum + excluded.wait_sum,
            run_buckets = queue.add_counts(t.run_buckets, excluded.run_buckets),
            run_sum = t.run_sum + excluded.run_sum),
    attempt_ends AS (
        SELECT worker_id, id, at, completed,
               max(id) FILTER (WHERE completed) OVER (PARTITION BY worker_id) AS last_success_id
          FROM batch WHERE attempt_end AND worker_id IS NOT NULL),
    streaks AS (
        -- A completed attempt in the batch restarts the streak from the
        -- errors after it; otherwise the batch's errors extend it.
        INSERT INTO queue.worker_failure_streaks AS s (worker_id, failures, last_failure_at,
                                                       last_success_at)
        SELECT worker_id,
               count(*) FILTER (WHERE NOT completed AND id > coalesce(last_success_id, 0)),
               max(at) FILTER (WHERE NOT completed), max(at) FILTER (WHERE completed)
          FROM attempt_ends GROUP BY worker_id
        ON CONFLICT (worker_id) DO UPDATE SET
            failures = CASE WHEN excluded.last_success_at IS NOT NULL THEN excluded.failures
                            ELSE s.failures + excluded.failures END,
            last_failure_at = coalesce(excluded.last_failure_at, s.last_failure_at),
            last_success_at = coalesce(excluded.last_success_at, s.last_success_at)),
    seen_gaps AS (
        DELETE FROM queue.rollup_gaps g WHERE g.event_id IN (SELECT id FROM batch)),
    new_gaps AS (
        INSERT INTO queue.rollup_gaps (event_id)
        SELECT i FROM generate_series(cursor_id + 1, (SELECT max(id) FROM batch)) AS i
         WHERE NOT EXISTS (SELECT 1 FROM batch b WHERE b.id = i))
    SELECT count(*), max(id) INTO folded, last_id FROM batch;

    UPDATE queue.monitor_state SET last_event_id = greatest(last_event_id, last_id)
     WHERE last_id IS NOT NULL;
    DELETE FROM queue.rollup_gaps WHERE noted_at < now() - interval '1 hour';
    RETURN folded;
END
$$;
COMMENT ON FUNCTION queue.fold_events(integer) IS
    'folds queue.job_events not folded yet into stats_minutes, job_type_totals and worker_failure_streaks, each event once';

------------------------------------------------------------------------------
-- Alerts
------------------------------------------------------------------------------

CREATE TABLE queue.alert_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert       text NOT NULL,
    subject     text NOT NULL DEFAULT '',
    detail      text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    cleared_at  timestamptz
);
COMMENT ON TABLE queue.alert_log IS
    'alerts as they start and clear (subject: the resource or worker id, '''' for the whole queue); cleared ones are kept for settings.retention, at least a day';
CREATE UNIQUE INDEX alert_log_active ON queue.alert_log (alert, subject) WHERE cleared_at IS NULL;
CREATE INDEX alert_log_cleared ON queue.alert_log (cleared_at) WHERE cleared_at IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('queue.alert_log', '');
SELECT pg_catalog.pg_extension_config_dump('queue.alert_log_id_seq', '');

-- Every alert condition that holds now, one row per alert and subject.
CREATE FUNCTION queue.firing_alerts(OUT alert text, OUT subject text, OUT detail text)
RETURNS SETOF record
    LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET jit = off
    BEGIN ATOMIC
    WITH s AS MATERIALIZED (SELECT * FROM queue.stats()),
         c AS MATERIALIZED (SELECT * FROM queue.settings),
         -- The head of the dispatch order: a resource's job there waits for
         -- the resource, not for the jobs ahead of it.
         head AS (SELECT q.resource, q.run_at FROM queue.jobs q
                   WHERE q.status = 'queued' ORDER BY q.priority, q.id LIMIT 1000),
         saturated AS (
             SELECT r.key AS resource, (r.value ->> 'running')::int AS running,
                    (r.value ->> 'limit')::int AS resource_limit,
                    (SELECT now() - min(h.run_at) FROM head h
                      WHERE h.resource = r.key AND h.run_at <= now()) AS waited
               FROM s, jsonb_each(s.processing_by_resource) AS r
              WHERE (r.value ->> 'running')::int >= (r.value ->> 'limit')::int)
    SELECT a.alert, ''::text, a.detail FROM queue.alerts a
    UNION ALL
    SELECT 'resource_wait', x.resource,
           pg_catalog.format('%s renders of %s run at its limit of %s while a %s job has waited %s (threshold %s)',
                             x.running, x.resource, x.resource_limit, x.resource,
                             pg_catalog.date_trunc('second', x.waited), c.alert_resource_wait)
      FROM saturated x, c
     WHERE x.waited >= c.alert_resource_wait
    UNION ALL
    SELECT 'no_live_worker', '',
           pg_catalog.format('%s jobs queued, the oldest for %s, and no registered render worker is alive nor started a job within %s',
                             s.queued, pg_catalog.date_trunc('second', s.oldest_queued_age), c.alert_no_worker)
      FROM s, c
     WHERE s.queued > 0 AND s.oldest_queued_age >= c.alert_no_worker
       AND NOT EXISTS (SELECT 1 FROM queue.workers w
                        WHERE w.state = 'active' AND w.last_heartbeat >= now() - c.worker_timeout)
       AND NOT EXISTS (SELECT 1 FROM queue.stats_minutes m
                        WHERE m.minute >= pg_catalog.date_trunc('minute', now() - c.alert_no_worker)
                          AND m.started > 0)
    UNION ALL
    SELECT 'worker_failing', f.worker_id,
           pg_catalog.format('worker %s ended its last %s attempts in an error or timeout (threshold %s)',
                             f.worker_id, f.failures, c.alert_worker_failures)
      FROM queue.worker_failure_streaks f, c
     WHERE f.failures >= c.alert_worker_failures AND f.last_failure_at >= now() - c.stats_window;
    END;
COMMENT ON FUNCTION queue.firing_alerts() IS
    'alert conditions that hold now: queue_depth, oldest_queued, failure_rate (as queue.alerts), resource_wait, no_live_worker, worker_failing';

CREATE FUNCTION queue.alert_payload(state text, entry queue.alert_log) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN pg_catalog.jsonb_build_object(
        'state', state, 'alert', entry.alert, 'subject', entry.subject,
        'detail', pg_catalog.left(entry.detail, 2000), 'started_at', entry.started_at,
        'cleared_at', entry.cleared_at, 'id', entry.id)::text;
COMMENT ON FUNCTION queue.alert_payload(text, queue.alert_log) IS
    'the JSON payload of a NOTIFY queue_alerts';

-- Start the alerts that fire now and clear the ones that stopped, with a
-- NOTIFY queue_alerts for each change; returns how many changed.
CREATE FUNCTION queue.evaluate_alerts() RETURNS integer
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    SET jit = off
    AS $$
DECLARE
    firing jsonb;
    entry queue.alert_log;
    changes integer := 0;
BEGIN
    SELECT coalesce(jsonb_agg(f), '[]') INTO firing FROM queue.firing_alerts() f;
    FOR entry IN
        UPDATE queue.alert_log l SET cleared_at = now()
         WHERE l.cleared_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM jsonb_to_recordset(firing) AS f(alert text, subject text)
                            WHERE f.alert = l.alert AND f.subject = l.subject)
        RETURNING l.*
    LOOP
        PERFORM pg_notify('queue_alerts', queue.alert_payload('cleared', entry));
        changes := changes + 1;
    END LOOP;
    FOR entry IN
        INSERT INTO queue.alert_log (alert, subject, detail)
        SELECT f.alert, f.subject, f.detail
          FROM jsonb_to_recordset(firing) AS f(alert text, subject text, detail text)
         WHERE NOT EXISTS (SELECT 1 FROM queue.alert_log l
                            WHERE l.cleared_at IS NULL AND l.alert = f.alert AND l.subject = f.subject)
        RETURNING *
    LOOP
        PERFORM pg_notify('queue_alerts', queue.alert_payload('firing', entry));
        changes := changes + 1;
    END LOOP;
    -- Active alerts show the figures of the latest pass.
    UPDATE queue.alert_log l SET detail = f.detail
      FROM jsonb_to_recordset(firing) AS f(alert text, subject text, detail text)
     WHERE l.cleared_at IS NULL AND l.alert = f.alert AND l.subject = f.subject
       AND l.detail IS DISTINCT FROM f.detail;
    RETURN changes;
END
$$;
COMMENT ON FUNCTION queue.evaluate_alerts() IS
    'records alerts that start and clear in queue.alert_log and announces each change with NOTIFY queue_alerts';

------------------------------------------------------------------------------
-- The monitoring pass, run by tick()
------------------------------------------------------------------------------

CREATE FUNCTION queue.monitor(min_interval interval DEFAULT '5 seconds') RETURNS boolean
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET jit = off
    AS $$
DECLARE
    previous_pass timestamptz;
    kept interval;
BEGIN
    -- One pass at a time: tick() may run concurrently with itself.
    SELECT last_pass_at INTO previous_pass FROM queue.monitor_state FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- Events are folded on every call, in bounded batches, so that a busy
    -- farm's events never pile up into one long pass.
    PERFORM queue.fold_events(10000);
    IF previous_pass > now() - min_interval THEN
        RETURN false;
    END IF;
    INSERT INTO queue.stats_minutes AS m (minute, queued, processing)
    SELECT date_trunc('minute', now()), s.queued, s.processing FROM queue.stats() s
    ON CONFLICT (minute) DO UPDATE SET queued = excluded.queued, processing = excluded.processing;
    PERFORM queue.evaluate_alerts();

    SELECT greatest(retention, interval '1 day') INTO kept FROM queue.settings;
    DELETE FROM queue.stats_minutes WHERE minute < now() - kept;
    DELETE FROM queue.alert_log WHERE cleared_at < now() - kept;
    DELETE FROM queue.worker_failure_streaks f
     WHERE greatest(f.last_failure_at, f.last_success_at) < now() - kept
       AND NOT EXISTS (SELECT 1 FROM queue.workers w WHERE w.worker_id = f.worker_id);
    UPDATE queue.monitor_state SET last_pass_at = now();
    RETURN true;
END
$$;
COMMENT ON FUNCTION queue.monitor(interval) IS
    'the monitoring pass tick() runs: folds new events; at most once per min_interval also samples queued/processing for the minute, starts and clears alerts and prunes (then true)';

------------------------------------------------------------------------------
-- Reading the figures: history for charts, Prometheus exposition
------------------------------------------------------------------------------

CREATE FUNCTION queue.stats_history(
    since interval DEFAULT '1 hour',
    OUT minute timestamptz,
    OUT queued bigint,
    OUT processing bigint,
    OUT enqueued bigint,
    OUT started bigint,
    OUT completed bigint,
    OUT failed bigint,
    OUT retried bigint,
    OUT timed_out bigint,
    OUT cancelled bigint,
    OUT avg_wait interval)
RETURNS SETOF record
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET jit = off
    AS $$
BEGIN
    IF since IS NULL THEN
        RAISE EXCEPTION 'since must not be NULL'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an interval such as ''1 hour''.';
    END IF;
    IF since < interval '0' OR since > interval '3650 days' THEN
        RAISE EXCEPTION 'since must be between 0 and 3650 days, not %', since
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'History is kept for settings.retention, at least a day.';
    END IF;
    RETURN QUERY
        SELECT m.minute, m.queued, m.processing, m.enqueued, m.started, m.completed, m.failed,
               m.retried, m.timed_out, m.cancelled,
               CASE WHEN m.wait_count > 0
                    THEN make_interval(secs => m.wait_seconds_sum / m.wait_count) END
          FROM queue.stats_minutes m
         WHERE m.minute >= date_trunc('minute', now() - since)
         ORDER BY m.minute;
END
$$;
COMMENT ON FUNCTION queue.stats_history(interval) IS
    'per-minute figures since now() - since: queued and processing as sampled, transitions counted, average wait of the attempts started';

-- A label value in the Prometheus text format: backslash, quote and newline escaped.
CREATE FUNCTION queue.prometheus_label(value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN '"' || replace(replace(replace(value, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n') || '"';
COMMENT ON FUNCTION queue.prometheus_label(text) IS
    'quotes and escapes a label value for the Prometheus text exposition format';

-- One metric family: its HELP and TYPE lines, then its samples.
CREATE FUNCTION queue.metric_family(name text, kind text, help text, samples text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN format(E'# HELP %s %s\n# TYPE %s %s\n', name, help, name, kind)
        || CASE WHEN cardinality(samples) > 0 THEN array_to_string(samples, E'\n') || E'\n' ELSE '' END;
COMMENT ON FUNCTION queue.metric_family(text, text, text, text[]) IS
    'a metric family in the Prometheus text exposition format';

-- The samples of one histogram per job type from cumulative bucket arrays.
CREATE FUNCTION queue.histogram_samples(name text, bounds double precision[], which text)
RETURNS text[]
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
    RETURN ARRAY(
        SELECT sample FROM (
            SELECT t.job_type, i AS n,
                   format('%s_bucket{job_type=%s,le=%s} %s', name, queue.prometheus_label(t.job_type),
                          queue.prometheus_label(CASE WHEN i <= cardinality(bounds)
                                                      THEN bounds[i]::text ELSE '+Inf' END),
                          CASE which WHEN 'wait' THEN t.wait_buckets[i] ELSE t.run_buckets[i] END)
                   AS sample
              FROM queue.job_type_totals t, generate_series(1, cardinality(bounds) + 1) AS i
            UNION ALL
            SELECT t.job_type, 1000001,
                   format('%s_sum{job_type=%s} %s', name, queue.prometheus_label(t.job_type),
                          CASE which WHEN 'wait' THEN t.wait_sum ELSE t.run_sum END)
              FROM queue.job_type_totals t
            UNION ALL
            SELECT t.job_type, 1000002,
                   format('%s_count{job_type=%s} %s', name, queue.prometheus_label(t.job_type),
                          CASE which WHEN 'wait' THEN t.wait_buckets[cardinality(t.wait_buckets)]
                                     ELSE t.run_buckets[cardinality(t.run_buckets)] END)
              FROM queue.job_type_totals t) x
         ORDER BY x.job_type, x.n);
COMMENT ON FUNCTION queue.histogram_samples(text, double precision[], text) IS
    'bucket, sum and count samples of the wait (which = wait) or run-time histogram per job type';

CREATE FUNCTION queue.metrics() RETURNS text
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
        'Age of the first queued job in dispatch order, per priority (0 when none is queued).',
        ARRAY(SELECT format('queue_oldest_queued_age_seconds{priority=%s} %s',
                            queue.prometheus_label(p::text),
                            coalesce((SELECT extract(epoch FROM now() - j.enqueued_at)
                                        FROM queue.jobs j WHERE j.status = 'queued' AND j.priority = p
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
COMMENT ON FUNCTION queue.metrics() IS
    'the queue''s figures in the Prometheus text exposition format (counters and histograms as of the last monitoring pass)';

------------------------------------------------------------------------------
-- What a dashboard reads: jobs and their events without the owner role
------------------------------------------------------------------------------

CREATE VIEW queue.job_list AS
    SELECT j.id, j.job_type, j.priority, j.resource, j.status, j.user_id, j.worker_id,
           j.attempts, j.max_attempts, j.enqueued_at, j.run_at, j.started_at, j.finished_at,
           j.deadline, j.cancel_requested, j.last_error, j.payload, j.result
      FROM queue.jobs j;
COMMENT ON VIEW queue.job_list IS
    'every job for dashboards: filter by status, job_type or user_id and page by id';

CREATE VIEW queue.job_timeline AS
    SELECT e.job_id, e.id AS event_id, e.at, e.from_status, e.to_status, e.worker_id, e.detail
      FROM queue.job_events e;
COMMENT ON VIEW queue.job_timeline IS 'the transitions of each job, for a dashboard''s job page';

------------------------------------------------------------------------------
-- Admin actions with an audit trail
------------------------------------------------------------------------------

CREATE TABLE queue.admin_audit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    db_role     name NOT NULL DEFAULT session_user,
    actor       text,
    action      text NOT NULL,
    target      text,
    detail      jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE queue.admin_audit IS
    'admin actions taken through queue.admin_* functions: the login role (db_role), the person as the client names them (actor), what and on what';
SELECT pg_catalog.pg_extension_config_dump('queue.admin_audit', '');
SELECT pg_catalog.pg_extension_config_dump('queue.admin_audit_id_seq', '');

CREATE FUNCTION queue.admin_cancel(job_id bigint, actor text DEFAULT NULL) RETURNS boolean
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    done boolean;
BEGIN
    done := queue.cancel(job_id, format('cancelled by %s', coalesce(actor, session_user::text)));
    INSERT INTO queue.admin_audit (actor, action, target, detail)
    VALUES (actor, 'cancel', job_id::text, jsonb_build_object('cancelled', done));
    RETURN done;
END
$$;
COMMENT ON FUNCTION queue.admin_cancel(bigint, text) IS
    'cancel() with an audit row naming the login role and the acting person';

CREATE FUNCTION queue.admin_drain_worker(worker_id text, actor text DEFAULT NULL) RETURNS boolean
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    done boolean;
BEGIN
    done := queue.drain_worker(worker_id);
    INSERT INTO queue.admin_audit (actor, action, target, detail)
    VALUES (actor, 'drain_worker', worker_id, jsonb_build_object('drained', done));
    RETURN done;
END
$$;
COMMENT ON FUNCTION queue.admin_drain_worker(text, text) IS
    'drain_worker() with an audit row naming the login role and the acting person';

-- Set the global max_concurrent (resource NULL) or a resource's; returns the old value.
CREATE FUNCTION queue.admin_set_limit(
    max_concurrent integer, resource text DEFAULT NULL, actor text DEFAULT NULL)
RETURNS integer
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    old_limit integer;
BEGIN
    IF max_concurrent IS NULL THEN
        RAISE EXCEPTION 'max_concurrent must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF resource IS NULL THEN
        SELECT s.max_concurrent INTO old_limit FROM queue.settings s FOR UPDATE;
        UPDATE queue.settings SET max_concurrent = admin_set_limit.max_concurrent;
    ELSE
        SELECT r.max_concurrent INTO old_limit FROM queue.resources r
         WHERE r.resource = admin_set_limit.resource FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'unknown resource "%"', resource
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Known resources: ' || coalesce(
                          (SELECT string_agg(r.resource, ', ' ORDER BY r.resource) FROM queue.resources r),
                          '(none)') || '.';
        END IF;
        UPDATE queue.resources r SET max_concurrent = admin_set_limit.max_concurrent
         WHERE r.resource = admin_set_limit.resource;
    END IF;
    INSERT INTO queue.admin_audit (actor, action, target, detail)
    VALUES (actor, 'set_limit', coalesce(resource, '*'),
            jsonb_build_object('from', old_limit, 'to', max_concurrent));
    RETURN old_limit;
END
$$;
COMMENT ON FUNCTION queue.admin_set_limit(integer, text, text) IS
    'sets settings.max_concurrent (resource NULL) or a resource''s max_concurrent, with an audit row; returns the old value';

------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------

REVOKE ALL ON queue.monitor_state, queue.rollup_gaps, queue.stats_minutes, queue.job_type_totals,
    queue.worker_failure_streaks, queue.alert_log, queue.job_list, queue.job_timeline,
    queue.admin_audit FROM PUBLIC;
REVOKE ALL ON FUNCTION queue.wait_bounds(), queue.run_bounds(),
    queue.cumulative_buckets(double precision[], double precision[]),
    queue.add_counts(bigint[], bigint[]), queue.fold_events(integer), queue.firing_alerts(),
    queue.alert_payload(text, queue.alert_log), queue.evaluate_alerts(), queue.monitor(interval),
    queue.stats_history(interval), queue.prometheus_label(text),
    queue.metric_family(text, text, text, text[]),
    queue.histogram_samples(text, double precision[], text), queue.metrics(),
    queue.admin_cancel(bigint, text), queue.admin_drain_worker(text, text),
    queue.admin_set_limit(integer, text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION queue.stats_history(interval), queue.metrics(), queue.firing_alerts()
    TO queue_dashboard;
GRANT SELECT ON queue.monitor_state, queue.alert_log, queue.job_list, queue.job_timeline,
    queue.stats_minutes, queue.job_type_totals TO queue_dashboard;
GRANT EXECUTE ON FUNCTION queue.monitor(interval), queue.admin_cancel(bigint, text),
    queue.admin_drain_worker(text, text), queue.admin_set_limit(integer, text, text)
    TO queue_admin;
GRANT SELECT ON queue.admin_audit, queue.worker_failure_streaks TO queue_admin;
