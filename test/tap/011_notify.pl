# Wake-ups for render workers: a listener on queue_jobs hears of work once it
# is committed, named by job type. Where the background worker serves the
# database, a committing transaction sends the wake-ups marked since the last
# send with its own, at most one such send a millisecond; marks no commit
# took are relayed by the worker. Elsewhere the transaction notifies by
# itself, and no enqueue waits for another transaction's NOTIFY. Nothing is
# heard from a rolled-back enqueue, nor with queue.notify = off.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('notify');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'queue'
queue.database = 'postgres'
queue.tick_interval = '1h'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION queue; CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION queue');
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'queue worker'})
  or die 'the queue worker did not start';

# Listen in each database; what a listener heard, as "payload" lines.
my %listener = map { $_ => $node->background_psql($_) } ('postgres', 'other');
$listener{$_}->query_safe('LISTEN queue_jobs') for keys %listener;
sub heard {
	my ($database) = @_;
	my $output = $listener{$database}->query_safe('SELECT 1');
	return join ' ', $output =~ /notification "queue_jobs" with payload "([^"]*)"/g;
}
# The same, each as "payload:pid of the sender".
sub heard_from {
	my ($database) = @_;
	my $output = $listener{$database}->query_safe('SELECT 1');
	my @heard;
	push @heard, "$1:$2"
	  while $output =~ /notification "queue_jobs" with payload "([^"]*)" received from server process with PID (\d+)/g;
	return @heard;
}
# Wait (bounded) until a listener heard something; what it heard.
sub heard_within {
	my ($database, $seconds) = @_;
	for (1 .. $seconds * 10) {
		my $heard = heard($database);
		return $heard if $heard ne '';
		select(undef, undef, undef, 0.1);
	}
	return '';
}

# After a quiet spell, the enqueuing transaction sends its wake-ups with its
# own commit: one per job type.
my $sender = $node->safe_psql('postgres', q{
BEGIN;
SELECT queue.enqueue('doubt');
SELECT queue.enqueue('doubt');
SELECT queue.enqueue('topic_short');
COMMIT;
SELECT pg_backend_pid();});
$sender = (split /\n/, $sender)[-1];
my @first;
for (1 .. 100) {
	push @first, heard_from('postgres');
	last if @first;
	select(undef, undef, undef, 0.1);
}
is(join(' ', sort @first), "doubt:$sender topic_short:$sender",
	'one wake-up per job type, sent with the enqueuing commit');

# A burst of enqueuing transactions: their wake-ups ride on at most one send a
# millisecond (a commit's, or the worker's for the marks left at the end), and
# the last transaction's job type is heard too.
my $burst = join '', map { "BEGIN; SELECT queue.enqueue('doubt'); COMMIT;\n" } 1 .. 300;
my $elapsed_ms = $node->safe_psql('postgres', qq{
SET synchronous_commit = off;
SELECT clock_timestamp() AS started \\gset
$burst
BEGIN; SELECT queue.enqueue('daily_ca'); COMMIT;
SELECT ceil(extract(epoch FROM clock_timestamp() - :'started') * 1000);});
$elapsed_ms = (split /\n/, $elapsed_ms)[-1];
my @heard;
for (1 .. 100) {
	push @heard, split / /, heard('postgres');
	last if grep { $_ eq 'daily_ca' } @heard;
	select(undef, undef, undef, 0.1);
}
is(scalar(grep { $_ eq 'daily_ca' } @heard), 1, 'the burst\'s last job type is heard once');
my $doubts = grep { $_ eq 'doubt' } @heard;
ok($doubts >= 1 && $doubts <= $elapsed_ms + 4,
	"301 transactions in $elapsed_ms ms sent $doubts wake-ups for doubt: at most one a millisecond");

# Marks no commit takes are relayed by the worker: a transaction that commits
# within a millisecond of the one that sent leaves its job type marked. (Both
# commits run in one DO block; when the machine took a millisecond between
# them anyway, the second sent its own, and only that it was heard is checked.)
$node->safe_psql('postgres', q{
CREATE TABLE commit_times (name text, at timestamptz);
SELECT pg_sleep(0.01);});
heard('postgres');
$node->safe_psql('postgres', q{SET synchronous_commit = off;
DO $$
BEGIN
    PERFORM queue.enqueue('topic_short');
    INSERT INTO commit_times VALUES ('sender', clock_timestamp());
    COMMIT;
    PERFORM queue.enqueue('daily_ca');
    INSERT INTO commit_times VALUES ('marker', clock_timestamp());
    COMMIT;
END
$$;});
my $worker = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'queue worker'});
my $apart_ms = $node->safe_psql('postgres', q{
SELECT extract(epoch FROM max(at) FILTER (WHERE name = 'marker') - max(at) FILTER (WHERE name = 'sender')) * 1000
  FROM commit_times});
my @from;
for (1 .. 100) {
	push @from, heard_from('postgres');
	last if grep { /^daily_ca:/ } @from;
	select(undef, undef, undef, 0.1);
}
my ($daily) = grep { /^daily_ca:/ } @from;
ok(defined $daily, 'the job type left marked is heard');
SKIP: {
	skip "the commits were $apart_ms ms apart", 1 if $apart_ms >= 0.5;
	is($daily, "daily_ca:$worker", "marked $apart_ms ms after a send, it is relayed by the worker");
}

# A rolled-back enqueue wakes nobody; a later committed one does.
$node->safe_psql('postgres', q{BEGIN; SELECT queue.enqueue('daily_ca'); ROLLBACK;});
$node->safe_psql('postgres', q{SELECT queue.enqueue('topic_short')});
is(heard_within('postgres', 10), 'topic_short', 'a rolled-back enqueue is never announced');

# Where no worker serves the database, the transaction notifies by itself.
$node->safe_psql('other', q{BEGIN; SELECT queue.enqueue('daily_ca'); SELECT queue.enqueue('doubt'); COMMIT;});
is(heard_within('other', 10), 'daily_ca',
	'another database hears directly, once per transaction (its first job type)');

# queue.notify = off sends nothing, relayed or not.
$node->safe_psql('postgres', q{SET queue.notify = off; SELECT queue.enqueue('doubt');});
$node->safe_psql('postgres', q{SELECT queue.enqueue('topic_short')});
is(heard_within('postgres', 10), 'topic_short', 'queue.notify = off is not announced');

# Retries released by the worker's own pass are announced too.
$node->safe_psql('postgres', q{
UPDATE queue.settings SET retry_delay = '0';
SELECT count(*) FROM queue.dequeue('w1', 100);
SELECT queue.fail(id, 'w1', 'transient') FROM queue.jobs WHERE status = 'processing' LIMIT 1;});
is(heard_within('postgres', 10), 'retry', 'a retry made due at once is announced when released');

$_->quit for values %listener;

# A transaction elsewhere that holds NOTIFY's lock (its commit waits for a
# synchronous standby that never answers) does not hold up an enqueue: the
# enqueue marks its wake-up, which goes out once the lock is free. (Commits
# wait for a standby only with WAL senders allowed, which takes a restart.)
$node->append_conf('postgresql.conf', q{
wal_level = replica
max_wal_senders = 1
synchronous_standby_names = 'nobody'
synchronous_commit = local
});
$node->restart;
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'queue worker'})
  or die 'the queue worker did not start again';
$listener{postgres} = $node->background_psql('postgres');
$listener{postgres}->query_safe('LISTEN queue_jobs');
# (It writes a row: a transaction that only notifies commits without waiting.)
$node->safe_psql('other', 'CREATE TABLE held (x int)');
my $holder = $node->background_psql('other');
my $holder_pid = $holder->query_safe('SELECT pg_backend_pid()');
$holder->query_until(qr/holding/, q{
SET synchronous_commit = on;
\echo holding
BEGIN; INSERT INTO held VALUES (1); NOTIFY unrelated; COMMIT;
});
$node->poll_query_until('postgres',
	qq{SELECT wait_event = 'SyncRep' FROM pg_stat_activity WHERE pid = $holder_pid})
  or die 'the holder did not wait for its standby';
my $rc = $node->psql('postgres', q{SET lock_timeout = '2s'; SELECT queue.enqueue('doubt')});
is($rc, 0, 'an enqueue commits while another transaction holds NOTIFY\'s lock');
is(heard('postgres'), '', 'its wake-up waits for the lock');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($holder_pid)");
my $relayer = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'queue worker'});
my @relayed;
for (1 .. 100) {
	push @relayed, heard_from('postgres');
	last if @relayed;
	select(undef, undef, undef, 0.1);
}
is(join(' ', @relayed), "doubt:$relayer", 'and the worker sends it once the lock is free');
$holder->quit;

# An enqueue whose commit waits for that standby sends no wake-ups: it would
# hold NOTIFY's lock, and the job types it took, as long as it waits.
my $waiter = $node->background_psql('postgres');
my $waiter_pid = $waiter->query_safe('SELECT pg_backend_pid()');
$waiter->query_until(qr/waiting/, q{
SET synchronous_commit = on;
\echo waiting
SELECT queue.enqueue('daily_ca');
});
$node->poll_query_until('postgres',
	qq{SELECT wait_event = 'SyncRep' FROM pg_stat_activity WHERE pid = $waiter_pid})
  or die 'the enqueue did not wait for its standby';
$node->safe_psql('postgres', q{SELECT queue.enqueue('topic_short')});
is(heard_within('postgres', 10), 'topic_short',
	'an enqueue waiting for a standby holds up no other wake-up');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($waiter_pid)");
is(heard_within('postgres', 10), 'daily_ca', 'its own goes out once it committed');
$waiter->quit;

$listener{postgres}->quit;
$node->stop;
done_testing();
