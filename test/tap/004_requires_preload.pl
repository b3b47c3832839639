# Without shared_preload_libraries the extension refuses to install, with a
# hint saying how to preload it; nothing is left half-installed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('plain');
$node->init;
$node->start;
my ($result, $stdout, $stderr) = $node->psql('postgres', 'CREATE EXTENSION queue');
isnt($result, 0, 'CREATE EXTENSION fails without the preload');
like($stderr, qr/queue must be loaded via shared_preload_libraries/, 'the error says why');
like($stderr, qr/HINT:\s+Add queue to shared_preload_libraries/, 'the hint says how');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_namespace WHERE nspname = 'queue'}),
	'0', 'nothing was left behind');
$node->stop;
done_testing();
