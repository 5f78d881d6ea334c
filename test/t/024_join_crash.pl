# A left outer join between two streams (impressions and clicks, the
# scenario of docs/joins/surface.md 3.2), its backend killed with SIGKILL
# while the data batch of step 2 writes its pairs, after its offsets, its
# side's offsets and its watermarks were written ahead.  After crash
# recovery nothing of that batch is in the target; the next run replays it
# with the same offsets and watermarks, reading exactly the rows it had
# planned, and the target is the one of step 2, each pair once.  Rows
# committed after the crash come in the batch after it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('joincrash');
$node->init;
$node->append_conf('postgresql.conf', qq{
restart_after_crash = on
timezone = 'UTC'
});
$node->start;

# the streams and the query belong to an unprivileged role
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
	SELECT stream.start_query('j_left',
		$$SELECT i.ad_id, i.imp_time, c.click_time
		    FROM impressions i LEFT JOIN clicks c
		      ON c.ad_id = i.ad_id
		     AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
		'j_left_out', output_mode => 'append', trigger => '1 hour',
		watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
	-- the target's insert waits while another session holds lock 4242
	CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_advisory_lock_shared(4242);
		PERFORM pg_advisory_unlock_shared(4242);
		RETURN NEW;
	END $$;
}, @as_user);

my $target = q{
	SELECT string_agg(ad_id || ' ' || to_char(imp_time, 'HH24:MI') || ' '
	                  || coalesce(to_char(click_time, 'HH24:MI'), 'NULL'), ', '
	                  ORDER BY ad_id, imp_time, click_time NULLS LAST)
	  FROM j_left_out};

# step 1: one transaction writes both streams
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO impressions VALUES (1, '2026-01-01 10:00'), (2, '2026-01-01 10:05'), (3, '2026-01-01 10:10');
	INSERT INTO clicks VALUES (2, '2026-01-01 10:20'), (4, '2026-01-01 10:30');
	COMMIT;
}, @as_user);
$node->safe_psql('postgres', "CALL stream.process_all_available('j_left')", @as_user);
is($node->safe_psql('postgres', $target), '2 10:05 10:20', 'step 1: the one pair');
is($node->safe_psql('postgres', 'SELECT max(batch_id) FROM stream.checkpoint_commits'), '2',
	'step 1 ran a data batch and the no-data batch after it');

# step 2: two transactions, the clicks' begins last and commits first
my $imp = $node->background_psql('postgres', @as_user);
$imp->query_safe('BEGIN');
$imp->query_safe(q{INSERT INTO impressions VALUES (4, '2026-01-01 10:25'), (5, '2026-01-01 11:00'),
	(8, '2026-01-01 08:00'), (6, '2026-01-01 07:30')});
$node->safe_psql('postgres', q{
	INSERT INTO clicks VALUES (1, '2026-01-01 10:50'), (2, '2026-01-01 10:45'),
		(3, '2026-01-01 11:15'), (7, '2026-01-01 07:20');
}, @as_user);
$imp->query_safe('COMMIT');
$imp->quit;

$node->safe_psql('postgres',
	'CREATE TRIGGER gate BEFORE INSERT ON j_left_out FOR EACH ROW EXECUTE FUNCTION gate()',
	@as_user);
my ($gin, $gout, $gerr) = ('', '', '');
my $gate = IPC::Run::start(
	[ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$gin, '>', \$gout, '2>', \$gerr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$gin .= "SELECT 'locked' FROM pg_advisory_lock(4242);\n";
$gate->pump until $gout =~ /locked/ || !$gate->pumpable;

# step 2's data batch, held while writing its first pair
my ($bout, $berr) = ('', '');
my $batch = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres') . ' user=join_user', '-c',
	  "CALL stream.process_batch('j_left')" ],
	'>', \$bout, '2>', \$berr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE query LIKE 'CALL stream.process_batch%' AND wait_event = 'advisory'}),
	'the data batch of step 2 waits while writing its pairs');

# what was written ahead: the offsets (side 1's and the batch's snapshots),
# side 2's offsets, the watermarks
my $ahead_sql = q{
	SELECT (SELECT string_agg(format('%s %s %s %s %s %s', o.batch_id, o.start_snapshot, o.end_snapshot,
	                                 o.scan_from_block, o.end_floor_block, o.end_tail_block), '; ')
	          FROM stream.checkpoint_offsets o WHERE o.batch_id = 3)
	    || ' / ' || (SELECT string_agg((s.*)::text, '; ') FROM stream.checkpoint_sides s WHERE s.batch_id = 3)
	    || ' / ' || (SELECT string_agg(format('%s %s', w.watermark, w.late_watermark), '; ')
	                   FROM stream.checkpoint_watermarks w WHERE w.batch_id = 3)};
my $ahead = $node->safe_psql('postgres', $ahead_sql);
isnt($ahead, '', "the batch's offsets, side 2's and its watermarks were written ahead: $ahead");
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM stream.checkpoint_commits WHERE batch_id = 3}), '0',
	'and it has not committed');
is($node->safe_psql('postgres', q{
	SELECT to_char(watermark, 'HH24:MI') FROM stream.checkpoint_watermarks WHERE batch_id = 3}),
	'07:30', 'the watermark in force for it is the one after step 1');

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
is($node->safe_psql('postgres', $target), '2 10:05 10:20',
	'the killed batch wrote nothing');
is($node->safe_psql('postgres', $ahead_sql), $ahead,
	'its offsets, side 2\'s and its watermarks are as they were written ahead');

# rows committed after the crash: not in the replayed batch
$node->safe_psql('postgres', q{
	DROP TRIGGER gate ON j_left_out;
	INSERT INTO impressions VALUES (20, '2026-01-01 10:40');
	INSERT INTO clicks VALUES (20, '2026-01-01 10:55');
}, @as_user);

$node->safe_psql('postgres', "CALL stream.process_batch('j_left')", @as_user);
is($node->safe_psql('postgres', q{
	SELECT batch_id, replayed, to_char(watermark, 'HH24:MI'), input_rows, late_rows, output_rows
	  FROM stream.progress WHERE query = 'j_left' ORDER BY batch_id DESC LIMIT 1}),
	'3|t|07:30|8|2|3', 'the batch was replayed with its watermark, its 8 rows, 2 of them late');
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s', side, input_rows, late_rows), ', ' ORDER BY side)
	  FROM stream.progress_sides WHERE query = 'j_left' AND batch_id = 3}),
	'1 4 1, 2 4 1', 'on each side the rows it had planned, one of them late');
is($node->safe_psql('postgres', $ahead_sql), $ahead, 'the replay kept its offsets');
is($node->safe_psql('postgres', $target),
	'1 10:00 10:50, 2 10:05 10:20, 2 10:05 10:45, 4 10:25 10:30',
	'the target is step 2\'s, each pair once, no NULL row yet');

$node->safe_psql('postgres', "CALL stream.process_all_available('j_left')", @as_user);
is($node->safe_psql('postgres', $target),
	'1 10:00 10:50, 2 10:05 10:20, 2 10:05 10:45, 4 10:25 10:30, 20 10:40 10:55',
	'the rows committed after the crash came in a later batch, once');
is($node->safe_psql('postgres', q{
	SELECT min(batch_id) > 3 FROM stream.progress_sides
	 WHERE query = 'j_left' AND input_rows > 0 AND batch_id > 3}),
	't', 'in a batch after the replayed one');
is($node->safe_psql('postgres', q{
	SELECT count(*) = count(DISTINCT (ad_id, imp_time, click_time)) FROM j_left_out}),
	't', 'no row written twice');

$node->stop;
done_testing();
