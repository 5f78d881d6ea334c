# A chained query (deduplication then aggregation) through pg_dump and
# pg_restore: its two state tables come back, the deduplication's without
# its dependency on the aggregation's; the restored query finds it again,
# goes on from both states, and takes both with it when dropped.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('chain_restore');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE DATABASE source;
	CREATE DATABASE copy;
});
$node->safe_psql('source', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE pv (event_id int, t timestamptz);
	SELECT stream.create_stream('pv');
	SELECT stream.start_query('pvc', 'SELECT stream.tumble(t, ''1 minute'') AS m, count(*) AS n FROM pv GROUP BY 1',
	                          'pvc_out', output_mode => 'append', event_time => 't',
	                          watermark => '1 minute', deduplicate => '{event_id}', trigger => '1 hour');
	-- events 0..119, one a second, the even ones sent twice
	INSERT INTO pv SELECT g, '2026-01-01 00:00+00'::timestamptz + g * interval '1 second'
	  FROM generate_series(0, 119) g;
	INSERT INTO pv SELECT g, '2026-01-01 00:00+00'::timestamptz + g * interval '1 second'
	  FROM generate_series(0, 119, 2) g;
	CALL stream.process_all_available('pvc');
});
is($node->safe_psql('source', 'SELECT count(*), sum(n) FROM pvc_out'), '0|',
	'no window closed before the dump');

my $dump = $node->basedir . '/source.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('source'), '-f', $dump ],
	'pg_dump of a database with a chained query');
{
	local $ENV{PGOPTIONS} = '-c session_replication_role=replica';
	$node->command_ok([ 'pg_restore', '-d', $node->connstr('copy'), $dump ],
		'pg_restore into another database, keeping the stamps');
}
is($node->safe_psql('copy', q{
	SELECT count(*) FROM pg_depend d
	 WHERE d.classid = 'pg_class'::regclass AND d.objid = 'stream_state.pvc_dedup'::regclass
	   AND d.refobjid = 'stream_state.pvc'::regclass AND d.deptype = 'i'}),
	'0', 'the deduplication state came back on its own');
is($node->safe_psql('copy', 'SELECT count(*) FROM stream_state.pvc_dedup'), '120',
	'with the keys it remembered');
is($node->safe_psql('copy', q{
	SELECT stream.resume_restored_query('pvc', 'checkpoint')}), 't', 'checkpoint adopted');

# copies of events 100..119 (remembered) and new events 120..239; the
# watermark passes every window of events 0..179
$node->safe_psql('copy', q{
	INSERT INTO pv SELECT g, '2026-01-01 00:00+00'::timestamptz + g * interval '1 second'
	  FROM generate_series(100, 239) g;
	CALL stream.process_all_available('pvc');
});
is($node->safe_psql('copy', 'SELECT string_agg(n::text, \',\' ORDER BY m) FROM pvc_out'),
	'60,60', 'after the restore each event counted once in its closed window');
is($node->safe_psql('copy', q{
	SELECT count(*) FROM pg_depend d
	 WHERE d.classid = 'pg_class'::regclass AND d.objid = 'stream_state.pvc_dedup'::regclass
	   AND d.refobjid = 'stream_state.pvc'::regclass AND d.deptype = 'i'}),
	'1', 'the deduplication state is a part of the aggregation\'s again');
$node->safe_psql('copy', "SELECT stream.drop_query('pvc')");
is($node->safe_psql('copy', q{
	SELECT count(*) FROM pg_class WHERE relnamespace = 'stream_state'::regnamespace}),
	'0', 'dropping the restored query drops both its state tables');

$node->stop;
done_testing();
