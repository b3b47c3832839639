-- "batch": claim up to :batch jobs in one dequeue() call, then complete them
-- all in the same transaction, one queue.complete() per job in one statement
-- (used when queue.complete_many does not exist). Run with -M prepared: the
-- arrays travel as parameters.
BEGIN;
SELECT array_agg(id) AS ids, array_agg(attempts) AS attempts
  FROM queue.dequeue('w' || :client_id, :batch) \gset
SELECT count(*) FILTER (WHERE queue.complete(j.id, 'w' || :client_id, NULL, j.attempt))
  FROM unnest(:ids::bigint[], :attempts::integer[]) AS j(id, attempt);
COMMIT;
