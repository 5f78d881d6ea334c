# A windowed aggregation in append mode, killed with SIGKILL between the
# batch that moved the watermark and the end of the batch (without rows)
# that emits the windows it closed: after crash recovery the emitting batch
# is replayed with the watermarks written ahead with it, and each closed
# window reaches the target exactly once; the worker then goes on.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('wmcrash');
$node->init;
$node->append_conf('postgresql.conf', qq{
restart_after_crash = on
shared_preload_libraries = 'pg_streaming'
timezone = 'UTC'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (k int, t timestamptz);
	SELECT stream.create_stream('ev');
	BEGIN;
	SELECT stream.start_query('win',
		$$SELECT stream.tumble(t, '1 minute') AS window_start, k, count(*) AS n
		    FROM ev GROUP BY 1, 2$$,
		'win_out', output_mode => 'append', event_time => 't', watermark => '1 minute',
		trigger => '100 ms');
	SELECT stream.stop_query('win');
	COMMIT;
	-- the target's insert waits while another session holds lock 4242
	CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_advisory_lock_shared(4242);
		PERFORM pg_advisory_unlock_shared(4242);
		RETURN NEW;
	END $$;
	CREATE TRIGGER gate BEFORE INSERT ON win_out FOR EACH ROW EXECUTE FUNCTION gate();
	INSERT INTO ev SELECT g % 3, '2026-01-01 00:00'::timestamptz + g * interval '1 second'
	  FROM generate_series(0, 179) g;
});
# the batch of the rows: windows 00:00, 00:01, 00:02 open; watermark moves to 00:01:59
$node->safe_psql('postgres', "CALL stream.process_batch('win')");
is($node->safe_psql('postgres', 'SELECT count(*) FROM win_out'), '0',
	'nothing is emitted while the windows are open');

my ($gin, $gout, $gerr) = ('', '', '');
my $gate = IPC::Run::start(
	[ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$gin, '>', \$gout, '2>', \$gerr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$gin .= "SELECT 'locked' FROM pg_advisory_lock(4242);\n";
$gate->pump until $gout =~ /locked/ || !$gate->pumpable;

# the batch without rows that emits the window the watermark closed
my ($bout, $berr) = ('', '');
my $batch = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
	  "CALL stream.process_batch('win')" ],
	'>', \$bout, '2>', \$berr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE query LIKE 'CALL stream.process_batch%' AND wait_event = 'advisory'}),
	'the emitting batch waits while writing the closed windows');
my $ahead = $node->safe_psql('postgres', q{
	SELECT w.batch_id || ' ' || w.watermark FROM stream.checkpoint_watermarks w
	 ORDER BY batch_id DESC LIMIT 1});
like($ahead, qr/^2 2026-01-01 00:01:59/, 'its watermark was written ahead with its offsets');

my $pid = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity
	 WHERE query LIKE 'CALL stream.process_batch%' AND wait_event = 'advisory'});
# the write-ahead on disk, to be replayed: its commit leaves the WAL's
# flush to the run's commit or to the WAL writer
$node->safe_psql('postgres', 'CHECKPOINT');
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
$batch->finish;
$gate->kill_kill;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server recovered');
is($node->safe_psql('postgres', 'SELECT count(*) FROM win_out'), '0',
	'the killed batch emitted nothing');

$node->safe_psql('postgres', "CALL stream.process_all_available('win')");
is($node->safe_psql('postgres', q{
	SELECT batch_id, replayed, to_char(watermark, 'HH24:MI:SS'), output_rows FROM stream.progress
	 WHERE batch_id = 2}),
	'2|t|00:01:59|3', 'the emitting batch was replayed with the same watermark');
is($node->safe_psql('postgres', q{
	SELECT string_agg(to_char(window_start, 'HH24:MI') || ' ' || k || ' ' || n, ', '
	                  ORDER BY window_start, k) FROM win_out}),
	'00:00 0 20, 00:00 1 20, 00:00 2 20', 'the closed window was emitted once, whole');

# the worker carries on: new rows close the other windows, each emitted once
$node->safe_psql('postgres', q{
	DROP TRIGGER gate ON win_out;
	SELECT stream.resume_query('win');
	INSERT INTO ev SELECT g % 3, '2026-01-01 00:00'::timestamptz + g * interval '1 second'
	  FROM generate_series(180, 400) g;
});
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 15 FROM win_out}), 'the worker emits the windows the watermark closes');
is($node->safe_psql('postgres', q{
	SELECT count(*) = count(DISTINCT (window_start, k)) AND sum(n) = 300 FROM win_out}),
	't', 'each window once, every row of the closed windows counted');

$node->stop;
done_testing();
