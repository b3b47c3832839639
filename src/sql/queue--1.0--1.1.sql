-- queue 1.0 -> 1.1: exact counters in every path, role-scoped worker ids and
-- dedupe keys, attempt fencing, bounded configuration, resources that cannot
-- escape their limit, and configuration that survives pg_dump/pg_restore.
--
-- A fresh CREATE EXTENSION runs queue--1.0.sql and then this script, so the
-- upgrade path is the install path and is tested by every test run.

\echo Use "ALTER EXTENSION queue UPDATE TO '1.1'" to load this file. \quit

------------------------------------------------------------------------------
-- Counters: validate before a statement changes queue.jobs, not in its first
-- row (AFTER ROW triggers fire once every row of the statement is written).
------------------------------------------------------------------------------

CREATE TRIGGER jobs_validate_counts BEFORE INSERT OR UPDATE OR DELETE
    ON queue.jobs FOR EACH STATEMENT EXECUTE FUNCTION queue.track_counts();

-- The identity sequences must travel with the rows in pg_dump, or a restored
-- queue would hand out ids that exist already.
SELECT pg_catalog.pg_extension_config_dump('queue.jobs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('queue.job_events_id_seq', '');

------------------------------------------------------------------------------
-- Roles: a worker id belongs to the role that registered it, an attempt to
-- the role that claimed it, a dedupe key to the role that enqueued with it.
------------------------------------------------------------------------------

ALTER TABLE queue.workers ADD COLUMN owner regrole;
COMMENT ON COLUMN queue.workers.owner IS
    'role that registered the worker id: only it (or queue_admin) may use the id; NULL for ids registered before 1.1, taken by the next registration';

ALTER TABLE queue.workers ADD COLUMN short_claim_at timestamptz;
COMMENT ON COLUMN queue.workers.short_claim_at IS
    'when a claim of the worker last came back short because of the limits: while this is recent, other workers hold to their fair shares';

ALTER TABLE queue.jobs ADD COLUMN worker_role regrole;
COMMENT ON COLUMN queue.jobs.worker_role IS
    'role that claimed the current attempt: only it (or queue_admin) may complete or fail it';

DROP INDEX queue.jobs_dedupe;
CREATE UNIQUE INDEX jobs_dedupe ON queue.jobs (owner, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'retrying', 'processing');

------------------------------------------------------------------------------
-- Attempt fencing: complete() and fail() take the attempt dequeue() returned.
------------------------------------------------------------------------------

DROP FUNCTION queue.complete(bigint, text, jsonb);
CREATE FUNCTION queue.complete(
    job_id bigint, worker_id text, result jsonb DEFAULT NULL, attempt integer DEFAULT NULL)
RETURNS boolean
    LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_complete';
COMMENT ON FUNCTION queue.complete(bigint, text, jsonb, integer) IS
    'ends the worker''s attempt successfully; false when the worker (or the given attempt) no longer holds the job';

DROP FUNCTION queue.fail(bigint, text, text, boolean);
CREATE FUNCTION queue.fail(
    job_id bigint, worker_id text, error text, retryable boolean DEFAULT true,
    attempt integer DEFAULT NULL)
RETURNS queue.job_status
    LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_fail';
COMMENT ON FUNCTION queue.fail(bigint, text, text, boolean, integer) IS
    'ends the worker''s attempt with an error: retrying (with backoff) or failed; NULL when the worker (or the given attempt) no longer holds the job';

-- A batch claimed with dequeue(w, n) is reported in one round trip.
CREATE FUNCTION queue.complete_many(
    job_ids bigint[], worker_id text, results jsonb[] DEFAULT NULL, attempts integer[] DEFAULT NULL)
RETURNS integer
    LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_complete_many';
COMMENT ON FUNCTION queue.complete_many(bigint[], text, jsonb[], integer[]) IS
    'completes up to 1000 of the worker''s attempts (results and attempts: one element per job, or NULL); returns how many it completed';

REVOKE ALL ON FUNCTION queue.complete(bigint, text, jsonb, integer),
    queue.complete_many(bigint[], text, jsonb[], integer[]),
    queue.fail(bigint, text, text, boolean, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION queue.complete(bigint, text, jsonb, integer),
    queue.complete_many(bigint[], text, jsonb[], integer[]),
    queue.fail(bigint, text, text, boolean, integer) TO queue_worker;

-- stats() counts refused results; the views over it are made again.
DROP VIEW queue.alerts;
DROP VIEW queue.overview;
DROP FUNCTION queue.stats();
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
    OUT stats_window interval,
    OUT refused_results bigint)
RETURNS record
    LANGUAGE c STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'queue_stats';
COMMENT ON FUNCTION queue.stats() IS
    'queue health in one row: counts, limits, waits, throughput and failure rate over settings.stats_window, results refused since the server started';

CREATE VIEW queue.overview AS
    SELECT * FROM queue.stats();
COMMENT ON VIEW queue.overview IS 'one-row live summary of the queue';

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

REVOKE ALL ON FUNCTION queue.stats() FROM PUBLIC;
REVOKE ALL ON queue.overview, queue.alerts FROM PUBLIC;
GRANT EXECUTE ON FUNCTION queue.stats() TO queue_dashboard;
GRANT SELECT ON queue.overview, queue.alerts TO queue_dashboard;

------------------------------------------------------------------------------
-- Bounded configuration: every accepted value keeps every function working.
-- The functions read intervals as seconds (extract(epoch), a year being
-- 365.25 days), while comparing intervals counts a year as 360 days, so
-- '-1 year 361 days' is "more than a day" yet -4.25 days to the code: each
-- bound is checked on the seconds the code uses. Values outside the new
-- bounds could only break the queue, so they are moved to the nearest bound.
------------------------------------------------------------------------------

DO $bounds$
DECLARE
    b record;
BEGIN
    FOR b IN SELECT * FROM (VALUES
        ('settings', 'job_timeout', 'job_timeout_positive', 'job_timeout_range', '1 microsecond', '7 days'),
        ('settings', 'retry_delay', 'retry_delay_range', 'retry_delay_range', '0', '30 days'),
        ('settings', 'max_retry_delay', 'max_retry_delay_range', 'max_retry_delay_range', '0', '365 days'),
        ('settings', 'worker_timeout', 'worker_timeout_positive', 'worker_timeout_range', '1 second', '1 day'),
        ('settings', 'retention', 'retention_nonnegative', 'retention_range', '0', '3650 days'),
        ('settings', 'stats_window', 'stats_window_range', 'stats_window_range', '1 minute', '1 hour'),
        ('settings', 'alert_oldest_queued', 'alert_oldest_queued_positive', 'alert_oldest_queued_range',
         '1 microsecond', '365 days'),
        ('job_types', 'expected_duration', 'expected_duration_positive', 'expected_duration_range',
         '1 microsecond', '1 day'),
        ('job_types', 'timeout', 'job_type_timeout_positive', 'job_type_timeout_range',
         '1 microsecond', '7 days')
    ) AS v(config_table, config_column, old_name, new_name, lowest, highest)
    LOOP
        EXECUTE format(
            'UPDATE queue.%1$I SET %2$I = CASE'
            ' WHEN extract(epoch FROM %2$I) < extract(epoch FROM %3$L::interval) THEN %3$L::interval'
            ' WHEN extract(epoch FROM %2$I) > extract(epoch FROM %4$L::interval) THEN %4$L::interval'
            ' ELSE %2$I END',
            b.config_table, b.config_column, b.lowest, b.highest);
        EXECUTE format(
            'ALTER TABLE queue.%1$I DROP CONSTRAINT %2$I, ADD CONSTRAINT %3$I CHECK ('
            'extract(epoch FROM %4$I) >= extract(epoch FROM %5$L::interval) AND '
            'extract(epoch FROM %4$I) <= extract(epoch FROM %6$L::interval))',
            b.config_table, b.old_name, b.new_name, b.config_column, b.lowest, b.highest);
    END LOOP;
END
$bounds$;

-- The smallest document ('{}') measures 8 bytes: a limit below a useful
-- payload would refuse every enqueue.
UPDATE queue.settings SET max_payload_bytes = greatest(max_payload_bytes, 64);
ALTER TABLE queue.settings
    DROP CONSTRAINT max_payload_bytes_range,
    ADD CONSTRAINT max_payload_bytes_range CHECK (max_payload_bytes BETWEEN 64 AND 104857600);

------------------------------------------------------------------------------
-- Resources: running jobs stay under their resource's limit when an admin
-- renames it, and a resource with unfinished jobs cannot be deleted.
------------------------------------------------------------------------------

CREATE FUNCTION queue.resource_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- Unfinished jobs follow the new name, so their running counts move
        -- with them; finished jobs keep the name they ran under.
        UPDATE queue.jobs SET resource = NEW.resource
         WHERE resource = OLD.resource AND status IN ('queued', 'retrying', 'processing');
        RETURN NEW;
    END IF;
    IF EXISTS (SELECT 1 FROM queue.jobs
                WHERE resource = OLD.resource AND status IN ('queued', 'retrying', 'processing')) THEN
        RAISE EXCEPTION 'resource "%" has unfinished jobs', OLD.resource
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Let them finish or cancel them first, or rename the resource instead.';
    END IF;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION queue.resource_changed() IS
    'moves unfinished jobs to a renamed resource; refuses to delete a resource with unfinished jobs';
CREATE TRIGGER resource_renamed AFTER UPDATE OF resource ON queue.resources
    FOR EACH ROW WHEN (OLD.resource IS DISTINCT FROM NEW.resource)
    EXECUTE FUNCTION queue.resource_changed();
CREATE TRIGGER resource_deleted BEFORE DELETE ON queue.resources
    FOR EACH ROW EXECUTE FUNCTION queue.resource_changed();

------------------------------------------------------------------------------
-- Configuration through pg_dump/pg_restore. A restore runs CREATE EXTENSION,
-- which seeds the shipped defaults, and then loads the dumped rows. So each
-- configuration table marks its shipped rows (is_default): a restored row,
-- which names every column, is_default included, replaces the shipped row of
-- its key (an admin's INSERT leaves is_default out and gets the usual
-- duplicate-key error); an edited row is no longer a default; a deleted
-- default leaves a tombstone in queue.removed_defaults, dumped too, which
-- removes the default again when it is restored.
------------------------------------------------------------------------------

-- No column default: an INSERT that leaves it out is told apart by its NULL,
-- which track_defaults turns into false before the NOT NULL check.
ALTER TABLE queue.settings ADD COLUMN is_default boolean NOT NULL DEFAULT false;
ALTER TABLE queue.settings ALTER COLUMN is_default DROP DEFAULT;
ALTER TABLE queue.resources ADD COLUMN is_default boolean NOT NULL DEFAULT false;
ALTER TABLE queue.resources ALTER COLUMN is_default DROP DEFAULT;
ALTER TABLE queue.job_types ADD COLUMN is_default boolean NOT NULL DEFAULT false;
ALTER TABLE queue.job_types ALTER COLUMN is_default DROP DEFAULT;
ALTER TABLE queue.peak_windows ADD COLUMN is_default boolean NOT NULL DEFAULT false;
ALTER TABLE queue.peak_windows ALTER COLUMN is_default DROP DEFAULT;

CREATE TABLE queue.removed_defaults (
    config_table    name NOT NULL,
    key             text NOT NULL,
    PRIMARY KEY (config_table, key)
);
COMMENT ON TABLE queue.removed_defaults IS
    'shipped configuration rows an admin deleted, so that a restore does not bring them back';
SELECT pg_catalog.pg_extension_config_dump('queue.removed_defaults', '');

-- Rows equal to the shipped ones are defaults; so is the settings row when it
-- still holds every default value.
UPDATE queue.settings s SET is_default = true
 WHERE (s.max_concurrent, s.job_timeout, s.max_retries, s.retry_delay, s.retry_backoff,
        s.max_retry_delay, s.timezone, s.worker_timeout, s.retention, s.max_payload_bytes,
        s.stats_window, s.alert_queue_depth, s.alert_oldest_queued, s.alert_failure_rate)
     = (10, interval '10 minutes', 3, interval '5 minutes', 2.0::float8, interval '1 day', 'UTC',
        interval '60 seconds', interval '7 days', 65536, interval '15 minutes', 500,
        interval '15 minutes', 0.25::float8);
UPDATE queue.resources SET is_default = true
 WHERE (resource, max_concurrent, peak_scaling) = ('manim', 4, false);
UPDATE queue.job_types SET is_default = true
 WHERE (job_type, priority, resource, expected_duration, timeout, max_retries)
       IS NOT DISTINCT FROM ('doubt', 'high', NULL, interval '90 seconds', NULL, NULL)
    OR (job_type, priority, resource, expected_duration, timeout, max_retries)
       IS NOT DISTINCT FROM ('topic_short', 'medium', NULL, interval '3 minutes', NULL, NULL)
    OR (job_type, priority, resource, expected_duration, timeout, max_retries)
       IS NOT DISTINCT FROM ('daily_ca', 'low', NULL, interval '5 minutes', NULL, NULL);
UPDATE queue.peak_windows SET is_default = true
 WHERE (starts, ends, multiplier) IN (('06:00', '09:00', 1.5), ('20:00', '23:00', 1.5));
-- Shipped rows deleted under 1.0 stay deleted.
INSERT INTO queue.removed_defaults
SELECT 'resources', k FROM (VALUES ('manim')) v(k)
 WHERE NOT EXISTS (SELECT 1 FROM queue.resources WHERE resource = k)
UNION ALL
SELECT 'job_types', k FROM (VALUES ('doubt'), ('topic_short'), ('daily_ca')) v(k)
 WHERE NOT EXISTS (SELECT 1 FROM queue.job_types WHERE job_type = k)
UNION ALL
SELECT 'peak_windows', k FROM (VALUES ('06:00:00'), ('20:00:00')) v(k)
 WHERE NOT EXISTS (SELECT 1 FROM queue.peak_windows WHERE starts::text = k);

-- The key column of each configuration table, as tombstones name it.
CREATE FUNCTION queue.config_key_column(config_table name) RETURNS name
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE config_table
        WHEN 'settings' THEN 'singleton'
        WHEN 'resources' THEN 'resource'
        WHEN 'job_types' THEN 'job_type'
        WHEN 'peak_windows' THEN 'starts'
    END;

CREATE FUNCTION queue.track_defaults() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    key_column name := queue.config_key_column(TG_TABLE_NAME);
    old_key text;
    new_key text;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_key := to_jsonb(OLD) ->> key_column;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_key := to_jsonb(NEW) ->> key_column;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.is_default IS NULL THEN
            NEW.is_default := false;
        ELSE
            EXECUTE format('DELETE FROM queue.%I WHERE %I::text = $1 AND is_default',
                           TG_TABLE_NAME, key_column) USING new_key;
        END IF;
        DELETE FROM queue.removed_defaults WHERE config_table = TG_TABLE_NAME AND key = new_key;
        RETURN NEW;
    END IF;
    IF OLD.is_default AND old_key IS DISTINCT FROM new_key THEN
        INSERT INTO queue.removed_defaults VALUES (TG_TABLE_NAME, old_key) ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.is_default := false;
        RETURN NEW;
    END IF;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION queue.track_defaults() IS
    'keeps configuration restorable: a restored row replaces the shipped default of its key; edited rows stop being defaults; deleted defaults leave a tombstone';

CREATE FUNCTION queue.apply_removed_default() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    -- Tombstones written by track_defaults (a trigger, deeper) record a
    -- deletion already under way; only restored ones delete.
    IF pg_trigger_depth() = 1 THEN
        EXECUTE format('DELETE FROM queue.%I WHERE %I::text = $1 AND is_default',
                       NEW.config_table, queue.config_key_column(NEW.config_table)) USING NEW.key;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION queue.apply_removed_default() IS
    'a restored tombstone removes the shipped default it names';

CREATE TRIGGER settings_defaults BEFORE INSERT OR UPDATE OR DELETE ON queue.settings
    FOR EACH ROW EXECUTE FUNCTION queue.track_defaults();
CREATE TRIGGER resources_defaults BEFORE INSERT OR UPDATE OR DELETE ON queue.resources
    FOR EACH ROW EXECUTE FUNCTION queue.track_defaults();
CREATE TRIGGER job_types_defaults BEFORE INSERT OR UPDATE OR DELETE ON queue.job_types
    FOR EACH ROW EXECUTE FUNCTION queue.track_defaults();
CREATE TRIGGER peak_windows_defaults BEFORE INSERT OR UPDATE OR DELETE ON queue.peak_windows
    FOR EACH ROW EXECUTE FUNCTION queue.track_defaults();
CREATE TRIGGER removed_defaults_apply AFTER INSERT ON queue.removed_defaults
    FOR EACH ROW EXECUTE FUNCTION queue.apply_removed_default();

-- The settings row is replaced on restore, so a rule can no longer swallow
-- every DELETE; a trigger refuses the ones an admin issues, with a message.
DROP RULE settings_keep_row ON queue.settings;
CREATE FUNCTION queue.settings_keep_row() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF pg_trigger_depth() = 1 THEN
        RAISE EXCEPTION 'queue.settings must keep its row'
            USING ERRCODE = 'restrict_violation',
                  HINT = 'Change its values with UPDATE instead.';
    END IF;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION queue.settings_keep_row() IS 'refuses to delete the settings row';
CREATE TRIGGER settings_keep_row BEFORE DELETE ON queue.settings
    FOR EACH ROW EXECUTE FUNCTION queue.settings_keep_row();

REVOKE ALL ON queue.removed_defaults FROM PUBLIC;
REVOKE ALL ON FUNCTION queue.resource_changed(), queue.config_key_column(name),
    queue.track_defaults(), queue.apply_removed_default(), queue.settings_keep_row() FROM PUBLIC;
GRANT SELECT ON queue.removed_defaults TO queue_admin;
