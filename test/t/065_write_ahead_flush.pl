# A batch whose run writes only into this cluster commits its write-ahead
# without waiting for the WAL flush: its run's commit flushes past it.  A
# batch that shows its id outside while it runs (a foreach_batch procedure)
# still waits.  A crash between the two commits loses the write-ahead or
# keeps it, and every row reaches the target once either way.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('write_ahead_flush');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.retention_naptime = '1h'
autovacuum = off
fsync = on
wal_writer_delay = '10s'
checkpoint_timeout = '1h'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE ROLE loader LOGIN;
	GRANT CREATE ON SCHEMA public TO loader;
	SET ROLE loader;
	CREATE TABLE ev (id int PRIMARY KEY, pad text);
	SELECT stream.create_stream('ev');
	CREATE TABLE fe_out (batch_id bigint, id int);
	CREATE PROCEDURE deliver(batch_id bigint) LANGUAGE plpgsql AS $$
	BEGIN
	    INSERT INTO fe_out SELECT batch_id, id FROM stream_batch.fe;
	END $$;
	SELECT stream.start_query('local', 'SELECT id FROM ev', 'ev_out', trigger => '1 hour');
	SELECT stream.start_query('fe', 'SELECT id FROM ev', foreach_batch => 'deliver',
	                          trigger => '1 hour');
	SELECT stream.start_query('trig', 'SELECT id FROM ev', 'trig_out', trigger => '1 hour');
	CREATE FUNCTION noted() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
	    RETURN NULL;
	END $$;
	CREATE TRIGGER noted AFTER INSERT ON trig_out FOR EACH ROW EXECUTE FUNCTION noted();
});

# the WAL syncs of $rounds rounds of one row written and one batch of $query
my $next = 1;
sub syncs
{
	my ($query, $rounds, $setting) = @_;
	my $script = ($setting // '') . "SELECT pg_stat_force_next_flush();\n"
	  . "SELECT wal_sync AS before FROM pg_stat_wal \\gset\n";
	for (1 .. $rounds)
	{
		$script .= "INSERT INTO ev VALUES ($next, 'x');\n"
		  . "CALL stream.process_batch('$query');\n";
		$next++;
	}
	$script .= "SELECT pg_stat_force_next_flush();\n"
	  . "SELECT wal_sync - :before FROM pg_stat_wal;\n";
	my @lines = split /\n/, $node->safe_psql('postgres', $script);
	return $lines[-1];
}

my $rounds = 30;
my $local = syncs('local', $rounds);
my $fe = syncs('fe', $rounds);
my $trig = syncs('trig', $rounds);
note "WAL syncs of $rounds rounds: local target $local, foreach_batch $fe, target with a trigger $trig";
# a round: the writer's commit, the write-ahead's, the run's
cmp_ok($fe, '>=', 3 * $rounds - 3,
	'a foreach_batch batch waits for its write-ahead to be flushed');
cmp_ok($trig, '>=', 3 * $rounds - 3,
	'so does a batch into a target with a trigger, which may write elsewhere');
cmp_ok($local, '<=', 2 * $rounds + 5,
	'a batch into a local table leaves the flush to its run');

# a session that commits asynchronously: a foreach_batch batch still waits
# for its write-ahead, a local one flushes nothing, as the session chose
my $fe_off = syncs('fe', $rounds, "SET synchronous_commit = off;\n");
my $local_off = syncs('local', $rounds, "SET synchronous_commit = off;\n");
note "WAL syncs with synchronous_commit off: foreach_batch $fe_off, local target $local_off";
cmp_ok($fe_off, '>=', $rounds - 3,
	'with synchronous_commit off, a foreach_batch batch waits for its write-ahead');
cmp_ok($local_off, '<=', 5, 'a local one does not');
my @shown = split /\n/, $node->safe_psql('postgres', q{
	SET synchronous_commit = remote_write;
	CALL stream.process_all_available('local');
	SHOW synchronous_commit;});
is($shown[-1], 'remote_write', 'the session\'s synchronous_commit is as it set it');
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT id) FROM ev_out}),
	5 * $rounds . '|' . 5 * $rounds, 'every row reached the local target once');

# a crash while the run waits, after the write-ahead committed
$node->safe_psql('postgres', q{
	CREATE FUNCTION wait_held() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
	    IF current_setting('application_name') = 'held' THEN
	        PERFORM pg_sleep(600);
	    END IF;
	    RETURN NEW;
	END $$;
	CREATE TRIGGER wait_held BEFORE INSERT ON ev_out
	    FOR EACH ROW EXECUTE FUNCTION wait_held();
});
$node->safe_psql('postgres',
	q{INSERT INTO ev SELECT g, 'y' FROM generate_series(1001, 1010) g});
my $last = $node->safe_psql('postgres',
	q{SELECT last_batch_id FROM stream.queries WHERE name = 'local'});
my ($stdout, $stderr) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres') . ' application_name=held', '-c',
	  q{CALL stream.process_batch('local')} ],
	'>', \$stdout, '2>', \$stderr);
$node->poll_query_until('postgres',
	q{SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event = 'PgSleep'})
  or die 'the batch does not reach the target';
is($node->safe_psql('postgres',
	"SELECT count(*) FROM stream.checkpoint_offsets o JOIN stream.query_defs d USING (query_id)"
	  . " WHERE d.name = 'local' AND o.batch_id = $last + 1"),
	'1', 'the batch was written ahead before it ran');
$node->stop('immediate');
$h->finish;
$node->start;
my $kept = $node->safe_psql('postgres',
	"SELECT count(*) FROM stream.checkpoint_offsets o JOIN stream.query_defs d USING (query_id)"
	  . " WHERE d.name = 'local' AND o.batch_id = $last + 1");
note $kept ? 'the write-ahead survived the crash' : 'the write-ahead was lost in the crash';
$node->safe_psql('postgres', q{
	INSERT INTO ev SELECT g, 'z' FROM generate_series(1011, 1020) g;
});
$node->safe_psql('postgres', q{CALL stream.process_all_available('local')});
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT id) FROM ev_out}),
	(5 * $rounds + 20) . '|' . (5 * $rounds + 20),
	'after the crash every row reached the local target once');
is($node->safe_psql('postgres', q{
	SELECT count(*) = max(batch_id) - min(batch_id) + 1
	  FROM stream.checkpoint_commits c JOIN stream.query_defs d USING (query_id)
	 WHERE d.name = 'local'}),
	't', 'the committed batches follow one another without a gap');

$node->stop;
done_testing();
