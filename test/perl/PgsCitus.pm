# A Citus cluster for the scale-out tests: a coordinator and N workers on
# this machine, each a PostgreSQL::Test::Cluster node (its own port on
# loopback) with citus and pg_streaming preloaded, the extensions created
# and the workers added to the coordinator's metadata.
#
#   use FindBin;
#   use lib "$FindBin::RealBin/../perl";
#   use PgsCitus;
#   my ($coord, @workers) = PgsCitus::cluster('name', workers => 2);
package PgsCitus;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# is Citus installed in the PostgreSQL the tests run? (scripts/test.sh
# installs it before the TAP suite)
sub installed
{
	my $libdir = `pg_config --pkglibdir`;
	chomp $libdir;
	return -f "$libdir/citus.so";
}

sub _conf
{
	my ($node, $extra) = @_;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'citus,pg_streaming'
listen_addresses = '127.0.0.1'
citus.node_conninfo = 'sslmode=disable'
max_connections = 300
max_prepared_transactions = 200
wal_level = logical
max_worker_processes = 24
max_wal_senders = 10
max_replication_slots = 10
pg_streaming.launcher_naptime = '500ms'
$extra
});
}

# cluster(name, workers => N, conf => 'extra settings for every node')
sub cluster
{
	my ($name, %opt) = @_;
	my $nworkers = $opt{workers} // 2;
	my $extra = $opt{conf} // '';

	BAIL_OUT('Citus is not installed: scripts/test.sh installs it from ../shared/vendor')
	  unless installed();

	my $coord = PostgreSQL::Test::Cluster->new("${name}_coord");
	my @workers;
	for my $i (1 .. $nworkers)
	{
		push @workers, PostgreSQL::Test::Cluster->new("${name}_w$i");
	}
	for my $node ($coord, @workers)
	{
		$node->init(allows_streaming => 'logical');
		_conf($node, $extra);
		$node->start;
	}
	for my $w (@workers)
	{
		$w->safe_psql('postgres', 'CREATE EXTENSION citus');
	}
	$coord->safe_psql('postgres', q{
		CREATE EXTENSION citus;
		CREATE EXTENSION pg_streaming;
	});
	$coord->safe_psql('postgres',
		"SELECT citus_set_coordinator_host('127.0.0.1', " . $coord->port . ")");
	for my $w (@workers)
	{
		$coord->safe_psql('postgres',
			"SELECT citus_add_node('127.0.0.1', " . $w->port . ")");
	}
	return ($coord, @workers);
}

# add_worker(coord, name): a further worker node, started and added
sub add_worker
{
	my ($coord, $name, %opt) = @_;
	my $w = PostgreSQL::Test::Cluster->new($name);
	$w->init(allows_streaming => 'logical');
	_conf($w, $opt{conf} // '');
	$w->start;
	$w->safe_psql('postgres', 'CREATE EXTENSION citus');
	$coord->safe_psql('postgres',
		"SELECT citus_add_node('127.0.0.1', " . $w->port . ")");
	return $w;
}

1;
