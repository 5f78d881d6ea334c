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

my ($c, @w) = PgsCitus::cluster('merge', workers => 2, conf => 'citus.shard_count = 4');
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

# Start the shards' queries of merged query $name on their nodes, as the
# reconciler does (stream._start_shard_query): the stream's shard made a
# stream of its node, the query over it as alice in output mode partial,
# writing the exchange's co-located shard; then mark them started.
sub start_shards
{
	my ($name, $query, %opt) = @_;
	my $rows = $c->safe_psql('postgres', qq{
		SELECT s.shardid, s.target_shardid, s.shard_query, d.options->>'trigger'
		FROM stream.distributed_query_shards s JOIN stream.distributed_queries d USING (name)
		WHERE s.name = '$name' ORDER BY s.shardid});
	my %node = map { $_->[0] => $_->[1] } placements('ev');
	for my $line (split /\n/, $rows)
	{
		my ($shard, $xshard, $sq, $trigger) = split /\|/, $line;
		my $n = $node{$shard};
		my $text = $query =~ s/\bev\b/public.ev_$shard/gr;
		my $extra = $opt{event_time} ? ", event_time => '$opt{event_time}', watermark => '$opt{watermark}'" : '';
		$n->safe_psql('postgres', qq{
			INSERT INTO stream.streams (relid) VALUES ('public.ev_$shard') ON CONFLICT DO NOTHING;
		});
		$n->safe_psql('postgres', qq{
			SET ROLE alice;
			SELECT stream.start_query(name => '$sq', query => \$q\$$text\$q\$,
				target => 'stream_state.${name}_exchange_$xshard', output_mode => 'partial',
				trigger => '$trigger' $extra);
		});
	}
	$c->safe_psql('postgres',
		"UPDATE stream.distributed_query_shards SET applied_status = 'active' WHERE name = '$name'");
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
		my $sql = '';
		for my $b (1 .. 10)
		{
			$sql .= "INSERT INTO ev SELECT (random() * 1000)::int, 'p' || (g % 7), g % 13,"
			  . " '2026-01-01'::timestamptz + (($b * 100 + g % 100) || ' seconds')::interval"
			  . " FROM generate_series(1, $rows) g;\n";
		}
		push @h, IPC::Run::start([ 'psql', '-X', '-q', '-d', $c->connstr('postgres'),
			'-v', 'ON_ERROR_STOP=1', '-c', "SET ROLE alice", '-c', $sql ]);
	}
	return @h;
}

# ---- update and complete modes ----
$c->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT stream._start_merge('pages', 'SELECT page, count(*) AS n, sum(v) AS s FROM ev GROUP BY page',
		'page_totals', output_mode => 'update', trigger => '200 ms');
	SELECT stream._start_merge('board', 'SELECT page, count(*) AS n, max(v) AS m FROM ev GROUP BY page ORDER BY n DESC, page LIMIT 3',
		'page_board', output_mode => 'complete', trigger => '200 ms');
});
is($c->safe_psql('postgres', q{
	SELECT d.placement, count(*), bool_and(s.shard_query = d.name || '_s' || s.shardid)
	FROM stream.distributed_queries d JOIN stream.distributed_query_shards s USING (name)
	WHERE d.name = 'pages' GROUP BY 1}), 'merge|4|t',
	'a merged query is recorded with one shard query per shard of the stream');
like($c->safe_psql('postgres', "SELECT options::text FROM stream.distributed_queries WHERE name = 'pages'"),
	qr/"output_mode": "partial"/, 'its shards run in output mode partial');
start_shards('pages', 'SELECT page, count(*) AS n, sum(v) AS s FROM ev GROUP BY page');
start_shards('board', 'SELECT page, count(*) AS n, max(v) AS m FROM ev GROUP BY page');

# 4 writers through the coordinator while the merges run
my @h = writers(4, 200);
for (1 .. 6)
{
	merge('pages');
	merge('board');
	sleep 1;
}
$_->finish for @h;
catch_up('pages');
catch_up('board');
merge('pages');
merge('board');
is($c->safe_psql('postgres', 'SELECT count(*) FROM ev'), '8000', 'every writer committed');
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

done_testing();
