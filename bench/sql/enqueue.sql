-- queue side of "enqueue": one job per pgbench transaction (autocommit).
\set uid random(1, 1000000)
SELECT queue.enqueue('doubt', '{"question": "Why is the sky blue?", "lang": "en"}', 'student-' || :uid);
