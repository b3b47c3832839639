# queue-worker survives its server: the server is stopped with
# `pg_ctl stop -m immediate` (a crash, as far as the worker can tell) while
# renders run, and started again once some of them have ended unreported.
# The worker reconnects with backoff, its renders keep running meanwhile, their
# results are delivered once the server is back, and every job completes
# exactly once: none is lost, none is rendered twice to the end.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use QueueWorker;

QueueWorker::binary();
my $jobs = 24;
my $node = QueueWorker::new_node('queue_worker_restart');
# Attempts time out long after the test ends: a render run twice would only
# come from the worker, not from a timeout.
$node->safe_psql('postgres', q{UPDATE queue.settings SET job_timeout = '10 minutes'});

my $dir = PostgreSQL::Test::Utils::tempdir();
my $worker = QueueWorker->start($node, id => 'render-r', args => [
	'--capacity', '3', '--heartbeat-interval', '300ms', '--poll-interval', '300ms',
	'--reconnect-max', '1s',
	'--exec',
	qq{sleep 0.7; echo "\$QUEUE_JOB_ID \$QUEUE_ATTEMPT" >> $dir/finished; echo '{"ok": true}'} ]);
ok($worker->wait_for_log(qr/ connected /), 'the worker connects');
$node->safe_psql('postgres',
	"SELECT queue.enqueue('doubt', jsonb_build_object('n', i)) FROM generate_series(1, $jobs) i");
ok($node->poll_query_until('postgres',
		q{SELECT count(*) >= 3 FROM queue.jobs WHERE status = 'completed'}),
	'jobs are being rendered');

$node->stop('immediate');
ok($worker->wait_for_log(qr/connection_lost worker=render-r/), 'the worker sees the connection go');
ok($worker->wait_for_log(qr/connection_lost worker=render-r.*render_ended.*connect_failed/s),
	'its renders end while the server is down, and it keeps trying to connect');
$node->start;
ok($worker->wait_for_log(qr/reconnected worker=render-r/), 'it reconnects by itself');

ok($node->poll_query_until('postgres',
		"SELECT count(*) = $jobs FROM queue.jobs WHERE status = 'completed'"),
	'every job completes after the restart');
is($node->safe_psql('postgres', q{SELECT count(*) FROM queue.jobs WHERE attempts <> 1}), '0',
	'each in one attempt');
my %finished;
$finished{ (split ' ', $_)[0] }++ foreach split /\n/, slurp_file("$dir/finished");
is(scalar(keys %finished), $jobs, 'each job\'s render finished');
is(scalar(grep { $finished{$_} != 1 } keys %finished), 0, 'and no job was rendered twice');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM queue.job_events WHERE to_status = 'completed'}), $jobs,
	'one completion per job in the audit trail');
unlike($worker->log_text, qr/fatal|report_refused/, 'no report was refused');

$worker->signal('TERM');
is($worker->finish(30), 0, 'the worker then shuts down cleanly');
$node->stop;
done_testing();
