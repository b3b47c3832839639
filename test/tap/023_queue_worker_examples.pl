# The client examples in examples/ run against a live server, so they cannot
# rot: the Python worker (psycopg 3) and the Go worker (pgx v4, built offline
# from Debian's packages) each render a small batch with --once: two jobs
# complete with their result, one whose render fails ends failed.
use strict;
use warnings;
use File::Spec;
use FindBin;
use lib $FindBin::RealBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use QueueWorker;

my $examples = "$FindBin::RealBin/../../examples";
my $node = QueueWorker::new_node('queue_worker_examples');
$node->safe_psql('postgres', q{UPDATE queue.settings SET max_retries = 0});
my $dsn = $node->connstr('postgres');
my $scratch = File::Spec->rel2abs(PostgreSQL::Test::Utils::tempdir());   # GOCACHE must be absolute

# Run an example worker until it is idle; its output.
sub run_example
{
	my ($name, @command) = @_;
	my ($out, $err) = ('', '');
	my $ran = eval {
		IPC::Run::run(\@command, '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(120));
	};
	ok($ran, "the $name worker exits 0") or diag("$name: $@\n$out\n$err");
	return $out . $err;
}

sub check_batch
{
	my ($name, $worker_id, $output) = @_;
	is($node->safe_psql('postgres', qq{
SELECT string_agg(status || ' ' || coalesce(result->>'url', last_error) || ' '
                  || coalesce(result->'input'->>'n', '-'), ', ' ORDER BY id)
  FROM queue.jobs WHERE worker_id = '$worker_id'}),
		'completed https://cdn.example/v/doubt.mp4 1, failed renderer crashed -, '
		  . 'completed https://cdn.example/v/topic_short.mp4 3',
		"$name: jobs complete with their results, a failing render fails");
	like($output, qr/completed/, "$name: it says what it did");
	is($node->safe_psql('postgres',
			qq{SELECT state FROM queue.workers WHERE worker_id = '$worker_id'}),
		'active', "$name: it registered");
}

sub enqueue_batch
{
	$node->safe_psql('postgres', q{
SELECT queue.enqueue('doubt', '{"n": 1}');
SELECT queue.enqueue('doubt', '{"fail": true}');
SELECT queue.enqueue('topic_short', '{"n": 3}');
});
}

enqueue_batch();
my $output = run_example('Python', '/usr/bin/python3', "$examples/python/worker.py", $dsn,
	'py-box', '--once');
check_batch('Python', 'py-box', $output);

my ($go) = map { "$_/go" } grep { -x "$_/go" } split /:/, $ENV{PATH};
ok(defined $go, 'go is installed (golang-go)')
  or BAIL_OUT('go is missing: run test/install-deps.sh');
my $build_output = '';
my $built = IPC::Run::run(
	[ 'env', 'GO111MODULE=off', 'GOPATH=/usr/share/gocode', "GOCACHE=$scratch/gocache",
		"HOME=$scratch", $go, 'build', '-o', "$scratch/go-worker", "$examples/go/worker.go" ],
	'<', \undef, '>&', \$build_output, IPC::Run::timeout(300));
ok($built, 'the Go worker builds offline from Debian\'s pgx v4') or diag($build_output);
enqueue_batch();
$output = run_example('Go', "$scratch/go-worker", $dsn, 'go-box', '--once');
check_batch('Go', 'go-box', $output);

$node->stop;
done_testing();
