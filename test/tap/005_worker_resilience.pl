# The background worker under failure and attack:
# (a) a pass that fails every time neither ends nor restarts the process: it
#     backs off exponentially, logs each failure once per backoff step, keeps
#     answering SIGHUP and SIGTERM, and recovers by itself once the cause goes;
# (b) a queue.database that does not exist is said once in the log, nothing
#     connects to it, and the worker starts once the database is created;
# (c) a queue_app member who may create objects in public plants "=" and "<>"
#     operators for the queue's enums, makes search_path hostile and restarts
#     the worker: the worker's passes never run her functions, so she does not
#     become superuser.
# They run as (a), (c), (b): (b) changes queue.database, which needs a restart.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use Time::Local qw(timegm);

my $tick_seconds = 0.2;
my $restart_seconds = 5;    # the launcher's delay before starting a stopped worker again

my $node = PostgreSQL::Test::Cluster->new('resilience');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'queue'
queue.database = 'postgres'
queue.tick_interval = '200ms'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION queue;
DELETE FROM queue.peak_windows;          -- limits fixed whatever the hour
UPDATE queue.settings SET retry_delay = '0', worker_timeout = '1 second';
});
$node->reload;    # wakes the worker, so it finds the extension at once

# The pid of the one running queue worker, once there is exactly one (or
# whatever runs when the wait times out).
sub worker_pid {
	$node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'queue worker'});
	return $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'queue worker'});
}

# Log lines after $offset whose message matches $message, as [epoch seconds, pid].
sub log_lines {
	my ($message, $offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	my @lines;
	while ($log =~
		/^(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)(\.\d+) \S+ \[(\d+)\] [^\n]*?$message/mg)
	{
		push @lines, [ timegm($6, $5, $4, $3, $2 - 1, $1) + $7, $8 ];
	}
	return @lines;
}

# Wait (bounded) until at least $count lines after $offset match $message.
sub wait_for_lines {
	my ($message, $offset, $count) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		my @lines = log_lines($message, $offset);
		return @lines if @lines >= $count;
		usleep(50_000);
	}
	die "timed out waiting for $count log lines matching $message";
}

# Claim a new job and put the attempt past its deadline; returns the job id.
sub overdue_attempt {
	my ($worker) = @_;
	my $id = $node->safe_psql('postgres', qq{
SELECT queue.enqueue('doubt');
SELECT id FROM queue.dequeue('$worker');});
	$id = (split /\n/, $id)[1];
	$node->safe_psql('postgres',
		qq{UPDATE queue.jobs SET deadline = now() - interval '1 s' WHERE id = $id});
	return $id;
}

# Whether the worker has timed out the job's attempt.
sub timed_out {
	my ($id) = @_;
	return $node->poll_query_until('postgres',
		qq{SELECT last_error LIKE 'attempt timed out%' FROM queue.jobs WHERE id = $id});
}

# Every pass fails while this constraint refuses the event of a timeout (NOT
# VALID: earlier timeouts stay; new rows are checked all the same).
my $refuse_timeouts = q{ALTER TABLE queue.job_events ADD CONSTRAINT refuse_timeouts
  CHECK (detail NOT LIKE 'attempt timed out%') NOT VALID};
my $pass_failed = qr/ERROR:  new row for relation "job_events" violates check constraint "refuse_timeouts"/;
my $worker_exited = qr/background worker "queue worker" \(PID \d+\) exited/;

##############################################################################
# (a) Failing passes.
##############################################################################

my $pid = worker_pid();
$node->wait_for_log(qr/queue worker: ticking every 200 ms/);
my $offset = -s $node->logfile;
$node->safe_psql('postgres', $refuse_timeouts);
my $job = overdue_attempt('render-1');

wait_for_lines($pass_failed, $offset, 5);
is(worker_pid(), $pid, 'five failing passes later the worker is the same process');

# SIGHUP is answered at once, in the middle of the backoff step of 3.2 s that
# follows the fifth failure.
my $started = time;
my $reload_offset = -s $node->logfile;
$node->safe_psql('postgres', q{ALTER SYSTEM SET queue.tick_interval = '300ms'});
$node->reload;
$node->wait_for_log(qr/queue worker: tick interval is now 300 ms/, $reload_offset);
cmp_ok(time - $started, '<', 2, 'a reload is answered while the worker backs off');

# Once the cause is gone, the next pass succeeds in the same process.
$node->safe_psql('postgres', q{ALTER TABLE queue.job_events DROP CONSTRAINT refuse_timeouts});
$node->wait_for_log(qr/queue worker: passes succeed again after \d+ failed passes/, $offset);
ok(timed_out($job), 'the overdue attempt is handled once passes succeed');
is(worker_pid(), $pid, 'the worker recovered without a restart');
unlike(slurp_file($node->logfile, $offset), $worker_exited, 'the worker never exited');

# The failures as logged: by that one process, each wait (the tick interval
# when it failed, 200 ms, doubled per failure) kept even across the reload.
my @failures = log_lines($pass_failed, $offset);
ok(!grep({ $_->[1] != $pid } @failures), 'every failure was logged by that process');
my @gaps = map { $failures[$_]->[0] - $failures[ $_ - 1 ]->[0] } 1 .. $#failures;
ok(!grep({ $gaps[$_] < 0.9 * $tick_seconds * 2**$_ } 0 .. $#gaps),
	'the time between failing passes doubles each time')
  or diag("seconds between failures: @gaps");
my $span = $failures[-1]->[0] - $failures[0]->[0];
cmp_ok(scalar(@failures), '<=', 2 + log($span / $tick_seconds) / log(2),
	'the error is logged once per backoff step, not once per tick');

# SIGTERM, too, is answered in the middle of a backoff step.
$offset = -s $node->logfile;
$node->safe_psql('postgres', $refuse_timeouts);
$node->safe_psql('postgres', qq{SELECT queue.cancel($job)});
$job = overdue_attempt('render-2');
wait_for_lines($pass_failed, $offset, 5);
$started = time;
$node->safe_psql('postgres', qq{SELECT pg_terminate_backend($pid)});
$node->poll_query_until('postgres', qq{SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid})
  or die 'the worker did not exit';
cmp_ok(time - $started, '<', 2, 'SIGTERM is answered while the worker backs off');
my $new_pid = worker_pid();
isnt($new_pid, $pid, 'a new worker is started after SIGTERM');
$pid = $new_pid;
$node->safe_psql('postgres', q{ALTER TABLE queue.job_events DROP CONSTRAINT refuse_timeouts});
ok(timed_out($job), 'the new worker handles the overdue attempt');
$node->safe_psql('postgres', qq{SELECT queue.cancel($job)});

# Terminating the launcher stops its worker too: never two workers at once.
my $launcher = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'queue launcher'});
like($launcher, qr/^\d+$/, 'one queue launcher runs beside the worker');
$node->safe_psql('postgres', qq{SELECT pg_terminate_backend($launcher)});
ok($node->poll_query_until('postgres', qq{
SELECT count(*) = 1 AND bool_and(pid <> $pid) FROM pg_stat_activity
 WHERE backend_type = 'queue worker'}),
	'the launcher comes back with one new worker');
$pid = worker_pid();

##############################################################################
# (c) Superuser escalation through operators planted in public.
##############################################################################

$offset = -s $node->logfile;
$node->safe_psql('postgres', q{ALTER SYSTEM SET queue.enabled = off; SELECT pg_reload_conf()});
$node->wait_for_log(qr/queue worker: queue.enabled is off; not ticking/, $offset);

# Work for every step of a pass that compares the enums: an overdue attempt
# (retried 2 s later, so several passes see it), a silent render worker with
# a job, a retry that is due.
$node->safe_psql('postgres', q{
UPDATE queue.settings SET retry_delay = '2 seconds';
SELECT queue.enqueue('doubt', '{"overdue": true}');
SELECT count(*) FROM queue.dequeue('render-overdue');
UPDATE queue.jobs SET deadline = now() - interval '1 s' WHERE payload ? 'overdue';
SELECT queue.register_worker('render-silent');
SELECT queue.enqueue('doubt', '{"orphan": true}');
SELECT count(*) FROM queue.dequeue('render-silent');
UPDATE queue.workers SET last_heartbeat = now() - interval '1 minute'
 WHERE worker_id = 'render-silent';
SELECT queue.enqueue('doubt', '{"retry": true}');
SELECT queue.fail(id, 'render-retry', 'transient') FROM queue.dequeue('render-retry');
UPDATE queue.jobs SET run_at = now() WHERE payload ? 'retry';
});

$node->safe_psql('postgres', q{
CREATE ROLE mallory LOGIN;
GRANT queue_app TO mallory;
GRANT CREATE ON SCHEMA public TO mallory;
});
my $plant = q{
CREATE TABLE public.tripwire (who name, operator text, at timestamptz DEFAULT now());
GRANT INSERT ON public.tripwire TO PUBLIC;
CREATE FUNCTION public.trap(operator text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.tripwire (who, operator) VALUES (current_user, operator);
    BEGIN
        ALTER ROLE mallory SUPERUSER;
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
END $$;
};
foreach my $type (qw(job_status priority worker_state))
{
	$plant .= qq{
CREATE FUNCTION public.${type}_eq(a queue.$type, b queue.$type) RETURNS boolean
    LANGUAGE plpgsql AS \$\$ BEGIN PERFORM public.trap('='); RETURN pg_catalog.enum_eq(a, b); END \$\$;
CREATE FUNCTION public.${type}_ne(a queue.$type, b queue.$type) RETURNS boolean
    LANGUAGE plpgsql AS \$\$ BEGIN PERFORM public.trap('<>'); RETURN pg_catalog.enum_ne(a, b); END \$\$;
CREATE OPERATOR public.= (LEFTARG = queue.$type, RIGHTARG = queue.$type, FUNCTION = public.${type}_eq);
CREATE OPERATOR public.<> (LEFTARG = queue.$type, RIGHTARG = queue.$type, FUNCTION = public.${type}_ne);
};
}
$node->safe_psql('postgres', $plant, extra_params => [ '-U', 'mallory' ]);

# The trap is armed: a superuser comparing the enums with public on the path
# runs it (rolled back here).
is( $node->safe_psql('postgres', q{
BEGIN;
SELECT 'dead'::queue.worker_state = 'dead';
SELECT count(*) > 0 FROM public.tripwire;
SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = 'mallory';
ROLLBACK;}), "t\nt\nt", 'the planted operator makes a superuser who runs it grant superuser');

# Make the path hostile in every way an owner or admin might, then restart
# the worker so it connects and plans its statements with the operators there.
$node->safe_psql('postgres', q{
ALTER DATABASE postgres SET search_path = public, pg_catalog;
ALTER ROLE CURRENT_USER SET search_path = public, pg_catalog;
ALTER SYSTEM SET search_path = 'public, pg_catalog';
});
$node->safe_psql('postgres', qq{SELECT pg_terminate_backend($pid)});
$node->poll_query_until('postgres', qq{
SELECT count(*) = 1 AND bool_and(pid <> $pid) FROM pg_stat_activity
 WHERE backend_type = 'queue worker'})
  or die 'the worker did not come back';
$pid = worker_pid();
# The reload that turns ticking back on also re-reads search_path from the file.
$offset = -s $node->logfile;
$node->safe_psql('postgres', q{ALTER SYSTEM SET queue.enabled = on; SELECT pg_reload_conf()});
$node->wait_for_log(qr/queue worker: ticking every 300 ms/, $offset);

# Comparisons below go through text: the test's own session has public first.
ok($node->poll_query_until('postgres', q{
SELECT bool_and(CASE
  WHEN payload ? 'overdue' THEN last_error LIKE 'attempt timed out%'
   AND EXISTS (SELECT FROM queue.job_events e
                WHERE e.job_id = j.id AND e.detail = 'retry due')
  WHEN payload ? 'orphan' THEN last_error LIKE 'worker render-silent%'
  WHEN payload ? 'retry' THEN EXISTS (SELECT FROM queue.job_events e
                WHERE e.job_id = j.id AND e.detail = 'retry due')
  ELSE true END)
 AND (SELECT state::text = 'dead' FROM queue.workers WHERE worker_id = 'render-silent')
FROM queue.jobs j}),
	'the restarted worker timed out, recovered and released jobs over several passes');
is($node->safe_psql('postgres', q{SELECT count(*) FROM public.tripwire}), '0',
	'no pass of the worker ran a planted operator')
  or diag($node->safe_psql('postgres',
	q{SELECT who, operator, count(*) FROM public.tripwire GROUP BY 1, 2}));
is($node->safe_psql('postgres',
	q{SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = 'mallory'}),
	'f', 'mallory is not superuser');
is(worker_pid(), $pid, 'the worker ran all those passes without a restart');

##############################################################################
# (b) A queue.database that does not exist.
##############################################################################

$node->append_conf('postgresql.conf', qq{queue.database = 'nope'});
$offset = -s $node->logfile;
$node->restart;
my $missing = qr/queue launcher: database "nope" named by queue\.database does not exist/;
ok(defined(eval { $node->wait_for_log($missing, $offset) }),
	'the launcher says that the database does not exist');

# Watch two restart intervals and more: no worker starts meanwhile.
my $watch_until = $node->safe_psql('postgres',
	sprintf(q{SELECT clock_timestamp() + interval '%d s'}, 2 * $restart_seconds + 2));
$node->poll_query_until('postgres', qq{
SELECT count(*) > 0 OR clock_timestamp() > '$watch_until'
  FROM pg_stat_activity WHERE backend_type = 'queue worker'})
  or die 'the watch never ended';
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'queue worker'}),
	'0', 'no queue worker ran without its database');
my $log = slurp_file($node->logfile, $offset);
is(scalar(() = $log =~ /$missing/g), 1, 'the missing database is logged once');
unlike($log, qr/FATAL:  database "nope" does not exist/, 'nothing tried to connect to it');

# Created after the server started, the database gets its worker at the next check.
$node->safe_psql('postgres', 'CREATE DATABASE nope');
$node->safe_psql('nope', 'CREATE EXTENSION queue');
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE backend_type = 'queue worker' AND datname = 'nope'}),
	'the worker starts once the database exists');

$node->stop;
done_testing();
