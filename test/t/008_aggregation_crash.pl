# A streaming aggregation's backend killed with SIGKILL in the middle of a
# batch: once while the batch aggregates its rows, once after it has merged
# them into the state and while it writes the target.  After crash recovery
# the state and the target are as the last committed batch left them, the
# next run replays the batch with the same offsets, and the result equals
# the query run over all rows.  Then the background worker carries on.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('aggcrash');
$node->init;
$node->append_conf('postgresql.conf', qq{
restart_after_crash = on
shared_preload_libraries = 'pg_streaming'
});
$node->start;

# gate(x) waits when x = 500 while another session holds advisory lock 4242;
# target_gate() does the same for the target row of group 7
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (id int, grp int, v numeric);
	SELECT stream.create_stream('ev');
	CREATE FUNCTION gate(i int) RETURNS int STABLE LANGUAGE plpgsql AS $$
	BEGIN
		IF i = 500 THEN
			PERFORM pg_advisory_lock_shared(4242);
			PERFORM pg_advisory_unlock_shared(4242);
		END IF;
		RETURN i;
	END $$;
	CREATE FUNCTION target_gate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.grp = 7 THEN
			PERFORM pg_advisory_lock_shared(4242);
			PERFORM pg_advisory_unlock_shared(4242);
		END IF;
		RETURN NEW;
	END $$;
	-- stopped from the start: the batches below are run by hand
	BEGIN;
	SELECT stream.start_query('agg',
		'SELECT grp, count(*) AS n, sum(v) AS s, max(gate(id)) AS top FROM ev GROUP BY grp',
		'agg_out', output_mode => 'update', trigger => '1 hour');
	SELECT stream.stop_query('agg');
	COMMIT;
	CREATE TRIGGER target_gate BEFORE INSERT OR UPDATE ON agg_out
		FOR EACH ROW EXECUTE FUNCTION target_gate();
	INSERT INTO ev SELECT g, g % 10, g / 3.0 FROM generate_series(1, 300) g;
});
$node->safe_psql('postgres', "CALL stream.process_all_available('agg')");

my $recompute = q{SELECT grp, count(*), sum(v), max(id) FROM ev GROUP BY grp};
sub mismatch
{
	return $node->safe_psql('postgres', qq{
		SELECT count(*) FROM ((TABLE agg_out EXCEPT ALL ($recompute))
		                      UNION ALL (($recompute) EXCEPT ALL TABLE agg_out)) d});
}
is(mismatch(), '0', 'the first batch equals the query over all rows');

# Kill the batch while it waits at the gate; $where names the step.
sub crash_at_gate
{
	my ($where) = @_;
	my ($gin, $gout, $gerr) = ('', '', '');
	my $gate = IPC::Run::start(
		[ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr('postgres'), '-f', '-' ],
		'<', \$gin, '>', \$gout, '2>', \$gerr,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	$gin .= "SELECT 'locked' FROM pg_advisory_lock(4242);\n";
	$gate->pump until $gout =~ /locked/ || !$gate->pumpable;

	my $state_before = $node->safe_psql('postgres', q{
		SELECT state_rows FROM stream.progress ORDER BY batch_id DESC LIMIT 1});
	my $target_before = $node->safe_psql('postgres',
		q{SELECT string_agg(a::text, ',' ORDER BY grp) FROM agg_out a});

	my ($bout, $berr) = ('', '');
	my $batch = IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
		  "CALL stream.process_all_available('agg')" ],
		'>', \$bout, '2>', \$berr,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	ok($node->poll_query_until('postgres', q{
		SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE query LIKE 'CALL stream.process_all_available%' AND wait_event = 'advisory'}),
		"the batch waits $where");
	my $offsets = $node->safe_psql('postgres', q{
		SELECT o::text FROM stream.checkpoint_offsets o
		 WHERE NOT EXISTS (SELECT 1 FROM stream.checkpoint_commits c
		                    WHERE c.query_id = o.query_id AND c.batch_id = o.batch_id)});
	isnt($offsets, '', "its offsets were written ahead ($where)");

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
	ok($node->poll_query_until('postgres', 'SELECT true'), "the server recovered ($where)");

	is($node->safe_psql('postgres',
		q{SELECT string_agg(a::text, ',' ORDER BY grp) FROM agg_out a}),
		$target_before, "the target is as the last committed batch left it ($where)");
	is($node->safe_psql('postgres', q{
		SELECT state_rows FROM stream.progress ORDER BY batch_id DESC LIMIT 1}),
		$state_before, "so is the state ($where)");

	$node->safe_psql('postgres', "CALL stream.process_all_available('agg')");
	is($node->safe_psql('postgres', q{
		SELECT replayed FROM stream.progress ORDER BY batch_id DESC LIMIT 1}),
		't', "the pending batch was replayed ($where)");
	is(mismatch(), '0', "after the replay the target equals the query over all rows ($where)");
	is($node->safe_psql('postgres', q{
		SELECT (SELECT state_rows FROM stream.progress ORDER BY batch_id DESC LIMIT 1)
		     = (SELECT count(DISTINCT grp) FROM ev)}),
		't', "the state holds one row per group ($where)");
}

# 1. while aggregating: the gate is in an aggregate's argument
$node->safe_psql('postgres',
	q{INSERT INTO ev SELECT g, g % 10, g / 3.0 FROM generate_series(301, 600) g});
crash_at_gate('while aggregating its rows');

# 2. after merging into the state, while writing the target; new groups too
$node->safe_psql('postgres',
	q{INSERT INTO ev SELECT g, g % 13, g / 7.0 FROM generate_series(601, 900) g});
crash_at_gate('while writing the target');

# the background worker takes over: rows arrive, the worker runs the batches
$node->safe_psql('postgres', q{
	DROP TRIGGER target_gate ON agg_out;
	SELECT stream.drop_query('agg');
	DROP TABLE agg_out;
	SELECT stream.start_query('agg',
		'SELECT grp, count(*) AS n, sum(v) AS s, max(gate(id)) AS top FROM ev GROUP BY grp',
		'agg_out', output_mode => 'update', trigger => '100 ms');
	INSERT INTO ev SELECT g, g % 17, g FROM generate_series(901, 1500) g;
});
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) = 0 FROM ((TABLE agg_out EXCEPT ALL ($recompute))
	                          UNION ALL (($recompute) EXCEPT ALL TABLE agg_out)) d}),
	'the worker brings a new aggregation of the whole stream up to date');

$node->stop;
done_testing();
