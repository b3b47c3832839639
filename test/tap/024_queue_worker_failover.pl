# queue-worker follows a failover by itself: its connection string names the
# primary and a synchronous standby with target_session_attrs=read-write. The
# primary dies (-m immediate) with renders running, the standby is promoted,
# and the worker, never restarted, reconnects to the new primary (refused by
# the standby until then, as it is read-only), delivers its results there and
# renders the jobs enqueued after the failover.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use QueueWorker;

QueueWorker::binary();
my $primary = QueueWorker::new_node('queue_worker_primary', '', allows_streaming => 1);
# An attempt whose claim committed but never reached the worker (the primary
# died before answering) is retried after its timeout: keep that short.
$primary->safe_psql('postgres', q{UPDATE queue.settings SET job_timeout = '5 seconds'});
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('queue_worker_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->safe_psql('postgres', q{ALTER SYSTEM SET synchronous_standby_names = '*'});
$primary->reload;
ok($primary->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_replication WHERE sync_state = 'sync'}),
	'the standby is synchronous');

my $dsn = sprintf('host=%s,%s port=%d,%d dbname=postgres target_session_attrs=read-write',
	$primary->host, $standby->host, $primary->port, $standby->port);
my $worker = QueueWorker->start($primary, id => 'render-f', dsn => $dsn, args => [
	'--capacity', '2', '--heartbeat-interval', '300ms', '--poll-interval', '300ms',
	'--reconnect-max', '1s', '--exec', q{sleep 0.5; echo '{"rendered": true}'} ]);
ok($worker->wait_for_log(qr/ connected worker=render-f server=\S+:${\ $primary->port }/),
	'the worker connects to the primary');
$primary->safe_psql('postgres',
	q{SELECT queue.enqueue('doubt', jsonb_build_object('n', i)) FROM generate_series(1, 12) i});
ok($primary->poll_query_until('postgres',
		q{SELECT count(*) >= 4 FROM queue.jobs WHERE status = 'completed'}),
	'jobs are being rendered on the primary');

$primary->stop('immediate');
ok($worker->wait_for_log(qr/connection_lost worker=render-f/), 'the worker loses the primary');
$standby->promote;
my $new_port = $standby->port;
ok($worker->wait_for_log(qr/reconnected worker=render-f server=\S+:$new_port/),
	'and reconnects to the promoted standby by itself');
$standby->safe_psql('postgres',
	q{SELECT queue.enqueue('topic_short', jsonb_build_object('n', i)) FROM generate_series(13, 16) i});
ok($standby->poll_query_until('postgres',
		q{SELECT count(*) = 16 FROM queue.jobs WHERE status = 'completed'}),
	'every job, from before and after the failover, completes on the new primary');
is($standby->safe_psql('postgres',
		q{SELECT count(*) FROM queue.jobs WHERE result->>'rendered' IS DISTINCT FROM 'true'}),
	'0', 'each with its result');

$worker->signal('TERM');
is($worker->finish(30), 0, 'the worker shuts down cleanly');
$standby->stop;
done_testing();
