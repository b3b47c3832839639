-- queue 1.11 -> 1.12: the monitoring pass folds events in C++.
-- * fold_events() read a slice of events with their jobs' columns, then
--   added it up per minute, per job type and per worker with aggregates and
--   window functions, a CTE a table. The library now reads the slice with one
--   statement, adds it up in C++ and writes each table with one statement
--   (the totals one a job type). Refolding 10,000 events in slices of 500,
--   five rounds in turn on one server: a median 55 ms against 96 ms in
--   PL/pgSQL, of which the read is about 27 ms. What it folds, and how the
--   ranges of ids not committed yet are kept and given up, is as before.
-- * Its statements are planned like the library's others (as if every table
--   were big: index walks whatever the statistics say), so the function
--   needs no settings of its own. A claim's look-back for the event that
--   queued its job goes through the index of events by job: without
--   statistics, 1.11 could plan it as a walk back along the primary key over
--   every earlier event, for each claim of a deleted or retried job.
-- * A call folds a slice of at most 5,000 events at a time, however many it
--   is asked for, and takes the cursor's row lock, so that two calls take
--   turns. A NULL batch_limit, which meant every event, is refused (22004),
--   as is a negative one (22023).

\echo Use "ALTER EXTENSION queue UPDATE TO '1.12'" to load this file. \quit

CREATE OR REPLACE FUNCTION queue.fold_events(batch_limit integer) RETURNS integer
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'queue_fold_events';
COMMENT ON FUNCTION queue.fold_events(integer) IS
    'folds queue.job_events not folded yet into stats_minutes, job_type_totals and worker_failure_streaks, each event once';
