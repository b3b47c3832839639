-- Maintenance beside the workers (the background worker is off): times out
-- overdue attempts and releases due retries, concurrently with claims.
SELECT timed_out, released FROM queue.tick();
