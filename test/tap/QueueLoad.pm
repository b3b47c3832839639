# Render-farm load for the fault tests (006_crash_matrix.pl, 007_failover.pl)
# and the invariants they check after every fault.
#
# The load is 8 psql clients, each running a generated script against one
# node: 3 apps that enqueue (and now and then cancel), 4 render workers that
# claim with queue.dequeue() and complete or fail what they claimed (the last
# one abandons some claims, so queue.tick() times them out), and one client
# that calls queue.tick() beside the background worker. A ninth session
# samples the processing jobs, overall and on manim, against the effective
# limits into public.queue_load_samples.
#
# Why psql scripts: a client must report an enqueue only once it has seen
# COMMIT succeed, and must survive nothing. In a psql script with
# ON_ERROR_STOP, `\echo ack` after COMMIT runs only if COMMIT returned, and
# any lost connection ends psql (which flushes what it printed). pgbench
# cannot print what enqueue() returned, and DBD::Pg is not installed here.
# Every client stops by itself at a deadline (-v until) or when the server
# goes away, so a phase of load ends without anyone killing a client.
package QueueLoad;

use strict;
use warnings;
use PostgreSQL::Test::Utils;
use POSIX qw(WNOHANG);
use Time::HiRes qw(usleep);

# Limits the load is run under: low enough that 4 workers bind them.
our $MAX_CONCURRENT = 10;
our $MANIM_LIMIT    = 4;

my $ITERATIONS = 1500;    # per client script; the deadline ends it sooner

# postgresql.conf lines both tests need.
sub server_conf
{
	return qq{
shared_preload_libraries = 'queue'
queue.database = 'postgres'
queue.tick_interval = '100ms'
max_connections = 40
};
}

# Fixed limits whatever the hour, attempts that time out after a second,
# retries due at once; and the table the sampler writes to.
sub configure_queue
{
	my ($node) = @_;
	$node->safe_psql('postgres', qq{
DELETE FROM queue.peak_windows;
UPDATE queue.settings SET max_concurrent = $MAX_CONCURRENT, job_timeout = '1 second',
       retry_delay = '0', retry_backoff = 1, max_retries = 3, worker_timeout = '10 minutes';
UPDATE queue.resources SET max_concurrent = $MANIM_LIMIT, peak_scaling = false
 WHERE resource = 'manim';
CREATE TABLE public.queue_load_samples (
    n            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    processing   int NOT NULL,
    manim        int NOT NULL,
    global_limit int NOT NULL,
    manim_limit  int NOT NULL);
});
	return;
}

sub new
{
	my ($class) = @_;
	my $self = bless {
		dir        => PostgreSQL::Test::Utils::tempdir(),
		phase      => 0,
		pids       => {},
		acked      => {},    # id => tag of every enqueue whose COMMIT succeeded
		duplicates => [],    # ids acknowledged for two different enqueues
		errors     => [],    # client errors that no fault explains
		hung       => 0,     # clients that had to be stopped
	}, $class;
	$self->_write_scripts;
	return $self;
}

sub acked_count { my ($self) = @_; return scalar keys %{ $self->{acked} }; }
sub duplicate_acks { my ($self) = @_; return @{ $self->{duplicates} }; }
sub unexpected_errors { my ($self) = @_; return @{ $self->{errors} }; }
sub hung_clients { my ($self) = @_; return $self->{hung}; }

# Start the 8 clients and the sampler against $node; they stop by themselves
# after $seconds or when the server goes away.
sub start
{
	my ($self, $node, $seconds) = @_;
	die "the previous phase is still running" if %{ $self->{pids} };
	my $phase = ++$self->{phase};
	my $until = $node->safe_psql('postgres',
		"SELECT clock_timestamp() + interval '$seconds seconds'");
	foreach my $client (sort keys %{ $self->{scripts} })
	{
		$self->_spawn($node, $client, $phase, $until, $self->{scripts}{$client});
	}
	return;
}

# Wait up to $timeout seconds for every client to stop, stop the rest (what
# a stopped client printed may be lost: fewer acknowledgements, never false
# ones), and read what they acknowledged and every error no fault explains.
sub finish
{
	my ($self, $timeout) = @_;
	my $deadline = time + $timeout;
	while (%{ $self->{pids} } && time < $deadline)
	{
		foreach my $pid (keys %{ $self->{pids} })
		{
			delete $self->{pids}{$pid} if waitpid($pid, WNOHANG) != 0;
		}
		usleep(50_000) if %{ $self->{pids} };
	}
	foreach my $pid (keys %{ $self->{pids} })
	{
		$self->{hung}++;
		kill 'TERM', $pid;
		waitpid($pid, 0);
	}
	$self->{pids} = {};
	$self->_read_outputs($self->{phase});
	return;
}

# A psql session that runs one client's script (or the sampler) in the
# background, its output in the load directory.
sub _spawn
{
	my ($self, $node, $client, $phase, $until, $script) = @_;
	my $base = "$self->{dir}/phase$phase-$client";
	my @cmd  = (
		$node->installed_command('psql'), '-X', '-q',
		'-v', 'ON_ERROR_STOP=1', '-v', "phase=$phase", '-v', "until=$until",
		'-d', $node->connstr('postgres') . " application_name=queue-load-$client",
		'-f', $script);
	my $pid = fork();
	die "fork failed: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDIN,  '<', '/dev/null')  or POSIX::_exit(127);
		open(STDOUT, '>', "$base.out")  or POSIX::_exit(127);
		open(STDERR, '>', "$base.err")  or POSIX::_exit(127);
		exec(@cmd) or POSIX::_exit(127);
	}
	$self->{pids}{$pid} = $client;
	return;
}

# Messages a client gets when the server crashes or stops under it.
my $fault_message = qr/
	terminating\ connection\ because\ of\ crash\ of\ another\ server\ process
  | terminating\ connection\ due\ to\ immediate\ shutdown\ command
  | terminating\ connection\ due\ to\ administrator\ command
  | the\ database\ system\ is\ (?:in\ recovery\ mode|shutting\ down|starting\ up)
  | server\ closed\ the\ connection\ unexpectedly
  | connection\ to\ server\ was\ lost
  | no\ connection\ to\ the\ server
/x;

sub _read_outputs
{
	my ($self, $phase) = @_;
	foreach my $client (sort keys %{ $self->{scripts} })
	{
		my $base = "$self->{dir}/phase$phase-$client";
		foreach my $line (split /\n/, slurp_file("$base.out"))
		{
			next unless $line =~ /^ack (\d+) (\S+)$/;
			my ($id, $tag) = ($1, $2);
			push @{ $self->{duplicates} }, $id
			  if exists $self->{acked}{$id} && $self->{acked}{$id} ne $tag;
			$self->{acked}{$id} = $tag;
		}
		foreach my $line (split /\n/, slurp_file("$base.err"))
		{
			# Lines of a server message (ERROR: ...) or of psql's own
			# (error: ...); continuation lines start with a tab.
			next unless $line =~ /(?:ERROR|FATAL|PANIC|WARNING|error):\s+(.*)$/
			  || $line =~ /^psql:[^:]*:\d+: (.*)$/;
			my $message = $1;
			next if $message =~ $fault_message;
			push @{ $self->{errors} }, "phase $phase, $client: $message";
		}
	}
	return;
}

# One sample per statement (one snapshot of queue.jobs), committed at once so
# a crash loses at most the sample being taken. psql does not interpolate
# inside the DO body, so the deadline reaches it as a setting.
sub _sampler_script
{
	return q{SELECT set_config('queue_load.until', :'until', false);
DO $sampler$
BEGIN
  WHILE clock_timestamp() < current_setting('queue_load.until')::timestamptz LOOP
    INSERT INTO public.queue_load_samples (processing, manim, global_limit, manim_limit)
    SELECT count(*), count(*) FILTER (WHERE resource = 'manim'),
           queue.effective_limit(), queue.effective_limit('manim')
      FROM queue.jobs WHERE status = 'processing';
    COMMIT;
    PERFORM pg_sleep(0.02);
  END LOOP;
END
$sampler$;
};
}

# The client scripts, with their random choices made here, once.
sub _write_scripts
{
	my ($self) = @_;
	my %scripts;
	$scripts{"app$_"}    = _app_script("a$_")        foreach 1 .. 3;
	$scripts{"worker$_"} = _worker_script("w$_", 0) foreach 1 .. 3;
	$scripts{worker4}    = _worker_script('w4', 1);
	$scripts{ticker}     = _ticker_script();
	$scripts{sampler}    = _sampler_script();
	foreach my $client (keys %scripts)
	{
		my $file = "$self->{dir}/$client.sql";
		open(my $fh, '>', $file) or die "cannot write $file: $!";
		print $fh "\\o /dev/null\n", $scripts{$client};
		close($fh);
		$self->{scripts}{$client} = $file;
	}
	return;
}

sub _stop_at_deadline { return "\\if :done\n\\q\n\\endif\n"; }

# An app: enqueue a mix of job types, two in five on manim; print the id once
# COMMIT has returned; every fifth time cancel a job enqueued a little earlier
# (queued, running or already finished: all are valid requests).
sub _app_script
{
	my ($app) = @_;
	my @types = ('doubt', 'topic_short', 'daily_ca');
	my $script = '';
	foreach my $n (1 .. $ITERATIONS)
	{
		my $type = $types[ int(rand(3)) ];
		my $resource = rand() < 0.4 ? ", resource => 'manim'" : '';
		my $tag = "$app.$n";
		$script .= qq{BEGIN;
SELECT queue.enqueue('$type', jsonb_build_object('tag', :'phase' || '.$tag'),
                     user_id => 'student-$n'$resource) AS id,
       clock_timestamp() > :'until' AS done \\gset
COMMIT;
\\echo ack :id :phase.$tag
};
		$script .= sprintf(
			"SELECT queue.cancel(id, 'student left') FROM queue.jobs WHERE id = :id - %d;\n",
			int(rand(40)))
		  if $n % 5 == 0;
		$script .= "SELECT pg_sleep(0.02);\n" . _stop_at_deadline();
	}
	return $script;
}

# A render worker: claim 1-3 jobs, render for 30-60 ms, complete most of
# what it claimed and fail the rest (mostly retryable). A flaky worker
# leaves one claim in four behind, for queue.tick() to time out.
sub _worker_script
{
	my ($worker, $flaky) = @_;
	my $script = '';
	foreach my $n (1 .. $ITERATIONS)
	{
		my $want = 1 + int(rand(3));
		$script .= qq{SELECT coalesce(array_agg(id), '{}') AS ids, clock_timestamp() > :'until' AS done
  FROM queue.dequeue('$worker', $want) \\gset
};
		$script .= sprintf("SELECT pg_sleep(%.3f);\n", 0.03 + rand(0.03));
		$script .= qq{SELECT CASE WHEN random() < 0.85
            THEN queue.complete(id, '$worker', '{"frames": 240}')::text
            ELSE queue.fail(id, '$worker', 'ffmpeg exited 1', random() < 0.9)::text END
  FROM unnest(:'ids'::bigint[]) id ORDER BY id;
} unless $flaky && rand() < 0.25;
		$script .= _stop_at_deadline();
	}
	return $script;
}

# Maintenance beside the background worker, concurrently with everything.
sub _ticker_script
{
	my $script = '';
	foreach my $n (1 .. $ITERATIONS)
	{
		$script .= qq{SELECT t.timed_out, clock_timestamp() > :'until' AS done FROM queue.tick() t \\gset
SELECT pg_sleep(0.05);
} . _stop_at_deadline();
	}
	return $script;
}

# ---------------------------------------------------------------------------
# Invariants. Each returns a list of human-readable violations (empty: held).
# ---------------------------------------------------------------------------

# Every acknowledged enqueue is in queue.jobs, as the job that was enqueued
# (its payload tag), not merely some job under that id.
sub missing_acked_jobs
{
	my ($self, $node) = @_;
	my %acked = %{ $self->{acked} };
	return () unless %acked;
	my $values = join(",\n", map { "($_, '$acked{$_}')" } sort { $a <=> $b } keys %acked);
	my $missing = $node->safe_psql('postgres', qq{
SELECT a.id || ' (' || a.tag || '): ' || coalesce('has tag ' || (j.payload->>'tag'), 'missing')
  FROM (VALUES $values) a(id, tag) LEFT JOIN queue.jobs j ON j.id = a.id
 WHERE j.payload->>'tag' IS DISTINCT FROM a.tag ORDER BY a.id});
	return map { "acknowledged job $_" } grep { $_ ne '' } split /\n/, $missing;
}

# The audit trail agrees with the jobs: one claim per attempt, each attempt
# ended at most once (exactly once unless it runs), at most one completion,
# attempts = claims <= max_attempts, every event continuing the previous one
# and the last one leading to the job's status.
sub event_violations
{
	my ($node) = @_;
	my $found = $node->safe_psql('postgres', q{
WITH events AS (
  SELECT e.*, lag(to_status) OVER (PARTITION BY job_id ORDER BY id) AS previous,
         row_number() OVER (PARTITION BY job_id ORDER BY id DESC) AS from_last
    FROM queue.job_events e),
per_job AS (
  SELECT j.id, j.status, j.attempts, j.max_attempts,
         count(e.id) FILTER (WHERE e.to_status = 'processing' AND e.from_status = 'queued') AS claims,
         count(DISTINCT e.detail) FILTER (WHERE e.to_status = 'processing'
                                            AND e.from_status = 'queued') AS distinct_claims,
         count(e.id) FILTER (WHERE e.from_status = 'processing'
                               AND e.to_status <> 'processing') AS attempt_ends,
         count(e.id) FILTER (WHERE e.to_status = 'completed') AS completions,
         max(e.to_status::text) FILTER (WHERE e.from_last = 1) AS last_event,
         count(e.id) FILTER (WHERE e.previous IS DISTINCT FROM e.from_status) AS breaks
    FROM queue.jobs j LEFT JOIN events e ON e.job_id = j.id
   GROUP BY j.id)
SELECT format('job %s (%s, attempts %s of %s): %s', id, status, attempts, max_attempts,
              concat_ws(', ',
                CASE WHEN completions > 1 THEN completions || ' completions' END,
                CASE WHEN status = 'completed' AND completions <> 1
                     THEN 'completed without exactly one completion event' END,
                CASE WHEN claims <> attempts THEN claims || ' claim events' END,
                CASE WHEN distinct_claims <> claims THEN 'an attempt claimed twice' END,
                CASE WHEN attempt_ends <> claims - (status = 'processing')::int
                     THEN attempt_ends || ' attempt endings for ' || claims || ' claims' END,
                CASE WHEN attempts > max_attempts THEN 'more attempts than allowed' END,
                CASE WHEN last_event IS DISTINCT FROM status::text
                     THEN 'last event leads to ' || coalesce(last_event, 'nothing') END,
                CASE WHEN breaks > 0 THEN breaks || ' events not continuing the previous one' END))
  FROM per_job
 WHERE completions > 1 OR (status = 'completed' AND completions <> 1) OR claims <> attempts
    OR distinct_claims <> claims OR attempt_ends <> claims - (status = 'processing')::int
    OR attempts > max_attempts OR last_event IS DISTINCT FROM status::text OR breaks > 0
 ORDER BY id LIMIT 20});
	return grep { $_ ne '' } split /\n/, $found;
}

# queue.stats() (counts by status, queued by priority, manim running),
# queue.position() of up to 25 queued jobs and queue.oldest_waits() against
# the table, in one snapshot. (A wait may differ by a moment: ids are taken
# at insert, enqueue times at the start of the transaction.) On a primary the table is locked against writers first so
# that every committed change has also reached the counters; a hot standby
# cannot take that lock and is compared within one REPEATABLE READ snapshot
# (callers pause replay for an exact comparison). Returns the violations
# (an array ref) and how many positions were compared.
sub counter_violations
{
	my ($node, %opt) = @_;
	my $lock = $opt{standby} ? '' : 'LOCK TABLE queue.jobs IN EXCLUSIVE MODE;';
	my $found = $node->safe_psql('postgres', qq{
BEGIN ISOLATION LEVEL REPEATABLE READ;
$lock
WITH t AS (
  SELECT count(*) FILTER (WHERE status = 'queued') AS queued,
         count(*) FILTER (WHERE status = 'retrying') AS retrying,
         count(*) FILTER (WHERE status = 'processing') AS processing,
         count(*) FILTER (WHERE status = 'completed') AS completed,
         count(*) FILTER (WHERE status = 'failed') AS failed,
         count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
         count(*) FILTER (WHERE status = 'queued' AND priority = 'high') AS queued_high,
         count(*) FILTER (WHERE status = 'queued' AND priority = 'medium') AS queued_medium,
         count(*) FILTER (WHERE status = 'queued' AND priority = 'low') AS queued_low,
         count(*) FILTER (WHERE status = 'processing' AND resource = 'manim') AS manim
    FROM queue.jobs),
s AS (SELECT *, (processing_by_resource->'manim'->>'running')::bigint AS manim FROM queue.stats())
SELECT format('stats() %s = %s, table %s', name, from_stats, from_table)
  FROM s, t, LATERAL (VALUES
    ('queued', s.queued, t.queued), ('retrying', s.retrying, t.retrying),
    ('processing', s.processing, t.processing), ('completed', s.completed, t.completed),
    ('failed', s.failed, t.failed), ('cancelled', s.cancelled, t.cancelled),
    ('queued_high', s.queued_high, t.queued_high),
    ('queued_medium', s.queued_medium, t.queued_medium),
    ('queued_low', s.queued_low, t.queued_low),
    ('manim running', s.manim, t.manim)) v(name, from_stats, from_table)
 WHERE from_stats IS DISTINCT FROM from_table;
SELECT format('oldest_waits() %s = %s, table %s', w.priority, w.oldest_wait, t.wait)
  FROM queue.oldest_waits() w,
       LATERAL (SELECT now() - min(greatest(j.run_at, j.enqueued_at)) AS wait FROM queue.jobs j
                 WHERE j.status = 'queued' AND j.priority = w.priority AND j.run_at <= now()) t
 WHERE (w.oldest_wait IS NULL) <> (t.wait IS NULL)
    OR abs(extract(epoch FROM w.oldest_wait - t.wait)) > 0.25;
WITH sample AS (
  SELECT id, priority FROM queue.jobs WHERE status = 'queued' AND run_at <= now()
   ORDER BY random() LIMIT 25),
compared AS (
  SELECT id, queue.position(id) AS position,
         1 + (SELECT count(*) FROM queue.jobs q
               WHERE q.status = 'queued' AND q.run_at <= now()
                 AND (q.priority, q.id) < (s.priority, s.id)) AS counted
    FROM sample s)
SELECT format('position() differs from the table count for %s of %s queued jobs, e.g. %s',
              count(*) FILTER (WHERE position IS DISTINCT FROM counted), count(*),
              array_to_string((array_agg(format('position(%s) = %s, count %s',
                                                id, position, counted) ORDER BY id)
                               FILTER (WHERE position IS DISTINCT FROM counted))[1:3], '; '))
  FROM compared
HAVING count(*) FILTER (WHERE position IS DISTINCT FROM counted) > 0;
SELECT 'compared ' || count(*) FROM (
  SELECT 1 FROM queue.jobs WHERE status = 'queued' AND run_at <= now() LIMIT 25) q;
COMMIT;
});
	my @lines = split /\n/, $found;
	my ($compared) = (pop(@lines) // '') =~ /^compared (\d+)$/
	  or die "counter comparison gave no summary: $found";
	return ([ grep { $_ ne '' } @lines ], $compared);
}

# Samples of processing jobs taken during the load (those numbered above
# $after, all by default), and those above the effective limits.
sub sample_counts
{
	my ($node, $after) = @_;
	$after //= 0;
	my ($samples, $violations, $max_processing, $max_manim) = split /\|/,
	  $node->safe_psql('postgres', qq{
SELECT count(*), count(*) FILTER (WHERE processing > global_limit OR manim > manim_limit),
       coalesce(max(processing), 0), coalesce(max(manim), 0)
  FROM public.queue_load_samples WHERE n > $after});
	my @worst = grep { $_ ne '' } split /\n/, $node->safe_psql('postgres', qq{
SELECT format('at %s: %s processing (limit %s), %s manim (limit %s)',
              at, processing, global_limit, manim, manim_limit)
  FROM public.queue_load_samples
 WHERE n > $after AND (processing > global_limit OR manim > manim_limit)
 ORDER BY processing - global_limit + manim - manim_limit DESC, n LIMIT 5});
	return {
		samples        => $samples,
		violations     => $violations,
		max_processing => $max_processing,
		max_manim      => $max_manim,
		worst          => \@worst,
	};
}

# The number of the last sample taken so far.
sub last_sample
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		'SELECT coalesce(max(n), 0) FROM public.queue_load_samples');
}

# What the jobs and their attempts came to, for the summary.
sub job_summary
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
SELECT (SELECT string_agg(status || ' ' || n, ', ' ORDER BY status)
          FROM (SELECT status, count(*) AS n FROM queue.jobs GROUP BY status) s)
       || format('; %s claims, %s attempts timed out, %s cancellations requested while running',
                 count(*) FILTER (WHERE to_status = 'processing' AND from_status = 'queued'),
                 count(*) FILTER (WHERE detail LIKE 'attempt timed out%'),
                 count(*) FILTER (WHERE detail LIKE 'cancellation requested%'))
  FROM queue.job_events});
}

# Run $query until it returns 't', for at most $seconds; true if it did.
# Shorter than poll_query_until's default, so a failing check fails fast.
sub poll_briefly
{
	my ($node, $query, $seconds) = @_;
	my $deadline = time + $seconds;
	while (time < $deadline)
	{
		# While the server restarts after a crash, psql can fail to connect and
		# exit before it reads its input; IPC::Run then dies writing the query
		# into the closed pipe (EPIPE). That means "not yet", like a refusal.
		my ($ret, $stdout) = eval { $node->psql('postgres', $query) };
		return 1 if defined $ret && $ret == 0 && $stdout eq 't';
		usleep(100_000);
	}
	return 0;
}

1;
