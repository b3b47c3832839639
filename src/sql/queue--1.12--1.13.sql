-- queue 1.13: the worker registry stays small, and the maintenance pass's
-- work on it does not grow with the workers that stopped.
-- * settings.max_workers_per_role (default 1,000): how many worker ids one
--   role may have registered, the dead ones included. register_worker() of
--   a new id past it is refused (54000); queue_admin members are not held to
--   it. Without it one worker role could register ids by the million, and
--   every pass, and every claim while a worker waits for slots, read them.
-- * A worker dead for longer than settings.retention with no attempt left
--   running is removed by the pass, like a finished job; its id is free again.
-- * Indexes on the registry by liveness and by owner: marking silent workers
--   dead, summing the live workers' capacity and counting a role's ids read
--   only the rows they are about.
-- * The counting triggers of queue.jobs fire whatever session_replication_role
--   says, the row trigger on every UPDATE (see below).
-- * Skipped ranges of event ids are dropped once settled; resource renames
--   and deletes wait for the enqueues of the resource (see below).

\echo Use "ALTER EXTENSION queue UPDATE TO '1.13'" to load this file. \quit

ALTER TABLE queue.settings ADD COLUMN max_workers_per_role integer NOT NULL DEFAULT 1000
    CONSTRAINT max_workers_per_role_range CHECK (max_workers_per_role BETWEEN 1 AND 1000000);
COMMENT ON COLUMN queue.settings.max_workers_per_role IS
    'worker ids one role may have registered, dead ones included (queue_admin members: no limit)';

CREATE INDEX workers_live ON queue.workers (last_heartbeat) WHERE state <> 'dead';
CREATE INDEX workers_dead ON queue.workers (last_heartbeat) WHERE state = 'dead';
CREATE INDEX workers_owner ON queue.workers (owner);

-- The counting triggers fire also where session_replication_role is
-- 'replica' (a logical replication subscriber applying changes, a data
-- restore or a hand edit made so): a change they miss would leave the
-- counters, and with them the limits and positions, wrong until a restart.
-- The row trigger fires on every UPDATE, not only of the counted columns: a
-- BEFORE trigger of an admin's may change one (the priority, say) in an
-- UPDATE that names none. The library returns at once when nothing counted
-- changed.
DROP TRIGGER jobs_track_counts ON queue.jobs;
CREATE TRIGGER jobs_track_counts AFTER INSERT OR DELETE OR UPDATE
    ON queue.jobs FOR EACH ROW EXECUTE FUNCTION queue.track_counts();
ALTER TABLE queue.jobs ENABLE ALWAYS TRIGGER jobs_validate_counts;
ALTER TABLE queue.jobs ENABLE ALWAYS TRIGGER jobs_track_counts;
ALTER TABLE queue.jobs ENABLE ALWAYS TRIGGER jobs_track_truncate;

-- A range of event ids the monitoring pass skipped (taken by transactions
-- not committed yet) notes the first transaction id not assigned then. Once
-- every transaction below it has ended, one more read finds what of the
-- range committed, and the rest (rolled back) is dropped at once rather than
-- after an hour: an app that rolls back many enqueues no longer leaves
-- ranges every pass reads for an hour. Ranges noted before this version
-- have none: they go after the hour as before, unless events turn up in one,
-- when what is still missing of it is noted anew, with an id.
ALTER TABLE queue.rollup_gaps ADD COLUMN noted_before_xid int8;
COMMENT ON COLUMN queue.rollup_gaps.noted_before_xid IS
    'the first transaction id (64-bit) not yet assigned when the range was noted';

-- A rename or delete of a resource waits for the transactions that enqueued
-- jobs for it, and keeps new enqueues for it waiting until it ends: a job
-- enqueued by a transaction still open escaped the check for unfinished
-- jobs, and waited forever for a resource that was gone (an enqueue that
-- waited for a delete is refused: unknown resource).
CREATE FUNCTION queue.hold_resource_for_change(resource text) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'queue_hold_resource_for_change';
COMMENT ON FUNCTION queue.hold_resource_for_change(text) IS
    'for resource_changed(): waits for the enqueues of a resource and holds off new ones until the transaction ends';
REVOKE ALL ON FUNCTION queue.hold_resource_for_change(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION queue.resource_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM queue.hold_resource_for_change(OLD.resource);
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
