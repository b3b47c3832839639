# queue-worker processes for the TAP tests (020_* to 024_*): a node set up for
# them, workers started against it with their stderr in a log file, and waits
# on those logs that end after a bounded time.
#
# The binary comes from the CMake build: $ENV{QUEUE_BUILD_DIR}/src/worker/queue-worker
# (test/run-all.sh sets QUEUE_BUILD_DIR; set it by hand to run a test alone).
package QueueWorker;

use strict;
use warnings;
use POSIX qw(WNOHANG);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

# The queue-worker binary; the test stops here when it is missing.
sub binary
{
	my $dir = $ENV{QUEUE_BUILD_DIR}
	  or BAIL_OUT('QUEUE_BUILD_DIR is not set: point it at the CMake build directory');
	my $binary = "$dir/src/worker/queue-worker";
	BAIL_OUT("$binary is missing or not executable: build the CMake project first")
	  unless -x $binary;
	return $binary;
}

# A started node with queue created, its background worker ticking every
# 200 ms, fixed limits whatever the hour and retries due at once.
sub new_node
{
	my ($name, $extra_conf, %init) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%init);
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'queue'
queue.database = 'postgres'
queue.tick_interval = '200ms'
} . ($extra_conf // ''));
	$node->start;
	$node->safe_psql('postgres', q{
CREATE EXTENSION queue;
DELETE FROM queue.peak_windows;
UPDATE queue.settings SET retry_delay = '0', retry_backoff = 1;
});
	return $node;
}

# Start a worker: id => ..., args => [the arguments after the connection and
# the id], dsn => a connection string (default: the node's). Its stderr goes
# to a log file, its stdin is /dev/null.
sub start
{
	my ($class, $node, %args) = @_;
	my $id = $args{id};
	my $log = PostgreSQL::Test::Utils::tempdir() . "/$id.log";
	my @command = (binary(), '--dsn', $args{dsn} // $node->connstr('postgres'),
		'--worker-id', $id, @{ $args{args} });
	my $pid = fork;
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDIN,  '<', '/dev/null') or die $!;
		open(STDOUT, '>', "$log.out")  or die $!;
		open(STDERR, '>', $log)        or die $!;
		exec(@command) or die "exec: $!";
	}
	return bless { id => $id, log => $log, pid => $pid, node => $node }, $class;
}

sub log_text { my ($self) = @_; return -e $self->{log} ? slurp_file($self->{log}) : ''; }

sub pid { my ($self) = @_; return $self->{pid}; }

# Wait until the log matches $pattern at least $count times (default 1),
# for up to $timeout seconds (default 60); true when it did.
sub wait_for_log
{
	my ($self, $pattern, $count, $timeout) = @_;
	$count //= 1;
	my $until = time + ($timeout // 60);
	while (time < $until)
	{
		my $matches = () = $self->log_text =~ /$pattern/g;
		return 1 if $matches >= $count;
		usleep(100_000);
	}
	diag("worker $self->{id} log, waiting for $pattern:\n" . $self->log_text);
	return 0;
}

sub signal { my ($self, $signal) = @_; kill $signal, $self->{pid}; return; }

# Wait for the worker to exit, up to $timeout seconds (default 60), else kill
# it: its exit status (as $?), or undef when it had to be killed.
sub finish
{
	my ($self, $timeout) = @_;
	return $self->{status} if defined $self->{status};
	my $until = time + ($timeout // 60);
	while (time < $until)
	{
		if (waitpid($self->{pid}, WNOHANG) == $self->{pid})
		{
			$self->{status} = $?;
			return $?;
		}
		usleep(100_000);
	}
	kill 'KILL', $self->{pid};
	waitpid($self->{pid}, 0);
	diag("worker $self->{id} did not exit; its log:\n" . $self->log_text);
	return undef;
}

# A worker still running when the test ends is killed.
sub DESTROY
{
	my ($self) = @_;
	return if defined $self->{status};
	kill 'KILL', $self->{pid};
	waitpid($self->{pid}, 0);
}

# Whether any process of the process group $pgid is still alive.
sub group_alive { my ($pgid) = @_; return kill(0, -$pgid) ? 1 : 0; }

# Wait until none of the process groups is alive (killed processes linger
# until their new parent reaps them); true when they are all gone in time.
sub groups_gone
{
	my (@groups) = @_;
	my $until = time + 10;
	usleep(50_000) while (grep { group_alive($_) } @groups) && time < $until;
	return !(grep { group_alive($_) } @groups);
}

1;
