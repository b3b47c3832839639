-- baseline of "enqueue": a plain INSERT of the same row into bench.jobs_raw,
-- a copy of queue.jobs' columns, defaults and indexes without its triggers.
\set uid random(1, 1000000)
INSERT INTO bench.jobs_raw (job_type, priority, payload, user_id, owner, max_attempts, timeout)
VALUES ('doubt', 'high', '{"question": "Why is the sky blue?", "lang": "en"}', 'student-' || :uid,
        'postgres'::regrole, 4, '10 minutes') RETURNING id;
