# Three layers chained with target_is_stream (raw -> bronze -> silver ->
# gold), run by the background worker while rows arrive in many
# transactions, with the server killed (immediate stop) while a worker
# holds a batch of the middle layer half-written, and started again.  Every raw row reaches bronze and silver once, gold equals
# the pipeline recomputed over the raw rows, and each batch the workers
# ran says where its time went: parts within its duration, the commit of
# the batch before when the same worker ran it, the state's size.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('layersworker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
timezone = 'UTC'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE ROLE layer_user LOGIN;
	GRANT CREATE ON SCHEMA public TO layer_user;
});
my @as_user = (extra_params => [ '-U', 'layer_user' ]);
$node->safe_psql('postgres', q{
	CREATE TABLE raw (id int, line text, at timestamptz);
	SELECT stream.create_stream('raw');
	CREATE TABLE devices (device text PRIMARY KEY, room text);
	INSERT INTO devices SELECT 'd' || i, CASE WHEN i % 3 = 0 THEN 'hall' ELSE 'kitchen' END
	  FROM generate_series(0, 9) i;
	SELECT stream.start_query('bronze',
		$$SELECT id, split_part(line, ',', 1) AS device,
		         split_part(line, ',', 2)::numeric AS reading, at
		    FROM raw WHERE line LIKE '%,%'$$,
		'bronze', trigger => '100 ms', target_is_stream => true);
	SELECT stream.start_query('silver',
		$$SELECT b.id, d.room, b.reading, b.at
		    FROM bronze b JOIN devices d USING (device) WHERE b.reading >= 0$$,
		'silver', trigger => '100 ms', target_is_stream => true);
	SELECT stream.start_query('gold',
		$$SELECT room, stream.tumble(at, '1 hour') AS hour, count(*) AS n,
		         sum(reading) AS total
		    FROM silver GROUP BY 1, 2$$,
		'gold', output_mode => 'update', trigger => '100 ms');
	-- silver's inserts wait while another session holds lock 4242
	CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_advisory_lock_shared(4242);
		PERFORM pg_advisory_unlock_shared(4242);
		RETURN NEW;
	END $$;
	CREATE TRIGGER gate BEFORE INSERT ON silver FOR EACH ROW EXECUTE FUNCTION gate();
}, @as_user);

# one transaction of 40 raw lines: some malformed, some of unknown devices,
# some negative (filtered by silver)
sub feed
{
	my ($from) = @_;
	$node->safe_psql('postgres', qq{
		INSERT INTO raw
		SELECT i,
		       CASE WHEN i % 17 = 0 THEN 'garbage'
		            WHEN i % 13 = 0 THEN 'x' || (i % 10) || ',' || i
		            ELSE 'd' || (i % 10) || ',' || ((i % 29) - 3) END,
		       timestamptz '2026-01-01 10:00' + i * interval '1 minute'
		  FROM generate_series($from, $from + 39) i;
	}, @as_user);
}

my ($gin, $gout, $gerr) = ('', '', '');
my $gate = IPC::Run::start(
	[ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$gin, '>', \$gout, '2>', \$gerr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$gin .= "SELECT 'locked' FROM pg_advisory_lock(4242);\n";
$gate->pump until $gout =~ /locked/ || !$gate->pumpable;

my $next = 1;
for my $round (1 .. 10)
{
	feed($next);
	$next += 40;
}
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'pg_streaming worker' AND wait_event = 'advisory'}),
	'a worker holds a batch of silver half-written');
ok($node->poll_query_until('postgres', q{SELECT count(*) > 0 FROM bronze}),
	'bronze has rows');
is($node->safe_psql('postgres', q{SELECT count(*) FROM silver}), '0',
	'silver has none yet');

# killed with silver's batch in flight, started again: each query goes on
# from its checkpoint, silver's batch replayed
$node->stop('immediate');
$gate->kill_kill;
$node->start;
for my $round (11 .. 20)
{
	feed($next);
	$next += 40;
}

my $recomputed = q{
	SELECT d.room, stream.tumble(r.at, '1 hour') AS hour, count(*) AS n,
	       sum(split_part(r.line, ',', 2)::numeric) AS total
	  FROM raw r JOIN devices d ON d.device = split_part(r.line, ',', 1)
	 WHERE r.line LIKE '%,%' AND split_part(r.line, ',', 2)::numeric >= 0
	 GROUP BY 1, 2};
ok($node->poll_query_until('postgres', qq{
	SELECT NOT EXISTS (SELECT * FROM gold EXCEPT $recomputed)
	   AND NOT EXISTS ($recomputed EXCEPT SELECT * FROM gold)
	   AND (SELECT count(*) FROM silver) =
	       (SELECT count(*) FROM raw r JOIN devices d ON d.device = split_part(r.line, ',', 1)
	         WHERE r.line LIKE '%,%' AND split_part(r.line, ',', 2)::numeric >= 0)}),
	'gold equals the pipeline recomputed over the raw rows');
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM raw WHERE line LIKE '%,%') || ' '
	       || (SELECT count(*) FROM bronze) || ' ' || (SELECT count(DISTINCT id) FROM bronze)}),
	join(' ', (800 - int(800 / 17)) x 3),
	'every well-formed raw row is in bronze once');
is($node->safe_psql('postgres', q{
	SELECT count(*) - count(DISTINCT id) FROM silver}), '0', 'and in silver once');
is($node->safe_psql('postgres', q{
	SELECT bool_or(replayed) FROM stream.progress WHERE query = 'silver'}, @as_user),
	't', 'silver replayed the batch the stop killed');
is($node->safe_psql('postgres', q{
	SELECT string_agg(name || ':' || array_to_string(upstream, ',') || '>'
	                  || array_to_string(downstream, ','), ' ' ORDER BY name)
	  FROM stream.queries}, @as_user),
	'bronze:>silver gold:silver> silver:bronze>gold', 'the layers, upstream and downstream');

# what the workers measured
is($node->safe_psql('postgres', q{
	SELECT string_agg(query || ' ' || ok::text, ', ' ORDER BY query)
	  FROM (SELECT query,
	               bool_and(plan_ms >= 0 AND read_ms >= 0 AND merge_ms >= 0 AND write_ms >= 0
	                        AND plan_ms + read_ms + merge_ms + write_ms <= duration_ms) AS ok
	          FROM stream.progress GROUP BY query) p}, @as_user),
	'bronze true, gold true, silver true',
	'every batch\'s parts are measured and within its duration');
# A commit's time is known only when the worker that committed a batch runs
# the query's next one too; which worker runs which batch depends on the
# load, so the three layers together are asked for one measured commit.
is($node->safe_psql('postgres', q{
	SELECT count(commit_ms) > 0 AND bool_and(coalesce(commit_ms, 0) >= 0)
	  FROM stream.progress}, @as_user),
	't',
	'the workers measured commits, none negative');
is($node->safe_psql('postgres', q{
	SELECT string_agg(query || ' ' || coalesce(ok::text, 'none'), ', ' ORDER BY query)
	  FROM (SELECT query, bool_and(state_bytes > 0) AS ok
	          FROM stream.progress GROUP BY query) p}, @as_user),
	'bronze none, gold true, silver none',
	'the aggregation\'s state has a size, the other layers have no state');

$node->stop;
done_testing();
