-- privileges: who may do what.
--   PUBLIC cannot read or write queue tables or call the API; queue_app can
--   enqueue, see and cancel its own jobs but not dequeue; queue_worker can
--   dequeue/complete/fail but not enqueue; a second app role can neither see
--   nor cancel the first app's job (42501) while queue_admin can;
--   queue_dashboard reads stats; SECURITY DEFINER functions pin search_path.
-- Roles are created here (regress_*) and dropped at the end.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS queue CASCADE;
CREATE EXTENSION queue;
DROP ROLE IF EXISTS regress_app1, regress_app2, regress_worker, regress_nobody,
                    regress_dash, regress_admin;
RESET client_min_messages;
DELETE FROM queue.peak_windows;

\i test/sql/try.sql

CREATE ROLE regress_app1;
CREATE ROLE regress_app2;
CREATE ROLE regress_worker;
CREATE ROLE regress_nobody;
CREATE ROLE regress_dash;
CREATE ROLE regress_admin;
GRANT queue_app TO regress_app1, regress_app2;
GRANT queue_worker TO regress_worker;
GRANT queue_dashboard TO regress_dash;
GRANT queue_admin TO regress_admin;

-- SECURITY DEFINER functions pin search_path: those in SQL and PL/pgSQL with
-- their SET clause, those in C at the library's entry point (security.sql
-- calls each with a hostile path); nothing is executable by PUBLIC.
SELECT p.proname, p.prosecdef, l.lanname, p.proconfig
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'queue'::regnamespace
   AND p.proname IN ('enqueue', 'dequeue', 'complete', 'fail', 'cancel', 'position', 'job_status',
                     'stats', 'is_peak_hour', 'effective_limit', 'tick', 'register_worker',
                     'heartbeat', 'drain_worker')
 ORDER BY p.proname;
SELECT count(*) AS definer_without_search_path
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'queue'::regnamespace AND p.prosecdef AND l.lanname <> 'c'
   AND NOT coalesce(p.proconfig::text[] @> ARRAY['search_path=pg_catalog, pg_temp'], false);
SELECT count(*) AS c_function_with_set_clause
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'queue'::regnamespace AND l.lanname = 'c' AND p.proconfig IS NOT NULL;
SELECT p.proname AS public_can_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'queue'::regnamespace
   AND has_function_privilege('regress_nobody', p.oid, 'EXECUTE')
 ORDER BY 1;
SELECT c.relname, has_table_privilege('regress_nobody', c.oid, 'SELECT') AS can_select,
       has_table_privilege('regress_nobody', c.oid, 'INSERT,UPDATE,DELETE') AS can_write
  FROM pg_class c
 WHERE c.relnamespace = 'queue'::regnamespace AND c.relkind IN ('r', 'v')
 ORDER BY c.relname;

-- PUBLIC (a role with no queue role)
SET ROLE regress_nobody;
SELECT qt.try($$SELECT count(*) FROM queue.jobs$$);
SELECT qt.try($$INSERT INTO queue.jobs (job_type, priority, owner, max_attempts, timeout) VALUES ('doubt', 'high', 'regress_nobody', 1, '1 minute')$$);
SELECT qt.try($$UPDATE queue.settings SET max_concurrent = 100$$);
SELECT qt.try($$SELECT queue.enqueue('doubt')$$);
SELECT qt.try($$SELECT * FROM queue.dequeue('w')$$);
SELECT qt.try($$SELECT * FROM queue.stats()$$);
RESET ROLE;

-- queue_app: enqueue, see and cancel own jobs; no dequeue, no tables, no config.
SET ROLE regress_app1;
SELECT queue.enqueue('doubt', user_id => 'student-1') AS app1_job \gset
SELECT queue.enqueue('doubt') AS app1_job2 \gset
SELECT queue.position(:app1_job) AS position, (queue.job_status(:app1_job)).status;
SELECT queue.is_peak_hour('2024-03-01 12:00+00') AS peak;
SELECT qt.try($$SELECT * FROM queue.dequeue('w')$$);
SELECT qt.try($$SELECT queue.complete(1, 'w')$$);
SELECT qt.try($$SELECT * FROM queue.stats()$$);
SELECT qt.try($$SELECT * FROM queue.oldest_waits()$$);
SELECT qt.try($$SELECT * FROM queue.tick()$$);
SELECT qt.try($$SELECT count(*) FROM queue.jobs$$);
SELECT qt.try($$UPDATE queue.jobs SET priority = 'high'$$);
SELECT qt.try($$UPDATE queue.settings SET max_concurrent = 100$$);
SELECT qt.try($$SELECT queue.register_worker('w')$$);
RESET ROLE;
SELECT id = :app1_job AS first, owner, user_id FROM queue.jobs ORDER BY id;

-- Another app role can neither see nor cancel it.
SET ROLE regress_app2;
SELECT qt.try(format('SELECT queue.position(%s)', :app1_job));
SELECT qt.try(format('SELECT * FROM queue.job_status(%s)', :app1_job));
SELECT qt.try(format('SELECT queue.cancel(%s)', :app1_job));
-- its own job works
SELECT queue.enqueue('daily_ca') AS app2_job \gset
SELECT queue.position(:app2_job) AS own_position;
SELECT queue.cancel(:app2_job) AS cancelled_own;
RESET ROLE;
SELECT status, cancel_requested FROM queue.jobs WHERE id = :app1_job;

-- queue_worker: dequeue, complete, fail, heartbeat; no enqueue, no cancel.
SET ROLE regress_worker;
SELECT qt.try($$SELECT queue.enqueue('doubt')$$);
SELECT qt.try(format('SELECT queue.cancel(%s)', :app1_job));
SELECT (queue.register_worker('w-priv')).capacity;
SELECT id = :app1_job AS got_app1_job, status FROM queue.dequeue('w-priv');
SELECT queue.complete(:app1_job, 'w-priv') AS completed;
SELECT qt.try($$SELECT count(*) FROM queue.jobs$$);
SELECT qt.try($$SELECT * FROM queue.stats()$$);
SELECT qt.try($$SELECT * FROM queue.heartbeat('w-priv')$$);
RESET ROLE;

-- The owner still sees its finished job.
SET ROLE regress_app1;
SELECT status FROM queue.job_status(:app1_job);
RESET ROLE;

-- queue_dashboard: stats and views, no jobs table, no API writes.
SET ROLE regress_dash;
SELECT queued, completed, cancelled FROM queue.stats();
SELECT priority, oldest_wait IS NOT NULL AS waiting FROM queue.oldest_waits();
SELECT count(*) AS overview_rows FROM queue.overview;
SELECT qt.try($$SELECT count(*) FROM queue.recent_jobs$$);
SELECT qt.try($$SELECT count(*) FROM queue.jobs$$);
SELECT qt.try($$SELECT queue.enqueue('doubt')$$);
SELECT qt.try($$UPDATE queue.settings SET max_concurrent = 100$$);
RESET ROLE;

-- queue_admin: sees and cancels anyone's job, edits configuration, runs tick.
SET ROLE regress_admin;
SELECT (queue.job_status(:app1_job2)).status;
SELECT queue.cancel(:app1_job2) AS admin_cancelled;
SELECT count(*) AS jobs_visible FROM queue.jobs;
UPDATE queue.settings SET max_concurrent = 12;
SELECT queue.effective_limit() AS limit_after_admin_change;
SELECT timed_out, released FROM queue.tick();
SELECT qt.try($$DELETE FROM queue.jobs$$);
RESET ROLE;
UPDATE queue.settings SET max_concurrent = DEFAULT;

SET client_min_messages = warning;
DROP SCHEMA qt CASCADE;
DROP ROLE regress_app1, regress_app2, regress_worker, regress_nobody, regress_dash, regress_admin;
