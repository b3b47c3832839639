# Wake-ups for render workers: a listener on queue_jobs hears of work once it
# is committed, named by job type. Where the background worker serves the
# database it relays them (the enqueuing transaction only marks them in
# shared memory); elsewhere the transaction notifies by itself. Nothing is
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

# The worker relays for its database: the enqueuing transaction sends no NOTIFY.
$node->safe_psql('postgres', q{
BEGIN;
SELECT queue.enqueue('doubt');
SELECT queue.enqueue('doubt');
SELECT queue.enqueue('topic_short');
COMMIT;});
is(join(' ', sort split / /, heard_within('postgres', 10)), 'doubt topic_short',
	'one wake-up per job type, once the enqueues committed, relayed by the worker');

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
$node->stop;
done_testing();
