# A global aggregation over a distributed stream (not grouped by the
# distribution column): each shard's query appends its batches' partial
# groups to the exchange on its node, and the coordinator's merge combines
# them into its state and target, each shard batch exactly once, also when
# a worker node is killed between its batches and the merge, and when the
# coordinator is killed in the merge.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsCitus;

# the scheduler's merges off until the last part: merges run when the test says
my ($c, @w) = PgsCitus::cluster('merge', workers => 2,
	conf => "citus.shard_count = 4\npg_streaming.merge_naptime = 0");
my @nodes = ($c, @w);

# the streams' owner, an unprivileged role (Citus creates it on the workers)
$c->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	GRANT CREATE ON SCHEMA public TO alice;
	CREATE TABLE ev (tenant int, page text, v int, ts timestamptz);
	SELECT stream.create_stream('ev');
	SELECT create_distributed_table('ev', 'tenant');
	GRANT SELECT, INSERT ON ev TO alice;
});

# where each shard of ev is: [shardid, node]
sub placements
{
	my ($table) = @_;
	my $out = $c->safe_psql('postgres', qq{
		SELECT s.shardid, n.nodeport FROM pg_dist_shard s
		JOIN pg_dist_placement p USING (shardid)
		JOIN pg_dist_node n USING (groupid)
		WHERE s.logicalrelid = '$table'::regclass ORDER BY s.shardid});
	my @r;
	for my $line (split /\n/, $out)
	{
		my ($shard, $port) = split /\|/, $line;
		my ($node) = grep { $_->port == $port } @w;
		push @r, [ $shard, $node ];
	}
	return @r;
}

# the shards' queries of distributed query $name started on their nodes by
# the reconciler, as its owner
sub start_shards
{
	my ($name) = @_;
	$c->safe_psql('postgres', "SET ROLE alice; SELECT stream._reconcile_distributed('$name')");
	ok($c->poll_query_until('postgres', qq{
		SELECT bool_and(applied_status = 'active') FROM stream.distributed_query_shards WHERE name = '$name'}),
		"the reconciler starts every shard query of $name");
}

# every shard query of $name caught up on its node
sub catch_up
{
	my ($name) = @_;
	for my $n (@w)
	{
		my $qs = $n->safe_psql('postgres',
			"SELECT string_agg(name, ' ') FROM stream.query_defs WHERE name LIKE '${name}_s%'");
		for my $q (split / /, $qs)
		{
			$n->safe_psql('postgres', "SET ROLE alice; CALL stream.process_all_available('$q')");
		}
	}
}

sub merge
{
	my ($name) = @_;
	return $c->safe_psql('postgres', "SET ROLE alice; SELECT stream._merge_distributed('$name')");
}

# writers through the coordinator, in the background
sub writers
{
	my ($n, $rows) = @_;
	my @h;
	for my $i (1 .. $n)
	{
		# one transaction per -c, a pause between them
		my @cmds = ('-c', 'SET ROLE alice');
		for my $b (1 .. 10)
		{
			push @cmds, '-c', "INSERT INTO ev SELECT (random() * 1000)::int, 'p' || (g % 7), g % 13,"
			  . " '2026-01-01'::timestamptz + (($b * 100 + g % 100) || ' seconds')::interval"
			  . " FROM generate_series(1, $rows) g", '-c', 'SELECT pg_sleep(0.3)';
		}
		push @h, IPC::Run::start([ 'psql', '-X', '-q', '-d', $c->connstr('postgres'),
			'-v', 'ON_ERROR_STOP=1', @cmds ], '>', \my $out);
	}
	return @h;
}

# ---- update and complete modes ----
$c->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT stream.start_query('pages', 'SELECT page, count(*) AS n, sum(v) AS s FROM ev GROUP BY page',
		'page_totals', output_mode => 'update', trigger => '200 ms');
	SELECT stream.start_query('board', 'SELECT page, count(*) AS n, max(v) AS m FROM ev GROUP BY page ORDER BY n DESC, page LIMIT 3',
		'page_board', output_mode => 'complete', trigger => '200 ms');
});
is($c->safe_psql('postgres', q{
	SELECT d.placement, count(*), bool_and(s.shard_query = d.name || '_s' || s.shardid)
	FROM stream.distributed_queries d JOIN stream.distributed_query_shards s USING (name)
	WHERE d.name = 'pages' GROUP BY 1}), 'merge|4|t',
	'a merged query is recorded with one shard query per shard of the stream');
like($c->safe_psql('postgres', "SELECT options::text FROM stream.distributed_queries WHERE name = 'pages'"),
	qr/"output_mode": "partial"/, 'its shards run in output mode partial');
start_shards('pages');
start_shards('board');

# a windowed aggregation in append mode: a window is written once the
# watermark, the least over the shards, passes its end
my $wq = q{SELECT stream.tumble(ts, '1 minute') AS w, count(*) AS n, sum(v) AS s FROM ev GROUP BY 1};
$c->safe_psql('postgres', qq{
	SET ROLE alice;
	SELECT stream.start_query('wins', \$q\$$wq\$q\$, 'win_counts', output_mode => 'append',
		trigger => '200 ms', event_time => 'ts', watermark => '1 hour');
});
start_shards('wins');

# rows of one tenant reach one shard: the others are idle and hold the
# watermark back, as the catalog shows
$c->safe_psql('postgres', "INSERT INTO ev VALUES (1, 'p0', 1, '2026-01-01 00:00:10+00')");
catch_up('wins');
is(merge('wins'), '1', 'the merge reads the one partial group');
is($c->safe_psql('postgres', "SELECT merges FROM stream.distributed_merges WHERE name = 'wins'"), '1',
	'one merge is counted');
is($c->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE max_event_time IS NOT NULL), count(*) FILTER (WHERE max_event_time IS NULL)
	FROM stream.distributed_merge_shards WHERE name = 'wins'}), '1|3',
	'one shard has an event time, three are idle');
is($c->safe_psql('postgres', "SELECT watermark IS NULL FROM stream.distributed_merges WHERE name = 'wins'"),
	't', 'idle shards hold the watermark of the merge at NULL');
is(merge('wins'), '0', 'a merge without new batches reads nothing');
is($c->safe_psql('postgres', "SELECT merges FROM stream.distributed_merges WHERE name = 'wins'"), '1',
	'and counts no merge');

# 4 writers through the coordinator while the merges run
my @h = writers(4, 200);
for (1 .. 6)
{
	catch_up('pages');
	merge('pages');
	catch_up('board');
	merge('board');
}
$_->finish for @h;
catch_up('pages');
catch_up('board');
merge('pages');
merge('board');
ok($c->safe_psql('postgres', "SELECT merges FROM stream.distributed_merges WHERE name = 'pages'") > 1,
	'the merges ran while the writers wrote');
is($c->safe_psql('postgres', 'SELECT count(*) FROM ev'), '8001', 'every writer committed');
is($c->safe_psql('postgres', q{
	(SELECT page, n, s FROM page_totals EXCEPT SELECT page, count(*), sum(v) FROM ev GROUP BY page)
	UNION ALL
	(SELECT page, count(*), sum(v) FROM ev GROUP BY page EXCEPT SELECT page, n, s FROM page_totals)}),
	'', 'update mode: the merged target equals the aggregation over every row');
is($c->safe_psql('postgres', q{
	(SELECT page, n, m FROM page_board EXCEPT
	 (SELECT page, count(*), max(v) FROM ev GROUP BY page ORDER BY count(*) DESC, page LIMIT 3))
	UNION ALL
	((SELECT page, count(*), max(v) FROM ev GROUP BY page ORDER BY count(*) DESC, page LIMIT 3)
	 EXCEPT SELECT page, n, m FROM page_board)}),
	'', 'complete mode with a top-N: the target is the top 3 over every row');
is($c->safe_psql('postgres', q{
	SELECT bool_and(ms.merged_batch > 0) FROM stream.distributed_merge_shards ms WHERE name = 'pages'}),
	't', 'every shard has a mark');


# windows: every row of the day is in; a row of the next day on every
# shard moves the least event time, and the watermark closes the day
$c->safe_psql('postgres', "INSERT INTO ev SELECT g, 'p0', 0, '2026-01-02 00:00:00+00' FROM generate_series(1, 200) g");
catch_up('wins');
merge('wins');
is($c->safe_psql('postgres', "SELECT watermark = '2026-01-01 23:00:00+00' FROM stream.distributed_merges WHERE name = 'wins'"),
	't', 'the watermark is the least latest event time over the shards less the delay');
is($c->safe_psql('postgres', q{
	(SELECT w, n, s FROM win_counts EXCEPT
	 SELECT stream.tumble(ts, '1 minute'), count(*), sum(v) FROM ev WHERE ts < '2026-01-02' GROUP BY 1)
	UNION ALL
	(SELECT stream.tumble(ts, '1 minute'), count(*), sum(v) FROM ev WHERE ts < '2026-01-02' GROUP BY 1
	 EXCEPT SELECT w, n, s FROM win_counts)}),
	'', 'append mode: each closed window written once, equal to the aggregation over its rows');
is($c->safe_psql('postgres', "SELECT count(*) FROM win_counts WHERE w >= '2026-01-02'"), '0',
	'the open window is not written');

# totals of the update query against every row
sub totals_ok
{
	my ($what) = @_;
	is($c->safe_psql('postgres', q{
		(SELECT page, n, s FROM page_totals EXCEPT SELECT page, count(*), sum(v) FROM ev GROUP BY page)
		UNION ALL
		(SELECT page, count(*), sum(v) FROM ev GROUP BY page EXCEPT SELECT page, n, s FROM page_totals)}),
		'', $what);
}
sub marks
{
	return $c->safe_psql('postgres',
		"SELECT string_agg(shard_query || ':' || merged_batch, ',' ORDER BY shard_query) FROM stream.distributed_merge_shards WHERE name = 'pages'");
}

# a worker node killed after its shards' batches committed and before the
# merge read them: the batches are merged once, after it is back
$c->safe_psql('postgres', "INSERT INTO ev SELECT g, 'p' || (g % 5), 7, now() FROM generate_series(1, 500) g");
catch_up('pages');
my $before = marks();
$w[0]->stop('immediate');
my ($rc, $out, $err) = $c->psql('postgres', "SET ROLE alice; SELECT stream._merge_distributed('pages')");
isnt($rc, 0, 'a merge with a node down fails');
is(marks(), $before, '... and advances no mark');
$w[0]->start;
$c->safe_psql('postgres', q{CREATE TABLE old_marks AS
	SELECT shard_query, merged_batch FROM stream.distributed_merge_shards WHERE name = 'pages'});
merge('pages');
totals_ok('a node killed between its batches and the merge: each batch merged once');
is($c->safe_psql('postgres', q{SELECT count(*) FROM stream_exchange.pages_exchange e
	JOIN old_marks o ON o.shard_query = e._shard_query AND e._batch_id <= o.merged_batch}), '0',
	'the exchange rows of batches merged before are removed by the next merge');

# the coordinator killed in the merge, before its commit: the same rows are
# read again after the restart, and merged once
$c->safe_psql('postgres', "INSERT INTO ev SELECT g, 'p' || (g % 5), 3, now() FROM generate_series(1, 500) g");
catch_up('pages');
$before = marks();
my $inflight = IPC::Run::start([ 'psql', '-X', '-q', '-d', $c->connstr('postgres'), '-c',
	"SET ROLE alice; BEGIN; SELECT stream._merge_distributed('pages'); SELECT pg_sleep(60); COMMIT;" ],
	'>', \my $o, '2>', \my $e);
$c->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND wait_event = 'PgSleep'")
  or die 'the merge did not reach its sleep';
$c->stop('immediate');
$inflight->finish;
$c->start;
is(marks(), $before, 'the merge killed before its commit left the marks as they were');
merge('pages');
isnt(marks(), $before, 'the next merge advances them');
totals_ok('the coordinator killed in the merge: each batch merged once');
merge('pages');
totals_ok('and a merge with nothing new changes nothing');

# process_all_available on the coordinator: every shard's batches, then the merge
$c->safe_psql('postgres', "INSERT INTO ev SELECT g, 'p' || (g % 9), 5, now() FROM generate_series(1, 400) g");
$c->safe_psql('postgres', "SET ROLE alice; CALL stream.process_all_available('pages')");
totals_ok("process_all_available on the coordinator runs every shard's batches and the merge");

# the merges of others' queries are refused; a shard query in output mode
# partial writes its own distributed query's exchange only
$c->safe_psql('postgres', 'CREATE ROLE bob LOGIN');
($rc, $out, $err) = $c->psql('postgres', "SET ROLE bob; SELECT stream._merge_distributed('pages')");
like($err, qr/must be a member of the owner/, "another role cannot run a query's merge");
is($c->safe_psql('postgres', "SET ROLE bob; SELECT stream._merge_distributed()"), '0',
	"and merging all merges none of others'");
($rc, $out, $err) = $c->psql('postgres', "SET ROLE alice; SELECT count(*) FROM stream_exchange.pages_exchange");
like($err, qr/permission denied/, 'the owner cannot read the exchange');
my ($s1) = placements('ev');
($rc, $out, $err) = $s1->[1]->psql('postgres', qq{SET ROLE alice;
	CREATE TABLE mine (page text, n bigint);
	SELECT stream.start_query(name => 'pages_s$s1->[0]x', query => 'SELECT page, count(*) AS n FROM ev_$s1->[0] GROUP BY page',
		target => 'public.mine', output_mode => 'partial')});
like($err, qr/output mode "partial" writes only the exchange/, 'output mode partial refuses another target');
my $bx = $c->safe_psql('postgres',
	"SELECT target_shardid FROM stream.distributed_query_shards WHERE name = 'board' AND shardid = $s1->[0]");
($rc, $out, $err) = $s1->[1]->psql('postgres', qq{SET ROLE alice;
	SELECT stream.start_query(name => 'pages_s9$s1->[0]', query => 'SELECT page, count(*) AS n FROM ev_$s1->[0] GROUP BY page',
		target => 'stream_exchange.board_exchange_$bx', output_mode => 'partial')});
like($err, qr/output mode "partial" writes only the exchange/,
	"and the exchange of another distributed query");
# a query named for a shard held by the other node, writing this node's
# shard of the exchange: its rows would pass for that shard's
my ($other) = grep { $_->[1] != $s1->[1] } placements('ev');
my $px = $c->safe_psql('postgres',
	"SELECT target_shardid FROM stream.distributed_query_shards WHERE name = 'pages' AND shardid = $s1->[0]");
($rc, $out, $err) = $s1->[1]->psql('postgres', qq{SET ROLE alice;
	SELECT stream.start_query(name => 'pages_s$other->[0]', query => 'SELECT page, count(*) AS n, sum(v) AS s FROM ev_$s1->[0] GROUP BY page',
		target => 'stream_exchange.pages_exchange_$px', output_mode => 'partial')});
like($err, qr/output mode "partial" writes only the exchange/,
	"and a shard of its exchange not co-located with the shard its name gives");

# the coordinator's scheduler merges by itself once pg_streaming.merge_naptime is set
$c->append_conf('postgresql.conf', "pg_streaming.merge_naptime = '200ms'");
$c->reload;
$c->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT stream.start_query('auto', 'SELECT v, count(*) AS n FROM ev GROUP BY v', 'auto_counts',
		output_mode => 'update', trigger => '200 ms');
});
start_shards('auto');
$c->safe_psql('postgres', "INSERT INTO ev SELECT g, 'p1', g % 3, now() FROM generate_series(1, 300) g");
catch_up('auto');
ok($c->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM ((SELECT v, n FROM auto_counts EXCEPT SELECT v, count(*) FROM ev GROUP BY v)
		UNION ALL (SELECT v, count(*) FROM ev GROUP BY v EXCEPT SELECT v, n FROM auto_counts)) d}),
	"the coordinator's scheduler merges the shards' batches");

# alter_query on a merged query: a new trigger only
my ($arc, $aout, $aerr) = $c->psql('postgres',
	"SET ROLE alice; SELECT stream.alter_query('auto', query => 'SELECT v, count(*) AS n FROM ev WHERE v > 0 GROUP BY v')");
like($aerr, qr/alter_query cannot change more than the trigger of distributed query "auto"/,
	'a merged query refuses a new text');
my $auto_defs = $c->safe_psql('postgres', "SELECT query_text || options::text FROM stream.distributed_queries WHERE name = 'auto'");
$c->safe_psql('postgres', "SET ROLE alice; SELECT stream.alter_query('auto', trigger => '700 ms')");
isnt($c->safe_psql('postgres', "SELECT query_text || options::text FROM stream.distributed_queries WHERE name = 'auto'"),
	$auto_defs, 'a merged query takes a new trigger');
$c->safe_psql('postgres', "SET ROLE alice; SELECT stream._reconcile_distributed('auto')");
my $auto_trigger = $c->safe_psql('postgres', "SELECT options->>'trigger' FROM stream.distributed_queries WHERE name = 'auto'");
is(join(',', map { $_->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT trigger, ' ') FROM stream.query_defs WHERE name LIKE 'auto\_s%'}) } @w),
	"$auto_trigger,$auto_trigger", 'every shard query of the merged query has the new trigger');
$c->safe_psql('postgres', "INSERT INTO ev SELECT g, 'p1', g % 3, now() FROM generate_series(301, 330) g");
catch_up('auto');
ok($c->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM ((SELECT v, n FROM auto_counts EXCEPT SELECT v, count(*) FROM ev GROUP BY v)
		UNION ALL (SELECT v, count(*) FROM ev GROUP BY v EXCEPT SELECT v, n FROM auto_counts)) d}),
	'the merged query altered goes on merging every row once');

# a dropped merged query takes its exchange and its coordinator's state
# with it, once the reconciler has dropped every shard's query
$c->safe_psql('postgres', "SET ROLE alice; SELECT stream.drop_query('board')");
$c->safe_psql('postgres', "SET ROLE alice; SELECT stream._reconcile_distributed('board')");
ok($c->poll_query_until('postgres',
	"SELECT NOT EXISTS (SELECT 1 FROM stream.distributed_queries WHERE name = 'board')"),
	'the dropped query goes once its shards are dropped');
is($c->safe_psql('postgres', q{
	SELECT to_regclass('stream_exchange.board_exchange') IS NULL AND to_regclass('stream_state.board') IS NULL
		AND NOT EXISTS (SELECT 1 FROM stream.distributed_merges WHERE name = 'board')}),
	't', 'its exchange and its state are dropped');
is($c->safe_psql('postgres', q{
	SELECT count(*) FROM pg_dist_partition p WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = p.logicalrelid)}),
	'0', "and Citus's metadata of the exchange with it");
is(join(',', map { $_->safe_psql('postgres', q{
	SET citus.show_shards_for_app_name_prefixes = '*';
	SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'stream_exchange' AND c.relname LIKE 'board%'}) } @w), '0,0',
	"and the exchange's shards on the nodes");
is($c->safe_psql('postgres', q{SELECT count(*) FROM page_board}), '3', 'its target stays');

done_testing();
