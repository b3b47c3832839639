-- diagnostic baseline: the plain INSERT plus one audit row in a second
-- table, in one statement, as queue.enqueue() writes jobs + job_events.
\set uid random(1, 1000000)
WITH inserted AS (
  INSERT INTO bench.jobs_raw (job_type, priority, payload, user_id, owner, max_attempts, timeout)
  VALUES ('doubt', 'high', '{"question": "Why is the sky blue?", "lang": "en"}', 'student-' || :uid,
          'postgres'::regrole, 4, '10 minutes') RETURNING id, status),
 logged AS (
  INSERT INTO bench.events_raw (job_id, from_status, to_status, detail)
  SELECT id, NULL, status, 'enqueued' FROM inserted)
SELECT id FROM inserted;
