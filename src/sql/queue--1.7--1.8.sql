-- queue 1.7 -> 1.8: a cheaper monitoring fold.
-- * cumulative_buckets() is a C function. In SQL it counted each slice's
--   wait and run times once per bucket, a subquery each: two calls per job
--   type in a slice, 0.4 ms each for a few hundred samples, about half of a
--   slice's fold when every job type is in it. It gives the same counts: a
--   NULL sample counts only in the total, NaN lies above every number. A NULL
--   bound, which no caller passes, is now refused (22004); it counted as
--   a bound no sample is at or below.

\echo Use "ALTER EXTENSION queue UPDATE TO '1.8'" to load this file. \quit

CREATE OR REPLACE FUNCTION queue.cumulative_buckets(samples double precision[], bounds double precision[])
RETURNS bigint[]
    LANGUAGE c IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'queue_cumulative_buckets';
