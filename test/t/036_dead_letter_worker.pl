# The background worker runs a query with on_error => 'dead_letter' as its
# owner: bad rows are set aside batch after batch and the others delivered,
# each once, and the dead letters are the owner's to see; a query with
# 'fail' on the same rows fails, and its error (in the server log) names
# the row the batch was reading.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dlworker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
pg_streaming.max_workers = 2
max_worker_processes = 16
});
$node->start;

my @as_user = (extra_params => [ '-U', 'dl_owner' ]);
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE ROLE dl_owner LOGIN;
	CREATE ROLE dl_other LOGIN;
	GRANT CREATE ON SCHEMA public TO dl_owner;
});
$node->safe_psql('postgres', q{
	CREATE TABLE ev (id int, v text);
	SELECT stream.create_stream('ev');
	CREATE TABLE out (id int PRIMARY KEY, v numeric CHECK (v < 1000));
	SELECT stream.start_query('dl', 'SELECT id, v::numeric AS v FROM ev', 'out',
		trigger => '100 ms', on_error => 'dead_letter');
	SELECT stream.start_query('strict', 'SELECT id, v::numeric AS v FROM ev', 'strict_out',
		trigger => '100 ms');
}, @as_user);

# five transactions, each with a row that does not cast and one the CHECK refuses
for my $round (0 .. 4)
{
	my $base = $round * 100;
	$node->safe_psql('postgres', qq{
		INSERT INTO ev SELECT g, CASE WHEN g = $base + 50 THEN 'bad'
		                              WHEN g = $base + 70 THEN '5000'
		                              ELSE g::text END
		  FROM generate_series($base + 1, $base + 100) g;
	}, @as_user);
}
ok($node->poll_query_until('postgres', q{
	SELECT (SELECT count(*) FROM out) + (SELECT count(*) FROM stream.dead_letter_log) = 500}),
	'the worker delivered or set aside every row');
is($node->safe_psql('postgres', q{
	SELECT string_agg(sqlstate || ' ' || count, ',' ORDER BY sqlstate)
	  FROM (SELECT sqlstate, count(*) FROM stream.dead_letters GROUP BY 1) d}, @as_user),
	'22P02 5,23514 5', 'each bad row set aside with its error, once');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM ev e
	 WHERE (SELECT count(*) FROM out o WHERE o.id = e.id)
	     + (SELECT count(*) FROM stream.dead_letter_log d WHERE (d.row_data->>'id')::int = e.id) <> 1}),
	'0', 'every row is in the target or in the dead letters, once');
is($node->safe_psql('postgres', q{
	SELECT sum(dead_letters) FROM stream.progress WHERE query = 'dl'}, @as_user),
	'10', 'stream.progress counts them');
is($node->safe_psql('postgres', q{SELECT count(*) FROM stream.dead_letters},
		extra_params => [ '-U', 'dl_other' ]),
	'0', 'another role sees none of them');

ok($node->poll_query_until('postgres', q{
	SELECT last_error_sqlstate = '22P02' FROM stream.queries WHERE name = 'strict'}),
	'the query with on_error => fail fails on the same rows');
is($node->safe_psql('postgres', 'SELECT count(*) FROM strict_out'), '0',
	'and delivers nothing of the failing batch');
ok($node->wait_for_log(qr/streaming query "strict", batch \d+, reading row \(0,50\) of public\.ev/),
	'its error in the server log names the row');

$node->stop;
done_testing();
