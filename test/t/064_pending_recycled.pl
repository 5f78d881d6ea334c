# stream.queries' pending_rows, an estimate from the newest blocks, never
# shows none while rows are pending: rows written into blocks that
# retention recycled lie before the stream's end, where the sample of the
# newest blocks may not reach, and are counted there.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('pending_recycled');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.retention_naptime = '1h'
autovacuum = off
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (id int, pad text);
	SELECT stream.create_stream('ev');
	SELECT stream.start_query('q', 'SELECT id FROM ev', 'ev_out', trigger => '1 hour');
	SELECT stream.set_retention('ev', '0 seconds');
	INSERT INTO ev SELECT g, repeat('p', 200) FROM generate_series(1, 4000) g;
	CALL stream.process_all_available('q');
});
# the rows go, a VACUUM empties their blocks, the next pass recycles them
$node->safe_psql('postgres', q{SELECT stream.run_retention('ev')});
$node->safe_psql('postgres', q{VACUUM ev});
$node->safe_psql('postgres', q{SELECT stream.run_retention('ev')});
my $blocks = $node->safe_psql('postgres',
	q{SELECT pg_relation_size('ev') / current_setting('block_size')::int});
cmp_ok($blocks, '>', 64, "the stream spans more blocks than a sample reads ($blocks)");

$node->safe_psql('postgres',
	q{INSERT INTO ev SELECT g, repeat('p', 200) FROM generate_series(4001, 4005) g});
is($node->safe_psql('postgres',
	q{SELECT max((ctid::text::point)[0]) < 8 FROM ev WHERE id > 4000}),
	't', 'the new rows lie in recycled blocks at the start of the stream');
is($node->safe_psql('postgres', q{SELECT stream.pending_rows('q')}), '5',
	'five rows are pending');
is($node->safe_psql('postgres',
	q{SELECT pending_rows FROM stream.queries WHERE name = 'q'}), '5',
	'stream.queries shows them, not none');

$node->safe_psql('postgres', q{CALL stream.process_all_available('q')});
is($node->safe_psql('postgres',
	q{SELECT pending_rows FROM stream.queries WHERE name = 'q'}), '0',
	'none once processed');
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT id) FROM ev_out}),
	'4005|4005', 'every row reached the target once');

$node->stop;
done_testing();
