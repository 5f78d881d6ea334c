# A left outer join between two streams (the scenario of
# docs/joins/surface.md 3.2), killed with SIGKILL between the batch that
# moves the watermark (step 3's data batch) and the end of the no-data
# batch after it, which writes the NULL-extended row of impression
# (8, 08:00).  After crash recovery the no-data batch is replayed with the
# watermark written ahead with it (09:30) and the NULL row is written once;
# then the background worker runs steps 4 to 6 on its own, and the target
# is the scenario's final one (surface.md 3.4).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('joinwmcrash');
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
	CREATE ROLE join_user LOGIN;
	GRANT CREATE ON SCHEMA public TO join_user;
});
my @as_user = (extra_params => [ '-U', 'join_user' ]);
$node->safe_psql('postgres', q{
	CREATE TABLE impressions (ad_id int, imp_time timestamptz);
	CREATE TABLE clicks (ad_id int, click_time timestamptz);
	SELECT stream.create_stream('impressions');
	SELECT stream.create_stream('clicks');
	CREATE INDEX ON impressions (ad_id, imp_time);
	CREATE INDEX ON clicks (ad_id, click_time);
	CREATE INDEX ON impressions USING brin (imp_time);
	-- stopped from the start: the batches up to step 3 are run by hand
	BEGIN;
	SELECT stream.start_query('j_left',
		$$SELECT i.ad_id, i.imp_time, c.click_time
		    FROM impressions i LEFT JOIN clicks c
		      ON c.ad_id = i.ad_id
		     AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
		'j_left_out', output_mode => 'append', trigger => '100 ms',
		watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
	SELECT stream.stop_query('j_left');
	COMMIT;
	-- the insert of a NULL-extended row waits while another session holds lock 4242
	CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_advisory_lock_shared(4242);
		PERFORM pg_advisory_unlock_shared(4242);
		RETURN NEW;
	END $$;
	CREATE TRIGGER gate BEFORE INSERT ON j_left_out
		FOR EACH ROW WHEN (NEW.click_time IS NULL) EXECUTE FUNCTION gate();
}, @as_user);

my $target = q{
	SELECT string_agg(ad_id || ' ' || to_char(imp_time, 'HH24:MI') || ' '
	                  || coalesce(to_char(click_time, 'HH24:MI'), 'NULL'), ', '
	                  ORDER BY ad_id, imp_time, click_time NULLS LAST)
	  FROM j_left_out};
sub step
{
	my ($sql) = @_;
	$node->safe_psql('postgres', $sql, @as_user);
	$node->safe_psql('postgres', "CALL stream.process_all_available('j_left')", @as_user);
}

# steps 1 and 2 (no NULL row yet: the watermark passes no impression)
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
is($node->safe_psql('postgres', $target),
	'1 10:00 10:50, 2 10:05 10:20, 2 10:05 10:45, 4 10:25 10:30', 'steps 1 and 2: the pairs, no NULL row');

# step 3, one transaction per stream; its data batch moves the watermark
# from 08:15 to 09:30 and writes a pair
$node->safe_psql('postgres', q{
	INSERT INTO impressions VALUES (10, '2026-01-01 12:00'), (11, '2026-01-01 08:00');
	INSERT INTO clicks VALUES (5, '2026-01-01 11:40'), (9, '2026-01-01 12:30'), (8, '2026-01-01 08:10'),
		(11, '2026-01-01 08:30'), (6, '2026-01-01 08:20');
}, @as_user);
$node->safe_psql('postgres', "CALL stream.process_batch('j_left')", @as_user);
is($node->safe_psql('postgres', q{
	SELECT (SELECT to_char(watermark, 'HH24:MI') FROM stream.progress WHERE query = 'j_left'
	         ORDER BY batch_id DESC LIMIT 1)
	       || ' ' || (SELECT to_char(watermark, 'HH24:MI') FROM stream.queries WHERE name = 'j_left')}),
	'08:15 09:30', 'step 3\'s data batch ran with 08:15 and moved the watermark to 09:30');
is($node->safe_psql('postgres', $target),
	'1 10:00 10:50, 2 10:05 10:20, 2 10:05 10:45, 4 10:25 10:30, 5 11:00 11:40',
	'its pair, and no NULL row before the no-data batch');

my ($gin, $gout, $gerr) = ('', '', '');
my $gate = IPC::Run::start(
	[ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$gin, '>', \$gout, '2>', \$gerr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$gin .= "SELECT 'locked' FROM pg_advisory_lock(4242);\n";
$gate->pump until $gout =~ /locked/ || !$gate->pumpable;

# the no-data batch, held while writing impression 8's NULL row
my ($bout, $berr) = ('', '');
my $batch = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres') . ' user=join_user', '-c',
	  "CALL stream.process_batch('j_left')" ],
	'>', \$bout, '2>', \$berr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE query LIKE 'CALL stream.process_batch%' AND wait_event = 'advisory'}),
	'the no-data batch waits while writing the NULL row');
my $held = $node->safe_psql('postgres', q{
	SELECT o.batch_id FROM stream.checkpoint_offsets o
	 WHERE NOT EXISTS (SELECT 1 FROM stream.checkpoint_commits c
	                    WHERE c.query_id = o.query_id AND c.batch_id = o.batch_id)});
is($node->safe_psql('postgres', qq{
	SELECT to_char(watermark, 'HH24:MI') FROM stream.checkpoint_watermarks WHERE batch_id = '$held'}),
	'09:30', "the held batch $held had its watermark, 09:30, written ahead");

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
is($node->safe_psql('postgres', 'SELECT count(*) FROM j_left_out WHERE click_time IS NULL'), '0',
	'the killed batch wrote no NULL row');

$node->safe_psql('postgres', "CALL stream.process_batch('j_left')", @as_user);
is($node->safe_psql('postgres', qq{
	SELECT replayed, to_char(watermark, 'HH24:MI'), input_rows, output_rows
	  FROM stream.progress WHERE query = 'j_left' AND batch_id = '$held'}),
	't|09:30|0|1', 'the no-data batch was replayed with the watermark written ahead with it');
is($node->safe_psql('postgres', $target),
	'1 10:00 10:50, 2 10:05 10:20, 2 10:05 10:45, 4 10:25 10:30, 5 11:00 11:40, 8 08:00 NULL',
	'impression 8\'s NULL row, once');

# the worker runs steps 4 to 6 on its own
$node->safe_psql('postgres', q{
	DROP TRIGGER gate ON j_left_out;
	SELECT stream.resume_query('j_left');
}, @as_user);
sub worker_step
{
	my ($sql, $rows, $name) = @_;
	$node->safe_psql('postgres', $sql, @as_user);
	ok($node->poll_query_until('postgres', qq{SELECT count(*) >= $rows FROM j_left_out}),
		"the worker wrote $name");
}
worker_step(q{
	INSERT INTO impressions VALUES (12, '2026-01-01 14:00'), (14, '2026-01-01 10:30');
	INSERT INTO clicks VALUES (12, '2026-01-01 14:30'), (15, '2026-01-01 11:30');
}, 8, 'step 4');
worker_step(q{INSERT INTO clicks VALUES (10, '2026-01-01 12:50')}, 9, 'step 5');
worker_step(q{
	INSERT INTO impressions VALUES (13, '2026-01-01 20:00');
	INSERT INTO clicks VALUES (13, '2026-01-01 20:10');
}, 11, 'step 6');
is($node->safe_psql('postgres', $target),
	'1 10:00 10:50, 2 10:05 10:20, 2 10:05 10:45, 3 10:10 NULL, 4 10:25 10:30, 5 11:00 11:40, '
	  . '8 08:00 NULL, 10 12:00 12:50, 12 14:00 14:30, 13 20:00 20:10, 14 10:30 NULL',
	'the final target of the scenario, each row once');
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s', side, to_char(watermark, 'HH24:MI')), ', ' ORDER BY side)
	  FROM stream.progress_sides
	 WHERE query = 'j_left' AND batch_id = (SELECT max(batch_id) FROM stream.progress_sides WHERE query = 'j_left')}),
	'1 18:00, 2 17:10', 'each side\'s watermark after step 6');

$node->stop;
done_testing();
