# An aggregation over a join between streams (j_hourly of
# docs/joins/surface.md 3.6), killed with SIGKILL while the no-data batch
# after step 4 writes the hour 08:00, the first window the join's output
# watermark (W - 1 hour - 1 ms = 10:29:59.999) closes.  After crash recovery
# the batch is replayed with the watermark written ahead with it, and the
# hour is written once, with the counts of the specification; the
# aggregation's state and the join's came back as of the batch before.
# Then the background worker runs steps 5 and 6 on its own, and the target
# is the specification's final one.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('joinchaincrash');
$node->init;
$node->append_conf('postgresql.conf', qq{
restart_after_crash = on
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
timezone = 'UTC'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE ROLE chain_user LOGIN;
	GRANT CREATE ON SCHEMA public TO chain_user;
});
my @as_user = (extra_params => [ '-U', 'chain_user' ]);
$node->safe_psql('postgres', q{
	CREATE TABLE impressions (ad_id int, imp_time timestamptz);
	CREATE TABLE clicks (ad_id int, click_time timestamptz);
	SELECT stream.create_stream('impressions');
	SELECT stream.create_stream('clicks');
	CREATE INDEX ON impressions (ad_id, imp_time);
	CREATE INDEX ON clicks (ad_id, click_time);
	-- stopped from the start: the batches up to step 4 are run by hand
	BEGIN;
	SELECT stream.start_query('j_hourly',
		$$SELECT stream.tumble(i.imp_time, '1 hour') AS hour, count(*) AS rows,
		         count(c.click_time) AS clicks
		    FROM impressions i LEFT JOIN clicks c
		      ON c.ad_id = i.ad_id
		     AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
		   GROUP BY 1$$,
		'j_hourly_out', output_mode => 'append', trigger => '100 ms',
		watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
	SELECT stream.stop_query('j_hourly');
	COMMIT;
	-- the insert of an hour waits while another session holds lock 4242
	CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_advisory_lock_shared(4242);
		PERFORM pg_advisory_unlock_shared(4242);
		RETURN NEW;
	END $$;
	CREATE TRIGGER gate BEFORE INSERT ON j_hourly_out
		FOR EACH ROW EXECUTE FUNCTION gate();
}, @as_user);

my $target = q{
	SELECT coalesce(string_agg(to_char(hour, 'HH24:MI') || ' ' || rows || ' ' || clicks, ', '
	                           ORDER BY hour), '')
	  FROM j_hourly_out};
my $state = q{
	SELECT (SELECT count(*) FROM stream_state.j_hourly) || ' '
	       || (SELECT count(*) FROM stream_state.j_hourly_join)};
sub step
{
	my ($sql) = @_;
	$node->safe_psql('postgres', $sql, @as_user);
	$node->safe_psql('postgres', "CALL stream.process_all_available('j_hourly')", @as_user);
}

step(q{
	BEGIN;
	INSERT INTO impressions VALUES (1, '2026-01-01 10:00'), (2, '2026-01-01 10:05'), (3, '2026-01-01 10:10');
	INSERT INTO clicks VALUES (2, '2026-01-01 10:20'), (4, '2026-01-01 10:30');
	COMMIT;
});
step(q{
	INSERT INTO clicks VALUES (1, '2026-01-01 10:50'), (2, '2026-01-01 10:45'),
		(3, '2026-01-01 11:15'), (7, '2026-01-01 07:20');
	INSERT INTO impressions VALUES (4, '2026-01-01 10:25'), (5, '2026-01-01 11:00'),
		(8, '2026-01-01 08:00'), (6, '2026-01-01 07:30');
});
step(q{
	INSERT INTO impressions VALUES (10, '2026-01-01 12:00'), (11, '2026-01-01 08:00');
	INSERT INTO clicks VALUES (5, '2026-01-01 11:40'), (9, '2026-01-01 12:30'), (8, '2026-01-01 08:10'),
		(11, '2026-01-01 08:30'), (6, '2026-01-01 08:20');
});
is($node->safe_psql('postgres', $target), '', 'steps 1 to 3: no hour closed');

# step 4's data batch moves W from 09:30 to 11:30
$node->safe_psql('postgres', q{
	INSERT INTO impressions VALUES (12, '2026-01-01 14:00'), (14, '2026-01-01 10:30');
	INSERT INTO clicks VALUES (12, '2026-01-01 14:30'), (15, '2026-01-01 11:30');
}, @as_user);
$node->safe_psql('postgres', "CALL stream.process_batch('j_hourly')", @as_user);
is($node->safe_psql('postgres', $target), '', 'step 4\'s data batch closes no hour');
my $state_before = $node->safe_psql('postgres', $state);

my ($gin, $gout, $gerr) = ('', '', '');
my $gate = IPC::Run::start(
	[ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$gin, '>', \$gout, '2>', \$gerr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$gin .= "SELECT 'locked' FROM pg_advisory_lock(4242);\n";
$gate->pump until $gout =~ /locked/ || !$gate->pumpable;

# the no-data batch, held while writing the hour 08:00
my ($bout, $berr) = ('', '');
my $batch = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres') . ' user=chain_user', '-c',
	  "CALL stream.process_batch('j_hourly')" ],
	'>', \$bout, '2>', \$berr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE query LIKE 'CALL stream.process_batch%' AND wait_event = 'advisory'}),
	'the no-data batch waits while writing the hour');
my $held = $node->safe_psql('postgres', q{
	SELECT o.batch_id FROM stream.checkpoint_offsets o
	 WHERE NOT EXISTS (SELECT 1 FROM stream.checkpoint_commits c
	                    WHERE c.query_id = o.query_id AND c.batch_id = o.batch_id)});
is($node->safe_psql('postgres', qq{
	SELECT to_char(watermark, 'HH24:MI') FROM stream.checkpoint_watermarks WHERE batch_id = '$held'}),
	'11:30', "the held batch $held had its watermark, 11:30, written ahead");

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
is($node->safe_psql('postgres', 'SELECT count(*) FROM j_hourly_out'), '0',
	'the killed batch wrote no hour');
is($node->safe_psql('postgres', $state), $state_before,
	'both state tables are as the batch before left them');

$node->safe_psql('postgres', "CALL stream.process_batch('j_hourly')", @as_user);
is($node->safe_psql('postgres', qq{
	SELECT replayed, to_char(watermark, 'HH24:MI'), input_rows, output_rows
	  FROM stream.progress WHERE query = 'j_hourly' AND batch_id = '$held'}),
	't|11:30|0|1', 'the no-data batch was replayed with the watermark written ahead with it');
is($node->safe_psql('postgres', $target), '08:00 1 0', 'the hour 08:00, once');

# the worker runs steps 5 and 6 on its own
$node->safe_psql('postgres', q{
	DROP TRIGGER gate ON j_hourly_out;
	SELECT stream.resume_query('j_hourly');
}, @as_user);
$node->safe_psql('postgres', q{INSERT INTO clicks VALUES (10, '2026-01-01 12:50')}, @as_user);
ok($node->poll_query_until('postgres', q{
	SELECT sum(input_rows) = 25 FROM stream.progress WHERE query = 'j_hourly'}),
	'the worker ran step 5');
is($node->safe_psql('postgres', $target), '08:00 1 0', 'step 5 closes no hour');
$node->safe_psql('postgres', q{
	INSERT INTO impressions VALUES (13, '2026-01-01 20:00');
	INSERT INTO clicks VALUES (13, '2026-01-01 20:10');
}, @as_user);
ok($node->poll_query_until('postgres', q{SELECT count(*) >= 5 FROM j_hourly_out}),
	'the worker ran step 6');
is($node->safe_psql('postgres', $target),
	'08:00 1 0, 10:00 6 4, 11:00 1 1, 12:00 1 1, 14:00 1 1',
	'the final target of the chain (surface.md 3.6), each hour once');
is($node->safe_psql('postgres', $state), '1 0',
	'the hour 20:00 stays open; the join keeps nothing');

$node->stop;
done_testing();
