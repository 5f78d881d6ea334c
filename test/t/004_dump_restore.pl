# pg_dump and pg_restore keep stream tables, query definitions and
# checkpoints: after a restore in session_replication_role "replica", which
# keeps the rows' stamps, the query goes on from its checkpoint, and no row
# reaches the target twice.
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
	INSERT INTO ev VALUES (3, 'c');
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
		"SELECT name, status, trigger, max_rows_per_batch, last_batch_id FROM stream.queries"),
	'dq|active|2 seconds|10|1', 'the query and its checkpoint came along');
is($node->safe_psql('copy',
		"SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.relname = 'ev'"),
	'stream_heap', 'the stream is still a stream');
my ($ret, $out, $err) = $node->psql('copy', 'DELETE FROM ev');
like($err, qr/cannot delete rows of stream table "ev"/, 'and still append-only');

$node->safe_psql('copy', "CALL stream.process_all_available('dq')");
is($node->safe_psql('copy', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM dq_out'),
	'1,2,3', 'the restored query goes on from its checkpoint, each row once');
is($node->safe_psql('copy', q{
	SELECT count(*) FROM ev e
	 WHERE e._stream_xid::text = (SELECT s._stream_xid::text FROM ev s WHERE s.id = 1)}),
	'2', 'the rows kept the stamps they were dumped with');

$node->stop;
done_testing();
