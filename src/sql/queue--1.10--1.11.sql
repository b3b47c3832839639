-- queue 1.10 -> 1.11: a monitoring pass that plans its fold once.
-- * fold_events() ran its one big statement with a custom plan on every
--   call: PL/pgSQL compares a custom plan's cost with the generic plan's,
--   and with a LIMIT of a parameter the generic one always looked dearer, so
--   each pass planned the statement again (a quarter of the background
--   worker's time per event folded). Its plans are now generic, made once per
--   session and again when the tables' statistics change.
-- * A generic plan is made from the statistics of the moment, and kept: one
--   made while the tables were near empty looked each event's job up with a
--   scan of queue.jobs, and kept doing so after a burst filled it (a pass
--   took a second). Every statement of the fold is written as index walks
--   (see 1.5 and 1.6), so its plans may not scan a table whole: they are the
--   same walks whatever the statistics say.

\echo Use "ALTER EXTENSION queue UPDATE TO '1.11'" to load this file. \quit

ALTER FUNCTION queue.fold_events(integer)
    SET plan_cache_mode = force_generic_plan
    SET enable_seqscan = off;
