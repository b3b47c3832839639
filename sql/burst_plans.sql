-- Statements planned while the tables are small stay index walks after a
-- burst fills the tables, before anything analyzes them again: a claim,
-- stats() and a monitoring pass read a few blocks, not every queued job or
-- event. (Plans are kept per backend until the statistics change, so this
-- file plans everything on five jobs first, in one session.)
SET client_min_messages = warning;  -- whether a previous file left queue installed
DROP EXTENSION IF EXISTS queue CASCADE;
RESET client_min_messages;
CREATE EXTENSION queue;
-- Nothing may analyze the tables behind the test's back.
ALTER TABLE queue.jobs SET (autovacuum_enabled = off);
ALTER TABLE queue.job_events SET (autovacuum_enabled = off);
SELECT 1 AS registered FROM queue.register_worker('burst-w', NULL, 100);
SELECT count(queue.enqueue('doubt')) AS small FROM generate_series(1, 5);
ANALYZE queue.jobs;
ANALYZE queue.job_events;
SELECT count(*) AS claimed FROM queue.dequeue('burst-w', 1);
SELECT queued FROM queue.stats();
SELECT queue.tick() IS NOT NULL AS ticked;

-- The burst: the morning batch, 20,000 jobs, in one transaction.
SELECT count(queue.enqueue('daily_ca')) AS burst FROM generate_series(1, 20000);
SELECT queue.tick() IS NOT NULL AS folded;  -- the burst's events, before measuring

-- Blocks read in between: the backend's counts not sent to the statistics
-- yet, which grow within a transaction block.
CREATE FUNCTION pg_temp.blocks_read(variadic relations regclass[]) RETURNS bigint
    LANGUAGE sql AS 'SELECT sum(pg_stat_get_xact_blocks_fetched(r)) FROM unnest(relations) r';
BEGIN;
SELECT pg_temp.blocks_read('queue.jobs') AS before \gset
SELECT count(*) AS claimed FROM queue.dequeue('burst-w', 1);
SELECT pg_temp.blocks_read('queue.jobs') - :before < 50 AS claim_reads_few_blocks;
ROLLBACK;
BEGIN;
SELECT pg_temp.blocks_read('queue.jobs') AS before \gset
SELECT queued FROM queue.stats();
SELECT pg_temp.blocks_read('queue.jobs') - :before < 50 AS stats_reads_few_blocks;
ROLLBACK;
BEGIN;
SELECT pg_temp.blocks_read('queue.job_events', 'queue.job_events_pkey') AS before \gset
SELECT queue.tick() IS NOT NULL AS ticked;
SELECT pg_temp.blocks_read('queue.job_events', 'queue.job_events_pkey') - :before < 50
       AS pass_reads_few_event_blocks;
ROLLBACK;

-- Statistics that call the big tables empty, as ANALYZE leaves them when it
-- runs while a burst has not committed yet: the same reads. (Set by hand,
-- within the transaction; the plans are made again on the change.)
BEGIN;
UPDATE pg_class SET reltuples = 0 WHERE oid IN ('queue.jobs'::regclass, 'queue.job_events'::regclass);
SELECT pg_temp.blocks_read('queue.jobs') AS before \gset
SELECT count(*) AS claimed FROM queue.dequeue('burst-w', 1);
SELECT queued FROM queue.stats();
SELECT pg_temp.blocks_read('queue.jobs') - :before < 50 AS claim_and_stats_read_few_blocks;
SELECT pg_temp.blocks_read('queue.job_events', 'queue.job_events_pkey') AS before \gset
SELECT queue.tick() IS NOT NULL AS ticked;
SELECT pg_temp.blocks_read('queue.job_events', 'queue.job_events_pkey') - :before < 50
       AS pass_reads_few_event_blocks;
ROLLBACK;
DROP EXTENSION queue;
