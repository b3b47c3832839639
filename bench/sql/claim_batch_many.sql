-- "batch": claim up to :batch jobs in one dequeue() call, then complete them
-- all with one queue.complete_many() call in the same transaction. Run with
-- -M prepared: the arrays travel as parameters.
BEGIN;
SELECT array_agg(id) AS ids, array_agg(attempts) AS attempts
  FROM queue.dequeue('w' || :client_id, :batch) \gset
SELECT queue.complete_many(:ids::bigint[], 'w' || :client_id, NULL, :attempts::integer[]);
COMMIT;
