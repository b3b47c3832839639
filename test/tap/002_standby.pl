# Streaming replication: the standby's worker stays idle (and says so once),
# and after promotion it ticks by itself and the queue keeps working.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $preload = qq{
shared_preload_libraries = 'queue'
queue.database = 'postgres'
queue.tick_interval = '200ms'
};
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', $preload);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION queue');
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$standby->wait_for_log(qr/queue worker: server is a hot standby; waiting for promotion/);
pass('the standby worker says once that it waits for promotion');

# Stop the primary's clock, leave an overdue attempt behind, and let the
# standby replay it: the standby cannot and does not touch it.
$primary->safe_psql('postgres', q{ALTER SYSTEM SET queue.enabled = off; SELECT pg_reload_conf()});
$primary->safe_psql('postgres', q{
SELECT queue.enqueue('doubt');
SELECT count(*) FROM queue.dequeue('render-1');
UPDATE queue.jobs SET deadline = now() - interval '1 second';
});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', q{SELECT status FROM queue.jobs}), 'processing',
	'the overdue attempt is replicated and left alone on the standby');
my $idle_lines = () = slurp_file($standby->logfile) =~ /hot standby; waiting for promotion/g;
is($idle_lines, 1, 'the idle state is logged once, not on every check');

$primary->stop;
$standby->promote;
ok($standby->poll_query_until('postgres',
	q{SELECT status IN ('retrying', 'queued') FROM queue.jobs}),
	'after promotion the worker times out the attempt by itself');
is($standby->safe_psql('postgres', q{
SELECT queue.enqueue('topic_short') > 0;
SELECT count(*) FROM queue.dequeue('render-2', 5);}), "t\n1",
	'the promoted server enqueues and claims the new job (the old one waits out its backoff)');

$standby->stop;
done_testing();
