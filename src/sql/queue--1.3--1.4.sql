-- queue 1.3 -> 1.4: a leaner claim path. On the claim path, starting each
-- statement's executor costs about as much as running it, so a claim runs
-- fewer statements:
-- * it finds, locks and claims its jobs in one statement per priority, which
--   asks queue.claim_resource_slot() for a running slot of each job's
--   resource as its scan meets the job (before, candidates went back to
--   dequeue() and a second statement claimed them);
-- * it reads its worker's registration from a copy the backend keeps until
--   queue.workers changes (the workers_changed trigger).

\echo Use "ALTER EXTENSION queue UPDATE TO '1.4'" to load this file. \quit

-- Internal to dequeue(): it refuses to run anywhere else. Its cost keeps it
-- the last condition the planner evaluates, for jobs otherwise claimable. No
-- SET search_path: it runs no SQL of its own, and a SET would cost a GUC
-- save and restore for every job a claim looks at.
CREATE FUNCTION queue.claim_resource_slot(resource text) RETURNS boolean
    LANGUAGE c VOLATILE STRICT PARALLEL UNSAFE COST 1000
    AS 'MODULE_PATHNAME', 'queue_claim_resource_slot';
COMMENT ON FUNCTION queue.claim_resource_slot(text) IS
    'internal to queue.dequeue(): reserves a running slot of the resource for the job its claim is looking at';
REVOKE ALL ON FUNCTION queue.claim_resource_slot(text) FROM PUBLIC;

-- A claim reads its worker's registration from the backend's copy, kept
-- until queue.workers changes: after every committed change, backends read
-- the rows again.
CREATE FUNCTION queue.workers_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'queue_workers_changed';
COMMENT ON FUNCTION queue.workers_changed() IS
    'makes every backend read queue.workers again once the change commits';
REVOKE ALL ON FUNCTION queue.workers_changed() FROM PUBLIC;
-- Only for the columns a claim keeps: marking a short claim (short_claim_at),
-- which every claim does while the limits bind, must not throw the copies away.
CREATE TRIGGER workers_changed
    AFTER INSERT OR UPDATE OF state, capacity, resources, owner, last_heartbeat OR DELETE OR TRUNCATE
    ON queue.workers
    FOR EACH STATEMENT EXECUTE FUNCTION queue.workers_changed();
