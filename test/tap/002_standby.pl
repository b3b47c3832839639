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
# No peak windows: the limit is 10 whatever the hour the test runs at.
$primary->safe_psql('postgres', 'CREATE EXTENSION queue; DELETE FROM queue.peak_windows');
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
is($standby->safe_psql('postgres', q{SELECT status FROM queue.jobs WHERE id = 1}), 'processing',
	'the overdue attempt is replicated and left alone on the standby');
my $idle_lines = () = slurp_file($standby->logfile) =~ /hot standby; waiting for promotion/g;
is($idle_lines, 1, 'the idle state is logged once, not on every check');

# Positions and stats on the standby come from the replicated table, not
# from counters that replay never updates: they follow the primary's changes.
my $counts = q{
SELECT format('%s/%s/%s high %s', s.queued, s.processing, s.completed, s.queued_high) FROM queue.stats() s
UNION ALL
SELECT format('%s/%s/%s high %s', count(*) FILTER (WHERE status = 'queued'),
              count(*) FILTER (WHERE status = 'processing'), count(*) FILTER (WHERE status = 'completed'),
              count(*) FILTER (WHERE status = 'queued' AND priority = 'high'))
  FROM queue.jobs};
my $positions = q{
SELECT string_agg(format('%s:%s', j.id, queue.position(j.id)), ' ' ORDER BY j.id)
  FROM queue.jobs j WHERE j.status = 'queued'
UNION ALL
SELECT string_agg(format('%s:%s', j.id, (SELECT count(*) + 1 FROM queue.jobs a
                                          WHERE a.status = 'queued' AND (a.priority, a.id) < (j.priority, j.id))),
                  ' ' ORDER BY j.id)
  FROM queue.jobs j WHERE j.status = 'queued'};
$primary->safe_psql('postgres', q{
SELECT count(queue.enqueue('daily_ca')) FROM generate_series(1, 6);
SELECT count(queue.enqueue('doubt')) FROM generate_series(1, 6);
SELECT count(*) FROM queue.dequeue('render-3', 4);});
foreach my $round (1, 2) {
	$primary->wait_for_catchup($standby);
	my @c = split /\n/, $standby->safe_psql('postgres', $counts);
	is($c[0], $c[1], "round $round: stats on the standby equal its table ($c[1])");
	my @p = split /\n/, $standby->safe_psql('postgres', $positions);
	is($p[0], $p[1], "round $round: positions on the standby equal a count of its table");
	$primary->safe_psql('postgres', q{
SELECT count(queue.complete(id, 'render-3')) FROM queue.jobs WHERE worker_id = 'render-3' AND status = 'processing';
SELECT count(queue.enqueue('doubt')) FROM generate_series(1, 3);
SELECT count(*) FROM queue.dequeue('render-3', 6);});
}
$primary->wait_for_catchup($standby);

$primary->stop;
$standby->promote;
ok($standby->poll_query_until('postgres',
	q{SELECT status IN ('retrying', 'queued') FROM queue.jobs WHERE id = 1}),
	'after promotion the worker times out the attempt by itself');
# The renders running at the failover count against the limit on the new
# primary: claims stop at 10 in all.
$standby->safe_psql('postgres', q{
SELECT count(queue.enqueue('topic_short')) FROM generate_series(1, 10);
SELECT count(*) FROM queue.dequeue('render-2', 100);});
is($standby->safe_psql('postgres', q{SELECT count(*) FROM queue.jobs WHERE status = 'processing'}),
	'10', 'the promoted server claims up to the limit of 10, counting the renders replicated as running');
my @after = split /\n/, $standby->safe_psql('postgres', $counts);
is($after[0], $after[1], "after promotion the counters equal the table ($after[1])");

$standby->stop;
done_testing();
