# A batch's offsets row, commit row and progress row, written in C on a
# 0.11 catalog, are decoded by logical decoding as the statements' rows
# were: a publication of the catalog's tables (FOR ALL TABLES takes them)
# sends them, with every column.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('checkpoint_decoded');
$node->init(allows_streaming => 'logical');
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (id int);
	SELECT stream.create_stream('ev');
	SELECT stream.start_query('q', 'SELECT id FROM ev', 'ev_out', trigger => '1 hour');
	SELECT pg_create_logical_replication_slot('s', 'test_decoding');
	INSERT INTO ev VALUES (1), (2);
	CALL stream.process_batch('q');
});
my $changes = $node->safe_psql('postgres',
	q{SELECT string_agg(data, E'\n') FROM pg_logical_slot_get_changes('s', NULL, NULL)
	   WHERE data LIKE 'table stream.%'});
my $qid = $node->safe_psql('postgres',
	q{SELECT query_id FROM stream.query_defs WHERE name = 'q'});
my $history = $node->safe_psql('postgres', q{SELECT history_id FROM stream.local_history});

like($changes, qr/^table stream\.checkpoint_offsets: INSERT: query_id\[bigint\]:$qid batch_id\[bigint\]:1 .*end_snapshot\[pg_snapshot\]:'\d+:\d+:[\d,]*' .*history_id\[bigint\]:$history /m,
	'the offsets row is decoded with its columns');
like($changes, qr/^table stream\.checkpoint_commits: INSERT: query_id\[bigint\]:$qid batch_id\[bigint\]:1 committed_at/m,
	'the commit row is decoded');
like($changes, qr/^table stream\.progress_log: INSERT: query_id\[bigint\]:$qid batch_id\[bigint\]:1 .*input_rows\[bigint\]:2 output_rows\[bigint\]:2 /m,
	'the progress row is decoded with its figures');
# the rows decoded are the rows the tables hold
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM stream.checkpoint_offsets o JOIN stream.checkpoint_commits c
	   USING (query_id, batch_id) JOIN stream.progress_log p USING (query_id, batch_id)
	  WHERE batch_id = 1 AND p.input_rows = 2}), '1', 'the batch is recorded once');

$node->stop;
done_testing();
