# Batch events from the background worker: a listening session receives a
# NOTIFY for each batch the worker commits, and one for the batch that
# fails (with its SQLSTATE and message), sent in the transaction that
# records the failure; after the text is fixed and the query resumed, the
# psycopg example (examples/wait_for_batch.py) receives the replayed batch.
# A batch canceled by pg_streaming.batch_timeout is told as retrying, then
# as failed once the retries are spent.  The queries belong to an
# unprivileged role.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('events_worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE ROLE app LOGIN;
	GRANT CREATE ON SCHEMA public TO app;
	SET ROLE app;
	CREATE TABLE ev (id int, v text);
	SELECT stream.create_stream('ev');
	SELECT stream.start_query('ev_q', 'SELECT id, v::numeric AS n FROM ev', 'ev_out',
	                          trigger => '100 ms');
	SELECT stream.alter_query('ev_q', events => true);
});
my $channel = $node->safe_psql('postgres',
	q{SET ROLE app; SELECT events_channel FROM stream.queries WHERE name = 'ev_q'});
like($channel, qr/^stream_events_[0-9a-f]{32}$/, 'the query has a random channel');

my $listener = $node->background_psql('postgres');
$listener->query_safe("SET ROLE app; LISTEN $channel;");

# everything the listener has received, as psql prints it
my $heard = '';
sub listen_until
{
	my ($pattern) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		$heard .= $listener->query('SELECT 1;');
		return 1 if $heard =~ $pattern;
		sleep 0.2;
	}
	diag("heard: $heard");
	return 0;
}

$node->safe_psql('postgres', q{INSERT INTO ev VALUES (1, '1.5'), (2, '2')});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 2 FROM ev_out'),
	'the worker delivers the rows');
ok(listen_until(qr/"status": "committed", "input_rows": 2, "output_rows": 2/),
	'the listener receives the committed batch with its rows');
like($heard, qr/Asynchronous notification "$channel" with payload "\{"query": "ev_q", "batch_id": 1, "status": "committed"/,
	'the event names the query and the batch');

# a value the cast refuses fails the batch; its event says so
$node->safe_psql('postgres', q{INSERT INTO ev VALUES (3, '12,50')});
ok($node->poll_query_until('postgres',
		q{SELECT status = 'failed' FROM stream.queries WHERE name = 'ev_q'}),
	'the batch with a bad value fails the query');
ok(listen_until(qr/"batch_id": 2, "status": "failed", "sqlstate": "22P02", "error": "invalid input syntax for type numeric: \\"12,50\\""/),
	'the listener receives the failed batch with its SQLSTATE and message');
my $failed_events = () = $heard =~ /"status": "failed"/g;
is($failed_events, 1, 'one event for the failure, as recorded once');

# the psycopg example waits for the next batch: the failed one, replayed
# with a fixed text once the query is resumed
SKIP:
{
	my ($py_out, $py_err) = ('', '');
	skip 'python3 with psycopg is not installed', 2
	  unless system('/usr/bin/python3', '-c', 'import psycopg') == 0;
	my $dsn = 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres user=app';
	my $example = IPC::Run::start(
		[ '/usr/bin/python3', 'examples/wait_for_batch.py', $dsn, 'ev_q', '--timeout',
		  $PostgreSQL::Test::Utils::timeout_default ],
		'>', \$py_out, '2>', \$py_err);
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while ($py_out !~ /listening/ && time() < $deadline)
	{
		$example->pump_nb;
		sleep 0.1;
	}
	$node->safe_psql('postgres', q{
		SET ROLE app;
		SELECT stream.alter_query('ev_q',
			query => $$SELECT id, replace(v, ',', '.')::numeric AS n FROM ev$$);
		SELECT stream.resume_query('ev_q');
	});
	$example->finish;
	is($?, 0, 'the example exits with the committed batch') or diag($py_err);
	like($py_out, qr/\{"batch_id": 2, "input_rows": 1, "output_rows": 1, "query": "ev_q", "status": "committed"\}/,
		'the example prints the replayed batch\'s event');
}
is($node->safe_psql('postgres', 'SELECT string_agg(n::text, \',\' ORDER BY id) FROM ev_out'),
	'1.5,2,12.50', 'every row delivered once');

# a transient error (pg_streaming.batch_timeout) is told as "retrying",
# and the failure once the retries are spent as "failed"
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET pg_streaming.batch_timeout = '300ms';
	ALTER SYSTEM SET pg_streaming.max_retries = 1;
	SELECT pg_reload_conf();
	SET ROLE app;
	CREATE FUNCTION nap() RETURNS trigger LANGUAGE plpgsql
	AS $$ BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$;
	CREATE TABLE nap_out (id int);
	CREATE TRIGGER nap AFTER INSERT ON nap_out FOR EACH STATEMENT EXECUTE FUNCTION nap();
	BEGIN;
	SELECT stream.start_query('nap_q', 'SELECT id FROM ev', 'nap_out', trigger => '100 ms');
	SELECT stream.alter_query('nap_q', events => true);
	SELECT stream.stop_query('nap_q');
	COMMIT;
});
my $nap_channel = $node->safe_psql('postgres',
	q{SET ROLE app; SELECT events_channel FROM stream.queries WHERE name = 'nap_q'});
$listener->query_safe("LISTEN $nap_channel;");
$heard = '';
$node->safe_psql('postgres', q{SET ROLE app; SELECT stream.resume_query('nap_q')});
ok($node->poll_query_until('postgres',
		q{SELECT status = 'failed' FROM stream.queries WHERE name = 'nap_q'}),
	'the batch over the time limit fails the query once its retries are spent');
ok(listen_until(qr/"query": "nap_q", "batch_id": 1, "status": "failed", "sqlstate": "57014"/),
	'the listener receives the failure');
like($heard, qr/"query": "nap_q", "batch_id": 1, "status": "retrying", "sqlstate": "57014", "error": "batch of streaming query \\"nap_q\\" \(id \d+\) canceled: it ran longer than pg_streaming.batch_timeout \(300 ms\)"/,
	'and before it, the retry, with the error');
unlike($heard, qr/"query": "nap_q"[^}]*"status": "committed"/, 'and no committed batch');

$listener->quit;
$node->stop;
done_testing();
