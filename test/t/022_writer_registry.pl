# A transaction that never wrote a stream never holds its batches back,
# whatever the order of events since the server started: one that began
# after a restart but before the stream's first row (and first batch) since
# then included.  And more transactions writing one stream at once than the
# 64 the registry once had room for change nothing: batches still read
# about the new rows' blocks, and every row arrives once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('registry');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
max_prepared_transactions = 80
# batches run only when the test calls them
pg_streaming.max_workers = 0
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (id bigint, pad text);
	SELECT stream.create_stream('ev');
	SELECT stream.start_query('q', 'SELECT id FROM ev', 'ev_out', trigger => '1 hour');
	CREATE TABLE elsewhere (id int);
	CREATE SEQUENCE ids;
	INSERT INTO ev SELECT nextval('ids'), repeat('h', 200) FROM generate_series(1, 40000);
	CALL stream.process_all_available('q');
});

# a round: 2000 rows, then every batch they need; the stream's blocks
# those batches read
sub round
{
	return $node->safe_psql('postgres', q{
		INSERT INTO ev SELECT nextval('ids'), repeat('p', 200) FROM generate_series(1, 2000);
		SELECT pg_stat_force_next_flush();
		SELECT heap_blks_read + heap_blks_hit AS b0 FROM pg_statio_user_tables WHERE relname = 'ev' \gset
		CALL stream.process_all_available('q');
		SELECT pg_stat_force_next_flush();
		SELECT pg_sleep(0.1);
		SELECT pg_stat_force_next_flush();
		SELECT (SELECT heap_blks_read + heap_blks_hit FROM pg_statio_user_tables WHERE relname = 'ev') - :b0;
	}) =~ s/.*\n//sr;
}

# a session that holds a transaction open, with an xid, until it is killed
sub hold_open
{
	my ($sql) = @_;
	my ($stdout, $stderr) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
		  "BEGIN; $sql; SELECT pg_sleep(600);" ],
		'>', \$stdout, '2>', \$stderr);
	$node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND backend_xid IS NOT NULL})
	  or die 'the open transaction does not start';
	return $h;
}

sub end_open
{
	my ($h) = @_;
	$node->safe_psql('postgres', q{
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'});
	$h->finish;
}

my $history = $node->safe_psql('postgres', q{SELECT pg_relation_size('ev') / 8192});
my @none_open = map { round() } 1 .. 3;
my $baseline = $none_open[2];
note "blocks read per round with nothing open: @none_open (history $history blocks)";

# restart; an unrelated transaction takes an xid before anything touches
# the stream
$node->restart;
my $other = hold_open('INSERT INTO elsewhere VALUES (1)');
my @with_open = map { round() } 1 .. 4;
note "blocks read per round with an unrelated transaction open since before the first row: @with_open";
cmp_ok($with_open[$_], '<=', 1.3 * $baseline + 2,
	"round $_ after the restart reads about the new rows' blocks ($with_open[$_] against $baseline with none open)")
  for 1 .. 3;
end_open($other);

# the other order: the first batch, then the unrelated transaction, then rows
$node->restart;
$node->safe_psql('postgres', q{CALL stream.process_all_available('q')});
$other = hold_open('INSERT INTO elsewhere VALUES (2)');
my @batch_first = map { round() } 1 .. 3;
cmp_ok($batch_first[2], '<=', 1.3 * $baseline + 2,
	"after a batch first, an unrelated transaction holds nothing back either ($batch_first[2])");
end_open($other);

# more writers at once than 64: 70 prepared transactions that wrote the
# stream, taken after an unrelated transaction began
$other = hold_open('INSERT INTO elsewhere VALUES (3)');
$node->safe_psql('postgres', join('', map {
	"BEGIN; INSERT INTO ev VALUES (nextval('ids'), 'prepared'); PREPARE TRANSACTION 'w$_';"
} 1 .. 70));
my @many = map { round() } 1 .. 3;
note "blocks read per round with 70 open writers: @many";
cmp_ok($many[$_], '<=', 1.3 * $baseline + 2,
	"with 70 writers open, round $_ reads about the new rows' blocks ($many[$_])")
  for 1 .. 2;
is($node->safe_psql('postgres', q{SELECT count(*) FROM ev_out o JOIN ev USING (id) WHERE ev.pad = 'prepared'}),
	'0', 'nothing of the open writers arrives while they are open');
$node->safe_psql('postgres', join('', map { "COMMIT PREPARED 'w$_';" } 1 .. 70));
round();
is($node->safe_psql('postgres', q{SELECT count(*) FROM ev_out o JOIN ev USING (id) WHERE ev.pad = 'prepared'}),
	'70', 'their rows arrive once they commit');
end_open($other);

# a prepared transaction that wrote the stream before a restart is the one
# kind of transaction the registry cannot know: batches after the restart
# go on, and its rows arrive once after COMMIT PREPARED
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO ev SELECT nextval('ids'), 'prepared before the restart' FROM generate_series(1, 50);
	PREPARE TRANSACTION 'before_restart';
});
round();
$node->restart;
round() for 1 .. 3;
$node->safe_psql('postgres', q{COMMIT PREPARED 'before_restart'});
round();
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM ev_out o JOIN ev USING (id) WHERE ev.pad = 'prepared before the restart'}),
	'50', 'the rows of a writer prepared before the restart arrive once it commits');

my ($rows, $ids) = split /\|/, $node->safe_psql('postgres',
	'SELECT count(*), count(DISTINCT id) FROM ev_out');
is($rows, $ids, 'no row twice');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM ev e FULL JOIN ev_out o USING (id) WHERE e.id IS NULL OR o.id IS NULL}),
	'0', 'every committed row reached the target, and only those');

$node->stop;
done_testing();
