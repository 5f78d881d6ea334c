# No fixed table of databases: only databases with pg_streaming count, up
# to pg_streaming.max_databases.  A cluster with 70 databases without the
# extension (more than the 64 entries 0.5 had for all databases) still
# serves the six databases created after them, and again after a restart;
# at the limit a WARNING names the
# setting and the unserved database's queries show it in
# stream.queries.serving; when a database with the extension goes, the
# waiting one is served.  A database whose queries are all stopped gives
# its scheduler's slot back, and gets one again when a query starts.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('many');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
pg_streaming.worker_idle_timeout = '1s'
pg_streaming.max_databases = 6
pg_streaming.max_workers = 2
max_worker_processes = 16
});
$node->start;

# seventy databases without the extension, made before the ones with it
$node->safe_psql('postgres',
	join('', map { "CREATE DATABASE plain$_ STRATEGY file_copy;\n" } (1 .. 70)));

sub with_query
{
	my ($db) = @_;
	$node->safe_psql($db, q{
		CREATE EXTENSION pg_streaming;
		CREATE TABLE ev (id int);
		SELECT stream.create_stream('ev');
		SELECT stream.start_query('q', 'SELECT id FROM ev', 'q_out', trigger => '100 ms');
		INSERT INTO ev SELECT generate_series(1, 10);
	});
}

my @served = map { "served$_" } (1 .. 6);
for my $db (@served)
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	with_query($db);
}
for my $db (@served)
{
	ok($node->poll_query_until($db, 'SELECT count(*) = 10 FROM q_out'),
		"$db, made after 70 databases without the extension, is served");
}

# after a restart every one of them is found again and served
$node->safe_psql($_, 'INSERT INTO ev VALUES (11)') for @served;
$node->restart;
for my $db (@served)
{
	ok($node->poll_query_until($db, 'SELECT count(*) = 11 FROM q_out'),
		"$db is served again after a restart");
}

# a seventh database with the extension is one too many
$node->safe_psql('postgres', 'CREATE DATABASE waiting');
with_query('waiting');
ok($node->poll_query_until('waiting',
		"SELECT serving = 'no scheduler: pg_streaming.max_databases is reached' FROM stream.queries WHERE name = 'q'"),
	'the database over the limit shows it in stream.queries');
ok($node->wait_for_log(qr/WARNING:  pg_streaming cannot serve 1 database\(s\), among them "waiting": pg_streaming.max_databases is reached\n.*DETAIL:  All 6 entries are held by databases that have pg_streaming or are being looked at.*\n.*HINT:  Raise pg_streaming.max_databases \(a restart is needed\) to at least 7/, 0),
	'a WARNING names pg_streaming.max_databases');
is($node->safe_psql('waiting', 'SELECT count(*) FROM q_out'), '0', 'its query has not run');

# one goes: the waiting one takes its entry
$node->safe_psql('postgres', 'DROP DATABASE served6');
ok($node->poll_query_until('waiting', 'SELECT count(*) = 10 FROM q_out'),
	'when a database with the extension is dropped, the waiting one is served');

# a database with nothing to run gives its scheduler's slot back
my $schedulers = q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'pg_streaming scheduler' AND datname = 'served2'};
$node->safe_psql('served2', "SELECT stream.stop_query('q')");
ok($node->poll_query_until('postgres', "SELECT ($schedulers) = 0"),
	'a database whose queries are all stopped keeps no scheduler');
$node->safe_psql('served2', q{
	INSERT INTO ev SELECT generate_series(12, 15);
	SELECT stream.resume_query('q');
});
ok($node->poll_query_until('served2', 'SELECT count(*) = 15 FROM q_out'),
	'starting a query there brings its scheduler back');
is($node->safe_psql('served2', "SELECT serving IS NOT NULL FROM stream.queries WHERE name = 'q'"),
	't', 'and it is served');

$node->stop;
done_testing();
