# Exactly-once of every distributed shape with a worker node killed in the
# middle of a batch: four distributed queries over one distributed stream,
# started on the coordinator by an unprivileged role (an append query, a
# keyed upsert, an aggregation grouped by the distribution column and a
# global aggregation merged on the coordinator), four concurrent writers
# through the coordinator, one worker node stopped in immediate mode while a
# batch of each query's shards there is in flight (held in its middle by an
# advisory lock the queries' function waits on) and started again: each
# interrupted batch is replayed and committed once, and every target equals
# the recomputation over every row of the stream.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use PgsCitus;

my ($c, @w) = PgsCitus::cluster('eo', workers => 2, conf => "citus.shard_count = 4\npg_streaming.max_workers = 8");
my ($victim) = $w[0];

# the owner, an unprivileged role; a function that makes batches slow and
# waits while a session holds advisory lock 4242 on the node, to hold a
# batch in flight (Citus creates both on the workers)
$c->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	GRANT CREATE ON SCHEMA public TO alice;
	CREATE FUNCTION slow(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE
	AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(4242); PERFORM pg_sleep(0.002); RETURN x; END $$;
	CREATE TABLE ev (tenant int, id bigint, page text, v int);
	SELECT stream.create_stream('ev');
	SELECT create_distributed_table('ev', 'tenant');
	GRANT SELECT, INSERT ON ev TO alice;
});

$c->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT stream.start_query('x_app', 'SELECT tenant, id, page, slow(v) AS v FROM ev', 'x_app_t',
		trigger => '200 ms', max_rows_per_batch => 200);
	SELECT stream.start_query('x_ups', 'SELECT tenant, id, slow(v) AS v FROM ev', 'x_ups_t',
		output_mode => 'update', key => '{tenant, id}', trigger => '200 ms', max_rows_per_batch => 300);
	SELECT stream.start_query('x_agg', 'SELECT tenant, count(*) AS n, sum(slow(v)) AS s FROM ev GROUP BY tenant',
		'x_agg_t', output_mode => 'update', trigger => '200 ms', max_rows_per_batch => 300);
	SELECT stream.start_query('x_glob', 'SELECT page, count(*) AS n, sum(slow(v)) AS s FROM ev GROUP BY page',
		'x_glob_t', output_mode => 'update', trigger => '200 ms', max_rows_per_batch => 300);
});
is($c->safe_psql('postgres', q{
	SELECT string_agg(name || ':' || placement, ' ' ORDER BY name) FROM stream.distributed_queries}),
	'x_agg:per_shard x_app:per_shard x_glob:merge x_ups:per_shard',
	'four distributed queries, three per shard and one merged');
ok($c->poll_query_until('postgres', q{
	SELECT bool_and(applied_status = 'active') FROM stream.distributed_query_shards}),
	"the coordinator's scheduler starts every shard query");

# four writers through the coordinator: many small transactions for ~10 s;
# a transaction that meets the stopped node fails, and the stream holds
# only what committed
my (@writers, @werr);
for my $i (1 .. 4)
{
	my @cmds = ('-c', 'SET ROLE alice');
	for my $b (1 .. 50)
	{
		push @cmds, '-c', "INSERT INTO ev SELECT (random() * 100)::int, $i * 1000000 + $b * 100 + g,"
		  . " 'p' || (g % 7), g % 13 FROM generate_series(1, 10) g", '-c', 'SELECT pg_sleep(0.2)';
	}
	push @writers, IPC::Run::start([ 'psql', '-X', '-q', '-d', $c->connstr('postgres'), @cmds ],
		'>', \my $out, '2>', \$werr[$i]);
}

# the victim's batches in flight: an offsets row without a commit
my $pending_sql = q{
	SELECT coalesce(string_agg(d.name || ':' || o.batch_id, ',' ORDER BY d.name), '')
	  FROM stream.checkpoint_offsets o JOIN stream.query_defs d USING (query_id)
	 WHERE NOT EXISTS (SELECT 1 FROM stream.checkpoint_commits k
					    WHERE k.query_id = o.query_id AND k.batch_id = o.batch_id)};
$c->poll_query_until('postgres', 'SELECT count(*) >= 200 FROM ev') or die 'no ingest';
# a session on the victim holds the lock: the append query's next batch
# there waits in the middle, its offsets row written, its commit not
my $blocker = IPC::Run::start([ 'psql', '-X', '-q', '-d', $victim->connstr('postgres'), '-c',
	'SELECT pg_advisory_lock(4242); SELECT pg_sleep(60)' ], '>', \my $bout, '2>', \my $berr);
$victim->poll_query_until('postgres', q{
	SELECT count(DISTINCT d.name_prefix) = 4 FROM (
		SELECT split_part(d.name, '_s', 1) AS name_prefix
		  FROM stream.checkpoint_offsets o JOIN stream.query_defs d USING (query_id)
		 WHERE NOT EXISTS (SELECT 1 FROM stream.checkpoint_commits k
						    WHERE k.query_id = o.query_id AND k.batch_id = o.batch_id)) d})
  or die 'the four queries do not all wait on the node';
ok($victim->safe_psql('postgres', q{
	SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted}) eq 't',
	'batches wait on the lock in their middle');
my $pending = $victim->safe_psql('postgres', $pending_sql);
$victim->stop('immediate');
eval { $blocker->finish };
note("stopped in the middle of $pending");
is(join(' ', map { $pending =~ /\b${_}_s\d+:\d+/ ? $_ : () } qw(x_agg x_app x_glob x_ups)),
	'x_agg x_app x_glob x_ups', 'the node was stopped in the middle of a batch of each query');

# started again with no worker for batches: the batch is still pending, so
# it had not committed when the node stopped; then batches run again
sleep 1;
$victim->append_conf('postgresql.conf', 'pg_streaming.max_workers = 0');
$victim->start;
is($victim->safe_psql('postgres', $pending_sql), $pending,
	'after the restart, the interrupted batches are still without a commit');
$victim->append_conf('postgresql.conf', 'pg_streaming.max_workers = 4');
$victim->reload;

$_->finish for @writers;
my $failed = () = join('', map { $_ // '' } @werr) =~ /ERROR/g;
note("$failed writer transactions failed while the node was down");
# two-phase commits the stop interrupted are settled before counting
$c->safe_psql('postgres', 'SELECT recover_prepared_transactions()');
my $rows = $c->safe_psql('postgres', 'SELECT count(*) FROM ev');
note("$rows rows in the stream");
ok($rows > 1000, 'the writers committed while the node was stopped and after');

for my $q (qw(x_app x_ups x_agg x_glob))
{
	$c->safe_psql('postgres', "SET ROLE alice; CALL stream.process_all_available('$q')");
}

is($victim->safe_psql('postgres', $pending_sql), '', 'no batch is left pending on the node');
for my $p (split /,/, $pending)
{
	my ($pq, $pb) = split /:/, $p;
	is($victim->safe_psql('postgres', qq{
		SELECT count(*) FROM stream.checkpoint_commits k JOIN stream.query_defs d USING (query_id)
		 WHERE d.name = '$pq' AND k.batch_id = $pb}), '1',
		"the interrupted batch $p committed once after the restart");
}

is($c->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM (SELECT tenant, id, page, v FROM ev EXCEPT ALL SELECT tenant, id, page, v FROM x_app_t) a)
	|| '/' || (SELECT count(*) FROM (SELECT tenant, id, page, v FROM x_app_t EXCEPT ALL SELECT tenant, id, page, v FROM ev) b)}),
	'0/0', 'append: the target holds every row of the stream once');
is($c->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM (SELECT tenant, id, v FROM ev EXCEPT ALL SELECT tenant, id, v FROM x_ups_t) a)
	|| '/' || (SELECT count(*) FROM (SELECT tenant, id, v FROM x_ups_t EXCEPT ALL SELECT tenant, id, v FROM ev) b)}),
	'0/0', 'keyed upsert: every key once, with its row');
is($c->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM (SELECT tenant, count(*), sum(v) FROM ev GROUP BY tenant
		EXCEPT ALL SELECT tenant, n, s FROM x_agg_t) a)
	|| '/' || (SELECT count(*) FROM (SELECT tenant, n, s FROM x_agg_t
		EXCEPT ALL SELECT tenant, count(*), sum(v) FROM ev GROUP BY tenant) b)}),
	'0/0', 'aggregation by the distribution column: every group with its count and sum');
is($c->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM (SELECT page, count(*), sum(v) FROM ev GROUP BY page
		EXCEPT ALL SELECT page, n, s FROM x_glob_t) a)
	|| '/' || (SELECT count(*) FROM (SELECT page, n, s FROM x_glob_t
		EXCEPT ALL SELECT page, count(*), sum(v) FROM ev GROUP BY page) b)}),
	'0/0', 'global aggregation merged on the coordinator: every group with its count and sum');

for my $n ($c, @w)
{
	unlike(slurp_file($n->logfile), qr/terminated by signal/, 'no process of ' . $n->name . ' crashed');
}

done_testing();
