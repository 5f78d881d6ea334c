# A batch that sets rows aside (on_error => 'dead_letter') killed with
# SIGKILL after it has set them aside and while it delivers the others:
# after crash recovery neither the target nor stream.dead_letters has
# anything of the batch, the replay sets the same rows aside and delivers
# the others, and every row of the stream is in exactly one of the two;
# again with a batch that runs in chunks of blocks, killed in its last.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('dlcrash');
$node->init;
$node->append_conf('postgresql.conf', qq{
restart_after_crash = on
shared_preload_libraries = 'pg_streaming'
});
$node->start;

# the target's trigger waits at row 950 while another session holds
# advisory lock 4242; rows 100, 500 and 900 do not cast
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE ROLE dl_owner LOGIN;
	GRANT CREATE ON SCHEMA public TO dl_owner;
	SET ROLE dl_owner;
	CREATE TABLE ev (id int, v text);
	SELECT stream.create_stream('ev');
	CREATE TABLE out (id int PRIMARY KEY, v numeric);
	CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.id = 950 THEN
			PERFORM pg_advisory_lock_shared(4242);
			PERFORM pg_advisory_unlock_shared(4242);
		END IF;
		RETURN NEW;
	END $$;
	CREATE TRIGGER gate BEFORE INSERT ON out FOR EACH ROW EXECUTE FUNCTION gate();
	BEGIN;
	SELECT stream.start_query('dl', 'SELECT id, v::numeric AS v FROM ev', 'out',
		trigger => '1 hour', on_error => 'dead_letter');
	SELECT stream.stop_query('dl');
	COMMIT;
	INSERT INTO ev SELECT g, CASE WHEN g IN (100, 500, 900) THEN 'bad ' || g ELSE g::text END
	  FROM generate_series(1, 1000) g;
});

my ($gin, $gout, $gerr) = ('', '', '');
my $gate = IPC::Run::start(
	[ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$gin, '>', \$gout, '2>', \$gerr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$gin .= "SELECT 'locked' FROM pg_advisory_lock(4242);\n";
$gate->pump until $gout =~ /locked/ || !$gate->pumpable;

my ($bout, $berr) = ('', '');
my $batch = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
	  "CALL stream.process_all_available('dl')" ],
	'>', \$bout, '2>', \$berr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE query LIKE 'CALL stream.process_all_available%' AND wait_event = 'advisory'}),
	'the batch waits while it delivers the rows it did not set aside');
my $pid = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity
	 WHERE query LIKE 'CALL stream.process_all_available%' AND wait_event = 'advisory'});
# the write-ahead on disk, to be replayed: its commit leaves the WAL's
# flush to the run's commit or to the WAL writer
$node->safe_psql('postgres', 'CHECKPOINT');
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
$batch->finish;
$gate->kill_kill;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server recovered');

is($node->safe_psql('postgres', 'SELECT count(*) FROM out'), '0',
	'nothing of the killed batch is in the target');
is($node->safe_psql('postgres', 'SELECT count(*) FROM stream.dead_letter_log'), '0',
	'nor in the dead letters');

$node->safe_psql('postgres', "CALL stream.process_all_available('dl')");
is($node->safe_psql('postgres', q{
	SELECT replayed, input_rows, output_rows, dead_letters FROM stream.progress}),
	't|997|997|3', 'the replay delivered 997 rows and set 3 aside');
is($node->safe_psql('postgres', q{
	SELECT string_agg((row_data->>'id') || ' ' || sqlstate, ',' ORDER BY (row_data->>'id')::int)
	  FROM stream.dead_letter_log}),
	'100 22P02,500 22P02,900 22P02', 'the same rows were set aside, with their error');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM ev e
	 WHERE (SELECT count(*) FROM out o WHERE o.id = e.id)
	     + (SELECT count(*) FROM stream.dead_letter_log d
	         WHERE (d.row_data->>'id')::int = e.id) <> 1}),
	'0', 'every row is in the target or in the dead letters, once');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM out o JOIN ev e USING (id) WHERE o.v <> e.v::numeric}),
	'0', 'the delivered rows are the stream rows');


# The same with rows of 1,500 bytes: the batch's 1,000 rows fill some 200
# blocks and run in three chunks of blocks, each in a subtransaction of its
# own.  Killed in the third chunk, after the first two were delivered, each
# with a row set aside: nothing of the batch is left, and the replay sets
# the same rows aside.
$node->safe_psql('postgres', q{
	SET ROLE dl_owner;
	CREATE TABLE big (id int, v text, pad text);
	SELECT stream.create_stream('big');
	CREATE TABLE big_out (id int PRIMARY KEY, v numeric);
	CREATE TRIGGER gate BEFORE INSERT ON big_out FOR EACH ROW EXECUTE FUNCTION gate();
	BEGIN;
	SELECT stream.start_query('dlbig', 'SELECT id, v::numeric AS v FROM big', 'big_out',
		trigger => '1 hour', on_error => 'dead_letter');
	SELECT stream.stop_query('dlbig');
	COMMIT;
	INSERT INTO big SELECT g, CASE WHEN g IN (100, 500, 900) THEN 'bad ' || g ELSE g::text END,
	                       repeat('x', 1500)
	  FROM generate_series(1, 1000) g;
});
is($node->safe_psql('postgres', q{
	SELECT pg_relation_size('big') / current_setting('block_size')::int >= 3 * 64
	   AND (SELECT ctid FROM big WHERE id = 500) >= '(64,0)'
	   AND (SELECT ctid FROM big WHERE id = 900) >= '(128,0)'}), 't',
	'the rows set aside lie in three chunks of 64 blocks');

($gin, $gout, $gerr) = ('', '', '');
$gate = IPC::Run::start(
	[ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$gin, '>', \$gout, '2>', \$gerr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$gin .= "SELECT 'locked' FROM pg_advisory_lock(4242);\n";
$gate->pump until $gout =~ /locked/ || !$gate->pumpable;

($bout, $berr) = ('', '');
$batch = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
	  "CALL stream.process_all_available('dlbig')" ],
	'>', \$bout, '2>', \$berr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE query LIKE 'CALL stream.process_all_available%' AND wait_event = 'advisory'}),
	'the chunked batch waits in its last chunk');
$pid = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity
	 WHERE query LIKE 'CALL stream.process_all_available%' AND wait_event = 'advisory'});
# the write-ahead on disk, to be replayed: its commit leaves the WAL's
# flush to the run's commit or to the WAL writer
$node->safe_psql('postgres', 'CHECKPOINT');
$log_offset = -s $node->logfile;
kill 'KILL', $pid;
$batch->finish;
$gate->kill_kill;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server recovered again');

is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM big_out) || '|'
	    || (SELECT count(*) FROM stream.dead_letters WHERE query = 'dlbig')}),
	'0|0', 'nothing of the killed chunked batch is in the target or the dead letters');

$node->safe_psql('postgres', "CALL stream.process_all_available('dlbig')");
is($node->safe_psql('postgres', q{
	SELECT replayed, input_rows, output_rows, dead_letters FROM stream.progress
	 WHERE query = 'dlbig'}),
	't|997|997|3', 'the chunked replay delivered 997 rows and set 3 aside');
is($node->safe_psql('postgres', q{
	SELECT string_agg((row_data->>'id') || ' ' || sqlstate, ',' ORDER BY (row_data->>'id')::int)
	  FROM stream.dead_letters WHERE query = 'dlbig'}),
	'100 22P02,500 22P02,900 22P02', 'the same rows were set aside, one in each chunk');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM big e
	 WHERE (SELECT count(*) FROM big_out o WHERE o.id = e.id)
	     + (SELECT count(*) FROM stream.dead_letters d
	         WHERE d.query = 'dlbig' AND (d.row_data->>'id')::int = e.id) <> 1}),
	'0', 'every row of the chunked batch is in the target or in the dead letters, once');

$node->stop;
done_testing();
