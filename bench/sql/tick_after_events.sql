-- One pass with :events new events to fold: enqueue that many jobs (one
-- event each), then tick(). Run with -r: the tick's own latency is its line.
SELECT count(queue.enqueue('daily_ca')) FROM generate_series(1, :events);
SELECT * FROM queue.tick();
