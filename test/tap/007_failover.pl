# Failover under load: a primary with a synchronous standby runs the load of
# QueueLoad.pm. While the primary keeps changing the queue, the hot standby's
# queue.position() and queue.stats() must equal a count of its own table.
# Then the primary dies (-m immediate) and the standby is promoted: no
# acknowledged enqueue may be lost, and on the new primary the counters must
# equal the table and the limits hold exactly under the same load.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use List::Util qw(min);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use QueueLoad;
use Test::More;

my $started = time;
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf',
	QueueLoad::server_conf() . "synchronous_commit = on\n");
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION queue');
QueueLoad::configure_queue($primary);
# Jobs in the queue before the load, so positions have something to count.
$primary->safe_psql('postgres', q{
SELECT count(queue.enqueue((ARRAY['doubt', 'topic_short', 'daily_ca'])[1 + g % 3],
                           jsonb_build_object('initial', g),
                           resource => CASE WHEN g % 5 < 2 THEN 'manim' END))
  FROM generate_series(1, 200) g});
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
# Synchronous only once the standby exists (the walreceiver's
# application_name is the node's cluster_name).
$primary->safe_psql('postgres', q{
ALTER SYSTEM SET synchronous_standby_names = 'standby';
SELECT pg_reload_conf()});
ok($primary->poll_query_until('postgres', q{
SELECT sync_state = 'sync' FROM pg_stat_replication WHERE application_name = 'standby'}),
	'the standby is synchronous');

# Compare the standby's counters with its table while replay is paused, so
# the comparison is exact whatever the counters are built from.
sub compare_on_standby
{
	$primary->wait_for_catchup($standby);
	$standby->safe_psql('postgres', 'SELECT pg_wal_replay_pause()');
	$standby->poll_query_until('postgres',
		q{SELECT pg_get_wal_replay_pause_state() = 'paused'})
	  or die 'replay did not pause';
	my ($found, $compared) = QueueLoad::counter_violations($standby, standby => 1);
	$standby->safe_psql('postgres', 'SELECT pg_wal_replay_resume()');
	return ($found, $compared);
}

my ($found, $compared) = compare_on_standby();
ok(!@$found, 'on the idle hot standby stats() and position() equal the table')
  or diag(join("\n", @$found));
cmp_ok($compared, '>', 0, 'positions were compared on the idle standby');

my $load = QueueLoad->new;
$load->start($primary, 120);    # ends when the primary is killed
my $rounds = 4;
my $standby_compared = 0;
for my $round (1 .. $rounds)
{
	# Let the primary change the queue again, then compare.
	my $target = 150 + $primary->safe_psql('postgres', 'SELECT max(id) FROM queue.jobs');
	$primary->poll_query_until('postgres', "SELECT max(id) >= $target FROM queue.jobs")
	  or die 'the load stopped enqueueing';
	($found, $compared) = compare_on_standby();
	ok(!@$found,
		"while the primary changes the queue (round $round), stats() and position() "
		  . 'on the hot standby equal its table')
	  or diag(join("\n", @$found));
	$standby_compared += $compared;
}
cmp_ok($standby_compared, '>', 0, 'positions were compared on the hot standby under load');
my $before = QueueLoad::sample_counts($primary);

# Failover.
$primary->stop('immediate');
$load->finish(30);
$standby->promote;
is(join("\n", $load->missing_acked_jobs($standby)), '',
	'every enqueue acknowledged by the primary is on the promoted standby');
cmp_ok($load->acked_count, '>', 0, 'the primary acknowledged enqueues');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM queue.jobs WHERE payload ? 'initial'}),
	'200', 'the jobs enqueued before the load are on the promoted standby');
($found, $compared) = QueueLoad::counter_violations($standby);
ok(!@$found, 'right after promotion stats() and position() equal the table')
  or diag(join("\n", @$found));

# The same load on the new primary: the limits must hold exactly.
my $last_sample = QueueLoad::last_sample($standby);
$load->start($standby, 4);
$load->finish(60);
my $after = QueueLoad::sample_counts($standby, $last_sample);
cmp_ok($after->{samples}, '>', 20, 'the new primary was sampled under load');
is($after->{violations}, 0, 'on the new primary no sample is above the effective limits');
diag("sample above the limits $_") foreach @{ $after->{worst} };
cmp_ok($after->{max_processing}, '>=', $QueueLoad::MAX_CONCURRENT,
	'the load reached the global limit on the new primary (the limit was tested)');
($found, $compared) = QueueLoad::counter_violations($standby);
ok(!@$found, 'after the load on the new primary stats() and position() equal the table')
  or diag(join("\n", @$found));
my @trail = QueueLoad::event_violations($standby);
is(scalar(@trail), 0, 'the audit trail agrees with the jobs after the failover')
  or diag(join("\n", @trail[ 0 .. min(9, $#trail) ]));
is($before->{violations}, 0, 'on the old primary no sample was above the effective limits');
my @errors = $load->unexpected_errors;
is(scalar(@errors), 0, 'no client error other than those of the failover')
  or diag(join("\n", @errors[ 0 .. min(9, $#errors) ]));
is($load->hung_clients, 0, 'every client stopped by itself');

note sprintf('jobs acknowledged by the old primary and the new: %d; %s', $load->acked_count,
	QueueLoad::job_summary($standby));
note sprintf('samples: %d on the old primary (at most %d processing, %d manim), '
	  . '%d on the new (at most %d processing, %d manim; %d above the limits)',
	$before->{samples}, $before->{max_processing}, $before->{max_manim}, $after->{samples},
	$after->{max_processing}, $after->{max_manim}, $after->{violations});
note sprintf('positions compared on the standby under load: %d; %d s', $standby_compared,
	time - $started);

$standby->stop;
done_testing();
