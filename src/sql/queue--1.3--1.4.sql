-- queue 1.3 -> 1.4: a claim finds, locks and claims its jobs in one statement
-- per priority. The statement asks queue.claim_resource_slot() for a running
-- slot of each job's resource as its scan meets the job, instead of returning
-- candidates to dequeue() and claiming them in a second statement: on the
-- claim path, starting each statement's executor costs as much as running it.

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
