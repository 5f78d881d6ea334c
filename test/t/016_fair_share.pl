# Workers are shared fairly: one role's ten slow continuous queries (a
# trigger on their target sleeps a second per batch, backlogs of forty
# batches) do not hold the pool of two workers while another role's 200 ms query waits;
# its rows arrive after at most one slow batch per worker, round after round, and the
# slow queries go on progressing.  Then two databases share one worker,
# each with a busy query: both are served, and the worker processes
# started stay few.  Last, pg_streaming.batch_timeout cancels a runaway
# batch into the retries, with an error that names the setting.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('fair');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
pg_streaming.max_workers = 2
max_worker_processes = 16
track_commit_timestamp = on
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE ROLE slowpoke LOGIN;
	CREATE ROLE quick LOGIN;
	GRANT CREATE ON SCHEMA public TO slowpoke, quick;
	SET ROLE slowpoke;
	CREATE TABLE slow_ev (id int);
	SELECT stream.create_stream('slow_ev');
	CREATE FUNCTION nap() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
	    PERFORM pg_sleep(1);
	    RETURN NULL;
	END $$;
	SELECT stream.start_query('slow' || i, 'SELECT id FROM slow_ev', 'slow_out' || i,
	                          trigger => 'continuous', max_rows_per_batch => 1)
	  FROM generate_series(1, 10) i;
	SELECT format('CREATE TRIGGER nap AFTER INSERT ON slow_out%s FOR EACH STATEMENT EXECUTE FUNCTION nap()', i)
	  FROM generate_series(1, 10) i \gexec
	-- forty transactions: forty batches for each slow query
	DO $$
	BEGIN
	    FOR i IN 1..40 LOOP
	        INSERT INTO slow_ev VALUES (i);
	        COMMIT;
	    END LOOP;
	END $$;
	RESET ROLE;
	SET ROLE quick;
	CREATE TABLE quick_ev (id int, at timestamptz DEFAULT clock_timestamp());
	SELECT stream.create_stream('quick_ev');
	SELECT stream.start_query('quick', 'SELECT id, at FROM quick_ev', 'quick_out', trigger => '200 ms');
});

# the slow queries have taken the pool
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 2 FROM pg_stat_activity
	 WHERE backend_type = 'pg_streaming worker' AND query LIKE '%"slow%running%'}),
	'the slow queries run in both workers');

# The wait is counted in slow batches, not in seconds: the slow batches
# that began after the quick query was due (its trigger fires within
# 200 ms of the row's writing) and before it was given a worker (the start
# of its role's worker when one was started for the row, else the start of
# the batch that delivered it, found by its transaction, the commit row's).
# A fair pool gives the next worker that frees up to the quick query,
# unless that worker has served its own role for less than a second (a
# worker gives way only then): at most one slow batch per worker goes
# first, since one outlasts that second, and one more handed out as the
# trigger fired, or as a loaded machine fired it later than 200 ms.  A pool that served due queries in the order they became
# due would let the eight slow queries already waiting go first; one that
# let an owner's backlog hold its workers, hundreds.  A loaded machine
# makes every batch and every worker start slower alike and changes none
# of these counts; the time from the row's writing to its delivery is only
# noted.
my $worst = 0;
for my $round (1 .. 6)
{
	$node->safe_psql('postgres', "INSERT INTO quick_ev (id) VALUES ($round)");
	$node->poll_query_until('postgres',
		"SELECT count(*) = $round FROM quick_out")
	  or die "round $round: the quick query's row never arrived";

	my ($ahead, $lag, $started) = split /\|/, $node->safe_psql('postgres', qq{
		WITH b AS (
		    SELECT o.at, p.started_at,
		           extract(epoch FROM pg_xact_commit_timestamp(o.xmin) - o.at) AS lag
		      FROM quick_out o
		      JOIN stream.checkpoint_commits k ON k.xmin = o.xmin
		      JOIN stream.progress p ON p.query = 'quick' AND p.batch_id = k.batch_id
		     WHERE o.id = $round
		       AND k.query_id = (SELECT id FROM stream.queries WHERE name = 'quick')),
		     w AS (
		    SELECT min(a.backend_start) AS started FROM pg_stat_activity a, b
		     WHERE a.backend_type = 'pg_streaming worker' AND a.usename = 'quick'
		       AND a.backend_start > b.at)
		SELECT (SELECT count(*) FROM stream.progress s
		         WHERE s.query LIKE 'slow%'
		           AND s.started_at > b.at + interval '200 ms'
		           AND s.started_at < least(w.started, b.started_at)),
		       b.lag, w.started IS NOT NULL
		  FROM b, w});
	defined $started or die "round $round: the batch that delivered the row is not found";
	$worst = $ahead if $ahead > $worst;
	note(sprintf('round %d: delivered %.2f s after the row was written%s; %d slow batches went first',
			$round, $lag, $started eq 't' ? ' (a worker was started for it)' : '', $ahead));
	usleep(300_000);
}
cmp_ok($worst, '<=', 4,
	"the other role's query waits for at most one slow batch per worker (worst: $worst slow batches went first)");
my $progress = $node->safe_psql('postgres', q{
	SELECT count(*) FROM stream.queries
	 WHERE name LIKE 'slow%' AND last_batch_id IS NOT NULL});
cmp_ok($progress, '>=', 3, 'the slow queries progress too, several of them');

# two databases share one worker, each with a query due every 100 ms:
# both are served, with few worker processes started
$node->safe_psql('postgres', q{
	SELECT stream.stop_query('slow' || i) FROM generate_series(1, 10) i;
	ALTER SYSTEM SET pg_streaming.max_workers = 1;
	SELECT pg_reload_conf();
	CREATE DATABASE second;
});
for my $db ('postgres', 'second')
{
	$node->safe_psql($db, q{
		CREATE EXTENSION IF NOT EXISTS pg_streaming;
		CREATE TABLE busy_ev (id int);
		SELECT stream.create_stream('busy_ev');
		SELECT stream.start_query('busy', 'SELECT id FROM busy_ev', 'busy_out', trigger => '100 ms');
	});
}


my %pids;
my $t0 = time;
for my $i (1 .. 30)
{
	for my $db ('postgres', 'second')
	{
		$node->safe_psql($db, "INSERT INTO busy_ev VALUES ($i)");
	}
	my $pids = $node->safe_psql('postgres', q{
		SELECT string_agg(pid::text, ' ') FROM pg_stat_activity
		 WHERE backend_type = 'pg_streaming worker'});
	$pids{$_} = 1 for split ' ', $pids;
	usleep(100_000);
}
my $elapsed = time - $t0;
for my $db ('postgres', 'second')
{
	ok($node->poll_query_until($db, 'SELECT count(*) = 30 FROM busy_out'),
		"database $db: every row arrived with one worker between two databases");
}
my $starts = scalar keys %pids;
note(sprintf('%d worker processes seen in %.1f s', $starts, $elapsed));
cmp_ok($starts, '<=', 2 + int($elapsed),
	'the worker moves between databases at most about once a second');

# a runaway batch is canceled by pg_streaming.batch_timeout and retried
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET pg_streaming.batch_timeout = '300ms';
	ALTER SYSTEM SET pg_streaming.max_retries = 1;
	SELECT pg_reload_conf();
	SELECT stream.stop_query('busy');
	SET ROLE slowpoke;
	CREATE TABLE runaway_out (id int);
	CREATE TRIGGER nap AFTER INSERT ON runaway_out FOR EACH STATEMENT EXECUTE FUNCTION nap();
	SELECT stream.start_query('runaway', 'SELECT id FROM slow_ev', 'runaway_out', trigger => '100 ms');
});
ok($node->poll_query_until('postgres',
		"SELECT status = 'failed' FROM stream.queries WHERE name = 'runaway'"),
	'a batch over the limit fails the query once its retries are spent');
is($node->safe_psql('postgres',
		"SELECT last_error_sqlstate, last_error FROM stream.queries WHERE name = 'runaway'"),
	'57014|batch of streaming query "runaway" (id '
	  . $node->safe_psql('postgres', "SELECT id FROM stream.queries WHERE name = 'runaway'")
	  . ') canceled: it ran longer than pg_streaming.batch_timeout (300 ms)',
	'its error names the query, the limit and the setting');
is($node->safe_psql('postgres', 'SELECT count(*) FROM runaway_out'), '0',
	'the canceled batches wrote nothing');
like(slurp_file($node->logfile),
	qr/ERROR:  batch of streaming query "runaway" \(id \d+\) canceled: it ran longer than pg_streaming.batch_timeout \(300 ms\)\n.*DETAIL:  The batch was rolled back; it is retried/,
	'the server log has it, with the retry');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_streaming worker'
	   AND query LIKE '%runaway%running%'}),
	'0', 'no worker is left running it');

$node->stop;
done_testing();
