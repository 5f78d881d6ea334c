# Retention never waits on a row lock.  A prepared transaction holds a
# processed row FOR KEY SHARE: the background pass skips that row (and the
# rest of its block), stream.stream_retention names the transaction, a
# WARNING in the server log names it too, and every query of the database
# goes on being served, before and after a restart that keeps the prepared
# transaction and its lock.  Once it is committed, retention catches up;
# every row reached the target once.  A stream with no blocks is passed
# over without an error.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('retention_locks');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
pg_streaming.retention_naptime = '300ms'
max_prepared_transactions = 5
max_worker_processes = 16
autovacuum = off
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE held (id int PRIMARY KEY);
	SELECT stream.create_stream('held');
	SELECT stream.start_query('held_q', 'SELECT id FROM held', 'held_out', trigger => '100 ms');
	CREATE TABLE other (id int);
	SELECT stream.create_stream('other');
	SELECT stream.start_query('other_q', 'SELECT id FROM other', 'other_out', trigger => '100 ms');
	-- a stream that never gets a block, with retention: passes find nothing
	CREATE TABLE never_written (id int);
	SELECT stream.create_stream('never_written');
	SELECT stream.set_retention('never_written', '0 seconds');
});

$node->safe_psql('postgres', 'INSERT INTO held SELECT generate_series(1, 100)');
$node->poll_query_until('postgres', 'SELECT count(*) = 100 FROM held_out')
  or die 'the query does not process the first rows';

# a prepared transaction holds one processed row; then retention starts
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT id FROM held WHERE id = 50 FOR KEY SHARE;
	PREPARE TRANSACTION 'holds_row';
});
my $xid = $node->safe_psql('postgres',
	q{SELECT transaction FROM pg_prepared_xacts WHERE gid = 'holds_row'});
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{SELECT stream.set_retention('held', '0 seconds')});

ok( $node->poll_query_until(
		'postgres', qq{SELECT blocked_by = '$xid'::xid FROM stream.stream_retention WHERE stream = 'held'::regclass}),
	'stream_retention names the prepared transaction holding the row');
is($node->safe_psql('postgres', 'SELECT array_agg(id) FROM held'),
	'{50}', 'every other row of the block is removed, the locked one stays');

# the scheduler is not stuck: both queries of the database are served
$node->safe_psql('postgres', q{
	INSERT INTO other SELECT generate_series(1, 10);
	INSERT INTO held SELECT generate_series(101, 110);
});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 10 FROM other_out'),
	'another query of the database goes on while retention is held');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 110 FROM held_out'),
	'the stream\'s own query goes on');
ok( $node->wait_for_log(
		qr/WARNING: .*retention of stream table "held" is held back by a row lock of transaction $xid/,
		$log_offset),
	'a WARNING names the transaction');
like(slurp_file($node->logfile, $log_offset),
	qr/pg_prepared_xacts.*\n.*HINT:.*COMMIT PREPARED or ROLLBACK PREPARED/,
	'the WARNING says it is a prepared transaction and what to do');
my $warnings = () = slurp_file($node->logfile, $log_offset) =~ /is held back by a row lock/g;
cmp_ok($warnings, '<=', 2, 'it is not repeated at every pass');

# across a restart the prepared transaction keeps its lock: still skipped
$node->restart;
$node->safe_psql('postgres', q{
	INSERT INTO other SELECT generate_series(11, 20);
	INSERT INTO held SELECT generate_series(111, 120);
});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 20 FROM other_out'),
	'after a restart, the database\'s queries are served');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 120 FROM held_out'),
	'after a restart, the stream\'s query is served');
ok( $node->poll_query_until(
		'postgres', qq{SELECT last_pass_at > pg_postmaster_start_time()
		                 AND blocked_by = '$xid'::xid FROM stream.stream_retention WHERE stream = 'held'::regclass}),
	'after a restart, the pass still names the prepared transaction');
is($node->safe_psql('postgres', 'SELECT count(*) FROM held WHERE id = 50'),
	'1', 'the locked row is still there');

# released, the row goes, and so does everything processed after it
$node->safe_psql('postgres', q{COMMIT PREPARED 'holds_row'});
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) = 0 FROM held}),
	'once the lock is released, retention removes the rest');
ok( $node->poll_query_until(
		'postgres', q{SELECT blocked_by IS NULL FROM stream.stream_retention WHERE stream = 'held'::regclass}),
	'and no longer names a blocker');
is( $node->safe_psql('postgres',
		'SELECT count(*), count(DISTINCT id), min(id), max(id) FROM held_out'),
	'120|120|1|120', 'every row reached the target once');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM stream.queries WHERE status <> 'active'}),
	'0', 'no query failed');

ok( $node->poll_query_until(
		'postgres', q{SELECT last_pass_at > pg_postmaster_start_time()
		                FROM stream.stream_retention WHERE stream = 'never_written'::regclass}),
	'the background passes went over the stream with no blocks');
ok(!$node->log_contains(qr/could not read block/),
	'and never tried to read a block it does not have');

$node->stop;
done_testing();
