# queue-dashboard against a live cluster: every endpoint with its status codes
# and JSON shape, figures equal to queue.stats(), keyset pagination and
# filters, basic auth on and off, admin actions refused without --allow-admin
# (or without the CSRF token) and audited with it, hostile strings that come
# back intact and inert, `promtool check metrics` on /metrics, alerts heard
# on LISTEN queue_alerts, a real browser that sees the numbers and a badge
# change without a reload (screenshot in tmp_check/log/), and /readyz and the
# page across a server restart.
#
# The dashboard binary is "$ENV{QUEUE_BUILD_DIR}/src/dashboard/queue-dashboard".
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Temp qw(tempfile);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use IPC::Run;
use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $build_dir = $ENV{QUEUE_BUILD_DIR}
  or BAIL_OUT('QUEUE_BUILD_DIR is not set: it names the CMake build with queue-dashboard');
my $dashboard = "$build_dir/src/dashboard/queue-dashboard";
-x $dashboard or BAIL_OUT("no queue-dashboard at $dashboard: build the CMake project first");

my $json = JSON::PP->new->utf8->canonical;
my $http = HTTP::Tiny->new(timeout => 20);

my $node = PostgreSQL::Test::Cluster->new('dashboard');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'queue'
queue.database = 'postgres'
queue.tick_interval = '200ms'
});
$node->start;

# Jobs in every state, with hostile strings in every field a person sees.
my $hostile_user = '<script>window.__pwned = 1</script>';
my $hostile_worker = q{<b onmouseover="window.__pwned=2">box "1"</b>'};
my $hostile_error = q{<img src=x onerror="window.__pwned=3"> & 'quoted' "error"};
my $long_user = 'long-user-' x 20;    # the longest user id enqueue takes
my $long_text = 'x' x 20000;
$node->safe_psql('postgres', qq{
CREATE EXTENSION queue;
DELETE FROM queue.peak_windows;                 -- limits fixed whatever the hour
UPDATE queue.settings SET worker_timeout = '1 day', alert_queue_depth = 3;
CREATE ROLE dash_reader LOGIN;   GRANT queue_dashboard TO dash_reader;
CREATE ROLE dash_admin LOGIN;    GRANT queue_admin TO dash_admin;
SELECT queue.register_worker(\$w\$$hostile_worker\$w\$, capacity => 4);
SELECT count(queue.enqueue('doubt', jsonb_build_object('html', \$h\$<img src=x onerror="window.__pwned=4">\$h\$),
                           user_id => \$u\$$hostile_user\$u\$)) FROM generate_series(1, 6);
SELECT queue.enqueue('topic_short', jsonb_build_object('script', '$long_text'), user_id => '$long_user');
SELECT queue.enqueue('daily_ca', user_id => \$q\$quote's "double" \\ back\$q\$);
SELECT count(*) FROM queue.dequeue(\$w\$$hostile_worker\$w\$, 4);
SELECT queue.complete(1, \$w\$$hostile_worker\$w\$, '{"url": "<a href=javascript:alert(1)>v</a>"}');
SELECT queue.fail(2, \$w\$$hostile_worker\$w\$, \$e\$$hostile_error\$e\$);
SELECT queue.fail(3, \$w\$$hostile_worker\$w\$, \$e\$$hostile_error\$e\$, retryable => false);
SELECT queue.cancel(5);
});
is($node->safe_psql('postgres', q{SELECT string_agg(status::text, ' ' ORDER BY id) FROM queue.jobs}),
	'completed retrying failed processing cancelled queued queued queued', 'jobs in every state');

# Start a dashboard; returns its URL once /healthz answers, and its handle.
my @dashboards;
sub start_dashboard {
	my ($role, @options) = @_;
	my $database = $role =~ s/^(\w+)@// ? $1 : 'postgres';    # "database@role"
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $log = "$PostgreSQL::Test::Utils::log_path/dashboard_$port.log";
	my $conninfo = $node->connstr($database) . " user=$role";
	my $handle = IPC::Run::start([ $dashboard, '--db', $conninfo, '--listen', "127.0.0.1:$port",
			'--tick-stale-seconds', '15', @options ], '>', $log, '2>&1');
	push @dashboards, $handle;
	my $url = "http://127.0.0.1:$port";
	for (1 .. 100) {
		return ($url, $handle) if $http->get("$url/healthz")->{status} == 200;
		select(undef, undef, undef, 0.1);
	}
	BAIL_OUT("queue-dashboard did not start; see $log");
}

sub get {
	my ($url, %headers) = @_;
	return $http->get($url, { headers => \%headers });
}
sub get_json {
	my ($url) = @_;
	my $response = get($url);
	die "GET $url: $response->{status} $response->{content}" unless $response->{status} == 200;
	return $json->decode($response->{content});
}
sub post_json {
	my ($url, $body, %headers) = @_;
	return $http->post($url, { headers => { 'Content-Type' => 'application/json', %headers },
			content => $json->encode($body) });
}
sub basic { return ('Authorization' => 'Basic ' . encode_base64(shift, '')); }

# Poll a condition (a sub) for up to $seconds; true once it held.
sub eventually {
	my ($seconds, $condition) = @_;
	for (1 .. $seconds * 5) {
		return 1 if $condition->();
		select(undef, undef, undef, 0.2);
	}
	return 0;
}

my ($open) = start_dashboard('dash_reader');

# Health.
is(get("$open/healthz")->{content}, "ok\n", '/healthz answers while the process runs');
ok(eventually(30, sub { get("$open/readyz")->{status} == 200 }),
	'/readyz turns 200 once the background worker has made a monitoring pass');
my $ready = get_json("$open/readyz");
is_deeply([ sort keys %$ready ], [qw(database extension last_tick_age_seconds)], 'readyz shape');
is($ready->{extension}, $node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'queue'}),
	'readyz names the extension version');

# Overview: the figures of queue.stats().
my $overview = get_json("$open/api/overview");
my @figures = qw(queued retrying processing completed failed cancelled queued_high queued_medium
  queued_low effective_limit);
my $stats = $node->safe_psql('postgres',
	'SELECT concat_ws(\' \', ' . join(', ', @figures) . ') FROM queue.stats()');
is(join(' ', map { $overview->{$_} } @figures), $stats, "overview figures equal queue.stats() ($stats)");
is_deeply($overview->{processing_by_resource}, { manim => { running => 0, limit => 4 } },
	'running per resource against its limit');
ok(defined $overview->{is_peak} && !$overview->{is_peak}, 'peak flag (no peak windows: off)');
my $response = get("$open/api/overview");
like($response->{headers}{'content-type'}, qr{^application/json}, 'API answers in JSON');
is($response->{headers}{'x-content-type-options'}, 'nosniff', 'nosniff on every response');
like($response->{headers}{'content-security-policy'}, qr/script-src 'self'/,
	'a Content-Security-Policy allows only the page\'s own script');

# Jobs: keyset pages, filters, the job page.
my $page = get_json("$open/api/jobs?limit=3");
is_deeply([ map { $_->{id} } @{ $page->{jobs} } ], [ 8, 7, 6 ], 'the newest jobs first');
is($page->{next_before}, 6, 'next_before is the last id of the page');
my @ids;
my $before = '';
while (1) {
	my $next = get_json("$open/api/jobs?limit=3$before");
	push @ids, map { $_->{id} } @{ $next->{jobs} };
	last unless defined $next->{next_before};
	$before = "&before=$next->{next_before}";
}
is("@ids", '8 7 6 5 4 3 2 1', 'walking the pages visits every job once');
is_deeply([ sort keys %{ $page->{jobs}[0] } ],
	[ sort qw(id job_type priority resource status user_id worker_id attempts max_attempts enqueued_at
	  started_at finished_at cancel_requested last_error) ], 'a job row\'s fields');
is(join(' ', map { $_->{id} } @{ get_json("$open/api/jobs?status=queued")->{jobs} }), '8 7 6',
	'filter by status');
is(join(' ', map { $_->{id} } @{ get_json("$open/api/jobs?type=daily_ca")->{jobs} }), '8',
	'filter by type');
my $by_user = get_json("$open/api/jobs?user=" . uri_escape($hostile_user));
is(scalar @{ $by_user->{jobs} }, 6, 'filter by a hostile user id finds its six jobs');
is($by_user->{jobs}[0]{user_id}, $hostile_user, 'the hostile user id comes back intact');
is(get_json("$open/api/jobs?type=topic_short")->{jobs}[0]{user_id}, $long_user,
	'a 200-character user id comes back whole');
is(get_json("$open/api/jobs/7")->{job}{payload}{script}, $long_text, 'and a 20 kB payload');
is(get("$open/api/jobs?status=lost")->{status}, 400, 'an unknown status is a 400');
is(get("$open/api/jobs?limit=0")->{status}, 400, 'a page size of 0 is a 400');
is(get("$open/api/jobs?before=7%20OR%20true")->{status}, 400, 'a malformed cursor is a 400');

my $job = get_json("$open/api/jobs/2");
is($job->{job}{last_error}, $hostile_error, 'the job page has the whole hostile error');
is($job->{job}{worker_id}, $hostile_worker, 'and the hostile worker id');
is($job->{job}{payload}{html}, '<img src=x onerror="window.__pwned=4">', 'and the payload');
is(join(' ', map { $_->{to_status} } @{ $job->{events} }), 'queued processing retrying',
	'the job\'s event timeline');
is(get("$open/api/jobs/999")->{status}, 404, 'an unknown job is a 404');
is(get("$open/api/jobs/abc")->{status}, 400, 'a malformed job id is a 400');

# Invalid UTF-8: a SQL_ASCII database keeps any bytes; the API still answers
# valid JSON, with U+FFFD for each byte that is not UTF-8.
$node->safe_psql('postgres',
	q{CREATE DATABASE bytes ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0});
$node->safe_psql('bytes', q{CREATE EXTENSION queue;
SELECT queue.enqueue('doubt', user_id => E'bad \\xff\\xfe bytes <script>')});
my ($bytes) = start_dashboard('bytes@dash_reader');
my $raw = get("$bytes/api/jobs")->{content};
my $decoded = eval { $json->decode($raw) };
ok($decoded, 'bytes that are not UTF-8 still make valid UTF-8 JSON') or diag($@);
is($decoded->{jobs}[0]{user_id}, "bad \x{FFFD}\x{FFFD} bytes <script>", 'each one replaced by U+FFFD');

# Workers, history, alerts.
my $workers = get_json("$open/api/workers")->{workers};
is(scalar @$workers, 1, 'one registered worker');
is($workers->[0]{worker_id}, $hostile_worker, 'the hostile worker id comes back intact');
is("$workers->[0]{state} $workers->[0]{running}/$workers->[0]{capacity}", 'active 1/4',
	'worker state, running against capacity');
ok(eventually(30, sub {
	my $minutes = get_json("$open/api/history?minutes=60")->{minutes};
	my $enqueued = 0;
	$enqueued += $_->{enqueued} for @$minutes;
	return $enqueued == 8;
}), 'history counts the eight enqueues');
my $minute = get_json("$open/api/history?minutes=60")->{minutes}[-1];
is_deeply([ sort keys %$minute ], [ sort qw(minute queued processing enqueued started completed failed
	  retried timed_out cancelled avg_wait_seconds) ], 'a minute\'s fields');
is(get("$open/api/history?minutes=0")->{status}, 400, 'history of 0 minutes is a 400');
ok(eventually(30, sub { grep { $_->{alert} eq 'queue_depth' } @{ get_json("$open/api/alerts")->{active} } }),
	'the queue_depth alert (3 queued, threshold 3) is active');

# Alerts reach a listener: a change of threshold clears the alert with a NOTIFY.
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN queue_alerts');
$node->safe_psql('postgres', 'UPDATE queue.settings SET alert_queue_depth = 500');
my @heard;
ok(eventually(30, sub {
	push @heard, $listener->query_safe('SELECT 1') =~ /notification "queue_alerts" with payload "(.*?)" received/g;
	return grep { /"state": "cleared"/ } @heard;
}), 'NOTIFY queue_alerts announces the cleared alert');
my ($cleared) = grep { /"cleared"/ } @heard;
my $payload = $json->decode($cleared);
is("$payload->{alert} $payload->{state}", 'queue_depth cleared', 'the payload is JSON naming the alert');
$listener->quit;
my $alerts = get_json("$open/api/alerts");
ok((grep { $_->{alert} eq 'queue_depth' && defined $_->{cleared_at} } @{ $alerts->{recent} }),
	'the cleared alert is in the last day\'s history');

# Prometheus exposition.
my $metrics = get("$open/metrics");
like($metrics->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, '/metrics content type');
my ($metrics_fh, $metrics_file) = tempfile(DIR => $PostgreSQL::Test::Utils::tmp_check);
print $metrics_fh $metrics->{content};
close $metrics_fh;
my ($promtool_out, $promtool_err);
my $promtool_ok = IPC::Run::run([ 'promtool', 'check', 'metrics' ], '<', $metrics_file,
	'>', \$promtool_out, '2>', \$promtool_err);
ok($promtool_ok, 'promtool check metrics accepts /metrics')
  or diag("promtool: $promtool_out $promtool_err");
my $rules = dirname(__FILE__) . '/../../examples/prometheus/queue-alerts.yml';
ok(IPC::Run::run([ 'promtool', 'check', 'rules', $rules ], '>', \$promtool_out, '2>', \$promtool_err),
	'promtool check rules accepts the example alert rules')
  or diag("promtool: $promtool_out $promtool_err");
my $queued = $node->safe_psql('postgres', 'SELECT queued FROM queue.stats()');
like($metrics->{content}, qr/^queue_jobs\{status="queued"\} $queued$/m, 'queue_jobs equals stats()');
like($metrics->{content}, qr/^queue_jobs_enqueued_total\{job_type="doubt"\} 6$/m,
	'enqueues counted per job type');
like($metrics->{content}, qr/^queue_job_wait_seconds_count\{job_type="doubt"\} 4$/m,
	'wait histogram over the four started attempts');
like($metrics->{content}, qr/^queue_dashboard_database_up 1$/m, 'the dashboard reports the database up');
unlike($metrics->{content}, qr/script|long-user|box/, 'no user or worker id in any label');

# Basic auth.
my (undef, $auth_file) = tempfile(DIR => $PostgreSQL::Test::Utils::tmp_check);
PostgreSQL::Test::Utils::append_to_file($auth_file, "# people\nalice:s3cret\nbob:hunter2\n");
chmod 0644, $auth_file;
my $refused = IPC::Run::run([ $dashboard, '--auth-file', $auth_file, '--listen', '127.0.0.1:1' ],
	'>', \my $refused_out, '2>', \my $refused_err);
ok(!$refused && $refused_err =~ /read by group or others/, 'a password file others can read is refused');
chmod 0600, $auth_file;
my ($locked) = start_dashboard('dash_reader', '--auth-file', $auth_file);
my $challenge = get("$locked/api/overview");
is($challenge->{status}, 401, 'without credentials: 401');
like($challenge->{headers}{'www-authenticate'}, qr/^Basic realm=/, 'with a Basic challenge');
is(get("$locked/api/overview", basic('alice:wrong'))->{status}, 401, 'a wrong password: 401');
is(get("$locked/", basic('bob:hunter2'))->{status}, 200, 'the right password opens the page');
is(get("$locked/metrics")->{status}, 401, '/metrics needs credentials too');
is(get("$locked/healthz")->{status}, 200, 'health probes need none');
is(get("$open/api/overview")->{status}, 200, 'a dashboard without --auth-file needs none');

# Admin actions.
is(post_json("$open/api/admin/cancel", { job_id => 6 })->{status}, 403,
	'without --allow-admin a cancel is refused');
my $session = $json->decode(get("$locked/api/session", basic('alice:s3cret'))->{content});
is(post_json("$locked/api/admin/cancel", { job_id => 6 }, basic('alice:s3cret'),
	'X-CSRF-Token' => 'x')->{status}, 403, 'a read-only dashboard refuses even with credentials');
ok(!$session->{admin} && !defined $session->{csrf_token}, 'and hands out no token');

my ($admin) = start_dashboard('dash_admin', '--auth-file', $auth_file, '--allow-admin');
$session = $json->decode(get("$admin/api/session", basic('alice:s3cret'))->{content});
ok($session->{admin} && length($session->{csrf_token}) == 64, 'an admin session has a CSRF token');
my @as_alice = (basic('alice:s3cret'), 'X-CSRF-Token' => $session->{csrf_token});
is(post_json("$admin/api/admin/cancel", { job_id => 6 }, basic('alice:s3cret'))->{status}, 403,
	'an admin POST without the token is refused');
is(post_json("$admin/api/admin/cancel", { job_id => 6 }, basic('alice:s3cret'),
	'X-CSRF-Token' => 'f' x 64)->{status}, 403, 'and with a wrong one');
is(post_json("$admin/api/admin/cancel", { job_id => 6 })->{status}, 401, 'and without credentials');
is($node->safe_psql('postgres', 'SELECT count(*) FROM queue.admin_audit'), '0',
	'refused actions leave no audit row');
my $cancel = post_json("$admin/api/admin/cancel", { job_id => 6 }, @as_alice);
is("$cancel->{status} $cancel->{content}", '200 {"result":true}', 'alice cancels job 6');
is(post_json("$admin/api/admin/drain", { worker_id => $hostile_worker }, @as_alice)->{status}, 200,
	'alice drains the worker');
is(post_json("$admin/api/admin/limit", { resource => undef, max_concurrent => 12 }, @as_alice)->{content},
	'{"result":10}', 'alice raises max_concurrent from 10');
is(post_json("$admin/api/admin/limit", { resource => 'manim', max_concurrent => 2 }, @as_alice)->{content},
	'{"result":4}', 'and lowers manim\'s limit from 4');
is(post_json("$admin/api/admin/limit", { resource => 'nope', max_concurrent => 2 }, @as_alice)->{status},
	400, 'an unknown resource is a 400');
is(post_json("$admin/api/admin/limit", { resource => undef, max_concurrent => 'many' }, @as_alice)->{status},
	400, 'a limit that is not a number is a 400');
is($node->safe_psql('postgres', q{
SELECT string_agg(format('%s|%s|%s|%s', db_role, actor, action, target), E'\n' ORDER BY id)
  FROM queue.admin_audit}),
	"dash_admin|alice|cancel|6\ndash_admin|alice|drain_worker|$hostile_worker\n"
	  . "dash_admin|alice|set_limit|*\ndash_admin|alice|set_limit|manim",
	'each action is audited with the login role and the signed-in person');
is($node->safe_psql('postgres', q{SELECT (SELECT status FROM queue.jobs WHERE id = 6) || ' '
	|| (SELECT state FROM queue.workers) || ' ' || (SELECT max_concurrent FROM queue.settings)
	|| ' ' || (SELECT max_concurrent FROM queue.resources WHERE resource = 'manim')}),
	'cancelled draining 12 2', 'and took effect');
my ($reader_admin) = start_dashboard('dash_reader', '--auth-file', $auth_file, '--allow-admin');
my $reader_session = $json->decode(get("$reader_admin/api/session", basic('bob:hunter2'))->{content});
is(post_json("$reader_admin/api/admin/cancel", { job_id => 7 }, basic('bob:hunter2'),
	'X-CSRF-Token' => $reader_session->{csrf_token})->{status}, 403,
	'with --allow-admin but a role without queue_admin, the database refuses');

# A real browser: the numbers a person sees, hostile strings as text, a live
# badge change without a reload.
my ($browser, $cdp);
SKIP: {
	my $chromium = (grep { -x } map { "$_/chromium" } split /:/, $ENV{PATH})[0];
	skip 'chromium is not installed', 8 unless $chromium;
	my $debug_port = PostgreSQL::Test::Cluster::get_free_port();
	my $profile = PostgreSQL::Test::Utils::tempdir('chromium');
	$browser = IPC::Run::start([ $chromium, '--headless=new', '--no-sandbox', '--disable-gpu',
			'--disable-dev-shm-usage', "--remote-debugging-port=$debug_port", "--user-data-dir=$profile",
			'--window-size=1300,1600', 'about:blank' ],
		'>', "$PostgreSQL::Test::Utils::log_path/chromium.log", '2>&1');
	my $target;
	eventually(30, sub {
		my $list = $http->get("http://127.0.0.1:$debug_port/json/list");
		return 0 unless $list->{status} == 200;
		($target) = grep { $_->{type} eq 'page' } @{ $json->decode($list->{content}) };
		return defined $target;
	}) or BAIL_OUT('chromium did not open its debugging port');
	$cdp = DevTools->connect($target->{webSocketDebuggerUrl});
	$cdp->call('Page.navigate', { url => "$open/?refresh=1" });
	ok(eventually(30, sub { ($cdp->evaluate('Number(document.body.dataset.updates || 0)') // 0) >= 2 }),
		'the page loads and updates itself');

	my $db = $node->safe_psql('postgres',
		q{SELECT concat_ws(' ', queued, processing, retrying, effective_limit) FROM queue.stats()});
	my $shown;
	eventually(10, sub {
		$shown = $cdp->evaluate(q{['queued', 'processing', 'retrying', 'effective_limit'].map(
			(n) => document.querySelector('[data-figure="' + n + '"]').textContent).join(' ')});
		return defined $shown && $shown eq $db;
	});
	is($shown, $db, "the figures a person sees equal the database ($db)");
	is($cdp->evaluate(q{document.querySelector('tr[data-job-id="2"] td.ident').textContent}),
		$hostile_user, 'a hostile user id shows as text');
	is($cdp->evaluate(q{document.querySelector('tr[data-job-id="2"] td.error').textContent}),
		$hostile_error, 'a hostile error shows as text');
	is($cdp->evaluate(q{[typeof window.__pwned, document.scripts.length,
		document.querySelectorAll('img, [onmouseover], [onerror], a[href^="javascript"]').length].join(' ')}),
		'undefined 1 0', 'no planted markup became an element or ran');

	$cdp->evaluate('window.__same_page = "yes"');
	is($cdp->evaluate(q{document.querySelector('tr[data-job-id="4"] .badge').textContent}),
		'processing', 'job 4 shows as processing');
	$node->safe_psql('postgres', qq{SELECT queue.complete(4, \$w\$$hostile_worker\$w\$)});
	ok(eventually(20, sub {
		($cdp->evaluate(q{document.querySelector('tr[data-job-id="4"] .badge').textContent}) // '')
		  eq 'completed' }), 'its badge turns to completed on its own');
	is($cdp->evaluate('window.__same_page'), 'yes', 'without a reload');

	my $shot = $cdp->call('Page.captureScreenshot', { format => 'png' });
	my $png = "$PostgreSQL::Test::Utils::log_path/dashboard.png";
	open my $out, '>:raw', $png or die "$png: $!";
	print $out decode_base64($shot->{data});
	close $out;
	note("screenshot: $png");
}

# A server restart: the dashboard reports the database unreachable, then recovers.
$node->stop('fast');
my $down = get("$open/api/overview");
is($down->{status}, 503, 'with the server down the API answers 503');
is($json->decode($down->{content})->{error}, 'database unreachable', 'saying the database is unreachable');
is(get("$open/readyz")->{status}, 503, '/readyz fails');
is(get("$open/healthz")->{status}, 200, '/healthz still answers: the process is up');
like(get("$open/metrics")->{content}, qr/^queue_dashboard_database_up 0$/m, '/metrics says the database is down');
my $banner = q{document.getElementById('unreachable').hidden ? 'hidden' : 'shown'};
SKIP: {
	skip 'no browser', 1 unless $cdp;
	ok(eventually(20, sub { ($cdp->evaluate($banner) // '') eq 'shown' }),
		'the page says the database is unreachable');
}
$node->start;
ok(eventually(30, sub { get("$open/readyz")->{status} == 200 }), '/readyz recovers after the restart');
is(get("$open/api/overview")->{status}, 200, 'and so does the API, without restarting the dashboard');
SKIP: {
	skip 'no browser', 1 unless $cdp;
	ok(eventually(20, sub { ($cdp->evaluate($banner) // '') eq 'hidden' }),
		'the page recovers on its own');
	$cdp->close;
	$browser->kill_kill;
}

$_->signal('TERM') for @dashboards;
is(scalar(grep { $_->finish } @dashboards), scalar(@dashboards),
	'every dashboard exits cleanly (status 0) on SIGTERM');
$node->stop;
done_testing();

sub uri_escape {
	my ($text) = @_;
	$text =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
	return $text;
}

# A minimal Chrome DevTools Protocol client over a WebSocket (RFC 6455): text
# frames, client-masked, enough to navigate, evaluate and take a screenshot.
package DevTools;

sub connect {
	my ($class, $url) = @_;
	my ($host, $port, $path) = $url =~ m{^ws://([^:/]+):(\d+)(/.*)$} or die "bad url $url";
	my $socket = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port) or die "connect: $!";
	binmode $socket;
	my $key = MIME::Base64::encode_base64(join('', map { chr int rand 256 } 1 .. 16), '');
	print $socket "GET $path HTTP/1.1\r\nHost: $host:$port\r\nUpgrade: websocket\r\n"
	  . "Connection: Upgrade\r\nSec-WebSocket-Key: $key\r\nSec-WebSocket-Version: 13\r\n\r\n";
	my $self = bless { socket => $socket, buffer => '', id => 0 }, $class;
	$self->{buffer} .= $self->_read_some until $self->{buffer} =~ /\r\n\r\n/;
	my ($head, $rest) = split /\r\n\r\n/, $self->{buffer}, 2;
	die "websocket handshake: $head" unless $head =~ m{^HTTP/1\.1 101};
	$self->{buffer} = $rest;
	return $self;
}

sub _read_some {
	my ($self) = @_;
	die 'devtools: no answer within 30 s' unless IO::Select->new($self->{socket})->can_read(30);
	my $read = sysread($self->{socket}, my $chunk, 65536);
	die "devtools: connection closed" unless $read;
	return $chunk;
}

sub _take {
	my ($self, $length) = @_;
	$self->{buffer} .= $self->_read_some while length($self->{buffer}) < $length;
	return substr($self->{buffer}, 0, $length, '');
}

sub _send {
	my ($self, $text) = @_;
	my $length = length $text;
	my $header = chr(0x81);
	if ($length < 126) { $header .= chr(0x80 | $length); }
	elsif ($length < 65536) { $header .= chr(0x80 | 126) . pack('n', $length); }
	else { $header .= chr(0x80 | 127) . pack('Q>', $length); }
	my $mask = join '', map { chr int rand 256 } 1 .. 4;
	my $masked = $text ^ substr($mask x (int($length / 4) + 1), 0, $length);
	print { $self->{socket} } $header . $mask . $masked;
}

# The next whole message (continuation frames joined).
sub _receive {
	my ($self) = @_;
	my $message = '';
	while (1) {
		my ($first, $second) = map { ord } split //, $self->_take(2);
		my $length = $second & 0x7f;
		$length = unpack('n', $self->_take(2)) if $length == 126;
		$length = unpack('Q>', $self->_take(8)) if $length == 127;
		$message .= $self->_take($length);
		return $message if $first & 0x80;
	}
}

sub call {
	my ($self, $method, $params) = @_;
	my $id = ++$self->{id};
	$self->_send($json->encode({ id => $id, method => $method, params => $params // {} }));
	while (1) {
		my $reply = $json->decode($self->_receive);
		next unless defined $reply->{id} && $reply->{id} == $id;
		die "$method: $reply->{error}{message}" if $reply->{error};
		return $reply->{result};
	}
}

# The value of a JavaScript expression in the page (undef when it threw).
sub evaluate {
	my ($self, $expression) = @_;
	my $result = $self->call('Runtime.evaluate', { expression => $expression, returnByValue => JSON::PP::true });
	return undef if $result->{exceptionDetails};
	return $result->{result}{value};
}

sub close { close shift->{socket}; }
