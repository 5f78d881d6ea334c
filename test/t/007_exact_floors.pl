# Only transactions that write a stream hold its batches' floors back: a
# transaction open elsewhere, however long, does not make every batch read
# the stream again from where it began; an open writer of the stream holds
# the floor at its own first row, and its rows arrive once when it commits.
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

# an open writer of the stream holds the floor at its own first row
my $writer = hold_open(q{INSERT INTO ev SELECT nextval('ids'), 'open' FROM generate_series(1, 100)});
my $blocks_at_writer = $node->safe_psql('postgres',
	q{SELECT pg_relation_size('ev') / 8192});
my @held = map { round() } 1 .. 2;
cmp_ok($held[1], '<=', $blocks_at_writer, 'an open writer holds the floor at its first row');
is($node->safe_psql('postgres', q{SELECT count(*) FROM ev_out o JOIN ev USING (id) WHERE ev.pad = 'open'}),
	'0', 'its rows are not delivered while it is open');

# it commits: its rows arrive once
$node->safe_psql('postgres', q{
	SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'});
$writer->finish;
# the cancel rolled it back: nothing of it may arrive; write one that commits
my ($out, $err) = ('', '');
my $late = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
	  q{BEGIN; INSERT INTO ev SELECT nextval('ids'), 'late' FROM generate_series(1, 100); SELECT pg_sleep(2); COMMIT;} ],
	'>', \$out, '2>', \$err);
round();
$late->finish;
round();
my ($rows, $ids) = split /\|/, $node->safe_psql('postgres',
	'SELECT count(*), count(DISTINCT id) FROM ev_out');
is($rows, $ids, 'no row twice');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM ev e FULL JOIN ev_out o USING (id) WHERE e.id IS NULL OR o.id IS NULL}),
	'0', 'every committed row reached the target, and only those');
is($node->safe_psql('postgres', q{SELECT count(*) FROM ev_out o JOIN ev USING (id) WHERE ev.pad = 'late'}),
	'100', 'the late writer\'s rows arrived once');

$node->stop;
done_testing();
