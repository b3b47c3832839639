-- worker_registry: the registry stays small and the pass's work on it does
-- not grow with the workers that stopped.
--   A role may have settings.max_workers_per_role worker ids registered,
--   dead ones included: a new id past it is refused (54000) and nothing
--   changes; re-registering an id it has is not a new one; queue_admin
--   members are not held to it. A worker dead for longer than retention with
--   no attempt running is removed by tick(), which frees its id; one with a
--   running attempt stays until the attempt ends. A pass over a registry of
--   many long-dead workers reads only the few it is about.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS queue CASCADE;
CREATE EXTENSION queue;
DROP ROLE IF EXISTS regress_reg_farm1, regress_reg_farm2, regress_reg_admin;
RESET client_min_messages;
DELETE FROM queue.peak_windows;

\i test/sql/try.sql

CREATE ROLE regress_reg_farm1;
CREATE ROLE regress_reg_farm2;
CREATE ROLE regress_reg_admin;
GRANT queue_worker TO regress_reg_farm1, regress_reg_farm2;
GRANT queue_admin TO regress_reg_admin;

-- The limit is a setting like the others: bounded, refused by its constraint.
SELECT qt.try('UPDATE queue.settings SET max_workers_per_role = 0');
SELECT qt.try('UPDATE queue.settings SET max_workers_per_role = 1000001');
SELECT max_workers_per_role FROM queue.settings;
UPDATE queue.settings SET max_workers_per_role = 3;

SET ROLE regress_reg_farm1;
SELECT worker_id FROM queue.register_worker('farm1-a');
SELECT worker_id FROM queue.register_worker('farm1-b');
SELECT worker_id FROM queue.register_worker('farm1-c');
-- A fourth id is refused, with what to do about it; nothing is registered.
SELECT qt.try_detail($$SELECT queue.register_worker('farm1-d')$$);
-- Re-registering one of its ids (new resources, new capacity) is not a new id.
SELECT worker_id, capacity FROM queue.register_worker('farm1-c', NULL, 4);
RESET ROLE;
SELECT worker_id, capacity FROM queue.workers ORDER BY worker_id;

-- Another role has its own allowance; an admin has none.
SET ROLE regress_reg_farm2;
SELECT worker_id FROM queue.register_worker('farm2-a');
RESET ROLE;
SET ROLE regress_reg_admin;
SELECT count(queue.register_worker('admin-' || i)) AS admin_ids FROM generate_series(1, 5) AS i;
RESET ROLE;

-- farm1-a dies with a render running, farm1-b dies idle; both were last
-- heard from eight days ago, past the 7-day retention.
SELECT queue.enqueue('topic_short') AS job;
SET ROLE regress_reg_farm1;
SELECT count(*) AS claimed FROM queue.dequeue('farm1-a', 1);
RESET ROLE;
UPDATE queue.workers SET state = 'dead', last_heartbeat = now() - interval '8 days'
 WHERE worker_id IN ('farm1-a', 'farm1-b');
-- A long-dead worker's attempt is left to its deadline: the pass neither
-- recovers it (its worker stopped longer ago than any attempt can last) nor
-- removes the worker holding it; the idle one is removed.
SELECT dead_workers, recovered FROM queue.tick();
SELECT worker_id, state FROM queue.workers WHERE owner = 'regress_reg_farm1'::regrole
 ORDER BY worker_id;
-- Its id is free again: farm1 can register a new one.
SET ROLE regress_reg_farm1;
SELECT worker_id FROM queue.register_worker('farm1-d');
SELECT qt.try($$SELECT queue.register_worker('farm1-e')$$);
RESET ROLE;
-- Once the attempt ends, the pass removes farm1-a too.
UPDATE queue.jobs SET deadline = now() - interval '1 second' WHERE status = 'processing';
SELECT timed_out FROM queue.tick();
SELECT worker_id FROM queue.workers WHERE owner = 'regress_reg_farm1'::regrole ORDER BY worker_id;

-- A pass over 20,000 workers dead for a day (inside the retention) reads only
-- the index entries of the workers it is about, not every dead worker: the
-- entries its statements read from the registry's indexes stay few.
INSERT INTO queue.workers (worker_id, owner, state, last_heartbeat)
SELECT 'gone-' || i, 'regress_reg_farm2'::regrole, 'dead', now() - interval '1 day'
  FROM generate_series(1, 20000) AS i;
SELECT queue.tick() IS NOT NULL AS warmed_up;
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
CREATE TEMP TABLE reads_before AS
SELECT sum(i.idx_tup_read) AS index_entries, max(t.seq_scan) AS seq_scans
  FROM pg_stat_user_indexes i JOIN pg_stat_user_tables t USING (relid)
 WHERE relid = 'queue.workers'::regclass;
SELECT queue.tick() IS NOT NULL AS ticked;
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT sum(i.idx_tup_read) - b.index_entries < 100 AS few_entries_read,
       max(t.seq_scan) - b.seq_scans AS seq_scans
  FROM pg_stat_user_indexes i JOIN pg_stat_user_tables t USING (relid), reads_before b
 WHERE relid = 'queue.workers'::regclass
 GROUP BY b.index_entries, b.seq_scans;

DROP OWNED BY regress_reg_farm1, regress_reg_farm2, regress_reg_admin;
SET client_min_messages = warning;
DROP EXTENSION queue CASCADE;
RESET client_min_messages;
DROP ROLE regress_reg_farm1, regress_reg_farm2, regress_reg_admin;
