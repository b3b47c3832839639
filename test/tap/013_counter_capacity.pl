# The counters' room is fixed: queued jobs whose ids are spread over more
# blocks than the position counters have room for (ids cost nothing to
# spread: a rolled-back enqueue uses one up) move this database's positions
# to counts of the table. Enqueues, claims and positions go on, exact; the
# counters never grow past their room; a restart counts the same way, and
# once the jobs fit again, the counters take the positions back.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('counter_capacity');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'queue'
queue.enabled = off
queue.max_counters = 1024
queue.tick_interval = '10ms'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION queue;
UPDATE queue.settings SET max_concurrent = 100000;
DELETE FROM queue.peak_windows;
});

# Every queued job's position against its place in dispatch order, and the
# counters against the table.
my $misplaced = q{
SELECT count(*) FROM (
  SELECT queue.position(id) AS position, row_number() OVER (ORDER BY priority, id) AS place
    FROM queue.jobs WHERE status = 'queued') p
 WHERE position IS DISTINCT FROM place};
my $counts = q{
SELECT format('%s/%s', s.queued, (SELECT count(*) FROM queue.jobs WHERE status = 'queued'))
  FROM queue.stats() s};

# 1,500 queued jobs, each in a block of ids of its own, in all priorities:
# a counter for each block, past the 768 the counters keep room for.
my $offset = -s $node->logfile;
$node->safe_psql('postgres', q{
INSERT INTO queue.jobs (id, job_type, priority, owner, max_attempts, timeout)
OVERRIDING SYSTEM VALUE
SELECT i * 256, 'daily_ca', (ARRAY['high', 'medium', 'low'])[1 + i % 3]::queue.priority,
       current_user::regrole, 4, '10 minutes'
  FROM generate_series(1, 1500) i;
SELECT setval('queue.jobs_id_seq', 1501 * 256);
});
ok($node->log_contains('positions in database \d+ are counted in the table', $offset),
	'spread ids move the positions to the table, and the server log says so');
is($node->safe_psql('postgres', q{SELECT queue.enqueue('doubt') > 0}), 't',
	'enqueues go on');
is($node->safe_psql('postgres', $misplaced), '0', 'every position is its place in dispatch order');
is($node->safe_psql('postgres', $counts), '1501/1501', 'the counters equal the table');
# The first 100 low jobs scheduled for later: the oldest waits pass over
# them in the table, the counters of their blocks gone with the others.
is($node->safe_psql('postgres', q{
UPDATE queue.jobs SET run_at = now() + interval '1 day'
 WHERE id IN (SELECT id FROM queue.jobs WHERE priority = 'low' ORDER BY id LIMIT 100);
SELECT count(*) FROM queue.oldest_waits() w
 WHERE w.oldest_wait IS DISTINCT FROM (
       SELECT now() - min(greatest(j.run_at, j.enqueued_at)) FROM queue.jobs j
        WHERE j.status = 'queued' AND j.priority = w.priority AND j.run_at <= now());
UPDATE queue.jobs SET run_at = enqueued_at WHERE run_at > now();}), '0',
	'the oldest waits leave out the jobs scheduled for later');
is($node->safe_psql('postgres', q{SELECT id FROM queue.dequeue('w1', 1)}), '768',
	'a claim takes the first job in dispatch order');

# A restart counts the table again, into the same room.
$offset = -s $node->logfile;
$node->restart;
is($node->safe_psql('postgres', $misplaced), '0', 'after a restart, positions are exact');
ok($node->log_contains('positions in database \d+ are counted in the table', $offset),
	'... counted in the table again');
is($node->safe_psql('postgres', $counts), '1500/1500', '... and the counters equal the table');

# Most jobs leave, and the blocks fit again. While a transaction that wrote
# queue.jobs stays open, passes leave the positions in the table (a rebuild
# would wait for that transaction, and every caller behind it), and nobody
# waits; once it ends, a pass rebuilds the counters and they take the
# positions back. (A pass checks every 60 tick intervals: 0.6 s here.)
$node->safe_psql('postgres', q{DELETE FROM queue.jobs WHERE id > 100 * 256 AND id < 1500 * 256});
my $writer = $node->background_psql('postgres');
$writer->query_safe('BEGIN');
$writer->query_safe(q{SELECT queue.enqueue('doubt')});
$offset = -s $node->logfile;
my $passes_done = passes_for(1.5, q{SET statement_timeout = '5s'});
ok($passes_done, 'passes and stats() beside an open writer do not wait');
ok(!$node->log_contains('counted by the counters again', $offset),
	'... nor take the positions back meanwhile');
is($node->safe_psql('postgres', $misplaced), '0', '... and positions stay exact');
$writer->query_safe('COMMIT');
$writer->quit;
my $deadline = time + 10;
passes_for(0.2, '') until $node->log_contains('counted by the counters again', $offset)
  || time > $deadline;
ok($node->log_contains('positions in database \d+ are counted by the counters again', $offset),
	'once it ends, a pass gives the positions back to the counters');
is($node->safe_psql('postgres', $counts), '102/102', 'the counters equal the table');
is($node->safe_psql('postgres', $misplaced), '0', 'positions from the counters are exact');
is($node->safe_psql('postgres', q{SELECT queue.enqueue('doubt') > 0}), 't', 'enqueues go on');
is($node->safe_psql('postgres', $misplaced), '0', '... and positions with them');

# The counters the limits need fill the rest of the room, and no more: a
# change that needs more of them fails (the hash does not grow into the
# server's other shared memory, which the lock manager of every database
# grows into) and changes nothing.
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
INSERT INTO queue.jobs (job_type, priority, owner, max_attempts, timeout, status, attempts,
                        started_at, deadline, worker_id)
SELECT 'doubt', 'high', current_user::regrole, 4, '10 minutes', 'processing', 1,
       now(), now() + interval '10 minutes', 'farm-' || i
  FROM generate_series(1, 1100) i});
like($stderr, qr/queue counters are full/,
	'a worker id past the room: the change fails with "queue counters are full"');
is($node->safe_psql('postgres', $counts), '103/103', '... and the counters equal the table');

# Passes, each followed by stats(), for `seconds` (a multiple of the
# interval at which a pass checks); true when every call succeeded.
sub passes_for {
	my ($seconds, $settings) = @_;
	my $until = time + $seconds;
	while (time < $until) {
		my ($ret) = $node->psql('postgres',
			"$settings; SELECT count(*) FROM queue.tick(); SELECT queued FROM queue.stats()");
		return 0 if $ret != 0;
	}
	return 1;
}

$node->stop;
done_testing();
