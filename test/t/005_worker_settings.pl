# A worker runs the batches of many queries one after the other; whatever
# the code of one batch sets in the session (a target trigger's
# set_config(..., false)) is rolled back with that batch and never reaches
# the next batch the same worker runs, and session-level advisory locks it
# took are let go.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('settings');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
pg_streaming.max_workers = 1
max_worker_processes = 8
work_mem = '4MB'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE ROLE meddler LOGIN;
	GRANT CREATE ON SCHEMA public TO meddler;
	SET ROLE meddler;
	CREATE TABLE ev (id int);
	SELECT stream.create_stream('ev');
	CREATE TABLE a_out (id int);
	CREATE FUNCTION meddle() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
	    PERFORM set_config('work_mem', '1234kB', false);
	    PERFORM set_config('search_path', 'nowhere', false);
	    PERFORM pg_advisory_lock(4242);
	    RETURN NEW;
	END $$;
	CREATE TRIGGER meddle BEFORE INSERT ON a_out FOR EACH ROW EXECUTE FUNCTION meddle();
	SELECT stream.start_query('a', 'SELECT id FROM ev', 'a_out', trigger => '100 ms');
	SELECT stream.start_query('b',
	    $$SELECT id, current_setting('work_mem') AS work_mem,
	             current_setting('search_path') AS search_path FROM ev$$,
	    'b_out', trigger => '100 ms');
});

# rounds of rows, each processed by both queries in the one worker
for my $round (1 .. 4)
{
	$node->safe_psql('postgres', "INSERT INTO ev VALUES ($round)");
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = $round FROM a_out"),
		"round $round: query a ran");
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = $round FROM b_out"),
		"round $round: query b ran");
}
is($node->safe_psql('postgres',
		"SELECT count(DISTINCT pid) FROM pg_stat_activity WHERE backend_type = 'pg_streaming worker'"),
	'1', 'both queries ran in one worker');
is($node->safe_psql('postgres',
		'SELECT DISTINCT work_mem || \' \' || search_path FROM b_out'),
	'4MB pg_catalog, "$user", public, pg_temp',
	'no batch saw the settings that another batch set');

is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	 WHERE l.locktype = 'advisory' AND a.backend_type = 'pg_streaming worker'}),
	'0', 'the worker holds no advisory lock a batch took');

$node->stop;
done_testing();
