-- 00_schema: the contract's schema: tables and columns, enums in dispatch
-- order, configuration tables and their seeds, the API functions with their
-- signatures and return types, and the admin views.
BEGIN;
SELECT plan(70);

SELECT has_schema('queue');
SELECT has_table('queue', 'jobs', 'queue.jobs exists');
SELECT has_table('queue', 'job_events', 'queue.job_events exists');
SELECT has_table('queue', 'workers', 'queue.workers exists');
SELECT has_table('queue', t, 'queue.' || t || ' exists')
  FROM unnest(ARRAY['settings', 'job_types', 'resources', 'peak_windows']) AS t;

-- queue.jobs columns from the contract
SELECT col_type_is('queue', 'jobs', c, t, 'jobs.' || c || ' is ' || t)
  FROM (VALUES ('id', 'bigint'), ('job_type', 'text'), ('priority', 'queue.priority'),
               ('resource', 'text'), ('status', 'queue.job_status'), ('payload', 'jsonb'),
               ('result', 'jsonb'), ('last_error', 'text'), ('user_id', 'text'),
               ('attempts', 'integer'), ('max_attempts', 'integer'),
               ('enqueued_at', 'timestamp with time zone'), ('run_at', 'timestamp with time zone'),
               ('started_at', 'timestamp with time zone'), ('deadline', 'timestamp with time zone'),
               ('finished_at', 'timestamp with time zone'), ('worker_id', 'text'),
               ('dedupe_key', 'text'), ('cancel_requested', 'boolean')) AS v(c, t);
SELECT col_is_pk('queue', 'jobs', 'id', 'jobs.id is the primary key');

-- job_events: job, time, from, to, worker, detail
SELECT has_column('queue', 'job_events', c, 'job_events.' || c || ' exists')
  FROM unnest(ARRAY['job_id', 'at', 'from_status', 'to_status', 'worker_id', 'detail']) AS c;
-- workers: id, resources, capacity, last heartbeat, state
SELECT has_column('queue', 'workers', c, 'workers.' || c || ' exists')
  FROM unnest(ARRAY['worker_id', 'resources', 'capacity', 'last_heartbeat', 'state']) AS c;

SELECT enum_has_labels('queue', 'priority', ARRAY['high', 'medium', 'low'],
                       'priority labels in dispatch order');
SELECT enum_has_labels('queue', 'job_status',
                       ARRAY['queued', 'retrying', 'processing', 'completed', 'failed', 'cancelled'],
                       'job_status labels');
SELECT enum_has_labels('queue', 'worker_state', ARRAY['active', 'draining', 'dead'], 'worker states');

-- settings and seeds
SELECT results_eq(
    $$SELECT max_concurrent, job_timeout, max_retries, retry_delay, retry_backoff, worker_timeout
        FROM queue.settings$$,
    $$VALUES (10, interval '10 minutes', 3, interval '5 minutes', 2.0::double precision, interval '60 seconds')$$,
    'settings defaults');
SELECT has_column('queue', 'settings', c, 'settings.' || c || ' exists')
  FROM unnest(ARRAY['timezone', 'retention']) AS c;
SELECT results_eq($$SELECT job_type::text, priority FROM queue.job_types ORDER BY priority$$,
                  $$VALUES ('doubt', 'high'::queue.priority), ('topic_short', 'medium'), ('daily_ca', 'low')$$,
                  'job types seeded');
SELECT results_eq($$SELECT resource::text, max_concurrent FROM queue.resources$$,
                  $$VALUES ('manim', 4)$$, 'manim limited to 4');
SELECT results_eq($$SELECT starts, ends, multiplier::numeric FROM queue.peak_windows ORDER BY starts$$,
                  $$VALUES ('06:00'::time, '09:00'::time, 1.5), ('20:00', '23:00', 1.5)$$,
                  'peak windows seeded');

-- API functions
SELECT has_function('queue', 'enqueue',
                    ARRAY['text', 'jsonb', 'text', 'queue.priority', 'text', 'timestamp with time zone', 'text']);
SELECT function_returns('queue', 'enqueue',
                        ARRAY['text', 'jsonb', 'text', 'queue.priority', 'text', 'timestamp with time zone', 'text'],
                        'bigint');
SELECT has_function('queue', 'dequeue', ARRAY['text', 'integer', 'text[]']);
SELECT function_returns('queue', 'dequeue', ARRAY['text', 'integer', 'text[]'], 'setof queue.jobs');
SELECT function_returns('queue', 'complete', ARRAY['bigint', 'text', 'jsonb', 'integer'], 'boolean');
SELECT function_returns('queue', 'fail', ARRAY['bigint', 'text', 'text', 'boolean', 'integer'], 'queue.job_status');
SELECT function_returns('queue', 'cancel', ARRAY['bigint', 'text'], 'boolean');
SELECT function_returns('queue', 'position', ARRAY['bigint'], 'integer');
SELECT has_function('queue', 'job_status', ARRAY['bigint']);
SELECT has_function('queue', 'stats', ARRAY[]::text[]);
SELECT function_returns('queue', 'is_peak_hour', ARRAY['timestamp with time zone'], 'boolean');
SELECT function_returns('queue', 'effective_limit', ARRAY['text', 'timestamp with time zone'], 'integer');
SELECT has_function('queue', 'tick', ARRAY[]::text[]);
SELECT has_function('queue', 'register_worker', ARRAY['text', 'text[]', 'integer']);
SELECT has_function('queue', 'heartbeat', ARRAY['text']);
SELECT function_returns('queue', 'drain_worker', ARRAY['text'], 'boolean');
SELECT is_definer('queue', 'enqueue',
                  ARRAY['text', 'jsonb', 'text', 'queue.priority', 'text', 'timestamp with time zone', 'text'],
                  'enqueue is SECURITY DEFINER');

-- job_status and stats expose the contract's fields
SELECT is((SELECT array_agg(parameter_name::text ORDER BY ordinal_position)
             FROM information_schema.parameters p JOIN information_schema.routines r USING (specific_schema, specific_name)
            WHERE r.routine_schema = 'queue' AND r.routine_name = 'job_status' AND p.parameter_mode = 'OUT')
          @> ARRAY['status', 'position', 'estimated_wait', 'estimated_start', 'attempts', 'last_error'],
          true, 'job_status returns status, position, estimated wait and start, attempts, last error');

-- admin views
SELECT has_view('queue', v, 'view queue.' || v)
  FROM unnest(ARRAY['overview', 'recent_jobs', 'worker_load', 'alerts']) AS v;

SELECT * FROM finish();
ROLLBACK;
