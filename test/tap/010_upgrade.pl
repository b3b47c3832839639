# Upgrading a live queue: a server runs an older queue (library and SQL) with
# jobs in every state, renders in flight included; the current library is
# installed and the server restarted; until ALTER EXTENSION queue UPDATE the
# functions refuse with a hint; after it every job is kept, positions leave
# out the job scheduled for later, the counters equal the table, the renders
# in flight complete, the limits hold, and the monitoring pass folds each
# event once, its times into the histograms. It runs from 1.0, the first
# release, and from 1.12, the one before the current.
#
# QUEUE_OLD_SOURCES names a directory with one source tree per old version,
# queue-<version> (test/run-all.sh exports them from git); the current build
# is the one installed in the system, its version the default_version of
# queue.control.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Copy qw(copy);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $old_sources = $ENV{QUEUE_OLD_SOURCES};
my @old_versions = $old_sources ? sort map { m{/queue-([\d.]+)$} ? $1 : () } glob("$old_sources/queue-*") : ();
plan skip_all => 'no old queue sources (QUEUE_OLD_SOURCES; a shallow clone has no history)'
  unless @old_versions;
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
my ($current) = slurp_file("$new_share/queue.control") =~ /default_version = '([\d.]+)'/
  or die 'no default_version in queue.control';
my $current_pattern = quotemeta($current);

# Whether version $version (major.minor) is $since or later: 1.10 comes after 1.9.
sub released_since {
	my ($version, $since) = @_;
	my ($major, $minor) = split /\./, $version;
	my ($since_major, $since_minor) = split /\./, $since;
	return ($major <=> $since_major || $minor <=> $since_minor) >= 0;
}

# Build an old version's library (the extension alone, not the programs
# beside it) and put it in place with its scripts.
sub install_old_version {
	my ($old) = @_;
	my $build = abs_path(PostgreSQL::Test::Utils::tempdir("build-$old"));
	system_or_bail('cp', '-r', "$old_sources/queue-$old/.", $build);
	system_or_bail('make', '-s', '-C', $build, '-j2', "PG_CONFIG=$system/bin/pg_config", 'all');
	my $stage = PostgreSQL::Test::Utils::tempdir("stage-$old");
	copy($_, $stage) or die "copy $_: $!" for glob("$build/queue.control $build/src/sql/queue--*.sql");
	install_version($build, $stage);
}

sub upgrade_from {
	my ($old) = @_;
	note("upgrade from $old");
	my $old_pattern = quotemeta($old);
	install_old_version($old);
	my $node = PostgreSQL::Test::Cluster->new("upgrade_$old",
		install_path => "$prefix/usr/lib/postgresql/15");
	$node->init;
	$node->append_conf('postgresql.conf', qq{
	shared_preload_libraries = 'queue'
	queue.database = 'postgres'
	queue.enabled = off
	});
	$node->start;
	is($node->safe_psql('postgres', q{CREATE EXTENSION queue; SELECT extversion FROM pg_extension
		WHERE extname = 'queue'}), $old, "the server runs queue $old");

	# Jobs in every state, renders in flight on two workers.
	$node->safe_psql('postgres', q{
	DELETE FROM queue.peak_windows;
	SELECT count(queue.enqueue('doubt', jsonb_build_object('n', n))) FROM generate_series(1, 12) n;
	SELECT count(queue.enqueue('topic_short', resource => 'manim')) FROM generate_series(1, 8);
	SELECT queue.enqueue('daily_ca', dedupe_key => 'ca:economy');
	SELECT queue.enqueue('doubt', '{"scheduled": "for later"}', run_at => now() + interval '1 day');
	SELECT queue.register_worker('box-1', capacity => 6);
	SELECT count(*) FROM queue.dequeue('box-1', 6);
	SELECT count(*) FROM queue.dequeue('box-2', 4, ARRAY['manim']);
	SELECT count(queue.complete(id, worker_id)) FROM queue.jobs WHERE status = 'processing' AND id IN (1, 2);
	SELECT count(queue.fail(id, worker_id, 'boom')) FROM queue.jobs WHERE status = 'processing' AND id = 3;
	SELECT queue.cancel(12);
	});
	# A monitoring pass under the old version folds the events so far, where
	# it has one; the enqueue after it leaves one to fold after the update.
	if (released_since($old, '1.3')) {
		$node->safe_psql('postgres', 'SELECT queue.tick()');
		$node->safe_psql('postgres', q{SELECT queue.enqueue('doubt', '{"after": "the last old pass"}')});
	}
	my $jobs = q{SELECT string_agg(format('%s:%s:%s:%s:%s', id, status, attempts, worker_id, payload),
		' ' ORDER BY id) FROM queue.jobs};
	my $before = $node->safe_psql('postgres', $jobs);
	my $in_flight = $node->safe_psql('postgres',
		q{SELECT count(*) FROM queue.jobs WHERE status = 'processing'});
	is($in_flight, '7', 'seven renders are in flight (three still on box-1, four manim on box-2)');

	# The current library arrives; the server restarts under the renders.
	$node->stop('fast');
	install_version($new_lib, $new_share);
	$node->start;
	my ($rc, $stdout, $stderr) = $node->psql('postgres', 'SELECT queued FROM queue.stats()');
	like($stderr, qr/queue's SQL objects are at version $old_pattern, its library at $current_pattern.*\n.*HINT:  Run ALTER EXTENSION queue UPDATE/,
		'before the update, functions refuse with a hint to update');

	$node->safe_psql('postgres', 'ALTER EXTENSION queue UPDATE');
	my $folded_from = $node->safe_psql('postgres', 'SELECT coalesce(max(id), 0) FROM queue.job_events');
	is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'queue'}),
		$current, "the extension is at $current");
	is($node->safe_psql('postgres', $jobs), $before, 'every job is kept as it was');
	is($node->safe_psql('postgres', q{
	SELECT count(*) FROM queue.jobs j
	 WHERE status = 'queued' AND queue.position(id) IS DISTINCT FROM 1 + (
	       SELECT count(*) FROM queue.jobs o WHERE o.status = 'queued' AND o.run_at <= now()
	          AND (o.priority, o.id) < (j.priority, j.id))}), '0',
		'positions leave out the job scheduled for later under the old version');

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
		"the renders claimed under $old complete with their attempt under $current");
	$node->safe_psql('postgres', q{
	SELECT count(queue.enqueue('topic_short', resource => 'manim')) FROM generate_series(1, 10);
	SELECT count(*) FROM queue.dequeue('box-1', 100);});
	is($node->safe_psql('postgres', q{SELECT format('%s %s',
		count(*) FILTER (WHERE status = 'processing'),
		count(*) FILTER (WHERE status = 'processing' AND resource = 'manim')) FROM queue.jobs}),
		'10 4', 'new claims stop at the global limit of 10, manim at its 4');
	is($node->safe_psql('postgres', q{SELECT queue.enqueue('daily_ca', dedupe_key => 'ca:economy')}),
		$node->safe_psql('postgres', q{SELECT id FROM queue.jobs WHERE dedupe_key = 'ca:economy'}),
		"a dedupe key from $old still finds its job");
	@counts = split /\n/, $node->safe_psql('postgres', $counters);
	is($counts[0], $counts[1], "the counters still equal the table ($counts[1])");

	# Each event once in the totals: since the update to 1.3 started them, so
	# every event of a queue created at 1.3 or later and those after the update
	# of an older one. (Events of 1.0 before the update are not folded.)
	my $first_folded = released_since($old, '1.3') ? 0 : $folded_from;
	$node->safe_psql('postgres', 'SELECT queue.tick()');
	my $events = $node->safe_psql('postgres', qq{
	SELECT format('%s enqueued, %s started', count(*) FILTER (WHERE from_status IS NULL),
	              count(*) FILTER (WHERE from_status = 'queued' AND to_status = 'processing'))
	  FROM queue.job_events WHERE id > $first_folded});
	is($node->safe_psql('postgres', q{
	SELECT format('%s enqueued, %s started', sum(enqueued), sum(started)) FROM queue.job_type_totals}),
		$events, "the monitoring pass folds each event once into the totals ($events)");
	# Each start's wait in the histograms, folded before the update and after.
	my $waits = $node->safe_psql('postgres', q{
	SELECT format('%s waits of %s starts', sum(wait_buckets[cardinality(wait_buckets)]), sum(started))
	  FROM queue.job_type_totals});
	my ($waited, $started) = $waits =~ /^(\d+) waits of (\d+) starts$/ or die "no totals: $waits";
	is($waited, $started, "every start's wait is in the histograms ($waits)");

	# The job scheduled for later waits from its run_at, through the index of
	# such jobs built by the update: due an hour ago, a day after its
	# enqueue, it has waited longest of its priority.
	$node->safe_psql('postgres', q{UPDATE queue.jobs SET enqueued_at = now() - interval '1 day',
		run_at = now() - interval '1 hour' WHERE payload ? 'scheduled'});
	is($node->safe_psql('postgres', q{
	SELECT format('%s %s', date_trunc('minute', w.oldest_wait), date_trunc('minute', s.oldest_queued_age))
	  FROM queue.oldest_waits() w, queue.stats() s WHERE w.priority = 'high'}), '01:00:00 01:00:00',
		'the job scheduled for later waits from its run_at');
	$node->stop;
}

upgrade_from($_) for @old_versions;
done_testing();
