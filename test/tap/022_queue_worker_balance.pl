# Two queue-workers with different capacities share a global limit as the
# balancing rules say: with capacities 6 and 2 over a limit of 4, each is
# guaranteed its share of the limit in proportion to its capacity (3 and 1);
# while both wait for slots, neither holds more than its share for long, the
# limit is never exceeded, and the larger worker renders about three quarters.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use QueueWorker;

QueueWorker::binary();
my $jobs = 48;
my $node = QueueWorker::new_node('queue_worker_balance');
$node->safe_psql('postgres', q{UPDATE queue.settings SET max_concurrent = 4});

my @args = ('--heartbeat-interval', '500ms', '--poll-interval', '200ms',
	'--exec', q{sleep 0.6; echo '{}'});
my $big = QueueWorker->start($node, id => 'big', args => [ '--capacity', '6', @args ]);
my $small = QueueWorker->start($node, id => 'small', args => [ '--capacity', '2', @args ]);
ok($big->wait_for_log(qr/ connected /) && $small->wait_for_log(qr/ connected /),
	'both workers connect');
$node->safe_psql('postgres',
	"SELECT queue.enqueue('doubt', jsonb_build_object('n', i)) FROM generate_series(1, $jobs) i");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = $jobs FROM queue.jobs WHERE status = 'completed'"),
	'every job completes');

# Renders running at once, per worker and in all, at every start of a render
# (one attempt per job: started_at .. finished_at is the render). Both are the
# start times of their transactions (now()), so a claim that waited a moment
# for a slot can seem to overlap the render whose end freed it by a few
# milliseconds: only overlaps of more than 100 ms count (a render takes 600).
my $concurrency = q{
WITH r AS (SELECT id, worker_id, started_at AS s, finished_at AS f FROM queue.jobs),
     at_start AS (
       SELECT r.id, count(*) AS total, count(*) FILTER (WHERE o.worker_id = 'big') AS big,
              count(*) FILTER (WHERE o.worker_id = 'small') AS small
         FROM r JOIN r o ON o.s <= r.s AND o.f > r.s + interval '100 ms'
        GROUP BY r.id)
};
my ($max_total, $max_big, $max_small) = split /\|/, $node->safe_psql('postgres',
	$concurrency . q{SELECT max(total), max(big), max(small) FROM at_start});
cmp_ok($max_total, '<=', 4, "the global limit held (at most $max_total at once)");
cmp_ok($max_small, '<=', 2, "the small worker never held more than its capacity ($max_small)");
my ($big_done, $small_done) = split /\|/, $node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE worker_id = 'big'), count(*) FILTER (WHERE worker_id = 'small')
  FROM queue.jobs});
note("big rendered $big_done, small $small_done; at most $max_big and $max_small at once");
# Shares 3 and 1 of 4 slots: three quarters for the large worker, give or
# take the start (whoever claims first may hold a slot beyond its share).
cmp_ok($big_done / $jobs, '>=', 0.6, 'the large worker rendered at least 60%');
cmp_ok($big_done / $jobs, '<=', 0.9, 'the small worker rendered at least 10%');

$_->signal('TERM') foreach ($big, $small);
is($big->finish(30), 0, 'the large worker stops cleanly');
is($small->finish(30), 0, 'the small worker stops cleanly');
$node->stop;
done_testing();
