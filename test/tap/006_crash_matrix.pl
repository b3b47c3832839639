# Crash matrix under load: 8 clients enqueue, claim, complete, fail, cancel
# and tick (see QueueLoad.pm) while the server is crashed 20 times at random
# moments: kill -9 of a client's backend, kill -9 of the background worker,
# and pg_ctl stop -m immediate. After each recovery the queue must be exact:
# every acknowledged enqueue kept, the audit trail consistent (no attempt
# claimed or ended twice), stats() and position() equal to a count of the
# table, the background worker back and handling an overdue attempt. The
# processing jobs are sampled throughout and must never exceed the limits.
#
# QUEUE_CRASH_SEED=<n> repeats a run's crash order and moments.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use List::Util qw(min shuffle);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use QueueLoad;
use Test::More;
use Time::HiRes ();

my $seed = $ENV{QUEUE_CRASH_SEED} // (time ^ $$);
srand($seed);
note "random seed $seed (QUEUE_CRASH_SEED=$seed repeats this run)";
my $started = time;

# 20 crashes in a random order; every kind at least 6 times.
my %planned = (backend => 8, worker => 6, immediate => 6);
my @crashes = shuffle(map { ($_) x $planned{$_} } sort keys %planned);

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', QueueLoad::server_conf() . "restart_after_crash = on\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION queue');
QueueLoad::configure_queue($node);
my $load = QueueLoad->new;

my %violations;
my %crashed;
my $positions_compared = 0;

# Count violations of one check, showing the first few.
sub violation
{
	my ($check, $when, @found) = @_;
	$violations{$check} += @found;
	diag("$check, $when: $_") foreach @found[ 0 .. min(4, $#found) ];
	return;
}

sub one_value
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql);
}

# Crash the server one way and return once it accepts connections again.
sub crash
{
	my ($kind) = @_;
	my $log_offset = -s $node->logfile;
	if ($kind eq 'immediate')
	{
		$node->stop('immediate');
		$node->start;
		return;
	}
	# A backend of a client, preferably one in the middle of a statement.
	my $pid = one_value(
		$kind eq 'worker'
		? q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'queue worker'}
		: q{SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'queue-load-%'
		     ORDER BY state = 'idle', random() LIMIT 1});
	die "no process to kill for a $kind crash" unless $pid =~ /^\d+$/;
	kill('KILL', $pid) or die "cannot kill $pid: $!";
	# Connections still succeed until the postmaster notices: wait for it.
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
	QueueLoad::poll_briefly($node, 'SELECT NOT pg_is_in_recovery()', 60)
	  or die "the server did not come back after a $kind crash";
	return;
}

# The background worker is running again and times out an attempt made
# overdue now (the load is stopped, so nobody else ticks).
sub check_worker
{
	my ($when) = @_;
	my $back = QueueLoad::poll_briefly($node, q{
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE backend_type = 'queue worker' AND application_name = 'queue worker'}, 30);
	unless ($back)
	{
		violation('worker back', $when, 'no queue worker in pg_stat_activity');
		return;
	}
	one_value(q{SELECT count(*) FROM queue.dequeue('probe', 1)});
	my $probe = one_value(q{
UPDATE queue.jobs SET deadline = now() - interval '1 second'
 WHERE id = (SELECT id FROM queue.jobs WHERE status = 'processing'
              ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id});
	if ($probe eq '')
	{
		violation('overdue attempt handled', $when, 'no processing job to make overdue');
		return;
	}
	QueueLoad::poll_briefly($node, qq{
SELECT status <> 'processing' AND last_error LIKE 'attempt timed out%'
  FROM queue.jobs WHERE id = $probe}, 15)
	  or violation('overdue attempt handled', $when,
		"job $probe is still processing past its deadline");
	return;
}

sub check_after_recovery
{
	my ($when) = @_;
	check_worker($when);
	violation('acknowledged jobs kept', $when, $load->missing_acked_jobs($node));
	violation('audit trail', $when, QueueLoad::event_violations($node));
	my ($found, $compared) = QueueLoad::counter_violations($node);
	violation('counters', $when, @$found);
	$positions_compared += $compared;
	return;
}

for my $i (1 .. @crashes)
{
	my $kind = $crashes[ $i - 1 ];
	$load->start($node, 60);
	# The crash moment: somewhere in the first seconds of load.
	Time::HiRes::sleep(0.8 + rand(1.7));
	crash($kind);
	$crashed{$kind}++;
	$load->finish(30);
	check_after_recovery("after crash $i ($kind)");
}

# A last phase of load ends without a crash: the counters must have been
# kept exact under load, not only rebuilt by a restart.
$load->start($node, 3);
$load->finish(60);
check_after_recovery('after load without a crash');

my $samples = QueueLoad::sample_counts($node);
my $enqueued = one_value(q{SELECT count(*) FROM queue.jobs WHERE payload ? 'tag'});
my @errors = $load->unexpected_errors;

is(scalar(@crashes), 20, 'the server was crashed 20 times');
cmp_ok($load->acked_count, '>', 0, 'clients had enqueues acknowledged');
is($violations{'acknowledged jobs kept'} // 0, 0,
	'every acknowledged enqueue survived every crash, as the job that was enqueued');
is(scalar($load->duplicate_acks), 0, 'no id was acknowledged for two enqueues');
is($violations{'audit trail'} // 0, 0,
	'the audit trail agrees with the jobs: no attempt claimed, ended or completed twice');
is($violations{counters} // 0, 0,
	'stats() counts, manim running counts and positions equal the table after every recovery');
cmp_ok($positions_compared, '>', 0, 'positions were compared');
is($violations{'worker back'} // 0, 0, 'the background worker came back after every crash');
is($violations{'overdue attempt handled'} // 0, 0,
	'after every crash the background worker timed out an overdue attempt');
cmp_ok($samples->{samples}, '>', 100, 'the processing jobs were sampled during the load');
is($samples->{violations}, 0, 'no sample above queue.effective_limit() or the manim limit');
diag("sample above the limits $_") foreach @{ $samples->{worst} };
cmp_ok($samples->{max_processing}, '>=', $QueueLoad::MAX_CONCURRENT,
	'the load reached the global limit (the limit was tested)');
cmp_ok($samples->{max_manim}, '>=', $QueueLoad::MANIM_LIMIT,
	'the load reached the manim limit (the limit was tested)');
is(scalar(@errors), 0, 'no client error other than those of the crashes');
diag("client error: $_") foreach @errors[ 0 .. min(9, $#errors) ];
is($load->hung_clients, 0, 'every client stopped by itself');

note sprintf('crashes: %s', join(', ', map { "$crashed{$_} $_" } sort keys %crashed));
note sprintf('jobs: %d enqueued by the clients and committed, %d acknowledged; %s', $enqueued,
	$load->acked_count, QueueLoad::job_summary($node));
note sprintf('samples: %d, at most %d processing and %d manim; %d above the limits',
	$samples->{samples}, $samples->{max_processing}, $samples->{max_manim},
	$samples->{violations});
note sprintf('violations: %s', join(', ',
	map { "$_ " . ($violations{$_} // 0) }
	  ('acknowledged jobs kept', 'audit trail', 'counters', 'worker back',
		'overdue attempt handled')));
note sprintf('unexpected client errors: %d; positions compared: %d; %d s',
	scalar(@errors), $positions_compared, time - $started);

$node->stop;
done_testing();
