-- queue 1.10 -> 1.11: a monitoring pass that plans its fold once.
-- * fold_events() ran its one big statement with a custom plan on every
--   call: PL/pgSQL compares a custom plan's cost with the generic plan's,
--   and with a LIMIT of a parameter the generic one always looked dearer, so
--   each pass planned the statement again (about half of the background
--   worker's time per event folded). Its plans are now generic, made once per
--   session and again when the tables' statistics change; the statements are
--   written so that their plan is an index walk whatever the values (see
--   1.5 and 1.6), and the generic plans are the same walks.

\echo Use "ALTER EXTENSION queue UPDATE TO '1.11'" to load this file. \quit

ALTER FUNCTION queue.fold_events(integer) SET plan_cache_mode = force_generic_plan;
