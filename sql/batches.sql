-- queue.enqueue_batch(): one job per payload, once per batch key, for pg_cron's
-- morning daily_ca run; bad input is refused and changes nothing.
SET client_min_messages = warning;  -- whether a previous file left queue installed
DROP EXTENSION IF EXISTS queue CASCADE;
RESET client_min_messages;
CREATE EXTENSION queue;
\set VERBOSITY default
SELECT queue.enqueue_batch('daily_ca', 'ca:2026-11-28',
       ARRAY['{"topic": "economy"}', '{"topic": "polity"}']::jsonb[]) AS added;
SELECT queue.enqueue_batch('daily_ca', 'ca:2026-11-28',
       ARRAY['{"topic": "economy"}', '{"topic": "polity"}']::jsonb[]) AS added_again;
SELECT job_type, priority, payload->>'topic' AS topic, dedupe_key FROM queue.jobs ORDER BY id;
SELECT batch_key, job_type, jobs FROM queue.batches;
SELECT queue.enqueue_batch('daily_ca', 'ca:empty', '{}'::jsonb[]) AS empty_batch;

-- Refused, and nothing recorded: NULLs (22004), an unknown job type (22023).
\set VERBOSITY sqlstate
SELECT queue.enqueue_batch(NULL, 'ca:x', ARRAY['{}']::jsonb[]);
SELECT queue.enqueue_batch('daily_ca', NULL, ARRAY['{}']::jsonb[]);
SELECT queue.enqueue_batch('daily_ca', 'ca:x', NULL);
SELECT queue.enqueue_batch('weekly_recap', 'ca:y', ARRAY['{}']::jsonb[]);
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT queue.enqueue_batch('weekly_recap', 'ca:y', ARRAY['{}']::jsonb[]);
-- ... also with no payloads, which used to record a batch that added nothing
-- and kept its key from every later call
SELECT queue.enqueue_batch('weekly_recap', 'ca:z', '{}'::jsonb[]);
-- a key too long for the dedupe keys made of it (at most 200 characters
-- with ':' and the payload's number), an empty key, payloads in two dimensions
SELECT queue.enqueue_batch('daily_ca', repeat('k', 199), ARRAY['{}', '{}']::jsonb[]);
SELECT queue.enqueue_batch('daily_ca', '', ARRAY['{}']::jsonb[]);
SELECT queue.enqueue_batch('daily_ca', 'ca:2d', '{{"{}"}, {"{}"}}'::jsonb[]);
SELECT count(*) AS jobs, (SELECT count(*) FROM queue.batches) AS batches FROM queue.jobs;
-- the longest key that fits
SELECT queue.enqueue_batch('daily_ca', repeat('k', 198), ARRAY['{}', '{}']::jsonb[]) AS added;
DROP EXTENSION queue;
