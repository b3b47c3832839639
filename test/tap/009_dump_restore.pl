# pg_dump and pg_restore give back exactly the jobs, their history, the
# render workers, the batches and the configuration (admin edits kept,
# deleted defaults kept deleted), with counters equal to the restored table
# and ids that continue where the dump left them. Then, after a restart, an
# admin's bulk UPDATE is the first statement: the counters are rebuilt before
# it and count each of its rows once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'queue'
queue.enabled = off
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE source');
$node->safe_psql('source', q{
CREATE EXTENSION queue;
-- Admin edits: changed defaults, a deleted default, new rows.
UPDATE queue.settings SET max_concurrent = 14, timezone = 'Asia/Kolkata';
UPDATE queue.resources SET max_concurrent = 3 WHERE resource = 'manim';
INSERT INTO queue.resources (resource, max_concurrent) VALUES ('blender', 2);
DELETE FROM queue.peak_windows WHERE starts = '20:00';
UPDATE queue.job_types SET expected_duration = '2 minutes' WHERE job_type = 'doubt';
INSERT INTO queue.job_types (job_type, priority, resource) VALUES ('exam_recap', 'medium', 'blender');
-- Jobs in every state.
SELECT count(queue.enqueue('doubt', jsonb_build_object('n', n))) FROM generate_series(1, 12) n;
SELECT count(queue.enqueue('exam_recap')) FROM generate_series(1, 3);
SELECT queue.register_worker('box-1', capacity => 6);
SELECT count(*) FROM queue.dequeue('box-1', 6);
SELECT count(queue.complete(id, 'box-1')) FROM queue.jobs WHERE status = 'processing' AND id % 3 = 0;
SELECT count(queue.fail(id, 'box-1', 'boom')) FROM queue.jobs WHERE status = 'processing' AND id % 3 = 1;
SELECT queue.cancel(15);
SELECT queue.enqueue_batch('daily_ca', 'morning', ARRAY['{}', '{}']::jsonb[]);
});

# Everything a restore must give back, as text to compare.
my $snapshot = q{
SELECT 'settings', (SELECT row_to_json(s)::text FROM queue.settings s)
UNION ALL SELECT 'resources', string_agg(row_to_json(r)::text, ',' ORDER BY resource) FROM queue.resources r
UNION ALL SELECT 'job_types', string_agg(row_to_json(t)::text, ',' ORDER BY job_type) FROM queue.job_types t
UNION ALL SELECT 'peak_windows', string_agg(row_to_json(w)::text, ',' ORDER BY starts) FROM queue.peak_windows w
UNION ALL SELECT 'jobs', md5(string_agg(row_to_json(j)::text, ',' ORDER BY id)) FROM queue.jobs j
UNION ALL SELECT 'job_events', md5(string_agg(row_to_json(e)::text, ',' ORDER BY id)) FROM queue.job_events e
UNION ALL SELECT 'workers', string_agg(row_to_json(w)::text, ',' ORDER BY worker_id) FROM queue.workers w
UNION ALL SELECT 'batches', string_agg(batch_key || ':' || jobs, ',') FROM queue.batches
};
# The counters against the table, as one line.
my $counters = q{
SELECT format('%s/%s/%s/%s/%s/%s high %s manim %s blender %s', s.queued, s.retrying, s.processing,
              s.completed, s.failed, s.cancelled, s.queued_high,
              s.processing_by_resource -> 'manim' ->> 'running',
              s.processing_by_resource -> 'blender' ->> 'running')
  FROM queue.stats() s
UNION ALL
SELECT format('%s/%s/%s/%s/%s/%s high %s manim %s blender %s',
              count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'retrying'),
              count(*) FILTER (WHERE status = 'processing'), count(*) FILTER (WHERE status = 'completed'),
              count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'cancelled'),
              count(*) FILTER (WHERE status = 'queued' AND priority = 'high'),
              count(*) FILTER (WHERE status = 'processing' AND resource = 'manim'),
              count(*) FILTER (WHERE status = 'processing' AND resource = 'blender'))
  FROM queue.jobs
};

# The global limit the restored settings give now: max_concurrent 14, and 21
# while the restored morning peak window (06:00-09:00 Asia/Kolkata, x1.5) is
# open, whenever the test runs.
sub restored_limit {
	return $node->safe_psql('target', 'SELECT CASE WHEN queue.is_peak_hour() THEN 21 ELSE 14 END');
}

my $before = $node->safe_psql('source', $snapshot);
my $dump = $node->basedir . '/source.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('source'), '-f', $dump ], 'pg_dump');

$node->safe_psql('postgres', 'CREATE DATABASE target');
my ($stdout, $stderr);
my $restored = $node->run_log([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('target'), $dump ]);
ok($restored, 'pg_restore runs without an error');

is($node->safe_psql('target', $snapshot), $before,
	'jobs, history, workers, batches and configuration come back exactly');
my @counts = split /\n/, $node->safe_psql('target', $counters);
is($counts[0], $counts[1], "the counters equal the restored table ($counts[1])");

# The restored queue goes on: new ids follow the old ones, limits hold.
my $max_before = $node->safe_psql('source', 'SELECT max(id) FROM queue.jobs');
cmp_ok($node->safe_psql('target', q{SELECT queue.enqueue('doubt')}), '>', $max_before,
	'a new job gets an id after the restored ones');
$node->safe_psql('target', q{
SELECT count(queue.enqueue('doubt')) FROM generate_series(1, 20);
SELECT count(*) FROM queue.dequeue('box-2', 100);});
my $limit = restored_limit();
is($node->safe_psql('target', q{SELECT count(*) FROM queue.jobs WHERE status = 'processing'}),
	$limit, "claims after the restore stop at the restored limit ($limit)");
@counts = split /\n/, $node->safe_psql('target', $counters);
is($counts[0], $counts[1], "the counters still equal the table ($counts[1])");

$node->restart;
$node->safe_psql('target', q{UPDATE queue.jobs SET status = 'queued' WHERE status = 'processing'});
@counts = split /\n/, $node->safe_psql('target', $counters);
is($counts[0], $counts[1], "after a restart and a bulk UPDATE the counters equal the table ($counts[1])");
$node->safe_psql('target', q{SELECT count(*) FROM queue.dequeue('box-3', 100)});
$limit = restored_limit();
is($node->safe_psql('target', q{SELECT count(*) FROM queue.jobs WHERE status = 'processing'}),
	$limit, "and claims stop at the limit again ($limit)");

$node->stop;
done_testing();
