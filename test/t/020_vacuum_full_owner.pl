# A database owner who does not own a stream may VACUUM FULL it, and a bare
# VACUUM FULL covers every table of the database (a bare CLUSTER, every
# table of the user's with a clustered index).  While a capped query is
# part-way through the rows of one large transaction (split between batches
# by block), a rewrite would lose or repeat some of them: VACUUM FULL of the
# stream is refused, and the database-wide VACUUM FULL skips the stream
# with a WARNING and still does every other table; a bare CLUSTER that would
# rewrite the stream is refused.  The query then delivers
# each row once, and afterwards the stream can be rewritten.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('vacuum_full_owner');
$node->init;
# the library in every session, without the background worker: batches
# run only when the test calls for them
$node->append_conf('postgresql.conf', qq{
session_preload_libraries = 'pg_streaming'
autovacuum = off
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE dbo LOGIN;
	CREATE ROLE alice LOGIN;
	CREATE DATABASE app OWNER dbo;
});
$node->safe_psql('app', q{
	CREATE EXTENSION pg_streaming;
	GRANT CREATE ON SCHEMA public TO alice;
});

sub as
{
	my ($role, $sql, %params) = @_;
	return $node->psql('app', $sql, extra_params => [ '-U', $role ], %params);
}

sub safe_as
{
	my ($role, $sql) = @_;
	return $node->safe_psql('app', $sql, extra_params => [ '-U', $role ]);
}

sub filenode
{
	my ($table) = @_;
	return $node->safe_psql('app', "SELECT pg_relation_filenode('$table')");
}

# alice's stream gets one large transaction; her capped query is part-way
safe_as('alice', q{
	CREATE TABLE s (id int, pad text);
	SELECT stream.create_stream('s');
	INSERT INTO s SELECT g, repeat('x', 100) FROM generate_series(1, 3000) g;
	SELECT stream.start_query('q', 'SELECT id FROM s', 'q_out',
	                          trigger => '1 day', max_rows_per_batch => 500);
	CALL stream.process_batch('q');
	CREATE TABLE alice_plain (id int);
	INSERT INTO alice_plain SELECT generate_series(1, 1000);
	DELETE FROM alice_plain WHERE id > 10;
});
my $delivered = safe_as('alice', 'SELECT count(*) FROM q_out');
ok($delivered > 0 && $delivered < 3000,
	"the query is part-way through the transaction ($delivered of 3000 rows)");
is(safe_as('dbo', q{SELECT rolsuper FROM pg_roles WHERE rolname = current_user}),
	'f', 'the database owner is not a superuser');

my $stream_node = filenode('s');
my $plain_node = filenode('alice_plain');

# VACUUM FULL of the stream by the database owner: refused
my ($ret, $stdout, $stderr) = as('dbo', 'VACUUM FULL s');
isnt($ret, 0, 'VACUUM FULL of the stream by the database owner fails');
like($stderr,
	qr/cannot VACUUM FULL stream table "s" while streaming query "q" is part-way through the rows of one transaction/,
	'it says why, naming the query');
like($stderr, qr/HINT:.*process_all_available\('q'\)/, 'and what to do');
is(filenode('s'), $stream_node, 'the stream was not rewritten');

# the database-wide VACUUM FULL skips the stream and does the rest
($ret, $stdout, $stderr) = as('dbo', 'VACUUM FULL');
is($ret, 0, 'a database-wide VACUUM FULL by the database owner succeeds');
like($stderr,
	qr/WARNING:  skipping stream table "s" --- streaming query "q" is part-way through the rows of one transaction/,
	'it warns that it skips the stream');
is(filenode('s'), $stream_node, 'the stream was not rewritten');
isnt(filenode('alice_plain'), $plain_node, 'another table of the database was rewritten');

($ret, $stdout, $stderr) = as('dbo', 'VACUUM (FULL, ANALYZE)');
is($ret, 0, 'VACUUM (FULL, ANALYZE) succeeds too');
is(filenode('s'), $stream_node, 'and skips the stream');

# a superuser's database-wide VACUUM FULL skips it as well
($ret, $stdout, $stderr) = $node->psql('app', 'VACUUM FULL');
like($stderr, qr/skipping stream table "s"/, 'a superuser\'s VACUUM FULL skips the stream');
is(filenode('s'), $stream_node, 'the stream was not rewritten');

# a role whose only table is a held stream: its VACUUM FULL has nothing
# else to do, and must not fall back to everything
$node->safe_psql('app', q{
	CREATE ROLE carol LOGIN;
	GRANT CREATE ON SCHEMA public TO carol;
	CREATE TABLE c_out (id int);
	GRANT SELECT, INSERT ON c_out TO carol;
});
safe_as('carol', q{
	CREATE TABLE c_s (id int);
	SELECT stream.create_stream('c_s');
	INSERT INTO c_s SELECT generate_series(1, 3000);
	SELECT stream.start_query('cq', 'SELECT id FROM c_s', 'c_out',
	                          trigger => '1 day', max_rows_per_batch => 500);
	CALL stream.process_batch('cq');
});
my $carol_node = filenode('c_s');
($ret, $stdout, $stderr) = as('carol', 'VACUUM FULL');
is($ret, 0, 'a VACUUM FULL with only a held stream to do succeeds');
like($stderr, qr/skipping stream table "c_s"/, 'it skips the stream');
is(filenode('c_s'), $carol_node, 'and does not rewrite it');
($ret, $stdout, $stderr) = as('carol', 'BEGIN; VACUUM FULL; COMMIT;');
like($stderr, qr/VACUUM cannot run inside a transaction block/,
	'inside a transaction block it is refused as VACUUM refuses it');
safe_as('carol', q{CALL stream.process_all_available('cq')});
is(safe_as('carol', 'SELECT count(*), count(DISTINCT id) FROM c_out'),
	'3000|3000', 'that query too gets each row once');

# a bare CLUSTER would rewrite the stream once it has a clustered index
safe_as('alice', q{
	CREATE INDEX s_id ON s (id);
	ALTER TABLE s CLUSTER ON s_id;
});
$stream_node = filenode('s');
($ret, $stdout, $stderr) = as('alice', 'CLUSTER');
isnt($ret, 0, 'a bare CLUSTER that would rewrite the stream fails');
like($stderr,
	qr/cannot CLUSTER stream table "s" while streaming query "q" is part-way through the rows of one transaction/,
	'it says why');
is(filenode('s'), $stream_node, 'the stream was not rewritten');

# the query finishes the transaction, each row once, and never failed
safe_as('alice', q{CALL stream.process_all_available('q')});
is(safe_as('alice', 'SELECT count(*), count(DISTINCT id) FROM q_out'),
	'3000|3000', 'every row of the transaction arrives once');
is(safe_as('alice', q{SELECT status FROM stream.queries WHERE name = 'q'}),
	'active', 'the query is active');

# now the stream may be rewritten, and rows written afterwards arrive once
($ret, $stdout, $stderr) = as('dbo', 'VACUUM FULL s');
is($ret, 0, 'once the query is past the transaction, VACUUM FULL goes through');
isnt(filenode('s'), $stream_node, 'and rewrites the stream');
safe_as('alice', q{
	INSERT INTO s SELECT g, 'y' FROM generate_series(3001, 3100) g;
	CALL stream.process_all_available('q');
});
is(safe_as('alice', 'SELECT count(*), count(DISTINCT id), max(id) FROM q_out'),
	'3100|3100|3100', 'rows written after the rewrite arrive once');

$node->stop;
done_testing();
