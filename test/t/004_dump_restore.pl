# pg_dump and pg_restore keep stream tables, query definitions and
# checkpoints, and the state of streaming aggregations: after a restore in
# session_replication_role "replica" into the same cluster, which keeps the
# rows' stamps, and stream.resume_restored_query(..., 'checkpoint'), the
# queries go on from their checkpoints, no row reaches a target twice, and
# an aggregation's result equals the query over all rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE DATABASE source;
	CREATE DATABASE copy;
});
$node->safe_psql('source', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (id int, v text);
	SELECT stream.create_stream('ev');
	INSERT INTO ev VALUES (1, 'a'), (2, 'b');
	SELECT stream.start_query('dq', 'SELECT id, v FROM ev', 'dq_out', trigger => '2 seconds',
	                          max_rows_per_batch => 10);
	CALL stream.process_all_available('dq');
	CREATE EXTENSION hll;
	SELECT stream.start_query('agg', 'SELECT v, count(*) AS n, avg(id) AS a,
	                                         hll_cardinality(hll_add_agg(hll_hash_integer(id))) AS d
	                                    FROM ev GROUP BY v',
	                          'agg_out', output_mode => 'update', trigger => '1 hour');
	CALL stream.process_all_available('agg');
	INSERT INTO ev VALUES (3, 'c'), (4, 'a');
	CREATE TABLE ticks (k int, t timestamptz);
	SELECT stream.create_stream('ticks');
	SELECT stream.start_query('win', 'SELECT stream.tumble(t, ''1 minute'') AS m, k, count(*) AS n FROM ticks GROUP BY 1, 2',
	                          'win_out', output_mode => 'append', event_time => 't',
	                          watermark => '1 minute', trigger => '1 hour');
	INSERT INTO ticks SELECT g % 2, '2026-01-01 00:00+00'::timestamptz + g * interval '1 second'
	  FROM generate_series(0, 179) g;
	CALL stream.process_all_available('win');
});

my $dump = $node->basedir . '/source.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('source'), '-f', $dump ],
	'pg_dump of a database with a stream and a query');
{
	local $ENV{PGOPTIONS} = '-c session_replication_role=replica';
	$node->command_ok([ 'pg_restore', '-d', $node->connstr('copy'), $dump ],
		'pg_restore into another database, keeping the stamps');
}

is($node->safe_psql('copy',
		"SELECT name, status, trigger, max_rows_per_batch, last_batch_id, state_table FROM stream.queries ORDER BY name"),
	"agg|active|1 hour||1|stream_state.agg\ndq|active|2 seconds|10|1|\nwin|active|1 hour||2|stream_state.win",
	'the queries and their checkpoints came along');
is($node->safe_psql('copy', "SELECT count(*) FROM stream_state.agg"), '2',
	'so did the aggregation\'s state');
is($node->safe_psql('copy',
		"SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.relname = 'ev'"),
	'stream_heap', 'the stream is still a stream');
my ($ret, $out, $err) = $node->psql('copy', 'DELETE FROM ev');
like($err, qr/cannot delete rows of stream table "ev"/, 'and still append-only');

# a logical copy is another transaction history: the queries refuse to
# run until told what the restored rows are; with their stamps kept in the
# cluster the checkpoints were written in, the checkpoints hold exactly
($ret, $out, $err) = $node->psql('copy', "CALL stream.process_all_available('dq')");
like($err, qr/the checkpoint of streaming query "dq" was written in another transaction history/,
	'a restored query does not run on its own');
is($node->safe_psql('copy', q{
	SELECT string_agg(stream.resume_restored_query(name, 'checkpoint')::text, ',' ORDER BY name)
	  FROM stream.queries}),
	'true,true,true', 'each restored checkpoint adopted');
$node->safe_psql('copy', "CALL stream.process_all_available('dq')");
is($node->safe_psql('copy', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM dq_out'),
	'1,2,3,4', 'the restored query goes on from its checkpoint, each row once');
$node->safe_psql('copy', "CALL stream.process_all_available('agg')");
my $recompute = q{SELECT v, count(*), avg(id), hll_cardinality(hll_add_agg(hll_hash_integer(id))) FROM ev GROUP BY v};
is($node->safe_psql('copy', qq{
	SELECT count(*) FROM ((TABLE agg_out EXCEPT ALL ($recompute))
	                      UNION ALL (($recompute) EXCEPT ALL TABLE agg_out)) d}),
	'0', 'the restored aggregation goes on from its state and equals the query over all rows');
is($node->safe_psql('copy', "SELECT n, a FROM agg_out WHERE v = 'a'"), '2|2.5000000000000000',
	'a group the restored state held was combined with the new rows');
is($node->safe_psql('copy', "SELECT watermark = '2026-01-01 00:01:59+00' FROM stream.queries WHERE name = 'win'"),
	't', 'the watermark came along');
$node->safe_psql('copy', q{
	INSERT INTO ticks SELECT g % 2, '2026-01-01 00:00+00'::timestamptz + g * interval '1 second'
	  FROM generate_series(180, 400) g;
	CALL stream.process_all_available('win');
});
is($node->safe_psql('copy', q{
	SELECT count(*), count(DISTINCT (m, k)), sum(n) FROM win_out}),
	'10|10|300', 'after the restore each closed window was written once, whole');
is($node->safe_psql('copy', q{
	SELECT count(*) FROM ev e
	 WHERE e._stream_xid::text = (SELECT s._stream_xid::text FROM ev s WHERE s.id = 1)}),
	'2', 'the rows kept the stamps they were dumped with');

# the queries' views came back without what they depend on (pg_dump keeps a
# view's definition only): each query's first batch made its view again
($ret, $out, $err) = $node->psql('copy', 'ALTER TABLE ev DROP COLUMN v');
like($err, qr/view stream_query\.(agg|dq) depends on column v of table ev/,
	'after its first batch, what a restored query reads is protected again');

$node->stop;
done_testing();
