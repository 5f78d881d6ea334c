# A stream in a publication, with retention on the publisher: retention's
# deletes never halt a subscriber.  With a primary key PostgreSQL publishes
# them; without one (no replica identity) it drops them.  Either way the
# subscriber's stream keeps its rows (its own retention decides about
# them), the subscription keeps flowing, and the subscriber's streaming
# query gets every row once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $conf = qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
pg_streaming.retention_naptime = '300ms'
max_worker_processes = 16
autovacuum = off
};

my $pub = PostgreSQL::Test::Cluster->new('publisher');
$pub->init(allows_streaming => 'logical');
$pub->append_conf('postgresql.conf', $conf);
$pub->start;

my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->append_conf('postgresql.conf', $conf);
$sub->start;

my $tables = q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev_pk (id int PRIMARY KEY, pad text);
	CREATE TABLE ev_nopk (id int, pad text);
	SELECT stream.create_stream('ev_pk');
	SELECT stream.create_stream('ev_nopk');
};
$pub->safe_psql('postgres', $tables . q{
	-- the publisher's own query, and retention behind it
	SELECT stream.start_query('pub_q', 'SELECT id FROM ev_pk', 'pub_out', trigger => '100 ms');
	SELECT stream.set_retention('ev_pk', '0 seconds');
	SELECT stream.set_retention('ev_nopk', '0 seconds');
	CREATE PUBLICATION ev_pub FOR TABLE ev_pk, ev_nopk;
});
$sub->safe_psql('postgres', $tables . q{
	SELECT stream.start_query('sub_pk', 'SELECT id FROM ev_pk', 'sub_pk_out', trigger => '100 ms');
	SELECT stream.start_query('sub_nopk', 'SELECT id FROM ev_nopk', 'sub_nopk_out', trigger => '100 ms');
});
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres',
	"CREATE SUBSCRIPTION ev_sub CONNECTION '$connstr' PUBLICATION ev_pub");
$sub->wait_for_subscription_sync($pub, 'ev_sub');

# waves of rows; after each, the publisher's retention removes them
my $total = 0;
for my $wave (1 .. 4)
{
	my $from = $total + 1;
	$total += 200;
	$pub->safe_psql('postgres', qq{
		INSERT INTO ev_pk SELECT g, 'w$wave' FROM generate_series($from, $total) g;
		INSERT INTO ev_nopk SELECT g, 'w$wave' FROM generate_series($from, $total) g;
	});
	$pub->poll_query_until('postgres',
		q{SELECT (SELECT count(*) FROM ev_pk) + (SELECT count(*) FROM ev_nopk) = 0})
	  or die "the publisher's retention does not remove wave $wave: "
	  . $pub->safe_psql('postgres',
		q{SELECT (SELECT count(*) FROM ev_pk), (SELECT count(*) FROM ev_nopk),
		         (SELECT string_agg(r::text, ' ') FROM stream.retention r)});
}
ok(1, 'the publisher removed every wave by retention');
cmp_ok($pub->safe_psql('postgres', 'SELECT sum(rows_removed) FROM stream.stream_retention'),
	'==', 2 * $total, 'each row was removed once on the publisher');

# the subscription kept flowing: the last wave arrived in both streams
$pub->wait_for_catchup('ev_sub');
is($sub->safe_psql('postgres', 'SELECT count(*), max(id) FROM ev_pk'),
	"$total|$total", 'the subscriber\'s stream with a primary key keeps every row');
is($sub->safe_psql('postgres', 'SELECT count(*), max(id) FROM ev_nopk'),
	"$total|$total", 'the subscriber\'s stream without a key keeps every row');
ok( $sub->poll_query_until(
		'postgres', qq{SELECT (SELECT count(*) FROM sub_pk_out) = $total
		                  AND (SELECT count(*) FROM sub_nopk_out) = $total}),
	'the subscriber\'s queries get every row');
is( $sub->safe_psql('postgres',
		q{SELECT (SELECT count(DISTINCT id) FROM sub_pk_out) || ' ' ||
		         (SELECT count(DISTINCT id) FROM sub_nopk_out)}),
	"$total $total", 'each row once');
is($sub->safe_psql('postgres',
		q{SELECT count(*) FROM stream.queries WHERE status <> 'active'}),
	'0', 'no query of the subscriber failed');
ok(!$sub->log_contains(qr/cannot delete rows of stream table/),
	'the subscriber never refused a replicated delete');
is( $sub->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_subscription WHERE subname = 'ev_sub' AND pid IS NOT NULL}),
	'1', 'the subscription\'s worker is running');

# the subscriber's own retention decides about its rows
$sub->safe_psql('postgres', q{SELECT stream.set_retention('ev_pk', '0 seconds')});
ok($sub->poll_query_until('postgres', 'SELECT count(*) = 0 FROM ev_pk'),
	'the subscriber\'s retention removes what its queries processed');

# and rows written afterwards still flow
$pub->safe_psql('postgres', 'INSERT INTO ev_pk SELECT generate_series(100001, 100010)');
ok( $sub->poll_query_until(
		'postgres', q{SELECT count(*) = 10 FROM sub_pk_out WHERE id > 100000}),
	'rows written after both retentions arrive');

$sub->stop;
$pub->stop;
done_testing();
