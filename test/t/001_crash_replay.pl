# A backend killed with SIGKILL in the middle of a batch, after it has
# written half of the batch's rows to the target: the batch's offsets were
# committed before it ran, so after crash recovery the rows it wrote are gone,
# the next call replays the batch with exactly those offsets, and every row
# reaches the target exactly once.  Rows committed after the crash come in a
# later batch.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "restart_after_crash = on\n");
$node->start;

# gate() waits at row 500 while another session holds advisory lock 4242: it
# holds a batch in the middle of writing its rows, with rows 1..499 already
# inserted into the target.  It is STABLE, so the query accepts it.
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (id int, payload text);
	SELECT stream.create_stream('ev');
	INSERT INTO ev SELECT g, 'row ' || g FROM generate_series(1, 1000) g;
	CREATE FUNCTION gate(i int) RETURNS int STABLE LANGUAGE plpgsql AS $$
	BEGIN
		IF i = 500 THEN
			PERFORM pg_advisory_lock_shared(4242);
			PERFORM pg_advisory_unlock_shared(4242);
		END IF;
		RETURN i;
	END $$;
	SELECT stream.start_query('q', 'SELECT gate(id) AS id, payload FROM ev', 'ev_out');
});

# the gate is closed by a session that stays open
my ($gin, $gout, $gerr) = ('', '', '');
my $gate = IPC::Run::start(
	[ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$gin, '>', \$gout, '2>', \$gerr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$gin .= "SELECT 'locked' FROM pg_advisory_lock(4242);\n";
$gate->pump until $gout =~ /locked/ || !$gate->pumpable;

# the batch starts, commits its offsets, and waits at the gate
my ($bout, $berr) = ('', '');
my $batch = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
	  "CALL stream.process_all_available('q')" ],
	'>', \$bout, '2>', \$berr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE query LIKE 'CALL stream.process_all_available%' AND wait_event = 'advisory'}),
	'the batch is waiting in the middle of its rows');
ok($node->safe_psql('postgres', q{SELECT pg_relation_size('ev_out') > 0}) eq 't',
	'it has already written rows to the target');
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM stream.checkpoint_offsets),
	       (SELECT count(*) FROM stream.checkpoint_commits)}),
	'1|0', 'its offsets are committed, its commit is not');
# the whole row, planned_at included: a batch planned again would differ
my $offsets_before = $node->safe_psql('postgres', q{
	SELECT o::text FROM stream.checkpoint_offsets o});

my $pid = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity
	 WHERE query LIKE 'CALL stream.process_all_available%' AND wait_event = 'advisory'});
like($pid, qr/^\d+$/, 'the batch runs in one backend');
# the write-ahead on disk, to be replayed: its commit leaves the WAL's
# flush to the run's commit or to the WAL writer
$node->safe_psql('postgres', 'CHECKPOINT');
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
$batch->finish;
$gate->kill_kill;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
ok($node->log_contains(qr/server process \(PID $pid\) was terminated by signal 9/, $log_offset),
	'the backend was killed and the server went through crash recovery');
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server recovered from the crash');

is($node->safe_psql('postgres', 'SELECT count(*) FROM ev_out'), '0',
	'the killed batch left nothing in the target');
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM stream.checkpoint_commits),
	       (SELECT count(*) FROM stream.progress_log)}),
	'0|0', 'the batch is still pending');
is($node->safe_psql('postgres', q{SELECT o::text FROM stream.checkpoint_offsets o}),
	$offsets_before, 'its offsets survived the crash');

# rows committed after the crash belong to a later batch
$node->safe_psql('postgres', q{INSERT INTO ev SELECT g, 'row ' || g FROM generate_series(1001, 1200) g});

$node->safe_psql('postgres', "CALL stream.process_all_available('q')");
is($node->safe_psql('postgres', 'SELECT count(*) FROM stream.checkpoint_commits'), '2',
	'the next call runs the pending batch and one more');
is($node->safe_psql('postgres', q{
	SELECT o::text FROM stream.checkpoint_offsets o WHERE batch_id = 1}),
	$offsets_before, 'batch 1 ran with exactly the offsets planned before the crash');
is($node->safe_psql('postgres', q{
	SELECT batch_id, input_rows, output_rows, replayed FROM stream.progress ORDER BY batch_id}),
	"1|1000|1000|t\n2|200|200|f", 'batch 1 was a replay of 1000 rows, batch 2 took the 200 new ones');
is($node->safe_psql('postgres', q{
	SELECT count(*), count(DISTINCT id),
	       (SELECT count(*) FROM (SELECT id, payload FROM ev EXCEPT ALL SELECT id, payload FROM ev_out) d),
	       (SELECT count(*) FROM (SELECT id, payload FROM ev_out EXCEPT ALL SELECT id, payload FROM ev) d)
	  FROM ev_out}),
	'1200|1200|0|0', 'every row is in the target exactly once');

$node->stop;
done_testing();
