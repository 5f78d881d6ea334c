# An aggregation's batch whose rows lie in two ranges of blocks (retention
# recycled blocks before the stream's end, which writers fill while the
# end still grows) reads both; a batch with one range reads it by a single
# scan.  Under a steady ingest with retention, the aggregation counts
# every committed row exactly once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('agg_two_ranges');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
pg_streaming.retention_naptime = '300ms'
max_worker_processes = 16
autovacuum = off
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (id bigint, k int, pad text);
	SELECT stream.create_stream('ev');
	-- a query that keeps up, so that retention recycles what it read
	SELECT stream.start_query('keep_up', 'SELECT id FROM ev', 'ev_out', trigger => '100 ms');
	-- the aggregation, run below by hand, whose plans are logged
	SELECT stream.start_query('agg', 'SELECT k, count(*) AS n, sum(id) AS s FROM ev GROUP BY k',
	                          'agg_out', output_mode => 'update', trigger => '1 hour');
	SELECT stream.set_retention('ev', '200 ms');
	CREATE SEQUENCE ids;
	CREATE TABLE written (id bigint, k int);
});

sub start_writer
{
	my ($iterations) = @_;
	my ($stdout, $stderr) = ('', '');
	my $sql = qq{
		DO \$\$
		BEGIN
			FOR i IN 1..$iterations LOOP
				WITH n AS (SELECT nextval('ids') AS id FROM generate_series(1, 40)),
				     s AS (INSERT INTO ev SELECT id, id % 7, repeat('p', 200) FROM n RETURNING id, k)
				INSERT INTO written SELECT id, k FROM s;
				COMMIT;
				PERFORM pg_sleep(0.01);
			END LOOP;
		END \$\$;
	};
	return IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c', $sql ],
		'>', \$stdout, '2>', \$stderr);
}

# batches of the aggregation while writers fill recycled blocks, each
# batch's plan in the log
my @writers = map { start_writer(300) } (1, 2);
my $batches = q{
	LOAD 'auto_explain';
	SET auto_explain.log_min_duration = 0;
	SET auto_explain.log_nested_statements = on;
	SET auto_explain.log_format = 'json';
};
$batches .= "CALL stream.process_batch('agg'); SELECT pg_sleep(0.05);\n" for (1 .. 120);
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', $batches);
$_->finish for @writers;
$node->safe_psql('postgres', q{CALL stream.process_all_available('agg')});

cmp_ok($node->safe_psql('postgres', q{SELECT blocks_recycled FROM stream.stream_retention}),
	'>', 0, 'retention recycled blocks');

# which plans the aggregation's partial statement ran
my $log = slurp_file($node->logfile, $log_offset);
my ($one, $two) = (0, 0);
for my $entry (split /LOG:  duration: /, $log)
{
	next unless $entry =~ /"Partial Mode": "Partial"/ && $entry =~ /GROUP BY k/;
	my $scans = () = $entry =~ /"Node Type": "Tid Range Scan"/g;
	$one++ if $scans == 1;
	$two++ if $scans == 2;
}
note "partial statements with one range: $one, with two: $two";
cmp_ok($one, '>', 0, 'batches with one range of blocks read it by one scan');
cmp_ok($two, '>', 0, 'batches with two ranges of blocks read both');

is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT k, count(*) AS n, sum(id) AS s FROM written GROUP BY k) w
	  FULL JOIN agg_out a USING (k)
	 WHERE a.n IS DISTINCT FROM w.n OR a.s IS DISTINCT FROM w.s}), '0',
	'the aggregation counted every committed row exactly once');
is($node->safe_psql('postgres', q{SELECT sum(n) = (SELECT count(*) FROM written) FROM agg_out}),
	't', 'no row counted twice');

$node->stop;
done_testing();
