-- queue.stats(): the dashboard's one-row summary.
SELECT * FROM queue.stats();
