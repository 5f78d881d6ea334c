# A query that cannot be served says so.  With max_worker_processes used
# up, a database whose query has no worker slot, and a database whose
# scheduler cannot be started, each get a WARNING naming
# max_worker_processes in the server log (once a minute, not per attempt)
# and their queries show why in stream.queries.serving; given the slots,
# they all run.  Also the worker's own messages: a worker of a failed query
# does not go on showing it as running in pg_stat_activity, and after a
# restart no worker that gave its slot to another database is taken for
# one that could not connect as its role.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('slots');
$node->init;
# the launcher and one scheduler take both slots: nothing is left for a
# query worker or for a second database's scheduler
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
pg_streaming.max_workers = 4
max_worker_processes = 2
max_logical_replication_workers = 0
max_parallel_workers = 0
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (id int);
	SELECT stream.create_stream('ev');
	SELECT stream.start_query('starved', 'SELECT id FROM ev', 'starved_out', trigger => '100 ms');
	INSERT INTO ev SELECT generate_series(1, 10);
});

ok($node->poll_query_until('postgres',
		"SELECT serving = 'no worker slot: max_worker_processes is used up' FROM stream.queries WHERE name = 'starved'"),
	'a query with no worker slot says so in stream.queries');
is($node->safe_psql('postgres', 'SELECT count(*) FROM starved_out'), '0',
	'and indeed ran nothing');
ok($node->wait_for_log(qr/WARNING:  pg_streaming could not start a query worker: max_worker_processes is used up\n.*DETAIL:  All 2 background worker slots are taken; pg_streaming holds 2 of them \(the launcher, 1 schedulers, 0 query workers\)\. 1 due queries of this database wait for a worker.*\n.*HINT:  Raise max_worker_processes/, 0),
	'the scheduler warns, naming max_worker_processes and what holds the slots');

# a second database: its scheduler cannot be started
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (id int);
	SELECT stream.create_stream('ev');
	SELECT stream.start_query('orphan', 'SELECT id FROM ev', 'orphan_out', trigger => '100 ms');
	INSERT INTO ev SELECT generate_series(1, 5);
});
ok($node->poll_query_until('other',
		"SELECT serving = 'no scheduler: max_worker_processes is used up' FROM stream.queries WHERE name = 'orphan'"),
	'a query whose database has no scheduler says so in stream.queries');
ok($node->wait_for_log(qr/WARNING:  pg_streaming could not start the scheduler of 1 database\(s\), among them "other": max_worker_processes is used up\n.*DETAIL:  All 2 background worker slots are taken.*\n.*HINT:  Raise max_worker_processes \(a restart is needed\) by at least 1/, 0),
	'the launcher warns, naming the database and max_worker_processes');

# attempts go on every second; the warnings do not
sleep(3);
my $log = slurp_file($node->logfile);
my $worker_warnings = () = $log =~ /could not start a query worker/g;
my $sched_warnings = () = $log =~ /could not start the scheduler/g;
is($worker_warnings, 1, 'the worker slot warning is not repeated within the minute');
is($sched_warnings, 1, 'the scheduler slot warning is not repeated within the minute');
is($node->safe_psql('postgres', "SELECT status FROM stream.queries WHERE name = 'starved'"),
	'active', 'the query stays active: it is not failed for want of a slot');

# given the slots, everything runs
$node->append_conf('postgresql.conf', qq{
max_worker_processes = 8
pg_streaming.max_workers = 1
});
$node->restart;
ok($node->poll_query_until('postgres', 'SELECT count(*) = 10 FROM starved_out'),
	'with slots to spare the starved query runs');
ok($node->poll_query_until('other', 'SELECT count(*) = 5 FROM orphan_out'),
	'and so does the other database\'s');
ok($node->poll_query_until('postgres',
		"SELECT serving IN ('waiting for its trigger', 'running') FROM stream.queries WHERE name = 'starved'"),
	'stream.queries no longer shows it waiting');
is($node->safe_psql('postgres', "SELECT serving FROM stream.queries WHERE status <> 'active'"), '',
	'a query that is not active shows nothing');

# both databases' queries ran, owned by the bootstrap superuser, in a
# one-worker pool after a restart: no role is reported unusable
my $after_restart = -s $node->logfile;
$node->safe_psql('postgres', 'INSERT INTO ev SELECT generate_series(11, 20)');
$node->safe_psql('other', 'INSERT INTO ev SELECT generate_series(6, 10)');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 20 FROM starved_out'),
	'rows keep arriving in the first database');
ok($node->poll_query_until('other', 'SELECT count(*) = 10 FROM orphan_out'),
	'and in the second, the one worker going between them');
unlike(slurp_file($node->logfile, $after_restart), qr/could not connect as role/,
	'a worker that gave its slot to another database is not taken for one that could not connect');

# a failed query's worker no longer shows it running (the only query, so
# that its worker stays in this database)
$node->safe_psql('postgres', "SELECT stream.stop_query('starved')");
$node->safe_psql('other', "SELECT stream.stop_query('orphan')");
$node->safe_psql('postgres', q{
	CREATE TABLE zero (d int);
	INSERT INTO zero VALUES (0);
	SELECT stream.start_query('bad', 'SELECT id / (SELECT d FROM zero LIMIT 1) AS x FROM ev',
	                          'bad_out', trigger => '100 ms');
});
ok($node->poll_query_until('postgres', "SELECT status = 'failed' FROM stream.queries WHERE name = 'bad'"),
	'the failing query failed');
is($node->safe_psql('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_streaming worker'}),
	't', 'its worker is still there');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity
	 WHERE backend_type = 'pg_streaming worker'
	   AND (query LIKE '%"bad"%' OR application_name LIKE '%bad%')}),
	'0', 'but pg_stat_activity does not show it running the failed query');

$node->stop;
done_testing();
