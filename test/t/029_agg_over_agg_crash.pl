# An aggregation over a streaming aggregation (views per hour summed from
# views per minute and page), killed with SIGKILL while the no-data batch
# that closes the minute 10:59 and then the hour 10:00 writes that hour.
# After crash recovery both state tables are as the batch before left them,
# the batch is replayed with the watermark written ahead with it, and the
# hour is written once, equal to the two aggregations recomputed over the
# stream.  Then the background worker goes on, and drops a late row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('aggoveraggcrash');
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
	CREATE TABLE page_views (page text, viewed_at timestamptz);
	SELECT stream.create_stream('page_views');
	-- stopped from the start: the batches before the crash are run by hand
	BEGIN;
	SELECT stream.start_query('hourly',
		$$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views,
		         count(*) AS minute_pages
		    FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, page, count(*) AS views
		            FROM page_views GROUP BY 1, 2) m
		   GROUP BY 1$$,
		'hourly_out', output_mode => 'append', trigger => '100 ms',
		event_time => 'viewed_at', watermark => '10 minutes');
	SELECT stream.stop_query('hourly');
	COMMIT;
	-- the insert of an hour waits while another session holds lock 4242
	CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_advisory_lock_shared(4242);
		PERFORM pg_advisory_unlock_shared(4242);
		RETURN NEW;
	END $$;
	CREATE TRIGGER gate BEFORE INSERT ON hourly_out
		FOR EACH ROW EXECUTE FUNCTION gate();
	-- the rows no batch drops as late
	CREATE TABLE dropped (viewed_at timestamptz);
}, @as_user);

my $target = q{
	SELECT coalesce(string_agg(to_char(hour, 'HH24:MI') || ' ' || views || ' ' || minute_pages,
	                           ', ' ORDER BY hour), '')
	  FROM hourly_out};
# the two aggregations recomputed over the rows not dropped, for the hours
# the watermark (the latest time less 10 minutes) has closed
my $recomputed = q{
	SELECT coalesce(string_agg(to_char(hour, 'HH24:MI') || ' ' || views || ' ' || minute_pages,
	                           ', ' ORDER BY hour), '')
	  FROM (SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views,
	               count(*) AS minute_pages
	          FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, page, count(*) AS views
	                  FROM page_views WHERE viewed_at NOT IN (SELECT viewed_at FROM dropped)
	                 GROUP BY 1, 2) m
	         GROUP BY 1) r
	 WHERE hour + interval '1 hour' <=
	       (SELECT max(viewed_at) - interval '10 minutes' FROM page_views)};
my $state = q{
	SELECT (SELECT count(*) FROM stream_state.hourly_lower) || ' '
	       || (SELECT count(*) FROM stream_state.hourly)};

# step 1: the watermark moves to 10:49:30, closing the minutes 10:00,
# 10:01 and 10:05 into the open hour 10:00
$node->safe_psql('postgres', q{
	INSERT INTO page_views VALUES ('a', '2026-01-01 10:00:30'), ('b', '2026-01-01 10:00:40'),
		('a', '2026-01-01 10:01:10'), ('a', '2026-01-01 10:05:00'), ('c', '2026-01-01 10:59:30');
}, @as_user);
$node->safe_psql('postgres', "CALL stream.process_all_available('hourly')", @as_user);
is($node->safe_psql('postgres', $target), '', 'step 1: no hour closed');
is($node->safe_psql('postgres', $state), '1 1', 'the minute 10:59 and the hour 10:00 are open');

# step 2's data batch moves the watermark to 11:10
$node->safe_psql('postgres', q{INSERT INTO page_views VALUES ('a', '2026-01-01 11:20:00')},
	@as_user);
$node->safe_psql('postgres', "CALL stream.process_batch('hourly')", @as_user);
is($node->safe_psql('postgres', $target), '', 'step 2\'s data batch closes no hour');
my $state_before = $node->safe_psql('postgres', $state);
is($state_before, '2 1', 'the minutes 10:59 and 11:20 and the hour 10:00 are open');

my ($gin, $gout, $gerr) = ('', '', '');
my $gate = IPC::Run::start(
	[ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$gin, '>', \$gout, '2>', \$gerr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$gin .= "SELECT 'locked' FROM pg_advisory_lock(4242);\n";
$gate->pump until $gout =~ /locked/ || !$gate->pumpable;

# the no-data batch, held while writing the hour 10:00
my ($bout, $berr) = ('', '');
my $batch = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres') . ' user=chain_user', '-c',
	  "CALL stream.process_batch('hourly')" ],
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
	'11:10', "the held batch $held had its watermark, 11:10, written ahead");

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
is($node->safe_psql('postgres', 'SELECT count(*) FROM hourly_out'), '0',
	'the killed batch wrote no hour');
is($node->safe_psql('postgres', $state), $state_before,
	'both state tables are as the batch before left them');

$node->safe_psql('postgres', "CALL stream.process_batch('hourly')", @as_user);
is($node->safe_psql('postgres', qq{
	SELECT replayed, to_char(watermark, 'HH24:MI'), input_rows, output_rows
	  FROM stream.progress WHERE query = 'hourly' AND batch_id = '$held'}),
	't|11:10|0|1', 'the no-data batch was replayed with the watermark written ahead with it');
is($node->safe_psql('postgres', $target), '10:00 5 5', 'the hour 10:00, once');
is($node->safe_psql('postgres', $target), $node->safe_psql('postgres', $recomputed),
	'the target is the recomputation');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(ordinal || ':' || state_rows || '/' || state_rows_removed, ' ' ORDER BY ordinal)
	  FROM stream.progress_operators WHERE query = 'hourly' AND batch_id = '$held'}),
	'1:1/1 2:0/1', 'the replayed batch closed the minute 10:59 and the hour 10:00');

# the worker goes on: 10:30 is late (its minute ended before 11:10), 12:30
# closes the hour 11:00
$node->safe_psql('postgres', q{
	DROP TRIGGER gate ON hourly_out;
	SELECT stream.resume_query('hourly');
	INSERT INTO dropped VALUES ('2026-01-01 10:30:00');
}, @as_user);
$node->safe_psql('postgres', q{
	INSERT INTO page_views VALUES ('b', '2026-01-01 10:30:00'), ('b', '2026-01-01 11:20:30'),
		('c', '2026-01-01 12:30:00');
}, @as_user);
ok($node->poll_query_until('postgres', q{SELECT count(*) >= 2 FROM hourly_out}),
	'the worker closed the hour 11:00');
is($node->safe_psql('postgres', $target), '10:00 5 5, 11:00 2 2',
	'the hour 11:00 after the hour 10:00, each once, without the late row');
is($node->safe_psql('postgres', $target), $node->safe_psql('postgres', $recomputed),
	'the target is the recomputation');
is($node->safe_psql('postgres', q{
	SELECT sum(late_rows) FROM stream.progress_operators WHERE query = 'hourly' AND ordinal = 1}),
	'1', 'the lower aggregation dropped the late row');

$node->stop;
done_testing();
