# Without the background worker (queue.enabled = off), pg_cron is the clock:
# a scheduled queue.tick() times out overdue attempts. pg_cron also runs the
# morning daily_ca batch, and a re-run of that batch adds nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'queue,pg_cron'
queue.enabled = off
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_cron;
CREATE EXTENSION queue;
SELECT queue.enqueue('doubt');
SELECT count(*) FROM queue.dequeue('render-1');
UPDATE queue.jobs SET deadline = now() - interval '1 second';
SELECT cron.schedule('queue-tick', '* * * * *', 'SELECT queue.tick()');
});
$node->wait_for_log(qr/queue worker: queue.enabled is off; not ticking/);
pass('the queue worker stays off');

# pg_cron runs at minute boundaries: allow two of them.
$node->poll_query_until('postgres', q{
SELECT count(*) > 0 FROM cron.job_run_details WHERE status = 'succeeded'}) or
  diag('pg_cron has not run the tick yet');
is($node->safe_psql('postgres', q{SELECT status FROM queue.jobs}), 'retrying',
	'the tick scheduled by pg_cron timed out the overdue attempt');

# The morning batch as pg_cron would run it, twice.
my $batch = q{SELECT queue.enqueue_batch('daily_ca', 'daily_ca:2026-11-28',
  ARRAY['{"topic": "economy"}', '{"topic": "polity"}', '{"topic": "science"}']::jsonb[])};
$node->safe_psql('postgres',
	qq{SELECT cron.schedule('daily-ca', '30 5 * * *', \$\$$batch\$\$)});
is($node->safe_psql('postgres', $batch), '3', 'the batch enqueues one job per topic');
is($node->safe_psql('postgres', $batch), '0', 'running the batch again adds nothing');
is($node->safe_psql('postgres', q{SELECT count(*) FROM queue.jobs WHERE job_type = 'daily_ca'}),
	'3', 'three daily_ca jobs in all');

$node->stop;
done_testing();
