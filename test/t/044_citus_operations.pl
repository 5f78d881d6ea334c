# Operations on a Citus cluster with distributed streams: Citus's shard
# moves, copies, splits and rebalances are refused on the coordinator while
# a distributed query holds the shards (and work on a stream without one);
# a worker node stopped in immediate mode in the middle of a batch catches
# up exactly once; the coordinator's restart stops nothing on the workers;
# a dump of the coordinator restores into a new database of the cluster,
# whose streams are distributed again by hand.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsCitus;
use IPC::Run;

my ($c, @w) = PgsCitus::cluster('ops', workers => 2);
my ($w1, $w2) = @w;
my ($p1, $p2) = ($w1->port, $w2->port);

$c->safe_psql('postgres', q{
	SET citus.shard_count = 4;
	CREATE TABLE ev (tenant int, v int);
	SELECT stream.create_stream('ev');
	SELECT create_distributed_table('ev', 'tenant');
	CREATE TABLE tgt (tenant int, v int);
	SELECT create_distributed_table('tgt', 'tenant', colocate_with => 'ev');
	CREATE TABLE other (tenant int, v int);
	SELECT stream.create_stream('other');
	SELECT create_distributed_table('other', 'tenant', colocate_with => 'none');
	INSERT INTO ev SELECT g % 10, g FROM generate_series(1, 1000) g;
	INSERT INTO other SELECT g % 10, g FROM generate_series(1, 1000) g;
	-- the row the coordinator keeps for a query started on it
	INSERT INTO stream.distributed_queries
		(name, owner, query_text, search_path, stream_relid, target_relid,
		 distribution_column, placement)
	VALUES ('q', current_user::regrole, 'SELECT tenant, v FROM ev', 'public',
			'ev', 'tgt', 'tenant', 'per_shard');
});

# every placement, to show that a refused call changed none
my $placements_sql = q{
	SELECT string_agg(s.logicalrelid::text || ':' || s.shardid || '@' || p.groupid,
					  ',' ORDER BY s.shardid, p.groupid)
	  FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)};
my $before = $c->safe_psql('postgres', $placements_sql);

# a shard of a table on a worker
sub shard_on
{
	my ($table, $port) = @_;
	return $c->safe_psql('postgres', qq{
		SELECT s.shardid FROM pg_dist_shard s
		  JOIN pg_dist_placement p USING (shardid)
		  JOIN pg_dist_node n USING (groupid)
		 WHERE s.logicalrelid = '$table'::regclass AND n.nodeport = $port
		 ORDER BY s.shardid LIMIT 1});
}
my $node1 = $c->safe_psql('postgres', "SELECT nodeid FROM pg_dist_node WHERE nodeport = $p1");
my $node2 = $c->safe_psql('postgres', "SELECT nodeid FROM pg_dist_node WHERE nodeport = $p2");
my $ev1 = shard_on('ev', $p1);
my $tgt1 = shard_on('tgt', $p1);
my $other1 = shard_on('other', $p1);

# refused, with SQLSTATE 0A000, the stream named, the detail and the hint
sub refused
{
	my ($sql, $name, $stream, $query) = @_;
	$stream //= 'public.ev';
	$query //= 'q';
	my ($ret, $out, $err) = $c->psql('postgres',
		"\\set VERBOSITY verbose\n$sql", on_error_stop => 1);
	note("$name: $err");
	isnt($ret, 0, "$name: refused");
	like($err, qr/ERROR:  0A000: cannot move shards of stream "\Q$stream\E"/,
		"$name: 0A000 naming the stream");
	like($err, qr/DETAIL:  .*distributed query "\Q$query\E" reads/s, "$name: detail");
	like($err, qr/HINT:  Stop the stream's writers/, "$name: hint");
}

refused("SELECT citus_move_shard_placement($ev1, '127.0.0.1', $p1, '127.0.0.1', $p2, 'block_writes')",
	'move of a stream shard');
refused("SELECT citus_move_shard_placement($tgt1, '127.0.0.1', $p1, '127.0.0.1', $p2, 'block_writes')",
	'move of the co-located target shard');
refused("SELECT citus_move_shard_placement($ev1, $node1, $node2, 'block_writes')",
	'move by node ids');
refused("SELECT master_move_shard_placement($ev1, '127.0.0.1', $p1, '127.0.0.1', $p2, 'block_writes')",
	'master_move_shard_placement');
refused("SELECT citus_copy_shard_placement($ev1, '127.0.0.1', $p1, '127.0.0.1', $p2, transfer_mode => 'block_writes')",
	'copy of a stream shard');
refused("SELECT citus_copy_shard_placement($ev1, $node1, $node2, 'block_writes')",
	'copy by node ids');
refused("SELECT citus_split_shard_by_split_points($ev1, ARRAY[(SELECT (shardminvalue::int + 100)::text FROM pg_dist_shard WHERE shardid = $ev1)], ARRAY[$node1, $node1], 'block_writes')",
	'split of a stream shard');
refused("SELECT isolate_tenant_to_new_shard('ev', 5, 'CASCADE', 'block_writes')",
	'isolate_tenant_to_new_shard');
refused("SELECT replicate_table_shards('ev', 2, shard_transfer_mode => 'block_writes')",
	'replicate_table_shards');
refused("SELECT citus_drain_node('127.0.0.1', $p1, 'block_writes')",
	'citus_drain_node');

# the shard id read from a table in the same statement
refused("SELECT citus_move_shard_placement(shardid, '127.0.0.1', $p1, '127.0.0.1', $p2, 'block_writes')
		   FROM pg_dist_shard WHERE shardid = $ev1",
	'shard id read by the statement');

# from PL/pgSQL through CALL, and from a SQL function kept parsed
$c->safe_psql('postgres', qq{
	CREATE PROCEDURE move_it(s bigint) LANGUAGE plpgsql AS \$\$
	BEGIN
		PERFORM citus_move_shard_placement(s, '127.0.0.1', $p1, '127.0.0.1', $p2, 'block_writes');
	END \$\$;
	CREATE FUNCTION move_atomic(s bigint) RETURNS void LANGUAGE sql
	BEGIN ATOMIC
		SELECT citus_move_shard_placement(s, '127.0.0.1', $p1, '127.0.0.1', $p2, 'block_writes');
	END;
	CREATE FUNCTION move_inlined(s bigint) RETURNS void LANGUAGE sql AS
		\$\$ SELECT citus_move_shard_placement(s, '127.0.0.1', $p1, '127.0.0.1', $p2, 'block_writes') \$\$;
});
refused("CALL move_it($ev1)", 'CALL of a procedure that moves');
refused("SELECT move_atomic($ev1)", 'SQL function, BEGIN ATOMIC');
refused("SELECT move_inlined($ev1)", 'SQL function, inlined');
refused("PREPARE mv(bigint) AS SELECT citus_move_shard_placement(\$1, '127.0.0.1', $p1, '127.0.0.1', $p2, 'block_writes'); EXECUTE mv($ev1)",
	'prepared statement');

is($c->safe_psql('postgres', $placements_sql), $before,
	'no placement changed by the refused calls');

# a new node: a rebalance would move shards of the stream's group too
my $w3 = PgsCitus::add_worker($c, 'ops_w3');
my $p3 = $w3->port;
ok($c->safe_psql('postgres', q{
	SELECT count(*) FROM get_rebalance_table_shards_plan()
	 WHERE table_name IN ('ev'::regclass, 'tgt'::regclass)}) > 0,
	'the rebalance plan moves shards of the stream');
refused("SELECT rebalance_table_shards(shard_transfer_mode => 'block_writes')",
	'rebalance_table_shards');
refused("SELECT rebalance_table_shards('ev', shard_transfer_mode => 'block_writes')",
	'rebalance_table_shards of the stream');
refused("SELECT citus_rebalance_start(shard_transfer_mode => 'block_writes')",
	'citus_rebalance_start');
is($c->safe_psql('postgres', 'SELECT count(*) FROM pg_dist_background_job'), '0',
	'no background rebalance was scheduled');
is($c->safe_psql('postgres', $placements_sql), $before,
	'refused as a whole: not even the other table\'s shards moved');

# a stream without queries moves, and so does a table of another group
# during a rebalance limited to it
$c->safe_psql('postgres', "SELECT citus_move_shard_placement($other1, '127.0.0.1', $p1, '127.0.0.1', $p3, 'block_writes')");
is($c->safe_psql('postgres', qq{
	SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
	 WHERE p.shardid = $other1}), $p3, 'the shard of a stream without queries moved');
$c->safe_psql('postgres', "SELECT rebalance_table_shards('other', shard_transfer_mode => 'block_writes')");
is($c->safe_psql('postgres', 'SELECT count(*) FROM other'), '1000',
	'the moved stream keeps its rows');

# citus_remove_node refuses a node that holds shards
my ($ret, $out, $err) = $c->psql('postgres',
	"SELECT citus_remove_node('127.0.0.1', $p1)");
note($err);
isnt($ret, 0, 'citus_remove_node refuses a node holding shards');
like($err, qr/cannot remove or disable the node|has active shard placements|shard placements/,
	'citus_remove_node says why');

# once the query is dropped on every node, the stream's shards move
$c->safe_psql('postgres', q{
	UPDATE stream.distributed_queries SET desired_status = 'dropped' WHERE name = 'q';
	INSERT INTO stream.distributed_query_shards (name, shardid, shard_query, applied_status)
	VALUES ('q', 1, 'q_s1', 'active')});
refused("SELECT citus_move_shard_placement($ev1, '127.0.0.1', $p1, '127.0.0.1', $p3, 'block_writes')",
	'a dropped query that a node still runs');
$c->safe_psql('postgres', q{
	UPDATE stream.distributed_query_shards SET applied_status = 'dropped' WHERE name = 'q'});
$c->safe_psql('postgres', "SELECT citus_move_shard_placement($ev1, '127.0.0.1', $p1, '127.0.0.1', $p3, 'block_writes')");
is($c->safe_psql('postgres', qq{
	SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
	 WHERE p.shardid = $ev1}), $p3, 'the stream\'s shard moves once its query is dropped everywhere');
is($c->safe_psql('postgres', 'SELECT count(*) FROM ev'), '1000', 'and keeps its rows');

##########################################################################
# A worker node stopped in immediate mode in the middle of a batch.
#
# The coordinator's stream.start_query starts one shard query per shard
# of the stream, on the node holding it.
my @nodes = ($w1, $w2, $w3);
my %node_by_port = map { $_->port => $_ } @nodes;

# a batch of 200 rows takes about a second (Citus creates the function on
# every node)
$c->safe_psql('postgres', q{
	CREATE FUNCTION slow(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE
	AS $$ BEGIN PERFORM pg_sleep(0.005); RETURN x; END $$});
$c->safe_psql('postgres', q{
	SET citus.shard_count = 6;
	CREATE TABLE kv (tenant int, v int);
	SELECT stream.create_stream('kv');
	SELECT create_distributed_table('kv', 'tenant');
	CREATE TABLE kt (tenant int, v int);
	SELECT create_distributed_table('kt', 'tenant', colocate_with => 'kv');
});
# each shard of kv: its id, its node, the co-located shard of kt
my @shards = map { [ split /\|/ ] } split /\n/, $c->safe_psql('postgres', q{
	SELECT s.shardid, n.nodeport, shard_name('kv', s.shardid), shard_name('kt', t.shardid)
	  FROM pg_dist_shard s
	  JOIN pg_dist_shard t ON t.logicalrelid = 'kt'::regclass
	   AND t.shardminvalue = s.shardminvalue
	  JOIN pg_dist_placement p ON p.shardid = s.shardid
	  JOIN pg_dist_node n ON n.groupid = p.groupid
	 WHERE s.logicalrelid = 'kv'::regclass ORDER BY s.shardid});
$c->safe_psql('postgres', q{
	SELECT stream.start_query('kq', 'SELECT tenant, slow(v) AS v FROM kv', 'kt',
							  max_rows_per_batch => 200)});
$c->poll_query_until('postgres', "SELECT stream._reconcile_distributed('kq') = 0")
  or die 'the shard queries do not start';

# a shard move during ingest is refused, and nothing is lost or doubled
my ($wout, $werr) = ('', '');
my $writer = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $c->connstr('postgres'), '-c', q{
		DO $$
		BEGIN
			FOR i IN 1..40 LOOP
				INSERT INTO kv SELECT g % 60, 1000000 + i * 100 + g FROM generate_series(1, 60) g;
				COMMIT;
				PERFORM pg_sleep(0.05);
			END LOOP;
		END $$} ],
	'>', \$wout, '2>', \$werr);
$c->poll_query_until('postgres', 'SELECT count(*) >= 600 FROM kv') or die 'no ingest';
my $target_port = $shards[0][1] == $p1 ? $p2 : $p1;
refused("SELECT citus_move_shard_placement($shards[0][0], '127.0.0.1', $shards[0][1], '127.0.0.1', $target_port, 'block_writes')",
	'move of a stream shard during ingest', 'public.kv', 'kq');
$writer->finish;
is($werr, '', 'the writer was not disturbed');
is($c->safe_psql('postgres', 'SELECT count(*) FROM kv'), '2400', 'every row of the writer is in the stream');
ok($c->poll_query_until('postgres', 'SELECT count(*) = 2400 FROM kt'),
	'the shard queries delivered them');
is($c->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM (SELECT tenant, v FROM kv EXCEPT ALL SELECT tenant, v FROM kt) a),
		   (SELECT count(*) FROM (SELECT tenant, v FROM kt EXCEPT ALL SELECT tenant, v FROM kv) b)}),
	'0|0', 'exactly once across the refused move');

# the shard queries' pending batches on a node: an offsets row without a commit
my $pending_sql = q{
	SELECT coalesce(string_agg(d.name || ':' || o.batch_id, ',' ORDER BY d.name), '')
	  FROM stream.checkpoint_offsets o JOIN stream.query_defs d USING (query_id)
	 WHERE NOT EXISTS (SELECT 1 FROM stream.checkpoint_commits k
					    WHERE k.query_id = o.query_id AND k.batch_id = o.batch_id)};
my ($victim) = grep { $_->port == $shards[0][1] } @nodes;

$c->safe_psql('postgres', 'INSERT INTO kv SELECT g % 60, g FROM generate_series(1, 6000) g');
$victim->poll_query_until('postgres', "SELECT ($pending_sql) <> ''")
  or die 'no batch in flight: ' . $victim->safe_psql('postgres', q{
	SELECT name, status, last_error FROM stream.queries;
	SELECT count(*) FROM stream.checkpoint_commits;
	SELECT pid, backend_type, state, left(query, 60) FROM pg_stat_activity;
	SELECT * FROM stream.streams});
my $pending = $victim->safe_psql('postgres', $pending_sql);
$victim->stop('immediate');
note("stopped in the middle of $pending");
ok($pending ne '', 'the node was stopped in the middle of a batch');

# writes to the other nodes' shards go on while it is down
$c->safe_psql('postgres', q{
	INSERT INTO kv SELECT tenant, 100000 + v FROM
		(SELECT g % 60 AS tenant, g AS v FROM generate_series(1, 600) g) r
	 WHERE get_shard_id_for_distribution_column('kv', tenant) IN
		   (SELECT p.shardid FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
			 WHERE n.nodeport <> } . $victim->port . q{)});
$victim->start;
$c->safe_psql('postgres', 'INSERT INTO kv SELECT g % 60, 200000 + g FROM generate_series(1, 600) g');

my $total = $c->safe_psql('postgres', 'SELECT count(*) FROM kv');
ok($c->poll_query_until('postgres', "SELECT count(*) = $total FROM kt"),
	'the target caught up after the node\'s restart');
is($c->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM (SELECT tenant, v FROM kv EXCEPT ALL SELECT tenant, v FROM kt) a),
		   (SELECT count(*) FROM (SELECT tenant, v FROM kt EXCEPT ALL SELECT tenant, v FROM kv) b)}),
	'0|0', 'exactly once: the target holds every row of the stream once');
is($victim->safe_psql('postgres', $pending_sql), '', 'no batch is left pending on the node');
# the batch in flight was replayed and committed once
my ($pq, $pb) = split /:/, (split /,/, $pending)[0];
is($victim->safe_psql('postgres', qq{
	SELECT count(*) FROM stream.checkpoint_commits k JOIN stream.query_defs d USING (query_id)
	 WHERE d.name = '$pq' AND k.batch_id = $pb}), '1',
	'the interrupted batch committed once after the restart');

##########################################################################
# The coordinator's restart stops nothing on the workers: while it is down,
# writes routed by a worker keep reaching the shards and the shard queries
# keep committing.
sub commits_on_workers
{
	my $n = 0;
	$n += $_->safe_psql('postgres', 'SELECT count(*) FROM stream.checkpoint_commits') for @nodes;
	return $n;
}
my $commits_before = commits_on_workers();
$c->stop('immediate');
$w2->safe_psql('postgres', 'INSERT INTO kv SELECT g % 60, 300000 + g FROM generate_series(1, 1200) g');
my $total_down = $w2->safe_psql('postgres', 'SELECT count(*) FROM kv');
ok($w2->poll_query_until('postgres', "SELECT count(*) = $total_down FROM kt"),
	'with the coordinator down, the shard queries delivered the rows written through a worker');
ok(commits_on_workers() > $commits_before, 'and committed batches meanwhile');
$c->start;
is($c->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM (SELECT tenant, v FROM kv EXCEPT ALL SELECT tenant, v FROM kt) a),
		   (SELECT count(*) FROM (SELECT tenant, v FROM kt EXCEPT ALL SELECT tenant, v FROM kv) b)}),
	'0|0', 'after the coordinator\'s restart, still every row once');
my $active = 0;
$active += $_->safe_psql('postgres',
	"SELECT count(*) FROM stream.queries WHERE name LIKE 'kq_s%' AND status = 'active'") for @nodes;
is($active, scalar(@shards), 'every shard query is still active');

##########################################################################
# The safe way to move the shards of a stream a distributed query reads:
# writers stopped, the query caught up and dropped on every node, the move,
# the query started again from 'latest' into the same target.  Every row
# reaches the target once.
{
	$c->safe_psql('postgres', "CALL stream.process_all_available('kq')");
	is($c->safe_psql('postgres', 'SELECT (SELECT count(*) FROM kv) = (SELECT count(*) FROM kt)'),
		't', 'safe move: the query caught up');
	$c->safe_psql('postgres', "SELECT stream.drop_query('kq')");
	ok($c->poll_query_until('postgres', q{
		SELECT stream._reconcile_distributed('kq') = 0
		   AND NOT EXISTS (SELECT 1 FROM stream.distributed_queries WHERE name = 'kq')}),
		'safe move: the query dropped on every node');
	my ($sid, $sport) = @{ $shards[0] };
	my $to = (grep { $_ != $sport } map { $_->port } @nodes)[0];
	$c->safe_psql('postgres', "SELECT citus_move_shard_placement($sid, '127.0.0.1', $sport, '127.0.0.1', $to, 'block_writes')");
	is($c->safe_psql('postgres', qq{
		SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
		 WHERE p.shardid = $sid}), $to, 'safe move: the shard moved');
	$c->safe_psql('postgres', q{
		SELECT stream.start_query('kq', 'SELECT tenant, slow(v) AS v FROM kv', 'kt',
								  max_rows_per_batch => 200, starting_from => 'latest')});
	$c->poll_query_until('postgres', "SELECT stream._reconcile_distributed('kq') = 0")
	  or die 'the shard queries do not start again';
	$c->safe_psql('postgres', 'INSERT INTO kv SELECT g % 60, 400000 + g FROM generate_series(1, 600) g');
	my $n = $c->safe_psql('postgres', 'SELECT count(*) FROM kv');
	ok($c->poll_query_until('postgres', "SELECT count(*) = $n FROM kt"),
		'safe move: the rows written after the restart arrive');
	is($c->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM (SELECT tenant, v FROM kv EXCEPT ALL SELECT tenant, v FROM kt) a),
			   (SELECT count(*) FROM (SELECT tenant, v FROM kt EXCEPT ALL SELECT tenant, v FROM kv) b)}),
		'0|0', 'safe move: every row of the stream once in the target');
}

##########################################################################
# pg_dump of the coordinator: Citus's metadata (pg_dist_*) is not dumped,
# so a distributed table comes back as a local table (a stream as a
# stream_heap table), with every row (pg_dump reads it through the
# coordinator), and pg_streaming's catalog with the distributed queries'
# rows.  Restored in sections into a new database of the cluster, the
# tables distributed again between the definitions and the data, the rows
# go through the coordinator into the new shards.
$c->safe_psql('postgres', 'CREATE DATABASE restored');
for my $node (@nodes)
{
	$node->safe_psql('postgres', 'CREATE DATABASE restored');
	$node->safe_psql('restored', 'CREATE EXTENSION citus');
}
my $dump = PostgreSQL::Test::Utils::tempdir . '/coord.dump';
$c->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $c->connstr('postgres') ],
	'pg_dump of the coordinator');
$c->command_ok([ 'pg_restore', '--exit-on-error', '--section=pre-data',
				 '-d', $c->connstr('restored'), $dump ],
	'pg_restore of the definitions into a new database');
is($c->safe_psql('restored', q{
	SELECT (SELECT count(*) FROM pg_dist_partition),
		   (SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.oid = 'kv'::regclass)}),
	'0|stream_heap', 'restored: no Citus metadata, the stream as a stream table');
$c->safe_psql('restored', "SELECT citus_set_coordinator_host('127.0.0.1', " . $c->port . ")");
$c->safe_psql('restored', "SELECT citus_add_node('127.0.0.1', " . $_->port . ")") for @nodes;
$c->safe_psql('restored', q{
	SET citus.shard_count = 6;
	SELECT create_distributed_table('kv', 'tenant');
	SELECT create_distributed_table('kt', 'tenant', colocate_with => 'kv');
});
$c->command_ok([ 'pg_restore', '--exit-on-error', '--section=data', '--section=post-data',
				 '-d', $c->connstr('restored'), $dump ],
	'pg_restore of the data through the coordinator');
is($c->safe_psql('restored', q{
	SELECT (SELECT count(*) FROM stream.streams WHERE relid = 'kv'::regclass),
		   (SELECT count(*) FROM stream.distributed_queries WHERE name = 'kq'),
		   (SELECT count(*) FROM kv)}),
	'1|1|' . $c->safe_psql('postgres', 'SELECT count(*) FROM kv'),
	'the stream registered, the distributed queries\' rows, every row of the stream');
is($c->safe_psql('restored', q{
	SELECT (SELECT count(*) FROM (SELECT tenant, v FROM kv EXCEPT ALL SELECT tenant, v FROM kt) a),
		   (SELECT count(*) FROM (SELECT tenant, v FROM kt EXCEPT ALL SELECT tenant, v FROM kv) b)}),
	'0|0', 'distributed again: the stream and its target as they were dumped');
my $sh = $c->safe_psql('restored', q{
	SELECT n.nodeport || ' ' || shard_name('kv', s.shardid)
	  FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
	  JOIN pg_dist_node n USING (groupid)
	 WHERE s.logicalrelid = 'kv'::regclass ORDER BY s.shardid LIMIT 1});
my ($shport, $shname) = split / /, $sh;
is($node_by_port{$shport}->safe_psql('restored', qq{
	SET citus.override_table_visibility = off;
	SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
	 WHERE c.oid = 'public.$shname'::regclass}), 'stream_heap',
	'its new shards are stream tables');
# the restored rows of the distributed queries name the old cluster's
# shards: they hold the new shards in place until they are dropped
my $other_port = (grep { $_ != $shport } map { $_->port } @nodes)[0];
my ($rret, $rout, $rerr) = $c->psql('restored', qq{
	SELECT citus_move_shard_placement(shardid, '127.0.0.1', $shport, '127.0.0.1', $other_port, 'block_writes')
	  FROM pg_dist_shard WHERE shard_name('kv', shardid) = '$shname'});
like($rerr, qr/cannot move shards of stream "public\.kv"/,
	'a restored distributed query still holds its stream\'s new shards');

done_testing();
