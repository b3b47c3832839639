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
