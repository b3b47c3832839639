# queue-worker against a live server, with real child processes: jobs
# complete through --exec (payload on stdin, QUEUE_* in the environment, JSON
# stdout as the result); a failing command is retried and then fails; a
# permanent exit code fails at once; cancel() kills the render's whole process
# group (SIGKILL after the grace when it ignores SIGTERM); a render past its
# deadline is killed; a stale attempt's result is refused while the newer
# attempt's is taken; SIGTERM drains and leaves nothing processing.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use QueueWorker;

QueueWorker::binary();    # stop at once when the build is missing
my $node = QueueWorker::new_node('queue_worker');
$node->safe_psql('postgres', q{
UPDATE queue.settings SET max_retries = 2;
UPDATE queue.job_types SET timeout = '2 seconds' WHERE job_type = 'daily_ca';
});

# The "renderer": what it does is chosen by the payload's "do". It records
# every run and its process group (that of the worker's `sh -c`, whose child
# this script is).
my $dir = PostgreSQL::Test::Utils::tempdir();
open(my $script, '>', "$dir/render.sh") or die $!;
print $script <<"SH";
#!/bin/sh
payload=\$(cat)
echo "\$QUEUE_JOB_ID \$QUEUE_ATTEMPT" >> $dir/runs
cut -d' ' -f5 /proc/\$\$/stat > $dir/group-\$QUEUE_JOB_ID-\$QUEUE_ATTEMPT
case "\$payload" in
  *'"do": "ok"'*)
    printf '{"got": %s, "type": "%s", "attempt": %s, "worker": "%s", "has_deadline": %s}' \\
      "\$payload" "\$QUEUE_JOB_TYPE" "\$QUEUE_ATTEMPT" "\$QUEUE_WORKER_ID" \\
      "\$([ -n "\$QUEUE_DEADLINE" ] && echo true || echo false)" ;;
  *'"do": "plain"'*) echo "rendered 120 frames" ;;
  *'"do": "flaky"'*) echo "progress 10%"; echo "transient trouble" >&2; exit 3 ;;
  *'"do": "bad"'*) echo "invalid LaTeX" >&2; exit 65 ;;
  *'"do": "forever"'*) sleep 300 & echo \$! > $dir/child-\$QUEUE_JOB_ID-\$QUEUE_ATTEMPT; wait ;;
  *'"do": "stubborn"'*)
    trap '' TERM
    sleep 300 & echo \$! > $dir/child-\$QUEUE_JOB_ID-\$QUEUE_ATTEMPT; wait ;;
  *'"do": "gate"'*)
    while [ ! -e $dir/open-\$QUEUE_JOB_ID ]; do sleep 0.1; done
    echo "{\\"attempt\\": \$QUEUE_ATTEMPT}" ;;
esac
SH
close($script);
chmod 0755, "$dir/render.sh";

# A worker the server refuses for good (an unknown resource) says why and exits 1.
my $refused = QueueWorker->start($node, id => 'render-0',
	args => [ '--resources', 'blender', '--exec', 'true' ]);
is($refused->finish(30) >> 8, 1, 'a worker with an unknown resource exits 1');
like($refused->log_text, qr/fatal worker=render-0 sqlstate=22023 .*blender/,
	'after saying what the server refused');

my $worker = QueueWorker->start($node, id => 'render-1', args => [
	'--capacity', '4', '--exec', "$dir/render.sh", '--permanent-exit-codes', '65',
	'--heartbeat-interval', '300ms', '--poll-interval', '500ms', '--kill-grace', '1s',
	'--shutdown-grace', '1s' ]);
ok($worker->wait_for_log(qr/ connected worker=render-1/), 'the worker connects and registers');
is($node->safe_psql('postgres',
		q{SELECT state || ' ' || capacity FROM queue.workers WHERE worker_id = 'render-1'}),
	'active 4', 'it is registered with its capacity');

sub enqueue
{
	my ($type, $what) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT queue.enqueue('$type', '{"do": "$what", "n": 7}')});
}

sub wait_for_file
{
	my ($path) = @_;
	my $until = time + 30;
	usleep(50_000) while !-e $path && time < $until;
	return -e $path;
}

sub job
{
	my ($id, $columns) = @_;
	return $node->safe_psql('postgres', "SELECT $columns FROM queue.jobs WHERE id = $id");
}

# Wait until the job's status is $status.
sub job_becomes
{
	my ($id, $status) = @_;
	return $node->poll_query_until('postgres',
		"SELECT status = '$status' FROM queue.jobs WHERE id = $id");
}

# Exit codes and results.
my $ok     = enqueue('doubt', 'ok');
my $plain  = enqueue('doubt', 'plain');
my $flaky  = enqueue('topic_short', 'flaky');
my $bad    = enqueue('topic_short', 'bad');
ok($node->poll_query_until('postgres', qq{
SELECT count(*) = 4 FROM queue.jobs WHERE id IN ($ok, $plain, $flaky, $bad)
   AND status IN ('completed', 'failed')}), 'the first jobs end');
is(job($ok, q{status || ' ' || attempts || ' ' || (result->'got'->>'n') || ' ' || (result->>'type')
		|| ' ' || (result->>'attempt') || ' ' || (result->>'worker')
		|| ' ' || (result->>'has_deadline')}),
	'completed 1 7 doubt 1 render-1 true',
	'exit 0 completes; the payload came on stdin, the job in QUEUE_*, stdout is the result');
is(job($plain, q{status || ' ' || coalesce(result::text, 'NULL')}), 'completed NULL',
	'stdout that is not JSON gives no result');
is(job($flaky, q{status || ' ' || attempts || ' ' || last_error}),
	'failed 3 exit 3: transient trouble',
	'a failing command is retried, then fails with the tail of stderr');
is(job($bad, q{status || ' ' || attempts || ' ' || last_error}), 'failed 1 exit 65: invalid LaTeX',
	'a permanent exit code fails at once');

# cancel(): a render that ignores SIGTERM, and its child, are killed: the
# worker's shell dies of SIGTERM, and SIGKILL ends what is left of the group.
my $stubborn = enqueue('topic_short', 'stubborn');
ok(wait_for_file("$dir/child-$stubborn-1"), 'the stubborn render runs');
my $group = slurp_file("$dir/group-$stubborn-1");
chomp $group;
ok(QueueWorker::group_alive($group), 'its process group is alive');
is($node->safe_psql('postgres', "SELECT queue.cancel($stubborn, 'student left')"), 't',
	'cancel() of the running job is accepted');
ok(job_becomes($stubborn, 'cancelled'), 'the job ends cancelled');
ok(QueueWorker::groups_gone($group), 'the whole process group is gone');
like($worker->log_text,
	qr/cancel_requested worker=render-1 job=$stubborn .*stopping worker=render-1 job=$stubborn reason=cancelled/s,
	'the heartbeat told the worker, which stopped the render');

# A render still running at its deadline (daily_ca: 2 s) is killed, on
# every attempt, until the attempts run out.
my $overdue = enqueue('daily_ca', 'forever');
ok(job_becomes($overdue, 'failed'), 'the overdue job fails after its attempts');
my @groups = map { my $g = slurp_file("$dir/group-$overdue-$_"); chomp $g; $g } 1 .. 3;
ok(QueueWorker::groups_gone(@groups), 'no render of it is left running');
my $stopped = () = $worker->log_text =~ /stopping worker=render-1 job=$overdue reason=deadline/g;
cmp_ok($stopped, '>=', 1, 'the worker stopped it at its deadline');

# A stale result: the job is put back in line by hand and claimed again while
# the first attempt still renders. Attempt 1's result is refused, attempt 2's taken.
my $gated = enqueue('doubt', 'gate');
ok($worker->wait_for_log(qr/claimed worker=render-1 job=$gated attempt=1/), 'attempt 1 runs');
$node->safe_psql('postgres', "UPDATE queue.jobs SET status = 'queued' WHERE id = $gated");
ok($worker->wait_for_log(qr/claimed worker=render-1 job=$gated attempt=2/),
	'attempt 2 runs beside it');
open(my $gate, '>', "$dir/open-$gated") or die $!;
close($gate);
ok($worker->wait_for_log(qr/report_refused worker=render-1 job=$gated attempt=1/),
	'the stale attempt\'s result is refused and logged');
ok(job_becomes($gated, 'completed'), 'the job completes');
is(job($gated, q{attempts || ' ' || (result->>'attempt')}), '2 2',
	'with the newer attempt\'s result');

# SIGTERM: no new claims, running renders stopped after the grace and failed
# retryably; nothing is left processing.
my @long = (enqueue('topic_short', 'forever'), enqueue('topic_short', 'forever'));
ok(wait_for_file("$dir/child-$long[0]-1") && wait_for_file("$dir/child-$long[1]-1"),
	'two long renders run');
@groups = map { my $g = slurp_file("$dir/group-$_-1"); chomp $g; $g } @long;
$worker->signal('TERM');
ok($worker->wait_for_log(qr/shutting_down worker=render-1/), 'SIGTERM starts the shutdown');
my $late = enqueue('doubt', 'ok');
is($worker->finish(30), 0, 'the worker exits 0');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM queue.jobs WHERE status = 'processing'}), '0',
	'nothing is left processing');
is($node->safe_psql('postgres', qq{
SELECT string_agg(DISTINCT status || ' ' || attempts || ' ' || last_error, ', ')
  FROM queue.jobs WHERE id IN ($long[0], $long[1])}), 'queued 1 worker shutting down',
	'the stopped renders are back in line with "worker shutting down"');
ok(QueueWorker::groups_gone(@groups), 'their process groups are gone');
is(job($late, q{status || ' ' || attempts}), 'queued 0',
	'a job enqueued during the drain was not claimed');
is($node->safe_psql('postgres', q{SELECT state FROM queue.workers WHERE worker_id = 'render-1'}),
	'draining', 'the worker is marked draining');

$node->stop;
done_testing();
