# pg_dump and pg_restore keep stream tables, query definitions and
# checkpoints, and the state of streaming aggregations: after a restore in
# session_replication_role "replica" into the same cluster, which keeps the
# rows' stamps, and stream.resume_restored_query(..., 'checkpoint'), the
# queries go on from their checkpoints, no row reaches a target twice, and
# an aggregation's result equals the query over all rows.  A join between
# two streams comes along with its sides and watermarks, and carries on
# from its checkpoint: its state finds the rows it names again, though the
# restore moved them.
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
	-- a left outer join between two streams (docs/joins/surface.md 3.2,
	-- steps 1 and 2): impressions 3 and 8 wait for a click or their NULL
	-- row, impression 6 and click 7 were late; an aborted writer leaves
	-- dead rows in the streams, which the dump does not carry, so the
	-- restored rows lie elsewhere
	SET TimeZone = 'UTC';
	CREATE TABLE impressions (ad_id int, imp_time timestamptz);
	CREATE TABLE clicks (ad_id int, click_time timestamptz);
	SELECT stream.create_stream('impressions');
	SELECT stream.create_stream('clicks');
	CREATE INDEX ON impressions (ad_id, imp_time);
	CREATE INDEX ON clicks (ad_id, click_time);
	CREATE INDEX ON impressions USING brin (imp_time);
	SELECT stream.start_query('j_left',
		$$SELECT i.ad_id, i.imp_time, c.click_time
		    FROM impressions i LEFT JOIN clicks c
		      ON c.ad_id = i.ad_id
		     AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
		'j_left_out', output_mode => 'append', trigger => '1 hour',
		watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
	BEGIN;
	INSERT INTO impressions SELECT g, '2026-01-01 09:00' FROM generate_series(100, 150) g;
	INSERT INTO clicks SELECT g, '2026-01-01 09:10' FROM generate_series(100, 150) g;
	ROLLBACK;
	INSERT INTO impressions VALUES (1, '2026-01-01 10:00'), (2, '2026-01-01 10:05'), (3, '2026-01-01 10:10');
	INSERT INTO clicks VALUES (2, '2026-01-01 10:20'), (4, '2026-01-01 10:30');
	CALL stream.process_all_available('j_left');
	INSERT INTO clicks VALUES (1, '2026-01-01 10:50'), (2, '2026-01-01 10:45'),
		(3, '2026-01-01 11:15'), (7, '2026-01-01 07:20');
	INSERT INTO impressions VALUES (4, '2026-01-01 10:25'), (5, '2026-01-01 11:00'),
		(8, '2026-01-01 08:00'), (6, '2026-01-01 07:30');
	CALL stream.process_all_available('j_left');
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
		"SELECT name, status, trigger, max_rows_per_batch, last_batch_id, state_table FROM stream.queries WHERE name <> 'j_left' ORDER BY name"),
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
	  FROM stream.queries WHERE name <> 'j_left'}),
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

# the join came back with its sides, watermarks and target; its state
# names rows by their place in the table, which the restore changed (the
# aborted rows are gone), and by their content: 'checkpoint' gives the
# state the rows' new places, and the join goes on from its checkpoint
is($node->safe_psql('copy', q{
	SELECT status, last_batch_id, array_to_string(watermarks, ',') || ' ' || watermark_policy
	  FROM stream.queries WHERE name = 'j_left'}),
	'active|4|i.imp_time 2 hours,c.click_time 3 hours min', 'the join query came along');
is($node->safe_psql('copy', q{
	SELECT string_agg(format('%s %s %s %s %s', side, name, stream, event_time, delay), ', ' ORDER BY side)
	  FROM stream.query_sides WHERE query = 'j_left'}),
	'1 i impressions imp_time 02:00:00, 2 c clicks click_time 03:00:00', 'and so did its sides');
my $join_target = q{
	SELECT string_agg(ad_id || ' ' || to_char(imp_time AT TIME ZONE 'UTC', 'HH24:MI') || ' '
	                  || coalesce(to_char(click_time AT TIME ZONE 'UTC', 'HH24:MI'), 'NULL'), ', '
	                  ORDER BY ad_id, imp_time, click_time NULLS LAST)
	  FROM j_left_out};
is($node->safe_psql('copy', $join_target),
	'1 10:00 10:50, 2 10:05 10:20, 2 10:05 10:45, 4 10:25 10:30', 'and its target');
($ret, $out, $err) = $node->psql('copy', "CALL stream.process_all_available('j_left')");
like($err, qr/the checkpoint of streaming query "j_left" was written in another transaction history/,
	'the restored join does not run on its own');
isnt($node->safe_psql('copy', "SELECT string_agg(ctid::text, ',' ORDER BY ad_id) FROM impressions"),
	$node->safe_psql('source', "SELECT string_agg(ctid::text, ',' ORDER BY ad_id) FROM impressions"),
	'the restored rows lie elsewhere');
is($node->safe_psql('copy', "SELECT stream.resume_restored_query('j_left', 'checkpoint')"),
	't', 'the restored join carries on from its checkpoint');
# impression 5 waits and matches now; 6 was dropped as late and meets no
# click; 8 waits, its click comes late, and the watermark writes its NULL
# row; 11 and the click of 8 are late
$node->safe_psql('copy', q{
	SET TimeZone = 'UTC';
	INSERT INTO impressions VALUES (10, '2026-01-01 12:00'), (11, '2026-01-01 08:00');
	INSERT INTO clicks VALUES (5, '2026-01-01 11:40'), (9, '2026-01-01 12:30'), (8, '2026-01-01 08:10'),
		(11, '2026-01-01 08:30'), (6, '2026-01-01 08:20');
});
$node->safe_psql('copy', "CALL stream.process_all_available('j_left')");
is($node->safe_psql('copy', $join_target),
	'1 10:00 10:50, 2 10:05 10:20, 2 10:05 10:45, 4 10:25 10:30, 5 11:00 11:40, 8 08:00 NULL',
	'the waiting rows matched or were written null-extended, the late one met nothing, each once');

# the queries' views came back without what they depend on (pg_dump keeps a
# view's definition only): each query's first batch made its view again
($ret, $out, $err) = $node->psql('copy', 'ALTER TABLE ev DROP COLUMN v');
like($err, qr/view stream_query\.(agg|dq) depends on column v of table ev/,
	'after its first batch, what a restored query reads is protected again');

$node->stop;
done_testing();
