-- queue 1.0: schema, configuration, SQL API and admin views.
--
-- Words used throughout: a *job* is one render request; an *attempt* is one
-- run of a job by a render worker, started by a *claim* (dequeue) and ended by
-- complete, fail, a timeout or a dead worker. The C functions live in the
-- module; everything here is declarations, data and views.

\echo Use "CREATE EXTENSION queue" to load this file. \quit

-- Refuse to install unless the library was preloaded: the exact limits live in
-- shared memory, which only a preloaded library can create.
CREATE FUNCTION queue._require_preload() RETURNS void
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'queue_require_preload';
SELECT queue._require_preload();
DROP FUNCTION queue._require_preload();

-- Roles an admin grants to login roles. They are cluster-wide and so outlive
-- the extension; creating them is skipped when they already exist.
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['queue_app', 'queue_worker', 'queue_dashboard', 'queue_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$roles$;
GRANT queue_app, queue_worker, queue_dashboard TO queue_admin;

CREATE TYPE queue.priority AS ENUM ('high', 'medium', 'low');
CREATE TYPE queue.job_status AS ENUM
    ('queued', 'retrying', 'processing', 'completed', 'failed', 'cancelled');
CREATE TYPE queue.worker_state AS ENUM ('active', 'draining', 'dead');

CREATE DOMAIN queue.name_key AS text
    CHECK (VALUE ~ '^[a-z][a-z0-9_]{0,62}$');
COMMENT ON DOMAIN queue.name_key IS
    'job type and resource names: lower case letters, digits and _, 1 to 63 characters, starting with a letter';

------------------------------------------------------------------------------
-- Configuration. Every table is edited with plain SQL by queue_admin; a
-- trigger tells every backend's cache at commit, so changes apply without a
-- restart. Constraints refuse bad values with a message naming the rule.
------------------------------------------------------------------------------

CREATE TABLE queue.settings (
    singleton           boolean PRIMARY KEY DEFAULT true
        CONSTRAINT settings_single_row CHECK (singleton),
    max_concurrent      integer NOT NULL DEFAULT 10
        CONSTRAINT max_concurrent_range CHECK (max_concurrent BETWEEN 0 AND 100000),
    job_timeout         interval NOT NULL DEFAULT '10 minutes'
        CONSTRAINT job_timeout_positive CHECK (job_timeout > '0' AND job_timeout <= '7 days'),
    max_retries         integer NOT NULL DEFAULT 3
        CONSTRAINT max_retries_range CHECK (max_retries BETWEEN 0 AND 100),
    retry_delay         interval NOT NULL DEFAULT '5 minutes'
        CONSTRAINT retry_delay_range CHECK (retry_delay >= '0' AND retry_delay <= '30 days'),
    retry_backoff       double precision NOT NULL DEFAULT 2.0
        CONSTRAINT retry_backoff_range CHECK (retry_backoff >= 1 AND retry_backoff <= 100),
    max_retry_delay     interval NOT NULL DEFAULT '1 day'
        CONSTRAINT max_retry_delay_range CHECK (max_retry_delay >= '0' AND max_retry_delay <= '365 days'),
    timezone            text NOT NULL DEFAULT 'UTC',
    worker_timeout      interval NOT NULL DEFAULT '60 seconds'
        CONSTRAINT worker_timeout_positive CHECK (worker_timeout >= '1 second'),
    retention           interval NOT NULL DEFAULT '7 days'
        CONSTRAINT retention_nonnegative CHECK (retention >= '0'),
    max_payload_bytes   integer NOT NULL DEFAULT 65536
        CONSTRAINT max_payload_bytes_range CHECK (max_payload_bytes BETWEEN 2 AND 104857600),
    stats_window        interval NOT NULL DEFAULT '15 minutes'
        CONSTRAINT stats_window_range CHECK (stats_window >= '1 minute' AND stats_window <= '1 hour'),
    alert_queue_depth   integer NOT NULL DEFAULT 500
        CONSTRAINT alert_queue_depth_positive CHECK (alert_queue_depth > 0),
    alert_oldest_queued interval NOT NULL DEFAULT '15 minutes'
        CONSTRAINT alert_oldest_queued_positive CHECK (alert_oldest_queued > '0'),
    alert_failure_rate  double precision NOT NULL DEFAULT 0.25
        CONSTRAINT alert_failure_rate_range CHECK (alert_failure_rate > 0 AND alert_failure_rate <= 1)
);
COMMENT ON TABLE queue.settings IS 'global queue configuration: exactly one row';
INSERT INTO queue.settings DEFAULT VALUES;

CREATE TABLE queue.resources (
    resource        queue.name_key PRIMARY KEY,
    max_concurrent  integer NOT NULL
        CONSTRAINT resource_max_concurrent_range CHECK (max_concurrent BETWEEN 0 AND 100000),
    peak_scaling    boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE queue.resources IS
    'render engine classes with their own concurrency limit (peak_scaling: the limit follows queue.peak_windows)';
INSERT INTO queue.resources VALUES ('manim', 4, false);

CREATE TABLE queue.job_types (
    job_type            queue.name_key PRIMARY KEY,
    priority            queue.priority NOT NULL,
    resource            queue.name_key REFERENCES queue.resources ON UPDATE CASCADE,
    expected_duration   interval NOT NULL DEFAULT '2 minutes'
        CONSTRAINT expected_duration_positive CHECK (expected_duration > '0'),
    timeout             interval
        CONSTRAINT job_type_timeout_positive CHECK (timeout > '0' AND timeout <= '7 days'),
    max_retries         integer
        CONSTRAINT job_type_max_retries_range CHECK (max_retries BETWEEN 0 AND 100)
);
COMMENT ON TABLE queue.job_types IS
    'known job types: default priority and resource, expected run time, optional timeout and retry overrides';
INSERT INTO queue.job_types (job_type, priority, expected_duration) VALUES
    ('doubt', 'high', '90 seconds'),
    ('topic_short', 'medium', '3 minutes'),
    ('daily_ca', 'low', '5 minutes');

CREATE TABLE queue.peak_windows (
    starts      time NOT NULL PRIMARY KEY,
    ends        time NOT NULL,
    multiplier  double precision NOT NULL DEFAULT 1.5,
    CONSTRAINT peak_window_not_empty CHECK (starts <> ends),
    CONSTRAINT peak_window_within_day CHECK (starts < '24:00' AND ends <= '24:00'),
    CONSTRAINT peak_multiplier_range CHECK (multiplier > 0 AND multiplier <= 100)
);
COMMENT ON TABLE queue.peak_windows IS
    'local-time windows (settings.timezone) that scale limits; a window with starts > ends crosses midnight';
INSERT INTO queue.peak_windows VALUES ('06:00', '09:00', 1.5), ('20:00', '23:00', 1.5);

-- Refuse a time zone PostgreSQL does not know by its IANA name.
CREATE FUNCTION queue.settings_validate() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name = NEW.timezone) THEN
        RAISE EXCEPTION 'invalid time zone "%"', NEW.timezone
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use an IANA time zone name such as Asia/Kolkata or UTC; see pg_timezone_names.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION queue.settings_validate() IS 'validates queue.settings.timezone';
CREATE TRIGGER settings_validate BEFORE INSERT OR UPDATE OF timezone ON queue.settings
    FOR EACH ROW EXECUTE FUNCTION queue.settings_validate();

-- Tell every backend, at commit, that a configuration table changed.
CREATE FUNCTION queue.config_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'queue_config_changed';
COMMENT ON FUNCTION queue.config_changed() IS 'invalidates cached configuration in every backend at commit';
CREATE TRIGGER settings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON queue.settings
    FOR EACH STATEMENT EXECUTE FUNCTION queue.config_changed();
CREATE TRIGGER resources_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON queue.resources
    FOR EACH STATEMENT EXECUTE FUNCTION queue.config_changed();
CREATE TRIGGER job_types_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON queue.job_types
    FOR EACH STATEMENT EXECUTE FUNCTION queue.config_changed();
CREATE TRIGGER peak_windows_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON queue.peak_windows
    FOR EACH STATEMENT EXECUTE FUNCTION queue.config_changed();

-- The settings row may be changed but never removed.
CREATE RULE settings_keep_row AS ON DELETE TO queue.settings DO INSTEAD NOTHING;

------------------------------------------------------------------------------
-- Jobs, their audit trail, render workers
------------------------------------------------------------------------------

CREATE TABLE queue.jobs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_type            text NOT NULL,
    priority            queue.priority NOT NULL,
    resource            text,
    status              queue.job_status NOT NULL DEFAULT 'queued',
    payload             jsonb NOT NULL DEFAULT '{}',
    result              jsonb,
    last_error          text,
    user_id             text,
    owner               regrole NOT NULL,
    attempts            integer NOT NULL DEFAULT 0,
    max_attempts        integer NOT NULL,
    timeout             interval NOT NULL,
    enqueued_at         timestamptz NOT NULL DEFAULT now(),
    run_at              timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    deadline            timestamptz,
    finished_at         timestamptz,
    worker_id           text,
    dedupe_key          text,
    cancel_requested    boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE queue.jobs IS 'one row per job; written only through the queue.* functions';
ALTER TABLE queue.jobs SET (fillfactor = 80);

-- Dispatch order among queued jobs: the claim path and positions read it.
CREATE INDEX jobs_dispatch ON queue.jobs (priority, id) WHERE status = 'queued';
-- Queued jobs that were scheduled or retried (run_at moved past enqueue):
-- positions leave out the ones not due yet. Ordinary enqueues never enter it.
CREATE INDEX jobs_scheduled ON queue.jobs (priority, id)
    WHERE status = 'queued' AND run_at > enqueued_at;
CREATE UNIQUE INDEX jobs_dedupe ON queue.jobs (dedupe_key)
    WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'retrying', 'processing');
CREATE INDEX jobs_deadline ON queue.jobs (deadline) WHERE status = 'processing';
CREATE INDEX jobs_worker ON queue.jobs (worker_id) WHERE status = 'processing';
CREATE INDEX jobs_retry_due ON queue.jobs (run_at) WHERE status = 'retrying';
CREATE INDEX jobs_finished ON queue.jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_user ON queue.jobs (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE queue.job_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      bigint NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    from_status queue.job_status,
    to_status   queue.job_status NOT NULL,
    worker_id   text,
    detail      text
);
COMMENT ON TABLE queue.job_events IS 'append-only audit trail: one row per job state transition';
CREATE INDEX job_events_job ON queue.job_events (job_id);

CREATE TABLE queue.workers (
    worker_id       text PRIMARY KEY
        CONSTRAINT worker_id_length CHECK (length(worker_id) BETWEEN 1 AND 200),
    resources       text[],
    capacity        integer NOT NULL DEFAULT 1
        CONSTRAINT worker_capacity_range CHECK (capacity BETWEEN 1 AND 10000),
    state           queue.worker_state NOT NULL DEFAULT 'active',
    registered_at   timestamptz NOT NULL DEFAULT now(),
    last_heartbeat  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE queue.workers IS
    'registered render workers: resources they render (NULL = all), concurrent slots, liveness';

-- Keep the exact running and queued counts in shared memory in step with
-- every change of a job's status, whoever makes it.
CREATE FUNCTION queue.track_counts() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'queue_track_counts';
COMMENT ON FUNCTION queue.track_counts() IS 'keeps the shared-memory job counters in step with queue.jobs';
CREATE TRIGGER jobs_track_counts AFTER INSERT OR DELETE OR UPDATE OF status, priority, resource
    ON queue.jobs FOR EACH ROW EXECUTE FUNCTION queue.track_counts();
CREATE TRIGGER jobs_track_truncate AFTER TRUNCATE
    ON queue.jobs FOR EACH STATEMENT EXECUTE FUNCTION queue.track_counts();

SELECT pg_catalog.pg_extension_config_dump('queue.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('queue.job_events', '');
SELECT pg_catalog.pg_extension_config_dump('queue.workers', '');
SELECT pg_catalog.pg_extension_config_dump('queue.settings', '');
SELECT pg_catalog.pg_extension_config_dump('queue.resources', '');
SELECT pg_catalog.pg_extension_config_dump('queue.job_types', '');
SELECT pg_catalog.pg_extension_config_dump('queue.peak_windows', '');

------------------------------------------------------------------------------
-- SQL API. SECURITY DEFINER with a pinned search_path: the functions are the
-- only write path, and they check that a caller touches only its own jobs.
------------------------------------------------------------------------------

CREATE FUNCTION queue.enqueue(
    job_type text,
    payload jsonb DEFAULT '{}',
    user_id text DEFAULT NULL,
    priority queue.priority DEFAULT NULL,
    resource text DEFAULT NULL,
    run_at timestamptz DEFAULT NULL,
    dedupe_key text DEFAULT NULL)
RETURNS bigint
    LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_enqueue';
COMMENT ON FUNCTION queue.enqueue(text, jsonb, text, queue.priority, text, timestamptz, text) IS
    'adds a job and returns its id; with a dedupe_key an unfinished job already holds, returns that job instead';

CREATE FUNCTION queue.dequeue(
    worker_id text,
    max_jobs integer DEFAULT 1,
    resources text[] DEFAULT NULL)
RETURNS SETOF queue.jobs
    LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_dequeue';
COMMENT ON FUNCTION queue.dequeue(text, integer, text[]) IS
    'claims up to max_jobs jobs in dispatch order within every concurrency limit';

CREATE FUNCTION queue.complete(job_id bigint, worker_id text, result jsonb DEFAULT NULL)
RETURNS boolean
    LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_complete';
COMMENT ON FUNCTION queue.complete(bigint, text, jsonb) IS
    'ends the worker''s attempt successfully; false when the worker no longer holds the job';

CREATE FUNCTION queue.fail(job_id bigint, worker_id text, error text, retryable boolean DEFAULT true)
RETURNS queue.job_status
    LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_fail';
COMMENT ON FUNCTION queue.fail(bigint, text, text, boolean) IS
    'ends the worker''s attempt with an error: retrying (with backoff) or failed; NULL when the worker no longer holds the job';

CREATE FUNCTION queue.cancel(job_id bigint, reason text DEFAULT NULL)
RETURNS boolean
    LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_cancel';
COMMENT ON FUNCTION queue.cancel(bigint, text) IS
    'cancels a waiting job, or asks the worker of a running one to stop; false when already finished';

CREATE FUNCTION queue.position(job_id bigint)
RETURNS integer
    LANGUAGE c STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_position';
COMMENT ON FUNCTION queue.position(bigint) IS
    '1-based place in dispatch order among queued jobs; NULL when the job is not queued';

CREATE FUNCTION queue.job_status(
    job_id bigint,
    OUT id bigint,
    OUT status queue.job_status,
    OUT "position" integer,
    OUT estimated_wait interval,
    OUT estimated_start timestamptz,
    OUT attempts integer,
    OUT max_attempts integer,
    OUT last_error text,
    OUT enqueued_at timestamptz,
    OUT started_at timestamptz,
    OUT finished_at timestamptz)
RETURNS record
    LANGUAGE c STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_job_status';
COMMENT ON FUNCTION queue.job_status(bigint) IS
    'what a student sees: status, place in line, estimated wait and start, attempts, last error';

CREATE FUNCTION queue.stats(
    OUT queued bigint,
    OUT retrying bigint,
    OUT processing bigint,
    OUT completed bigint,
    OUT failed bigint,
    OUT cancelled bigint,
    OUT queued_high bigint,
    OUT queued_medium bigint,
    OUT queued_low bigint,
    OUT processing_by_resource jsonb,
    OUT effective_limit integer,
    OUT is_peak boolean,
    OUT oldest_queued_age interval,
    OUT avg_wait interval,
    OUT avg_run interval,
    OUT completed_per_minute double precision,
    OUT failure_rate double precision,
    OUT stats_window interval)
RETURNS record
    LANGUAGE c STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_stats';
COMMENT ON FUNCTION queue.stats() IS
    'queue health in one row: counts, limits, waits, throughput and failure rate over settings.stats_window';

CREATE FUNCTION queue.is_peak_hour(at timestamptz DEFAULT now())
RETURNS boolean
    LANGUAGE c STABLE CALLED ON NULL INPUT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_is_peak_hour';
COMMENT ON FUNCTION queue.is_peak_hour(timestamptz) IS
    'whether the time falls in a peak window, in settings.timezone';

CREATE FUNCTION queue.effective_limit(resource text DEFAULT NULL, at timestamptz DEFAULT now())
RETURNS integer
    LANGUAGE c STABLE CALLED ON NULL INPUT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_effective_limit';
COMMENT ON FUNCTION queue.effective_limit(text, timestamptz) IS
    'concurrency limit in force at a time: global (resource NULL) or of one resource, peak-scaled';

CREATE FUNCTION queue.tick(
    OUT timed_out integer,
    OUT released integer,
    OUT dead_workers integer,
    OUT recovered integer,
    OUT pruned integer,
    OUT alerts integer)
RETURNS record
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_tick';
COMMENT ON FUNCTION queue.tick() IS
    'one maintenance pass: time out overdue attempts, release due retries, recover dead workers'' jobs, prune, count alerts';

------------------------------------------------------------------------------
-- Render-worker registry
------------------------------------------------------------------------------

CREATE FUNCTION queue.register_worker(worker_id text, resources text[] DEFAULT NULL, capacity integer DEFAULT 1)
RETURNS queue.workers
    LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_register_worker';
COMMENT ON FUNCTION queue.register_worker(text, text[], integer) IS
    'registers (or updates) a render worker: resources it renders (NULL = all) and concurrent slots';

CREATE FUNCTION queue.heartbeat(worker_id text)
RETURNS SETOF bigint
    LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_heartbeat';
COMMENT ON FUNCTION queue.heartbeat(text) IS
    'records that a worker is alive; returns its jobs whose cancellation was requested';

CREATE FUNCTION queue.drain_worker(worker_id text)
RETURNS boolean
    LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_drain_worker';
COMMENT ON FUNCTION queue.drain_worker(text) IS
    'stops giving a worker new jobs; its running jobs finish normally';

------------------------------------------------------------------------------
-- Scheduled batches (the morning daily_ca run from pg_cron)
------------------------------------------------------------------------------

CREATE TABLE queue.batches (
    batch_key   text PRIMARY KEY
        CONSTRAINT batch_key_length CHECK (length(batch_key) BETWEEN 1 AND 200),
    job_type    text NOT NULL,
    jobs        integer NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE queue.batches IS 'batches already enqueued, so a re-run of a schedule adds nothing';
SELECT pg_catalog.pg_extension_config_dump('queue.batches', '');

CREATE FUNCTION queue.enqueue_batch(job_type text, batch_key text, payloads jsonb[])
RETURNS integer
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    added integer;
BEGIN
    IF job_type IS NULL OR batch_key IS NULL OR payloads IS NULL THEN
        RAISE EXCEPTION 'job_type, batch_key and payloads must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    INSERT INTO queue.batches (batch_key, job_type, jobs)
    VALUES (batch_key, job_type, coalesce(array_length(payloads, 1), 0))
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
COMMENT ON FUNCTION queue.enqueue_batch(text, text, jsonb[]) IS
    'enqueues one job per payload, once per batch_key: a second call with the same key adds nothing and returns 0';

------------------------------------------------------------------------------
-- Admin views: SELECT * FROM queue.overview \watch 5
------------------------------------------------------------------------------

CREATE VIEW queue.overview AS
    SELECT * FROM queue.stats();
COMMENT ON VIEW queue.overview IS 'one-row live summary of the queue';

CREATE VIEW queue.recent_jobs AS
    SELECT j.id, j.job_type, j.priority, j.resource, j.status, j.user_id, j.worker_id,
           j.attempts, j.enqueued_at,
           coalesce(j.started_at, now()) - j.enqueued_at AS waited,
           CASE WHEN j.started_at IS NOT NULL
                THEN coalesce(j.finished_at, now()) - j.started_at END AS ran,
           j.last_error
      FROM queue.jobs j
     ORDER BY j.id DESC
     LIMIT 50;
COMMENT ON VIEW queue.recent_jobs IS 'the 50 newest jobs with their waits and run times';

CREATE VIEW queue.worker_load AS
    SELECT w.worker_id, w.state, w.capacity, w.resources,
           (SELECT count(*) FROM queue.jobs j
             WHERE j.status = 'processing' AND j.worker_id = w.worker_id) AS running,
           now() - w.last_heartbeat AS silent_for
      FROM queue.workers w
     ORDER BY w.worker_id;
COMMENT ON VIEW queue.worker_load IS 'registered render workers, their running jobs against capacity and liveness';

CREATE VIEW queue.alerts AS
    SELECT a.alert, a.detail
      FROM queue.stats() s, queue.settings c,
           LATERAL (VALUES
               ('queue_depth', s.queued >= c.alert_queue_depth,
                pg_catalog.format('%s jobs queued (threshold %s)', s.queued, c.alert_queue_depth)),
               ('oldest_queued', s.oldest_queued_age >= c.alert_oldest_queued,
                pg_catalog.format('oldest queued job waited %s (threshold %s)',
                                  pg_catalog.date_trunc('second', s.oldest_queued_age), c.alert_oldest_queued)),
               ('failure_rate', s.failure_rate >= c.alert_failure_rate,
                pg_catalog.format('%s%% of attempts failed over %s (threshold %s%%)',
                                  pg_catalog.round((s.failure_rate * 100)::numeric, 1), s.stats_window,
                                  pg_catalog.round((c.alert_failure_rate * 100)::numeric, 1)))
           ) AS a(alert, firing, detail)
     WHERE a.firing;
COMMENT ON VIEW queue.alerts IS 'alert thresholds from queue.settings that are crossed now';

------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; each role gets what its clients need.
------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA queue FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA queue FROM PUBLIC;
GRANT USAGE ON SCHEMA queue TO queue_app, queue_worker, queue_dashboard, queue_admin;
GRANT USAGE ON TYPE queue.priority, queue.job_status, queue.worker_state TO PUBLIC;

GRANT EXECUTE ON FUNCTION
    queue.enqueue(text, jsonb, text, queue.priority, text, timestamptz, text),
    queue.cancel(bigint, text),
    queue.position(bigint),
    queue.job_status(bigint),
    queue.is_peak_hour(timestamptz)
    TO queue_app;
GRANT EXECUTE ON FUNCTION
    queue.dequeue(text, integer, text[]),
    queue.complete(bigint, text, jsonb),
    queue.fail(bigint, text, text, boolean),
    queue.register_worker(text, text[], integer),
    queue.heartbeat(text),
    queue.drain_worker(text)
    TO queue_worker;
GRANT EXECUTE ON FUNCTION
    queue.stats(),
    queue.is_peak_hour(timestamptz),
    queue.effective_limit(text, timestamptz)
    TO queue_dashboard;
GRANT SELECT ON queue.overview, queue.recent_jobs, queue.worker_load, queue.alerts,
    queue.settings, queue.resources, queue.job_types, queue.peak_windows
    TO queue_dashboard;
GRANT EXECUTE ON FUNCTION queue.tick(), queue.enqueue_batch(text, text, jsonb[]) TO queue_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON queue.settings, queue.resources, queue.job_types,
    queue.peak_windows TO queue_admin;
GRANT SELECT ON queue.jobs, queue.job_events, queue.workers, queue.batches TO queue_admin;
