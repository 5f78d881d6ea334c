# Distributed streams on a Citus coordinator with two workers, as an
# unprivileged role: both orders (stream then distributed, distributed then
# stream) give shards that are streams; UPDATE and DELETE are refused through
# the coordinator and on a shard; writes through a worker land in the right
# shard stamped by the shard's node; stream._start_shard_query, called on
# the workers for every shard, rewrites the text to name the local shards
# (and nothing else), registers the stream's shard, and its queries deliver
# every row exactly once into the co-located target shards.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsCitus;

my ($c, @w) = PgsCitus::cluster('streams', workers => 2);
my %node_by_port = map { $_->port => $_ } @w;

$c->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	GRANT CREATE ON SCHEMA public TO alice;
});
sub as_alice
{
	my ($node, $sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => ['-U', 'alice']);
}
sub try_alice
{
	my ($node, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql, extra_params => ['-U', 'alice']);
	return $err;
}

# order A: a stream, then distributed; order B: distributed (with rows), then a stream
as_alice($c, q{
	CREATE TABLE ev (tenant int, v int, note text);
	SELECT stream.create_stream('ev');
	SELECT create_distributed_table('ev', 'tenant', shard_count => 4);
	CREATE TABLE ev2 (tenant int, v int, note text);
	SELECT create_distributed_table('ev2', 'tenant', colocate_with => 'ev');
	INSERT INTO ev2 SELECT g % 10, g, 'before' FROM generate_series(1, 40) g;
	SELECT stream.create_stream('ev2');
	CREATE TABLE out (tenant int, v int, note text, ev text);
	SELECT create_distributed_table('out', 'tenant', colocate_with => 'ev');
	CREATE TABLE out2 (tenant int, v int, title text);
	SELECT create_distributed_table('out2', 'tenant', colocate_with => 'ev');
	CREATE TABLE pages (tenant int PRIMARY KEY, title text);
	SELECT create_reference_table('pages');
	INSERT INTO pages SELECT g, 'page ' || g FROM generate_series(0, 9) g;
	INSERT INTO ev SELECT g % 10, g + 3000, 'early' FROM generate_series(1, 40) g;
});

# every shard of a table: [shardid, shard name, its worker node, colocated index]
sub shards
{
	my ($table) = @_;
	my @rows = split /\n/, $c->safe_psql('postgres', qq{
		SELECT s.shardid, shard_name(s.logicalrelid, s.shardid), n.nodeport
		  FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
		  JOIN pg_dist_node n USING (groupid)
		 WHERE s.logicalrelid = '$table'::regclass
		 ORDER BY s.shardminvalue::int});
	return map { my @f = split /\|/; [ $f[0], $f[1], $node_by_port{ $f[2] } ] } @rows;
}
my @ev = shards('ev');
my @ev2 = shards('ev2');
my @out = shards('out');
my @out2 = shards('out2');
my ($pages_shard) = $c->safe_psql('postgres',
	"SELECT shard_name('pages'::regclass, shardid) FROM pg_dist_shard WHERE logicalrelid = 'pages'::regclass");
is(scalar(@ev), 4, 'four shards of the stream');
ok(defined $_->[2], "shard $_->[1] is on a worker") for @ev, @ev2;

# the shape of a shard as a stream, on its node (shards are hidden from pg_class listings)
my $shape_sql = q{
	SET citus.show_shards_for_app_name_prefixes = '*';
	SELECT am.amname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull
	       || ' ' || pg_get_expr(d.adbin, d.adrelid) || ' ' || array_to_string(c.reloptions, ',')
	  FROM pg_class c JOIN pg_am am ON am.oid = c.relam
	  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = '_stream_xid'
	  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
	 WHERE c.oid = to_regclass('public.%s')};
for my $s (@ev, @ev2)
{
	is($s->[2]->safe_psql('postgres', sprintf($shape_sql, $s->[1])),
		'stream_heap xid8 true pg_current_xact_id() vacuum_truncate=false',
		"shard $s->[1] is a stream as create_stream makes one");
}
is($c->safe_psql('postgres',
	"SELECT count(*) FROM ev2 WHERE _stream_xid IS NULL"), '0',
	'rows already in a distributed table are stamped when it becomes a stream');

# append-only through the coordinator and on the shard
like(try_alice($c, 'UPDATE ev2 SET v = 0'), qr/cannot update rows of stream table "ev2_\d+"/,
	'UPDATE through the coordinator is refused by the shard');
like(try_alice($c, 'DELETE FROM ev2'), qr/cannot delete rows of stream table "ev2_\d+"/,
	'DELETE through the coordinator is refused by the shard');
for my $s ($ev[0], $ev2[0])
{
	like(try_alice($s->[2], "SET citus.enable_manual_changes_to_shards = on; UPDATE $s->[1] SET v = 0"),
		qr/cannot update rows of stream table "$s->[1]"/, "UPDATE on shard $s->[1] is refused");
	like(try_alice($s->[2], "SET citus.enable_manual_changes_to_shards = on; DELETE FROM $s->[1]"),
		qr/cannot delete rows of stream table "$s->[1]"/, "DELETE on shard $s->[1] is refused");
}

# a shard query per shard, started on the shard's node, as the owner
my $dq_text = q{WITH ev AS (SELECT tenant, v, note FROM ev) SELECT tenant, v, note, 'ev' AS ev FROM ev -- from ev};
my $dj_text = q{SELECT e.tenant, e.v, p.title FROM ev2 e JOIN pages p ON p.tenant = e.tenant};
sub start_sql
{
	my ($dq, $text, $stream, $s, $t, $map) = @_;
	return sprintf(q{SELECT stream._start_shard_query(%s, %s, %s, 'public', %s, %s, %s, '{"trigger": "200 ms"}')},
		quote($dq), quote("${dq}_s$s->[0]"), quote($text), quote("public.$s->[1]"),
		quote("public.$t->[1]"), quote($map));
}
sub quote { my $x = shift; $x =~ s/'/''/g; return "'$x'"; }

my %ids;
for my $i (0 .. $#ev)
{
	my ($s, $t) = ($ev[$i], $out[$i]);
	my $sql = start_sql('dq', $dq_text, 'ev', $s, $t, qq({"public.ev": "public.$s->[1]"}));
	$ids{ $s->[0] } = as_alice($s->[2], $sql);
	like($ids{ $s->[0] }, qr/^\d+$/, "shard query of $s->[1] started");
	is(as_alice($s->[2], $sql), $ids{ $s->[0] }, "the same call again on $s->[1] returns the same id");
	is($s->[2]->safe_psql('postgres',
		"SELECT count(*) FROM stream.streams WHERE relid = 'public.$s->[1]'::regclass"),
		'1', "shard $s->[1] is registered in its node's stream.streams");
	is($s->[2]->safe_psql('postgres',
		"SELECT q.query || ' | ' || d.distributed_query FROM stream.queries q JOIN stream.query_defs d USING (name) WHERE name = 'dq_s$s->[0]'"),
		"WITH ev AS (SELECT tenant, v, note FROM public.$s->[1] AS ev) SELECT tenant, v, note, 'ev' AS ev FROM ev -- from ev | dq",
		"the text names the shard where it names the table, and keeps the CTE, the literal, the alias and the comment");
}
for my $i (0 .. $#ev2)
{
	my ($s, $t) = ($ev2[$i], $out2[$i]);
	like(as_alice($s->[2], start_sql('dj', $dj_text, 'ev2', $s, $t,
		qq({"public.ev2": "public.$s->[1]", "public.pages": "public.$pages_shard"}))),
		qr/^\d+$/, "shard query joining a reference table started on $s->[1]");
}

# refusals
my ($s0, $t0) = ($ev[0], $out[0]);
like(try_alice($s0->[2], start_sql('dq', 'SELECT tenant, v, note, note AS ev FROM ev', 'ev', $s0, $t0,
	qq({"public.ev": "public.$s0->[1]"}))),
	qr/streaming query "dq_s$s0->[0]" already exists with another definition/,
	'a different text for the same shard query is refused');
like(try_alice($ev2[0]->[2], start_sql('dk', $dj_text, 'ev2', $ev2[0], $out2[0],
	qq({"public.ev2": "public.$ev2[0]->[1]"}))),
	qr/distributed table "public.pages" is not in relation_map/,
	'a distributed table missing from the map is refused');
is($ev2[0]->[2]->safe_psql('postgres', "SELECT count(*) FROM stream.query_defs WHERE name = 'dk_s$ev2[0]->[0]'"),
	'0', 'nothing is started when refused');

# writes: through the coordinator (one statement over every shard, and rows
# one by one), and through a worker
as_alice($c, q{INSERT INTO ev SELECT g % 10, g, 'coord' FROM generate_series(1, 500) g;
	INSERT INTO ev2 SELECT g % 10, g, 'coord' FROM generate_series(41, 300) g;});
as_alice($c, "INSERT INTO ev VALUES ($_ % 10, $_ + 1000, 'one')") for 1 .. 20;
as_alice($w[0], q{INSERT INTO ev SELECT g % 10, g, 'worker' FROM generate_series(2001, 2200) g;
	INSERT INTO ev2 SELECT g % 10, g, 'worker' FROM generate_series(2001, 2100) g;});

# a row written through the node holding its shard carries that node's transaction
my $tenant = $c->safe_psql('postgres', qq{
	SELECT t FROM generate_series(0, 9) t
	 WHERE get_shard_id_for_distribution_column('ev', t) = $ev[0]->[0] LIMIT 1});
my $xid = as_alice($ev[0]->[2], qq{BEGIN; INSERT INTO ev VALUES ($tenant, 9999, 'local');
	SELECT pg_current_xact_id(); COMMIT;});
is($ev[0]->[2]->safe_psql('postgres', "SELECT _stream_xid FROM $ev[0]->[1] WHERE v = 9999"),
	$xid, 'a row written through a worker is stamped by that node\'s transaction');
for my $s (@ev, @ev2)
{
	is($s->[2]->safe_psql('postgres',
		"SELECT count(*) FROM $s->[1] WHERE pg_xact_status(_stream_xid) IS DISTINCT FROM 'committed'"),
		'0', "every row of $s->[1] carries a committed transaction of its node");
}

# the workers' own schedulers run the shard queries: every row exactly once
ok($c->poll_query_until('postgres',
	'SELECT (SELECT count(*) FROM ev) = (SELECT count(*) FROM out)
	    AND (SELECT count(*) FROM ev2) = (SELECT count(*) FROM out2)'),
	'the shard queries caught up');
is($c->safe_psql('postgres', 'SELECT count(*) FROM out'), '761', 'every row of the stream once');
is($c->safe_psql('postgres', q{SELECT md5(string_agg(format('%s/%s/%s/%s', tenant, v, note, ev), ',' ORDER BY tenant, v, note)) FROM out}),
	$c->safe_psql('postgres', q{SELECT md5(string_agg(format('%s/%s/%s/ev', tenant, v, note), ',' ORDER BY tenant, v, note)) FROM ev}),
	'the target holds the stream\'s rows, each once');
is($c->safe_psql('postgres', q{SELECT md5(string_agg(format('%s/%s/%s', tenant, v, title), ',' ORDER BY tenant, v)) FROM out2}),
	$c->safe_psql('postgres', q{SELECT md5(string_agg(format('%s/%s/%s', e.tenant, e.v, p.title), ',' ORDER BY e.tenant, e.v)) FROM ev2 e JOIN pages p USING (tenant)}),
	'the join with the reference table holds every row of the second stream once, the 40 of before it was a stream included');
for my $i (0 .. $#ev)
{
	is($ev[$i]->[2]->safe_psql('postgres', "SELECT count(*) FROM $out[$i]->[1]"),
		$ev[$i]->[2]->safe_psql('postgres', "SELECT count(*) FROM $ev[$i]->[1]"),
		"target shard $out[$i]->[1] holds the rows of stream shard $ev[$i]->[1]");
}

done_testing();
