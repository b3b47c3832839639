-- queue.job_status() of a random queued job: what a waiting student sees.
\set id random(:lo, :hi)
SELECT * FROM queue.job_status(:id);
