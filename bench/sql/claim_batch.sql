-- "batch claim": claim up to :batch jobs in one dequeue() call, then
-- complete them all; run with -D batch=1 and -D batch=10 and -M prepared
-- (the id array travels as a parameter).
BEGIN;
SELECT array_agg(id) AS ids FROM queue.dequeue('w' || :client_id, :batch) \gset
SELECT count(*) FILTER (WHERE queue.complete(i, 'w' || :client_id)) FROM unnest(:ids::bigint[]) AS i;
COMMIT;
