-- security: nothing a tenant can plant or present reaches another role's
-- jobs, worker ids or dedupe keys, or runs with the extension's privileges.
--   1. hostile operators and functions in public and in a schema first on the
--      path never run inside any entry point or trigger;
--   2. a worker id belongs to the role that registered it, an attempt to the
--      role that claimed it;
--   3. dedupe keys (and so enqueue_batch) are scoped to the enqueuing role;
--   4. the payload and result limits measure the uncompressed size.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS queue CASCADE;
CREATE EXTENSION queue;
DROP ROLE IF EXISTS regress_mallory, regress_alice, regress_bob, regress_boss;
DROP SCHEMA IF EXISTS evil CASCADE;
DROP TABLE IF EXISTS public.tripwire_log;
RESET client_min_messages;
DELETE FROM queue.peak_windows;

\i test/sql/try.sql

CREATE ROLE regress_mallory;
CREATE ROLE regress_alice;
CREATE ROLE regress_bob;
CREATE ROLE regress_boss;
GRANT queue_app, queue_worker TO regress_mallory, regress_alice, regress_bob;
GRANT queue_admin TO regress_boss;
GRANT CREATE ON SCHEMA public TO regress_mallory;
CREATE SCHEMA evil AUTHORIZATION regress_mallory;
GRANT USAGE ON SCHEMA evil TO PUBLIC;

-- 1. Mallory plants operators for every queue enum, and in a schema she
-- owns, functions and a table named like the ones our SQL uses. Each records
-- who ran it; run as a superuser, it would make her one.
CREATE TABLE public.tripwire_log (ran_as name, what text);
GRANT INSERT, SELECT ON public.tripwire_log TO PUBLIC;
SET ROLE regress_mallory;
CREATE FUNCTION public.tripwire(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.tripwire_log VALUES (current_user, what);
    BEGIN
        EXECUTE 'ALTER ROLE regress_mallory SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN false;
END $$;
CREATE FUNCTION public.eq_status(queue.job_status, queue.job_status) RETURNS boolean
    LANGUAGE sql AS $$ SELECT public.tripwire('job_status =') $$;
CREATE OPERATOR public.= (LEFTARG = queue.job_status, RIGHTARG = queue.job_status,
                          FUNCTION = public.eq_status);
CREATE FUNCTION public.eq_priority(queue.priority, queue.priority) RETURNS boolean
    LANGUAGE sql AS $$ SELECT public.tripwire('priority =') $$;
CREATE OPERATOR public.= (LEFTARG = queue.priority, RIGHTARG = queue.priority,
                          FUNCTION = public.eq_priority);
CREATE FUNCTION public.eq_worker_state(queue.worker_state, queue.worker_state) RETURNS boolean
    LANGUAGE sql AS $$ SELECT public.tripwire('worker_state =') $$;
CREATE OPERATOR public.= (LEFTARG = queue.worker_state, RIGHTARG = queue.worker_state,
                          FUNCTION = public.eq_worker_state);
CREATE FUNCTION evil.now() RETURNS timestamptz
    LANGUAGE sql AS $$ SELECT CASE WHEN public.tripwire('now()') THEN NULL END::timestamptz $$;
CREATE FUNCTION evil.count(anyelement) RETURNS bigint
    LANGUAGE sql AS $$ SELECT CASE WHEN public.tripwire('count()') THEN 0 END::bigint $$;
CREATE FUNCTION evil.coalesce_text(text) RETURNS text
    LANGUAGE sql AS $$ SELECT CASE WHEN public.tripwire('text') THEN $1 END $$;
CREATE TABLE evil.jobs (id bigint);
RESET ROLE;

-- The traps work: with the hostile path, a plain comparison springs them
-- (shown as an ordinary role, whom they cannot promote).
SET ROLE regress_bob;
SET search_path = evil, pg_catalog, public;
SELECT 'queued'::queue.job_status = 'queued'::queue.job_status AS sprung, now() IS NULL AS now_sprung;
RESET ROLE;
SELECT ran_as, what FROM public.tripwire_log ORDER BY what;
TRUNCATE public.tripwire_log;

-- Every entry point, as each role would call it, with the hostile path.
SET ROLE regress_alice;
SELECT queue.enqueue('doubt', dedupe_key => 'k1') > 0 AS enqueued;
SELECT queue.enqueue('topic_short', resource => 'manim') > 0 AS enqueued;
SELECT queue.enqueue('daily_ca') AS waiting_job \gset
SELECT queue.position(:waiting_job) >= 1 AS positioned;
SELECT (queue.register_worker('alice-box', '{manim}', 2)).worker_id;
SELECT count(*) AS claimed FROM queue.dequeue('alice-box', 2);
SELECT count(*) AS cancel_requests FROM queue.heartbeat('alice-box');
RESET ROLE;
SELECT id AS j1 FROM queue.jobs WHERE worker_id = 'alice-box' ORDER BY id LIMIT 1 \gset
SELECT id AS j2 FROM queue.jobs WHERE worker_id = 'alice-box' ORDER BY id DESC LIMIT 1 \gset
SET ROLE regress_alice;
SELECT queue.complete(:j1, 'alice-box', '{"url": "x"}', attempt => 1) AS completed;
SELECT queue.fail(:j2, 'alice-box', 'boom') AS failed;
SELECT status FROM queue.job_status(:j1);
SELECT queue.cancel(queue.enqueue('doubt')) AS cancelled;
SELECT queue.drain_worker('alice-box') AS drained;
RESET ROLE;
SET ROLE regress_boss;
SELECT queue.enqueue_batch('daily_ca', 'morning', ARRAY['{}', '{}']::jsonb[]) AS batch;
SELECT timed_out >= 0 AS ticked FROM queue.tick();
SELECT queued >= 0 AS stats FROM queue.stats();
SELECT count(*) >= 0 AS views FROM queue.overview, queue.worker_load;
SELECT count(*) >= 0 AS alerts FROM queue.alerts;
SELECT queue.is_peak_hour() IS NOT NULL AS peak, queue.effective_limit('manim') AS manim_limit;
-- Triggers: configuration edits, and a rebuild of the counters (after
-- TRUNCATE) run from an admin's direct DML on queue.jobs.
UPDATE queue.settings SET max_concurrent = 12;
UPDATE queue.resources SET resource = 'gpu' WHERE resource = 'manim';
RESET ROLE;
SET search_path = evil, pg_catalog, public;
TRUNCATE queue.jobs;
INSERT INTO queue.jobs (job_type, priority, owner, max_attempts, timeout)
VALUES ('doubt', 'high', 'regress_alice', 4, '10 minutes');
UPDATE queue.jobs SET status = 'processing';
SELECT queued, processing FROM queue.stats();
RESET search_path;
SELECT count(*) AS traps_sprung FROM public.tripwire_log;
SELECT rolsuper AS mallory_is_superuser FROM pg_roles WHERE rolname = 'regress_mallory';
DELETE FROM queue.jobs;
UPDATE queue.resources SET resource = 'manim' WHERE resource = 'gpu';

-- 2. Worker ids and attempts belong to roles.
SET ROLE regress_alice;
SELECT (queue.register_worker('box-1', capacity => 2)).capacity;
SELECT queue.enqueue('doubt') IS NOT NULL AS enqueued;
SELECT id AS adhoc_job FROM queue.dequeue('adhoc') \gset
RESET ROLE;
SET ROLE regress_bob;
SELECT qt.try($$SELECT queue.register_worker('box-1', capacity => 9)$$);
SELECT qt.try($$SELECT queue.heartbeat('box-1')$$);
SELECT qt.try($$SELECT queue.drain_worker('box-1')$$);
SELECT qt.try($$SELECT queue.dequeue('box-1')$$);
SELECT qt.try(format('SELECT queue.complete(%s, %L, %L)', :adhoc_job, 'adhoc', '{"forged": true}'));
SELECT qt.try(format('SELECT queue.fail(%s, %L, %L)', :adhoc_job, 'adhoc', 'forged'));
-- Nor can bob register the id alice runs jobs under without registering it,
-- which would lock her out of it and let her running job be recovered.
SELECT qt.try($$SELECT queue.register_worker('adhoc')$$);
-- ... nor claim under it, which would share her id's running count and keep
-- her from registering it while his job runs.
SELECT qt.try($$SELECT queue.dequeue('adhoc')$$);
RESET ROLE;
SELECT capacity, state, owner FROM queue.workers WHERE worker_id = 'box-1';
SELECT count(*) AS adhoc_registered FROM queue.workers WHERE worker_id = 'adhoc';
SELECT status, result FROM queue.jobs WHERE id = :adhoc_job;
-- The role that claimed it, and an admin, may end it.
SET ROLE regress_boss;
SELECT queue.complete(:adhoc_job, 'adhoc', '{"by": "admin"}') AS admin_completed;
SELECT (queue.register_worker('box-1', capacity => 3)).owner AS owner_after_admin;
RESET ROLE;

-- 3. Dedupe keys are per role: the same key gives each role its own job,
-- and another app cannot pre-squat the keys of a batch.
SET ROLE regress_alice;
SELECT queue.enqueue('doubt', dedupe_key => 'q-1') AS alice_job \gset
SELECT queue.enqueue('doubt', dedupe_key => 'q-1') = :alice_job AS alice_deduplicated;
RESET ROLE;
SET ROLE regress_bob;
SELECT queue.enqueue('doubt', dedupe_key => 'q-1') <> :alice_job AS bob_gets_his_own;
SELECT queue.enqueue('daily_ca', '{"squatted": true}', dedupe_key => 'evening:1') > 0 AS squat;
RESET ROLE;
SET ROLE regress_boss;
SELECT queue.enqueue_batch('daily_ca', 'evening', ARRAY['{"n": 1}', '{"n": 2}']::jsonb[]) AS batch;
RESET ROLE;
SELECT owner, payload FROM queue.jobs WHERE dedupe_key LIKE 'evening:%' ORDER BY owner::text, id;

-- 4. Sizes are measured uncompressed: 5 MB that compress to a few kB are refused.
CREATE TABLE public.big_payload AS SELECT jsonb_build_object('x', repeat('a', 5000000)) AS p;
SELECT pg_column_size(p) < 65536 AS stored_small FROM public.big_payload;
SELECT qt.try_detail($$SELECT queue.enqueue('doubt', (SELECT p FROM public.big_payload))$$);
SELECT queue.enqueue('doubt') AS sized_job \gset
SELECT count(*) FROM queue.dequeue('sizer');
SELECT qt.try_detail(format('SELECT queue.complete(%s, %L, (SELECT p FROM public.big_payload))',
                            :sized_job, 'sizer'));

SET client_min_messages = warning;
DROP TABLE public.big_payload, public.tripwire_log;
DROP SCHEMA evil CASCADE;
DROP EXTENSION queue CASCADE;
DROP OWNED BY regress_mallory, regress_alice, regress_bob, regress_boss;
DROP ROLE regress_mallory, regress_alice, regress_bob, regress_boss;
