# Only transactions that write a stream hold its batches back, and only
# their own rows: a transaction open elsewhere, however long, does not make
# every batch read the stream again from where it began; an open writer of
# the stream does not either, and the first batch after it commits reads its
# rows, once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('floors');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
max_worker_processes = 16
max_prepared_transactions = 5
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (id bigint, pad text);
	SELECT stream.create_stream('ev');
	SELECT stream.start_query('q', 'SELECT id FROM ev', 'ev_out', trigger => '1 hour');
	CREATE TABLE elsewhere (id int);
	CREATE SEQUENCE ids;
});

# a round: rows in ten transactions, then every batch they need
sub round
{
	$node->safe_psql('postgres', qq{
		INSERT INTO ev SELECT nextval('ids'), repeat('p', 200) FROM generate_series(1, 2000);
	}) for 1 .. 10;
	$node->safe_psql('postgres', q{CALL stream.process_all_available('q')});
	return $node->safe_psql('postgres', q{
		SELECT scan_from_block FROM stream.checkpoint_offsets ORDER BY batch_id DESC LIMIT 1});
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

my $first = round();

# an unrelated transaction, open across many batches
my $other = hold_open('INSERT INTO elsewhere VALUES (1)');
my $blocks_when_opened = $node->safe_psql('postgres',
	q{SELECT pg_relation_size('ev') / 8192});
my @floors = map { round() } 1 .. 3;
cmp_ok($floors[2], '>', $blocks_when_opened,
	"with an unrelated transaction open, batches read only new blocks (floor $floors[2], stream had $blocks_when_opened blocks when it opened)");
cmp_ok($floors[2], '>', $floors[0], 'the floor moves on from batch to batch');
end_open($other);

# an open writer of the stream holds back only its own rows: batches go on
# reading new blocks only, and the first batch after it commits reads its
my ($wout, $werr) = ('', '');
my $writer = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
	  q{BEGIN; INSERT INTO ev SELECT nextval('ids'), 'open' FROM generate_series(1, 100); SELECT pg_sleep(4); COMMIT;} ],
	'>', \$wout, '2>', \$werr);
$node->poll_query_until('postgres',
	q{SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND backend_xid IS NOT NULL})
  or die 'the writer does not start';
my $blocks_at_writer = $node->safe_psql('postgres',
	q{SELECT pg_relation_size('ev') / 8192});
my @passing = map { round() } 1 .. 2;
cmp_ok($passing[1], '>', $blocks_at_writer,
	"while a writer of the stream is open, batches read only new blocks (floor $passing[1], writer began at block $blocks_at_writer)");
is($node->safe_psql('postgres', q{SELECT count(*) FROM ev_out o JOIN ev USING (id) WHERE ev.pad = 'open'}),
	'0', 'its rows are not delivered while it is open');
$writer->finish;
my $after = round();
cmp_ok($after, '<=', $blocks_at_writer, 'the first batch after it commits reads its blocks');
is($node->safe_psql('postgres', q{SELECT count(*) FROM ev_out o JOIN ev USING (id) WHERE ev.pad = 'open'}),
	'100', 'its rows arrived once, when it committed');

# a writer that rolls back leaves nothing, and holds nothing up
my $rolled = hold_open(q{INSERT INTO ev SELECT nextval('ids'), 'rolled back' FROM generate_series(1, 100)});
round();
end_open($rolled);
round();
is($node->safe_psql('postgres', q{SELECT count(*) FROM ev_out o JOIN ev USING (id) WHERE ev.pad = 'rolled back'}),
	'0', 'nothing of a writer that rolled back arrives');
# a prepared transaction that wrote the stream: batches go on past it, and
# after COMMIT PREPARED (from another session) its rows arrive once
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO ev SELECT nextval('ids'), 'prepared' FROM generate_series(1, 50);
	PREPARE TRANSACTION 'ev_writer';
});
my $blocks_at_prepared = $node->safe_psql('postgres', q{SELECT pg_relation_size('ev') / 8192});
my @past = map { round() } 1 .. 2;
cmp_ok($past[1], '>', $blocks_at_prepared, 'batches go on past a prepared writer');
$node->safe_psql('postgres', q{COMMIT PREPARED 'ev_writer'});
round();
is($node->safe_psql('postgres', q{SELECT count(*) FROM ev_out o JOIN ev USING (id) WHERE ev.pad = 'prepared'}),
	'50', 'the prepared writer\'s rows arrived once after COMMIT PREPARED');

# a crash while a writer is open: its rows never arrive, the others once
my $open_at_crash = hold_open(q{INSERT INTO ev SELECT nextval('ids'), 'lost in the crash' FROM generate_series(1, 100)});
round();
$node->stop('immediate');
$open_at_crash->finish;
$node->start;
round();
round();
is($node->safe_psql('postgres', q{SELECT count(*) FROM ev_out o JOIN ev USING (id) WHERE ev.pad = 'lost in the crash'}),
	'0', 'nothing of a writer open at a crash arrives');

my ($rows, $ids) = split /\|/, $node->safe_psql('postgres',
	'SELECT count(*), count(DISTINCT id) FROM ev_out');
is($rows, $ids, 'no row twice');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM ev e FULL JOIN ev_out o USING (id) WHERE e.id IS NULL OR o.id IS NULL}),
	'0', 'every committed row reached the target, and only those');

$node->stop;
done_testing();
