# DROP EXTENSION and CREATE EXTENSION while the background worker passes every
# 10 ms over a queue with work in it: the drop never deadlocks with a pass (a
# pass holds the extension itself before any of its tables, as DROP EXTENSION
# takes the extension before its members), and the worker serves each new
# incarnation of the extension.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $rounds = 30;

my $node = PostgreSQL::Test::Cluster->new('drop_extension');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'queue'
queue.database = 'postgres'
queue.tick_interval = '10ms'
});
$node->start;

# Work for every step of a pass: an overdue attempt, a silent render worker
# with a job, a retry that is due, queued jobs.
my $setup = q{
CREATE EXTENSION queue;
UPDATE queue.settings SET retry_delay = '0', worker_timeout = '1 second';
SELECT count(queue.enqueue('topic_short')) FROM generate_series(1, 20);
SELECT queue.register_worker('silent', NULL, 2);
SELECT count(*) FROM queue.dequeue('silent', 2);
UPDATE queue.workers SET last_heartbeat = now() - interval '1 minute';
SELECT count(*) FROM queue.dequeue('overdue', 3);
UPDATE queue.jobs SET deadline = now() - interval '1 second' WHERE worker_id = 'overdue';
};

my $failures = 0;
my $first_error = '';
for my $round (1 .. $rounds) {
	my ($ret, $stdout, $stderr) = $node->psql('postgres', $setup);
	$node->reload;    # wakes the worker, so it finds the new extension at once
	# Let passes find the work before the drop; 10 ms ticks, so a few run.
	$node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM queue.job_events WHERE to_status = 'retrying'})
	  if $ret == 0;
	my ($drop_ret, $drop_out, $drop_err) =
	  $node->psql('postgres', 'DROP EXTENSION queue CASCADE');
	next if $ret == 0 && $drop_ret == 0;
	$failures++;
	$first_error ||= "round $round: $stderr$drop_err";
}
is($failures, 0, "$rounds rounds of CREATE and DROP EXTENSION beside the worker all succeed")
  or diag($first_error);

# The worker still serves the extension created last.
$node->safe_psql('postgres', $setup);
$node->reload;
ok($node->poll_query_until('postgres', q{
		SELECT count(DISTINCT job_id) = 5 FROM queue.job_events
		 WHERE from_status = 'processing' AND to_status = 'retrying'}),
	'the worker recovers the overdue and orphaned attempts of the extension created last');
my $log = slurp_file($node->logfile);
unlike($log, qr/deadlock detected/, 'no deadlock was ever detected');

$node->stop;
done_testing();
