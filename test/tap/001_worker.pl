# The background worker on a live server: it runs, handles overdue attempts
# without a manual tick(), recovers silent render workers' jobs, reloads its
# settings on SIGHUP, survives kill -9 of itself or of a backend in the
# middle of a claim with the limit accounting matching the table, and folds a
# backlog of events for monitoring by itself.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use QueueLoad;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'queue'
queue.database = 'postgres'
queue.tick_interval = '200ms'
restart_after_crash = on
});
$node->start;
$node->wait_for_log(qr/queue worker: extension "queue" is not installed in database "postgres"; waiting/);
pass('before CREATE EXTENSION the worker waits quietly');
$node->safe_psql('postgres', q{
CREATE EXTENSION queue;
DELETE FROM queue.peak_windows;          -- limits fixed whatever the hour
UPDATE queue.settings SET max_concurrent = 3, retry_delay = '0';
});

sub worker_pid {
	return $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'queue worker'});
}

# Counters in shared memory against a count of the table.
sub counters_match {
	return $node->safe_psql('postgres', q{
SELECT s.processing = (SELECT count(*) FROM queue.jobs WHERE status = 'processing')
   AND s.queued = (SELECT count(*) FROM queue.jobs WHERE status = 'queued')
  FROM queue.stats() s});
}

ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'queue worker'}),
	'the worker is running and visible in pg_stat_activity');
$node->wait_for_log(qr/queue worker: ticking every 200 ms/);
pass('once the extension exists the worker starts ticking by itself');

# An attempt past its deadline is ended by the worker alone.
$node->safe_psql('postgres', q{
SELECT queue.enqueue('doubt', '{"question": 1}');
SELECT count(*) FROM queue.dequeue('render-1');
UPDATE queue.jobs SET deadline = now() - interval '1 second' WHERE status = 'processing';
});
ok($node->poll_query_until('postgres',
	q{SELECT last_error LIKE 'attempt timed out%' AND status IN ('retrying', 'queued')
	    FROM queue.jobs ORDER BY id LIMIT 1}),
	'an overdue attempt is timed out without a manual tick');

# A render worker that stops sending heartbeats is declared dead and its
# job goes back to the queue.
$node->safe_psql('postgres', q{
UPDATE queue.settings SET worker_timeout = '1 second';
SELECT queue.register_worker('render-2', NULL, 2);
SELECT count(*) FROM queue.dequeue('render-2');
UPDATE queue.workers SET last_heartbeat = now() - interval '1 minute' WHERE worker_id = 'render-2';
});
ok($node->poll_query_until('postgres', q{
SELECT w.state = 'dead' AND j.status = 'queued' AND j.last_error LIKE 'worker render-2%'
  FROM queue.workers w, queue.jobs j WHERE w.worker_id = 'render-2' ORDER BY j.id LIMIT 1}),
	'a silent render worker is marked dead and its job is queued again');
is($node->safe_psql('postgres', q{SELECT queue.complete(1, 'render-2')}), 'f',
	'the dead worker cannot complete the recovered job');

# SIGHUP: a changed tick interval is picked up.
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{ALTER SYSTEM SET queue.tick_interval = '300ms'});
$node->reload;
$node->wait_for_log(qr/queue worker: tick interval is now 300 ms/, $log_offset);
pass('the worker reloads queue.tick_interval on SIGHUP');

# With a long tick interval, a retry that is due at once still does not
# wait for the next tick: the failing transaction wakes the worker's latch.
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{ALTER SYSTEM SET queue.tick_interval = '1h'});
$node->reload;
$node->wait_for_log(qr/queue worker: tick interval is now 3600000 ms/, $log_offset);
$node->safe_psql('postgres', q{
SELECT queue.enqueue('doubt', '{"wake": true}');
SELECT queue.fail(id, 'render-6', 'transient') FROM queue.dequeue('render-6', 10);
});
ok($node->poll_query_until('postgres',
	q{SELECT status = 'queued' AND attempts = 1 FROM queue.jobs WHERE payload ? 'wake'}),
	'a retry due at once is released without waiting for the next tick');

# kill -9 of the worker: the postmaster restarts the server processes, the
# worker comes back and the counters are rebuilt from the table.
$node->safe_psql('postgres', q{SELECT queue.enqueue('topic_short') FROM generate_series(1, 5)});
my $old_pid = worker_pid();
$log_offset = -s $node->logfile;
kill 'KILL', $old_pid;
# Connections still succeed until the postmaster notices: wait for it.
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
ok(QueueLoad::poll_briefly($node, qq{
SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'queue worker' AND pid <> $old_pid},
		$PostgreSQL::Test::Utils::timeout_default),
	'the worker is back after kill -9');
is($node->safe_psql('postgres', q{SELECT count(*) FROM queue.jobs}), '7', 'no job was lost');
is(counters_match(), 't', 'counters rebuilt after the crash match the table');

# kill -9 of a backend holding uncommitted claims: after crash recovery the
# claims are gone and all three slots can be claimed again, no more.
$node->safe_psql('postgres', q{
UPDATE queue.jobs SET status = 'queued' WHERE status <> 'queued';
});
my $claimer = $node->background_psql('postgres');
$claimer->query_safe('BEGIN');
is($claimer->query_safe(q{SELECT count(*) FROM queue.dequeue('render-3', 3)}), '3',
	'an open transaction holds all three slots');
is($node->safe_psql('postgres', q{SELECT count(*) FROM queue.dequeue('render-4', 3)}), '0',
	'nothing is left for another worker meanwhile');
my $claimer_pid = $claimer->query_safe('SELECT pg_backend_pid()');
$log_offset = -s $node->logfile;
kill 'KILL', $claimer_pid;
eval { $claimer->quit };
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
QueueLoad::poll_briefly($node, 'SELECT NOT pg_is_in_recovery()',
	$PostgreSQL::Test::Utils::timeout_default)
  or die 'the server did not come back after the backend was killed';
is(counters_match(), 't', 'after crash recovery the counters match the table');
is($node->safe_psql('postgres', q{SELECT count(*) FROM queue.dequeue('render-5', 10)}), '3',
	'the crashed claims were given back: exactly the limit can be claimed');

# A backlog of several slices of events (500 each) is folded by the worker
# alone, a slice at a time, each event once.
$node->safe_psql('postgres', q{ALTER SYSTEM SET queue.tick_interval = '200ms'});
$node->reload;
$node->safe_psql('postgres', q{SELECT count(queue.enqueue('topic_short')) FROM generate_series(1, 2600)});
ok($node->poll_query_until('postgres', q{
SELECT (SELECT sum(enqueued) FROM queue.job_type_totals) =
       (SELECT count(*) FROM queue.job_events WHERE from_status IS NULL)}),
	'a backlog of 2,600 events is folded by the worker alone, each event once');

$node->stop;
done_testing();
