use strict; use warnings;
use FindBin; use lib "$FindBin::RealBin/../perl";
use PostgreSQL::Test::Cluster; use PostgreSQL::Test::Utils; use Test::More;
use PgsCitus;
my ($c, @w) = PgsCitus::cluster('smoke');
$c->safe_psql('postgres', q{CREATE TABLE ev(tenant int, v int); SELECT stream.create_stream('ev'); SELECT create_distributed_table('ev','tenant'); INSERT INTO ev SELECT g, g FROM generate_series(1,100) g;});
is($c->safe_psql('postgres','SELECT count(*) FROM ev'), '100', 'rows through the coordinator');
is($w[0]->safe_psql('postgres',"SELECT extversion FROM pg_extension WHERE extname='pg_streaming'"),
	$c->safe_psql('postgres',"SELECT extversion FROM pg_extension WHERE extname='pg_streaming'"),
	'extension on a worker, at the coordinator\'s version');
done_testing();
