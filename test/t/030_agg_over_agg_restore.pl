# An aggregation over a streaming aggregation through pg_dump and
# pg_restore: its two state tables come back, the lower aggregation's
# without its dependency on the query's; the restored query finds it again,
# goes on from both states, and takes both with it when dropped.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('aoa_restore');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE DATABASE source;
	CREATE DATABASE copy;
});
$node->safe_psql('source', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE pv (page text, t timestamptz);
	SELECT stream.create_stream('pv');
	SELECT stream.start_query('pvh',
	    'SELECT stream.tumble(m.minute, ''1 hour'') AS hour, sum(m.n) AS n, count(*) AS minutes
	       FROM (SELECT stream.tumble(t, ''1 minute'') AS minute, page, count(*) AS n
	               FROM pv GROUP BY 1, 2) m GROUP BY 1',
	    'pvh_out', output_mode => 'append', event_time => 't',
	    watermark => '1 minute', trigger => '1 hour');
	-- one view a second from 00:00 to 00:59:59, pages a and b in turn
	INSERT INTO pv SELECT CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END,
	                      '2026-01-01 00:00+00'::timestamptz + g * interval '1 second'
	  FROM generate_series(0, 3599) g;
	CALL stream.process_all_available('pvh');
});
is($node->safe_psql('source', 'SELECT count(*) FROM pvh_out'), '0',
	'no hour closed before the dump');
is($node->safe_psql('source', q{
	SELECT (SELECT count(*) FROM stream_state.pvh_lower) || ' ' || (SELECT count(*) FROM stream_state.pvh)}),
	'4 1', 'the last two minutes per page, and the hour, are open');

my $dump = $node->basedir . '/source.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('source'), '-f', $dump ],
	'pg_dump of a database with an aggregation over an aggregation');
{
	local $ENV{PGOPTIONS} = '-c session_replication_role=replica';
	$node->command_ok([ 'pg_restore', '-d', $node->connstr('copy'), $dump ],
		'pg_restore into another database, keeping the stamps');
}
my $part = q{
	SELECT count(*) FROM pg_depend d
	 WHERE d.classid = 'pg_class'::regclass AND d.objid = 'stream_state.pvh_lower'::regclass
	   AND d.refobjid = 'stream_state.pvh'::regclass AND d.deptype = 'i'};
is($node->safe_psql('copy', $part), '0', 'the lower state came back on its own');
is($node->safe_psql('copy', q{
	SELECT stream.resume_restored_query('pvh', 'checkpoint')}), 't', 'checkpoint adopted');

# an hour more: the watermark passes the hour 00:00 and closes it
$node->safe_psql('copy', q{
	INSERT INTO pv SELECT CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END,
	                      '2026-01-01 00:00+00'::timestamptz + g * interval '1 second'
	  FROM generate_series(3600, 7199) g;
	CALL stream.process_all_available('pvh');
});
is($node->safe_psql('copy', q{SELECT to_char(hour, 'HH24:MI') || ' ' || n || ' ' || minutes FROM pvh_out}),
	'00:00 3600 120', 'after the restore the hour has every view once, from both states');
is($node->safe_psql('copy', $part), '1',
	'the lower state is a part of the query\'s again');
$node->safe_psql('copy', "SELECT stream.drop_query('pvh')");
is($node->safe_psql('copy', q{
	SELECT count(*) FROM pg_class WHERE relnamespace = 'stream_state'::regnamespace}),
	'0', 'dropping the restored query drops both its state tables');

$node->stop;
done_testing();
