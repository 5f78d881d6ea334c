# The background worker runs queries on their triggers with no client call,
# follows stop, resume and await_termination, finishes 'once' and
# 'available_now' queries, marks failing queries failed, runs each query with
# its owner's rights, and leaves nothing behind on DROP EXTENSION.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
pg_streaming.max_workers = 4
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (id int, v int);
	SELECT stream.create_stream('ev');
});

# an interval trigger: rows reach the target with no client call
$node->safe_psql('postgres', q{
	SELECT stream.start_query('every', 'SELECT id, v FROM ev', 'every_out', trigger => '100 ms');
	INSERT INTO ev SELECT g, g FROM generate_series(1, 100) g;
});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 100 FROM every_out'),
	'interval trigger: rows arrive without a client call');
$node->safe_psql('postgres', 'INSERT INTO ev SELECT g, g FROM generate_series(101, 150) g');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 150 FROM every_out'),
	'interval trigger: later rows arrive too');
is($node->safe_psql('postgres', 'SELECT count(DISTINCT id) FROM every_out'), '150',
	'each row once');
like($node->safe_psql('postgres',
		"SELECT backend_type FROM pg_stat_activity WHERE backend_type LIKE 'pg_streaming%' ORDER BY 1"),
	qr/pg_streaming launcher.*pg_streaming scheduler/s,
	'launcher and scheduler are visible in pg_stat_activity');

# continuous: woken by the commit
$node->safe_psql('postgres',
	"SELECT stream.start_query('cont', 'SELECT id, v FROM ev', 'cont_out', trigger => 'continuous')");
ok($node->poll_query_until('postgres', 'SELECT count(*) = 150 FROM cont_out'),
	'continuous trigger: existing rows');
$node->safe_psql('postgres', 'INSERT INTO ev VALUES (151, 151)');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 151 FROM cont_out'),
	'continuous trigger: a committed insert wakes the query');

# once and available_now run, then finish
$node->safe_psql('postgres', q{
	SELECT stream.start_query('one', 'SELECT id, v FROM ev', 'one_out', trigger => 'once');
	SELECT stream.start_query('avail', 'SELECT id, v FROM ev', 'avail_out',
	                          trigger => 'available_now', max_rows_per_batch => 60);
});
is($node->safe_psql('postgres',
		"SELECT stream.await_termination('one', '20 s'), stream.await_termination('avail', '20 s')"),
	't|t', 'once and available_now end by themselves');
is($node->safe_psql('postgres',
		"SELECT name, status FROM stream.queries WHERE name IN ('one', 'avail') ORDER BY name"),
	"avail|finished\none|finished", 'both are marked finished');
is($node->safe_psql('postgres', 'SELECT (SELECT count(*) FROM one_out), (SELECT count(*) FROM avail_out)'),
	'151|151', 'once took everything in one batch, available_now in several');
ok($node->safe_psql('postgres',
		"SELECT count(*) > 1 FROM stream.progress WHERE query = 'avail'") eq 't',
	'available_now used batches of at most max_rows_per_batch transactions');

# stop, await_termination, resume
is($node->safe_psql('postgres', "SELECT stream.stop_query('every')"), 't', 'stop_query');
is($node->safe_psql('postgres', "SELECT stream.await_termination('every', '5 s')"), 't',
	'await_termination returns once stopped');
$node->safe_psql('postgres', 'INSERT INTO ev VALUES (152, 152)');
sleep(1);
is($node->safe_psql('postgres', 'SELECT count(*) FROM every_out WHERE id = 152'), '0',
	'a stopped query does not run');
is($node->safe_psql('postgres', "SELECT stream.await_termination('cont', '200 ms')"), 'f',
	'await_termination times out on an active query');
$node->safe_psql('postgres', "SELECT stream.resume_query('every')");
ok($node->poll_query_until('postgres', 'SELECT count(*) = 1 FROM every_out WHERE id = 152'),
	'a resumed query continues from its checkpoint');
is($node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT id) FROM every_out'), '152|152',
	'no row twice after stop and resume');

# a failing query is marked failed and writes nothing
$node->safe_psql('postgres', q{
	CREATE TABLE zero (d int);
	INSERT INTO zero VALUES (0);
	SELECT stream.start_query('bad', 'SELECT id / (SELECT d FROM zero LIMIT 1) AS x FROM ev',
	                          'bad_out', trigger => '100 ms');
});
ok($node->poll_query_until('postgres', "SELECT status = 'failed' FROM stream.queries WHERE name = 'bad'"),
	'the failing query is marked failed');
is($node->safe_psql('postgres',
		"SELECT last_error, last_error_sqlstate, last_error_at IS NOT NULL FROM stream.queries WHERE name = 'bad'"),
	'division by zero|22012|t', 'with its error, SQLSTATE and time');
is($node->safe_psql('postgres', 'SELECT count(*) FROM bad_out'), '0', 'and wrote nothing');
my ($ret, $out, $err) = $node->psql('postgres', "SELECT stream.await_termination('bad')");
like($err, qr/streaming query "bad" failed: division by zero/, 'await_termination raises its error');
like($err, qr/failed: division by zero\n(?:[A-Z]+:  .*\n)*HINT:  Fix the cause, then start the query again with stream\.resume_query\(\)\./,
	'with the hint to fix and resume, alone when the error had none');
like(slurp_file($node->logfile),
	qr/ERROR:  division by zero\n.*CONTEXT:.*batch of streaming query "bad" \(id \d+\) in a background worker/s,
	'the worker also reports the error to the server log, naming the query by name and id');

# resuming clears the last error, which belonged to the run that ended
is($node->safe_psql('postgres', q{
	BEGIN;
	SELECT stream.resume_query('bad');
	SELECT last_error IS NULL AND last_error_sqlstate IS NULL AND last_error_at IS NULL
	  FROM stream.queries WHERE name = 'bad';
	SELECT stream.stop_query('bad');
	COMMIT;
}), "t\nt\nt", 'resume_query clears last_error');

# an error's detail and hint are kept, and await_termination raises them
$node->safe_psql('postgres', q{
	CREATE TABLE closed_out (id int);
	CREATE FUNCTION closed_gate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
	    RAISE EXCEPTION 'target is closed'
	        USING DETAIL = 'The gate is shut for maintenance.',
	              HINT = 'Open the gate.', ERRCODE = 'P0001';
	END $$;
	CREATE TRIGGER closed_gate BEFORE INSERT ON closed_out
	    FOR EACH ROW EXECUTE FUNCTION closed_gate();
	SELECT stream.start_query('closed', 'SELECT id FROM ev', 'closed_out', trigger => '100 ms');
});
ok($node->poll_query_until('postgres', "SELECT status = 'failed' FROM stream.queries WHERE name = 'closed'"),
	'a query whose target refuses rows fails');
is($node->safe_psql('postgres',
		"SELECT last_error, last_error_sqlstate, last_error_detail, last_error_hint FROM stream.queries WHERE name = 'closed'"),
	'target is closed|P0001|The gate is shut for maintenance.|Open the gate.',
	'with its detail and hint');
($ret, $out, $err) = $node->psql('postgres', "SELECT stream.await_termination('closed')");
like($err, qr/failed: target is closed\nDETAIL:  The gate is shut for maintenance\.\nHINT:  Open the gate\. Fix the cause/,
	'await_termination raises them');
$node->safe_psql('postgres', "SELECT stream.drop_query('closed')");

# a role's query runs with that role's rights; another role cannot touch it
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	CREATE ROLE bob LOGIN;
	GRANT SELECT ON ev TO alice;
	GRANT CREATE ON SCHEMA public TO alice;
	CREATE TABLE secret (id int);
	INSERT INTO secret VALUES (1);
});
$node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT stream.start_query('alice_q', 'SELECT id, current_user::text AS who FROM ev', 'alice_out', trigger => '100 ms');
});
ok($node->poll_query_until('postgres', 'SELECT count(*) > 0 FROM alice_out'),
	"the role's query runs");
is($node->safe_psql('postgres', 'SELECT DISTINCT who FROM alice_out'), 'alice',
	'as that role');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity
	 WHERE backend_type = 'pg_streaming worker' AND usename = 'alice'}),
	'in a worker connected as that role');
($ret, $out, $err) = $node->psql('postgres', "SET ROLE bob; SELECT stream.stop_query('alice_q')");
like($err, qr/permission denied for streaming query "alice_q"/, 'another role cannot stop it');
$node->safe_psql('postgres', 'REVOKE SELECT ON ev FROM alice');
$node->safe_psql('postgres', 'INSERT INTO ev VALUES (153, 153)');
ok($node->poll_query_until('postgres', "SELECT status = 'failed' FROM stream.queries WHERE name = 'alice_q'"),
	'a revoked privilege fails the query at its next batch');
like($node->safe_psql('postgres', "SELECT last_error FROM stream.queries WHERE name = 'alice_q'"),
	qr/permission denied for table ev/, 'with the permission error');

# an owner without LOGIN: its query still runs, as that role
$node->safe_psql('postgres', q{
	CREATE ROLE carol NOLOGIN;
	GRANT SELECT ON ev TO carol;
	GRANT CREATE ON SCHEMA public TO carol;
	SET ROLE carol;
	SELECT stream.start_query('carol_q', 'SELECT id, current_user::text AS who FROM ev', 'carol_out', trigger => '100 ms');
});
ok($node->poll_query_until('postgres', 'SELECT count(*) > 0 FROM carol_out'),
	'the query of a role without LOGIN runs');
is($node->safe_psql('postgres', 'SELECT DISTINCT who FROM carol_out'), 'carol',
	'as that role too');

# DROP EXTENSION while queries run leaves no worker behind
$node->safe_psql('postgres', q{
	SELECT stream.drop_query(name) FROM stream.queries WHERE name <> 'cont';
	DROP TABLE every_out, one_out, avail_out, bad_out, alice_out, carol_out;
});
$node->safe_psql('postgres', 'INSERT INTO ev SELECT g, g FROM generate_series(1000, 1100) g');
$node->safe_psql('postgres', q{
	SELECT stream.drop_query('cont');
	DROP TABLE cont_out;
	SELECT stream.drop_stream('ev');
	DROP EXTENSION pg_streaming;
});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type IN ('pg_streaming scheduler', 'pg_streaming worker')"),
	'no scheduler or worker is left after DROP EXTENSION');

# and CREATE EXTENSION brings the scheduler back
$node->safe_psql('postgres', 'CREATE EXTENSION pg_streaming');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_streaming scheduler'"),
	'CREATE EXTENSION is noticed');

# DROP DATABASE is not held up by the scheduler connected to it
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION pg_streaming');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_streaming scheduler' AND datname = 'other'"),
	'a scheduler serves the new database');
$node->safe_psql('postgres', 'DROP DATABASE other');
pass('DROP DATABASE succeeded');

$node->stop;
done_testing();
