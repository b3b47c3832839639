-- baseline of position(): count the queued rows ahead of a random queued
-- job in dispatch order (priority, id), over the same jobs_dispatch index.
\set id random(:lo, :hi)
SELECT count(*) + 1 FROM queue.jobs a, queue.jobs j
 WHERE j.id = :id AND a.status = 'queued' AND (a.priority, a.id) < (j.priority, j.id);
