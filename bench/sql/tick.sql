-- One maintenance pass, as the background worker runs it every tick_interval.
SELECT * FROM queue.tick();
