# A join between two streams served by the background workers, owned by an
# unprivileged role that reads another role's stream.  When that role
# revokes SELECT on its stream, the next batch fails loudly: the query is
# marked failed with the error and its SQLSTATE, the batch writes nothing,
# and no batch is committed.  Once SELECT is granted again and the query
# resumed, the rows that waited come once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('joinrights');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
pg_streaming.max_workers = 2
max_worker_processes = 16
timezone = 'UTC'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE ROLE join_owner LOGIN;
	CREATE ROLE click_owner LOGIN;
	GRANT CREATE ON SCHEMA public TO join_owner, click_owner;
});
my @as_owner = (extra_params => [ '-U', 'join_owner' ]);
my @as_clicks = (extra_params => [ '-U', 'click_owner' ]);

$node->safe_psql('postgres', q{
	CREATE TABLE clicks (ad_id int, click_time timestamptz);
	CREATE INDEX ON clicks (ad_id, click_time);
	SELECT stream.create_stream('clicks');
	GRANT SELECT ON clicks TO join_owner;
}, @as_clicks);
$node->safe_psql('postgres', q{
	CREATE TABLE impressions (ad_id int, imp_time timestamptz);
	CREATE INDEX ON impressions (ad_id, imp_time);
	SELECT stream.create_stream('impressions');
	SET client_min_messages = error;
	SELECT stream.start_query('j_rights',
		$$SELECT i.ad_id, i.imp_time, c.click_time
		    FROM impressions i JOIN clicks c
		      ON c.ad_id = i.ad_id
		     AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
		'j_rights_out', trigger => '100 ms',
		watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
}, @as_owner);

$node->safe_psql('postgres',
	"INSERT INTO impressions VALUES (1, '2026-01-01 10:00')", @as_owner);
$node->safe_psql('postgres',
	"INSERT INTO clicks VALUES (1, '2026-01-01 10:20')", @as_clicks);
ok($node->poll_query_until('postgres', 'SELECT count(*) = 1 FROM j_rights_out'),
	'the worker runs the join as its owner, who reads the other role\'s stream');
# the batch that moved the watermark is followed by one without rows: let it run
ok($node->poll_query_until('postgres',
		"SELECT q.watermark IS NOT DISTINCT FROM p.watermark
		   FROM stream.queries q
		   JOIN stream.progress p ON p.query = q.name AND p.batch_id = q.last_batch_id
		  WHERE q.name = 'j_rights'"),
	'the worker has run every batch the watermark asks for');
my $batches = $node->safe_psql('postgres',
	"SELECT last_batch_id FROM stream.queries WHERE name = 'j_rights'");

# SELECT revoked: the next batch with rows fails, marked failed with its error
$node->safe_psql('postgres', 'REVOKE SELECT ON clicks FROM join_owner', @as_clicks);
$node->safe_psql('postgres',
	"INSERT INTO impressions VALUES (2, '2026-01-01 11:00')", @as_owner);
$node->safe_psql('postgres',
	"INSERT INTO clicks VALUES (2, '2026-01-01 11:30')", @as_clicks);
ok($node->poll_query_until('postgres',
		"SELECT status = 'failed' FROM stream.queries WHERE name = 'j_rights'"),
	'after SELECT on a side is revoked, the query is marked failed');
is($node->safe_psql('postgres',
		"SELECT last_error, last_error_sqlstate FROM stream.queries WHERE name = 'j_rights'"),
	'permission denied for table clicks|42501',
	'with the error naming the side it may no longer read');
is($node->safe_psql('postgres', 'SELECT count(*) FROM j_rights_out'), '1',
	'the failed batch wrote nothing');
is($node->safe_psql('postgres',
		"SELECT last_batch_id FROM stream.queries WHERE name = 'j_rights'"),
	$batches, 'and committed no batch');

# granted again and resumed: the pair that waited comes once
$node->safe_psql('postgres', 'GRANT SELECT ON clicks TO join_owner', @as_clicks);
$node->safe_psql('postgres', "SELECT stream.resume_query('j_rights')", @as_owner);
ok($node->poll_query_until('postgres', 'SELECT count(*) = 2 FROM j_rights_out'),
	'after the grant and resume_query the waiting pair is written');
$node->safe_psql('postgres',
	"INSERT INTO impressions VALUES (3, '2026-01-01 12:00')", @as_owner);
$node->safe_psql('postgres',
	"INSERT INTO clicks VALUES (3, '2026-01-01 12:10')", @as_clicks);
ok($node->poll_query_until('postgres', 'SELECT count(*) = 3 FROM j_rights_out'),
	'and later pairs as well');
is($node->safe_psql('postgres', q{
	SELECT string_agg(ad_id || ' ' || to_char(imp_time, 'HH24:MI') || ' '
	                  || to_char(click_time, 'HH24:MI'), ', ' ORDER BY ad_id)
	  FROM j_rights_out}),
	'1 10:00 10:20, 2 11:00 11:30, 3 12:00 12:10', 'each pair once');

$node->stop;
done_testing();
