# stream.alter_query while the background worker processes a query and four
# writers insert: each alteration takes effect at a batch boundary, every
# committed row reaches the target exactly once, before and after each
# change, and the worker names the query it runs in pg_stat_activity.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('alter_live');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE ROLE app LOGIN;
	GRANT CREATE ON SCHEMA public TO app;
	SET ROLE app;
	CREATE TABLE ev (id bigint PRIMARY KEY, v int);
	SELECT stream.create_stream('ev');
	CREATE SEQUENCE ev_ids;
	CREATE TABLE ev_out (id bigint, v int, tag text);
	SELECT stream.start_query('live', $$SELECT id, v, 'v1' AS tag FROM ev$$, 'ev_out',
	                          trigger => '50 ms');
	GRANT INSERT ON ev TO PUBLIC;
	GRANT USAGE ON SEQUENCE ev_ids TO PUBLIC;
});

# four writers of one-row transactions, for a few seconds
my $script = PostgreSQL::Test::Utils::tempdir . '/insert.sql';
PostgreSQL::Test::Utils::append_to_file($script,
	"INSERT INTO ev VALUES (nextval('ev_ids'), (random() * 1000)::int);\n");
my ($out, $err) = ('', '');
my $writers = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '8', '-f', $script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);

ok($node->poll_query_until('postgres', 'SELECT count(*) > 100 FROM ev_out'),
	'the worker processes the writers\' rows');
ok($node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity
		   WHERE application_name = 'pg_streaming: live'
		     AND query LIKE 'streaming query "live" (id %): %'}),
	'the worker names its query in pg_stat_activity');

# change the text, the trigger and the cap while batches run and rows arrive
my @changes = (
	q{query => $$SELECT id, v, 'v2' AS tag FROM ev$$, trigger => 'continuous'},
	q{max_rows_per_batch => 20},
	q{query => $$SELECT id, v, 'v3' AS tag FROM ev$$, trigger => '20 ms', max_rows_per_batch => 0},
);
my $tag = 1;
foreach my $change (@changes)
{
	sleep 1;
	$node->safe_psql('postgres', "SET ROLE app; SELECT stream.alter_query('live', $change)");
	$tag++ if $change =~ /query =>/;
	my $expect = "v$tag";
	ok($node->poll_query_until('postgres',
			"SELECT count(*) > 0 FROM ev_out WHERE tag = '$expect'"),
		"after alter_query($change) rows arrive with tag $expect");
}

$writers->finish;
like($out, qr/number of transactions actually processed: \d+/, 'the writers ran');

ok($node->poll_query_until('postgres',
		q{SELECT stream.pending_rows('live') = 0 AND pending_batches = 0
		    FROM stream.queries WHERE name = 'live'}),
	'the query catches up');

my ($rows, $ids, $stream_rows, $missing) = split /\|/, $node->safe_psql('postgres', q{
	SELECT count(*), count(DISTINCT id), (SELECT count(*) FROM ev),
	       (SELECT count(*) FROM ev e WHERE NOT EXISTS (SELECT 1 FROM ev_out o WHERE o.id = e.id))
	  FROM ev_out});
cmp_ok($stream_rows, '>', 500, 'the writers wrote rows');
is($rows, $stream_rows, 'as many target rows as stream rows');
is($ids, $stream_rows, 'every row once');
is($missing, '0', 'no row missing');

is($node->safe_psql('postgres', q{SELECT status FROM stream.queries WHERE name = 'live'}),
	'active', 'the query is still active');
is($node->safe_psql('postgres',
		q{SELECT trigger, coalesce(max_rows_per_batch, 0) FROM stream.queries WHERE name = 'live'}),
	'20 ms|0', 'the last alteration is in force');

$node->stop;
done_testing();
