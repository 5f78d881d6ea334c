# The shared entries that track each stream's writers and placement are
# not a cliff: they are freed when a stream is dropped, those of tables and
# databases that no longer exist are taken back when all are in use, and
# only when every entry belongs to a live stream does a writer hear of it,
# in a WARNING that names pg_streaming.max_streams.  Many more streams than
# entries created and dropped leave later streams their exact floors.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('capacity');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.max_streams = 16
# batches run only when the test calls them
pg_streaming.max_workers = 0
});
$node->start;

is($node->safe_psql('postgres', 'SHOW pg_streaming.max_streams'), '16', 'the setting sizes the entries');

# run SQL, returning its stderr (warnings included)
sub run_sql
{
	my ($db, $sql) = @_;
	my ($ret, $out, $err) = $node->psql($db, $sql, on_error_die => 1);
	return $err;
}

# a database with streams that are written and read, then dropped whole
$node->safe_psql('postgres', 'CREATE DATABASE other');
my $err = run_sql('other', join("\n", 'CREATE EXTENSION pg_streaming;',
	map { "CREATE TABLE o$_ (id int); SELECT stream.create_stream('o$_'); INSERT INTO o$_ VALUES (1);" } 1 .. 10));
unlike($err, qr/max_streams/, 'ten streams of another database fit');
$node->safe_psql('postgres', 'DROP DATABASE other');

# 300 throwaway streams, each written, read by a query and dropped
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE elsewhere (id int);
	CREATE SEQUENCE ids;
});
$err = run_sql('postgres', join("\n", map { qq{
	CREATE TABLE t$_ (id int);
	SELECT stream.create_stream('t$_');
	SELECT stream.start_query('q$_', 'SELECT id FROM t$_', 't${_}_out', trigger => '1 hour');
	INSERT INTO t$_ VALUES ($_);
	CALL stream.process_all_available('q$_');
	DROP TABLE t$_, t${_}_out CASCADE;
} } 1 .. 300));
unlike($err, qr/max_streams/, '300 streams created and dropped one after the other never fill 16 entries');

# a later stream still has its entry: an unrelated transaction open since
# before its rows holds none of its batches back
$node->safe_psql('postgres', q{
	CREATE TABLE late (id bigint, pad text);
	SELECT stream.create_stream('late');
	SELECT stream.start_query('ql', 'SELECT id FROM late', 'late_out', trigger => '1 hour');
	INSERT INTO late SELECT nextval('ids'), repeat('h', 200) FROM generate_series(1, 20000);
	CALL stream.process_all_available('ql');
});

sub round
{
	return $node->safe_psql('postgres', q{
		INSERT INTO late SELECT nextval('ids'), repeat('p', 200) FROM generate_series(1, 2000);
		SELECT pg_stat_force_next_flush();
		SELECT heap_blks_read + heap_blks_hit AS b0 FROM pg_statio_user_tables WHERE relname = 'late' \gset
		CALL stream.process_all_available('ql');
		SELECT pg_stat_force_next_flush();
		SELECT pg_sleep(0.1);
		SELECT pg_stat_force_next_flush();
		SELECT (SELECT heap_blks_read + heap_blks_hit FROM pg_statio_user_tables WHERE relname = 'late') - :b0;
	}) =~ s/.*\n//sr;
}
my @none = map { round() } 1 .. 2;
my ($o_out, $o_err) = ('', '');
my $open = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
	  'BEGIN; INSERT INTO elsewhere VALUES (1); SELECT pg_sleep(600);' ],
	'>', \$o_out, '2>', \$o_err);
$node->poll_query_until('postgres',
	q{SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND backend_xid IS NOT NULL})
  or die 'the open transaction does not start';
my @open = map { round() } 1 .. 3;
note "blocks read per round: @none with nothing open, @open with a transaction open";
cmp_ok($open[2], '<=', 1.3 * $none[1] + 2,
	"after 300 dropped streams, a new stream's batches read about their new rows ($open[2] against $none[1])");
$node->safe_psql('postgres', q{
	SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'});
$open->finish;

# fifteen more live streams fill the sixteen entries; the seventeenth
# stream's writer is told, with the setting to raise
$err = run_sql('postgres', join("\n",
	map { "CREATE TABLE s$_ (id int); SELECT stream.create_stream('s$_'); INSERT INTO s$_ VALUES (1);" } 1 .. 15));
unlike($err, qr/max_streams/, 'sixteen live streams fit sixteen entries');
$err = run_sql('postgres', q{
	CREATE TABLE s16 (id int);
	SELECT stream.create_stream('s16');
	INSERT INTO s16 VALUES (1);
});
like($err, qr/WARNING:  pg_streaming cannot track stream "s16": all 16 entries are taken/,
	'a stream with no entry left warns');
like($err, qr/HINT:  Raise pg_streaming.max_streams/, 'naming the setting');
is($node->safe_psql('postgres', 'SELECT count(*) FROM s16'), '1', 'the row is written all the same');

# a dropped stream frees its entry at commit, and not before
$node->safe_psql('postgres', 'BEGIN; DROP TABLE s1; ROLLBACK;');
$err = run_sql('postgres', 'INSERT INTO s16 VALUES (2)');
like($err, qr/max_streams/, 'a drop that rolled back frees nothing');
$node->safe_psql('postgres', 'DROP TABLE s1');
$err = run_sql('postgres', 'INSERT INTO s16 VALUES (3)');
unlike($err, qr/max_streams/, 'a committed drop frees its entry for another stream');

$node->stop;
done_testing();
