# Upgrading a live queue: a server runs queue 1.0 (library and SQL) with
# jobs in every state, renders in flight included; the current library is
# installed and the server restarted; until ALTER EXTENSION queue UPDATE the
# functions refuse with a hint; after it every job is kept, the counters equal
# the table, the renders in flight complete, and the limits hold.
#
# QUEUE_1_0_SOURCE names a directory with the 1.0 sources (test/run-all.sh
# exports them from git); the current build is the one installed in the system,
# its version the default_version of queue.control.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Copy qw(copy);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $old_source = $ENV{QUEUE_1_0_SOURCE};
plan skip_all => 'no queue 1.0 sources (QUEUE_1_0_SOURCE; a shallow clone has no history)'
  unless $old_source && -d $old_source;
my $system = '/usr/lib/postgresql/15';
my $system_share = '/usr/share/postgresql/15';

# A private copy of the PostgreSQL installation: binaries find their lib and
# share directories relative to themselves, so each version is installed
# into the copy without touching the system's.
my $prefix = abs_path(PostgreSQL::Test::Utils::tempdir('install'));
system_or_bail('mkdir', '-p', "$prefix/usr/lib/postgresql", "$prefix/usr/share/postgresql");
system_or_bail('cp', '-r', $system, "$prefix/usr/lib/postgresql/");
system_or_bail('cp', '-r', $system_share, "$prefix/usr/share/postgresql/");
my $lib = "$prefix/usr/lib/postgresql/15/lib";
my $extension = "$prefix/usr/share/postgresql/15/extension";

# Build 1.0 and stage its files.
my $build = abs_path(PostgreSQL::Test::Utils::tempdir('build'));
system_or_bail('cp', '-r', "$old_source/.", $build);
my $stage = "$build/stage";
system_or_bail('make', '-s', '-C', $build, '-j2', "PG_CONFIG=$system/bin/pg_config");
system_or_bail('make', '-s', '-C', $build, 'install', "DESTDIR=$stage",
	"PG_CONFIG=$system/bin/pg_config");

# Put one version's files in place: the library, the control file and every script.
sub install_version {
	my ($lib_from, $share_from) = @_;
	copy("$lib_from/queue.so", "$lib/queue.so") or die "copy queue.so: $!";
	unlink glob("$extension/queue*");
	copy($_, $extension) or die "copy $_: $!" for glob("$share_from/queue*");
}
my $new_lib = PostgreSQL::Test::Utils::tempdir('new_lib');
my $new_share = PostgreSQL::Test::Utils::tempdir('new_share');
copy("$lib/queue.so", $new_lib) or die;
copy($_, $new_share) or die for glob("$extension/queue*");
install_version("$stage$system/lib", "$stage$system_share/extension");

my $node = PostgreSQL::Test::Cluster->new('upgrade',
	install_path => "$prefix/usr/lib/postgresql/15");
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'queue'
queue.database = 'postgres'
queue.enabled = off
});
$node->start;
is($node->safe_psql('postgres', q{CREATE EXTENSION queue; SELECT extversion FROM pg_extension
	WHERE extname = 'queue'}), '1.0', 'the server runs queue 1.0');

# Jobs in every state, renders in flight on two workers.
$node->safe_psql('postgres', q{
DELETE FROM queue.peak_windows;
SELECT count(queue.enqueue('doubt', jsonb_build_object('n', n))) FROM generate_series(1, 12) n;
SELECT count(queue.enqueue('topic_short', resource => 'manim')) FROM generate_series(1, 8);
SELECT queue.enqueue('daily_ca', dedupe_key => 'ca:economy');
SELECT queue.register_worker('box-1', capacity => 6);
SELECT count(*) FROM queue.dequeue('box-1', 6);
SELECT count(*) FROM queue.dequeue('box-2', 4, ARRAY['manim']);
SELECT count(queue.complete(id, worker_id)) FROM queue.jobs WHERE status = 'processing' AND id IN (1, 2);
SELECT count(queue.fail(id, worker_id, 'boom')) FROM queue.jobs WHERE status = 'processing' AND id = 3;
SELECT queue.cancel(12);
});
my $jobs = q{SELECT string_agg(format('%s:%s:%s:%s:%s', id, status, attempts, worker_id, payload),
	' ' ORDER BY id) FROM queue.jobs};
my $before = $node->safe_psql('postgres', $jobs);
my $in_flight = $node->safe_psql('postgres',
	q{SELECT count(*) FROM queue.jobs WHERE status = 'processing'});
is($in_flight, '7', 'seven renders are in flight (three still on box-1, four manim on box-2)');

# The current library arrives; the server restarts under the renders.
my ($current) = slurp_file("$new_share/queue.control") =~ /default_version = '([\d.]+)'/
  or die 'no default_version in queue.control';
my $current_pattern = quotemeta($current);
$node->stop('fast');
install_version($new_lib, $new_share);
$node->start;
my ($rc, $stdout, $stderr) = $node->psql('postgres', 'SELECT queued FROM queue.stats()');
like($stderr, qr/queue's SQL objects are at version 1\.0, its library at $current_pattern.*\n.*HINT:  Run ALTER EXTENSION queue UPDATE/,
	'before the update, functions refuse with a hint to update');

$node->safe_psql('postgres', 'ALTER EXTENSION queue UPDATE');
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'queue'}),
	$current, "the extension is at $current");
is($node->safe_psql('postgres', $jobs), $before, 'every job is kept as it was');

my $counters = q{
SELECT format('%s/%s/%s/%s/%s/%s manim %s', s.queued, s.retrying, s.processing, s.completed,
              s.failed, s.cancelled, s.processing_by_resource -> 'manim' ->> 'running')
  FROM queue.stats() s
UNION ALL
SELECT format('%s/%s/%s/%s/%s/%s manim %s',
              count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'retrying'),
              count(*) FILTER (WHERE status = 'processing'), count(*) FILTER (WHERE status = 'completed'),
              count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'cancelled'),
              count(*) FILTER (WHERE status = 'processing' AND resource = 'manim'))
  FROM queue.jobs};
my @counts = split /\n/, $node->safe_psql('postgres', $counters);
is($counts[0], $counts[1], "the counters equal the table after the update ($counts[1])");

# The renders in flight finish, fenced by their attempt; new claims stay in limits.
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE queue.complete(id, worker_id, NULL, attempts))
	FROM queue.jobs WHERE status = 'processing' AND worker_id = 'box-1'}), '3',
	"the renders claimed under 1.0 complete with their attempt under $current");
$node->safe_psql('postgres', q{
SELECT count(queue.enqueue('topic_short', resource => 'manim')) FROM generate_series(1, 10);
SELECT count(*) FROM queue.dequeue('box-1', 100);});
is($node->safe_psql('postgres', q{SELECT format('%s %s',
	count(*) FILTER (WHERE status = 'processing'),
	count(*) FILTER (WHERE status = 'processing' AND resource = 'manim')) FROM queue.jobs}),
	'10 4', 'new claims stop at the global limit of 10, manim at its 4');
is($node->safe_psql('postgres', q{SELECT queue.enqueue('daily_ca', dedupe_key => 'ca:economy')}),
	$node->safe_psql('postgres', q{SELECT id FROM queue.jobs WHERE dedupe_key = 'ca:economy'}),
	'a dedupe key from 1.0 still finds its job');
@counts = split /\n/, $node->safe_psql('postgres', $counters);
is($counts[0], $counts[1], "the counters still equal the table ($counts[1])");

$node->stop;
done_testing();
