-- queue.position() of a random queued job (ids :lo..:hi are all queued).
\set id random(:lo, :hi)
SELECT queue.position(:id);
