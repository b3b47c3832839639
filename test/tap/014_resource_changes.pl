# A rename or delete of a resource waits for the transactions enqueuing jobs
# for it, and later enqueues for the resource wait behind it. So that one
# transaction left open cannot hold them, and the admin, for ever, the wait
# is bounded: by the admin's lock_timeout, or 5 s when it is not set; then
# the change fails with 55P03 and the enqueues go on. Once the enqueuing
# transaction ends, the rename goes through and moves its job along.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('resource_changes');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'queue'
queue.enabled = off
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION queue;
INSERT INTO queue.resources (resource, max_concurrent) VALUES ('gpu', 2);
});

my $rename = q{UPDATE queue.resources SET resource = 'gpu2' WHERE resource = 'gpu'};
my $app = $node->background_psql('postgres');
$app->query_safe('BEGIN');
$app->query_safe(q{SELECT queue.enqueue('topic_short', resource => 'gpu')});

my ($ret, $out, $err) = $node->psql('postgres', "SET lock_timeout = '200ms'; $rename");
isnt($ret, 0, 'a rename while a transaction enqueuing for the resource is open fails ...');
like($err, qr/lock timeout/, '... once the admin\'s lock_timeout has passed');

($ret, $out, $err) = $node->psql('postgres', $rename);
like($err, qr/lock timeout/, 'without a lock_timeout it fails too, after its own bound');
is($node->safe_psql('postgres', q{SELECT queue.enqueue('topic_short', resource => 'gpu') > 0}),
	't', 'enqueues for the resource go on');

$app->query_safe('COMMIT');
$app->quit;
$node->safe_psql('postgres', $rename);
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT resource, ',') FROM queue.jobs}),
	'gpu2', 'once the enqueuing transaction ended, the rename moved its jobs along');

$node->stop;
done_testing();
