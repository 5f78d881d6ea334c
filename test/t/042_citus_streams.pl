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
use Time::HiRes qw(time);
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
	CREATE TABLE agg (tenant int, n bigint, s bigint, manual text);
	SELECT create_distributed_table('agg', 'tenant', colocate_with => 'ev');
	ALTER TABLE agg ADD UNIQUE NULLS NOT DISTINCT (tenant);
	CREATE TABLE dl (tenant int, v int, q int, manual text);
	CREATE TABLE out3 (tenant int, v int, note text, ev text);
	SELECT create_distributed_table('out3', 'tenant', colocate_with => 'ev');
	SELECT create_distributed_table('dl', 'tenant', colocate_with => 'ev');
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
my @agg = shards('agg');
my @dl = shards('dl');
my @out3 = shards('out3');
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
		'stream_heap xid8 false pg_current_xact_id() vacuum_truncate=false',
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
like(try_alice($c, 'TRUNCATE ev2'), qr/cannot truncate stream table "ev2(_\d+)?"/,
	'TRUNCATE through the coordinator is refused');
for my $s ($ev[0], $ev2[0])
{
	like(try_alice($s->[2], "SET citus.enable_manual_changes_to_shards = on; TRUNCATE $s->[1]"),
		qr/cannot truncate stream table "$s->[1]"/, "TRUNCATE on shard $s->[1] is refused");
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
	my ($dq, $text, $stream, $s, $t, $map, $options) = @_;
	return sprintf(q{SELECT stream._start_shard_query(%s, %s, %s, 'public', %s, %s, %s, %s)},
		quote($dq), quote("${dq}_s$s->[0]"), quote($text), quote("public.$s->[1]"),
		quote("public.$t->[1]"), quote($map), quote($options // '{"trigger": "200 ms"}'));
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
# the target shard written by an aggregation's upserts, and by dead letters
# delivered again: Citus lets the node's own code write its shard
for my $i (0 .. $#ev)
{
	like(as_alice($ev[$i]->[2], start_sql('da', 'SELECT tenant, count(*) AS n, sum(v) AS s FROM ev GROUP BY tenant',
		'ev', $ev[$i], $agg[$i], qq({"public.ev": "public.$ev[$i]->[1]"}),
		'{"output_mode": "update", "trigger": "200 ms"}')),
		qr/^\d+$/, "aggregation by the distribution column started on $ev[$i]->[1]");
}
# each row written into these target shards notes whether Citus's setting
# for writing shards directly was on when it was written
for my $t ($agg[0], $dl[0])
{
	$t->[2]->safe_psql('postgres', qq{
		SET citus.enable_manual_changes_to_shards = on;
		SET citus.enable_ddl_propagation = off;
		CREATE OR REPLACE FUNCTION public.note_manual() RETURNS trigger LANGUAGE plpgsql AS
		\$f\$ BEGIN NEW.manual := current_setting('citus.enable_manual_changes_to_shards'); RETURN NEW; END \$f\$;
		CREATE TRIGGER note_manual BEFORE INSERT OR UPDATE ON $t->[1]
		   FOR EACH ROW EXECUTE FUNCTION public.note_manual();});
}
like(as_alice($ev[0]->[2], start_sql('dd', 'SELECT tenant, v, 100 / (v % 7) AS q FROM ev',
	'ev', $ev[0], $dl[0], qq({"public.ev": "public.$ev[0]->[1]"}),
	'{"on_error": "dead_letter", "trigger": "200 ms"}')),
	qr/^\d+$/, "a query with dead letters started on $ev[0]->[1]");
for my $i (0 .. $#ev2)
{
	my ($s, $t) = ($ev2[$i], $out2[$i]);
	like(as_alice($s->[2], start_sql('dj', $dj_text, 'ev2', $s, $t,
		qq({"public.ev2": "public.$s->[1]", "public.pages": "public.$pages_shard"}))),
		qr/^\d+$/, "shard query joining a reference table started on $s->[1]");
}

# more spellings of a table reference, each replaced where it is and only there
{
	my ($s, $t) = ($ev[1], $out3[1]);
	my $map = qq({"public.ev": "public.$s->[1]", "public.pages": "public.$pages_shard"});
	my @cases = (
		[ q{SELECT e.tenant, e.v, e.note, 'public.ev' AS ev FROM public . /* ev */ ev AS e},
		  qq{SELECT e.tenant, e.v, e.note, 'public.ev' AS ev FROM public.$s->[1] AS e} ],
		[ q{SELECT tenant, v, note, "ev".note AS ev FROM "ev"},
		  qq{SELECT tenant, v, note, "ev".note AS ev FROM public.$s->[1] AS ev} ],
		[ q{SELECT tenant, v, note, 'x' AS ev FROM ev WHERE EXISTS (SELECT 1 FROM pages p WHERE p.tenant = ev.tenant)},
		  qq{SELECT tenant, v, note, 'x' AS ev FROM public.$s->[1] AS ev WHERE EXISTS (SELECT 1 FROM public.$pages_shard p WHERE p.tenant = ev.tenant)} ],
		[ q{WITH x AS (SELECT * FROM ev), ev AS (SELECT tenant, v, note FROM x) SELECT tenant, v, note, 'y' AS ev FROM ev},
		  qq{WITH x AS (SELECT * FROM public.$s->[1] AS ev), ev AS (SELECT tenant, v, note FROM x) SELECT tenant, v, note, 'y' AS ev FROM ev} ],
	);
	my $n = 0;
	for my $case (@cases)
	{
		$n++;
		as_alice($s->[2], start_sql("dr$n", $case->[0], 'ev', $s, $t, $map));
		is($s->[2]->safe_psql('postgres', "SELECT query FROM stream.queries WHERE name = 'dr${n}_s$s->[0]'"),
			$case->[1], "spelling $n rewritten: $case->[0]");
		as_alice($s->[2], "SELECT stream.drop_query('dr${n}_s$s->[0]')");
	}
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
like(try_alice($out[0]->[2], start_sql('dn', 'SELECT tenant, v, note, ev FROM out', 'out', $out[0], $out3[0],
	qq({"public.out": "public.$out[0]->[1]"}))),
	qr/shard "$out[0]->[1]" is not a stream/, 'a shard that is not a stream is refused');
as_alice($ev[0]->[2], 'CREATE TABLE local_plain (tenant int, v int, note text)');
like(try_alice($ev[0]->[2], start_sql('dp', 'SELECT tenant, v, note, note AS ev FROM ev', 'ev', ['0', 'local_plain'], $out3[0],
	q({"public.ev": "public.local_plain"}))),
	qr/table "local_plain" is not a shard of a distributed table/, 'a table that is not a shard is refused');
as_alice($c, 'CREATE VIEW ev_recent AS SELECT tenant, v FROM ev WHERE v > 100');
like(try_alice($ev[0]->[2], start_sql('dv', 'SELECT tenant, v, note, \'v\' AS ev FROM ev WHERE v IN (SELECT v FROM ev_recent)',
	'ev', $ev[0], $out3[0], qq({"public.ev": "public.$ev[0]->[1]"}))),
	qr/the shard query reads distributed table "public.ev"/,
	'a distributed table read through a view is refused');
is($ev2[0]->[2]->safe_psql('postgres', "SELECT count(*) FROM stream.query_defs WHERE name = 'dk_s$ev2[0]->[0]'")
	. $ev[0]->[2]->safe_psql('postgres', "SELECT count(*) FROM stream.query_defs WHERE name = 'dv_s$ev[0]->[0]'"),
	'00', 'nothing is started when refused');

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
	    AND (SELECT count(*) FROM ev2) = (SELECT count(*) FROM out2)
	    AND (SELECT count(*) FROM ev) = (SELECT sum(n) FROM agg)'),
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
# a transaction writing shards on both workers commits with two-phase commit
# (COMMIT PREPARED): the nodes' schedulers hear of it at once, not at their
# next idle check (5 s)
my $started = time;
for my $round (1 .. 3)
{
	as_alice($c, "INSERT INTO ev SELECT g % 10, g, 'prepared' FROM generate_series($round * 10000, $round * 10000 + 9) g");
	$c->poll_query_until('postgres', 'SELECT (SELECT count(*) FROM ev) = (SELECT count(*) FROM out)')
	  or die 'rows written with two-phase commit did not arrive';
}
my $elapsed = time - $started;
note(sprintf('three rounds of rows written with two-phase commit arrived in %.2f s', $elapsed));
cmp_ok($elapsed, '<', 7.5, 'rows committed by COMMIT PREPARED wake the shard queries');

is($c->safe_psql('postgres', q{SELECT md5(string_agg(format('%s/%s/%s', tenant, n, s), ',' ORDER BY tenant)) FROM agg}),
	$c->safe_psql('postgres', q{SELECT md5(string_agg(format('%s/%s/%s', tenant, n, s), ',' ORDER BY tenant))
		FROM (SELECT tenant, count(*) AS n, sum(v) AS s FROM ev GROUP BY tenant) x}),
	'the aggregation by the distribution column equals the query over every row');
my $dd = "dd_s$ev[0]->[0]";
ok($ev[0]->[2]->poll_query_until('postgres', qq{SELECT stream.pending_rows('$dd') = 0}),
	'the query with dead letters caught up');
my $failing = $ev[0]->[2]->safe_psql('postgres', "SELECT count(*) FROM $ev[0]->[1] WHERE v % 7 = 0");
ok($failing > 0, 'some rows of the shard fail the query');
is($ev[0]->[2]->safe_psql('postgres', "SELECT count(*) FROM $dl[0]->[1]"),
	$ev[0]->[2]->safe_psql('postgres', "SELECT count(*) - $failing FROM $ev[0]->[1]"),
	'the other rows reached the target shard');
as_alice($ev[0]->[2], "SELECT stream.alter_query('$dd', query => 'SELECT tenant, v, 100 / nullif(v % 7, 0) AS q FROM public.$ev[0]->[1] AS ev')");
is(as_alice($ev[0]->[2], "SELECT stream.deliver_dead_letters('$dd')"), $failing,
	'the dead letters are delivered again into the target shard');
is($ev[0]->[2]->safe_psql('postgres', "SELECT count(*) FROM $dl[0]->[1]"),
	$ev[0]->[2]->safe_psql('postgres', "SELECT count(*) FROM $ev[0]->[1]"),
	'every row of the shard reached the target shard once');
is($ev[0]->[2]->safe_psql('postgres', "SELECT count(*) FROM $dl[0]->[1] WHERE manual IS DISTINCT FROM 'on'")
	. ' ' . $ev[0]->[2]->safe_psql('postgres', "SELECT count(*) FROM $agg[0]->[1] WHERE manual IS DISTINCT FROM 'on'"),
	'0 0', 'batches, upserts and dead letters delivered write a target shard with citus.enable_manual_changes_to_shards on');
is($ev[0]->[2]->safe_psql('postgres', "INSERT INTO $dl[0]->[1] VALUES (-1, -1, -1) RETURNING manual;
	DELETE FROM $dl[0]->[1] WHERE tenant = -1"), 'off',
	'a row written by another session notes the setting off');

# Citus changes the shards as the coordinator's table changes: the nodes'
# DDL guards let it, and still guard a shard that local queries read
as_alice($c, 'ALTER TABLE ev ADD COLUMN extra int');
is($ev[0]->[2]->safe_psql('postgres',
	"SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.$ev[0]->[1]'::regclass AND attname = 'extra'"),
	'1', 'a column added to the distributed stream reaches its registered shards');
like(try_alice($ev[0]->[2], "SET citus.enable_manual_changes_to_shards = on;
	ALTER TABLE $ev[0]->[1] ALTER COLUMN _stream_xid DROP DEFAULT"),
	qr/cannot change shard public.$ev[0]->[1] of a distributed stream this way/,
	'a shard hidden from pg_class is still guarded while a query of its node reads it');

# drop_stream on a distributed stream: refused while queries read a shard,
# then every shard stops being a stream with it
like(try_alice($c, "SELECT stream.drop_stream('ev2')"),
	qr/cannot change shard public.ev2_\d+ of a distributed stream this way.*dj_s\d+/s,
	'drop_stream is refused while shard queries read the shards, naming them');
$c->safe_psql('postgres', q{INSERT INTO stream.distributed_queries
	(name, owner, query_text, search_path, stream_relid, target_relid, distribution_column, placement)
	VALUES ('dj', 'alice', 'SELECT 1', 'public', 'ev2', 'out2', 'tenant', 'per_shard')});
like(try_alice($c, "SELECT stream.drop_stream('ev2')"),
	qr/cannot drop stream "ev2" because distributed queries read it/,
	'drop_stream is refused while the coordinator lists distributed queries over the stream');
$c->safe_psql('postgres', q{DELETE FROM stream.distributed_queries WHERE name = 'dj'});
as_alice($_->[2], "SELECT stream.drop_query('dj_s$_->[0]')") for @ev2;
as_alice($c, "SELECT stream.drop_stream('ev2')");
for my $s (@ev2)
{
	is($s->[2]->safe_psql('postgres', sprintf(q{SET citus.show_shards_for_app_name_prefixes = '*';
		SELECT am.amname || ' ' || (SELECT count(*) FROM pg_attribute WHERE attrelid = c.oid AND attname = '_stream_xid' AND NOT attisdropped)
		       || ' ' || (SELECT count(*) FROM stream.streams WHERE relid = c.oid)
		  FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.oid = to_regclass('public.%s')}, $s->[1])),
		'heap 0 0', "shard $s->[1] is an ordinary table again, and no longer a stream of its node");
}
is($c->safe_psql('postgres', 'SELECT count(*) FROM ev2'), '400', 'the rows of the stream stay');

done_testing();
