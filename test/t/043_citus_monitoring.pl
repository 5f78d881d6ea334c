# Monitoring a distributed query from the coordinator: stream.queries shows
# it once, with its figures summed over the shards; stream.query_shards one
# row per shard with its node and the node's own figures; stream.progress
# the shards' batches; process_all_available and await_termination work on
# it there.  As the owner (an unprivileged role) and as a stranger, who sees
# nothing and may do nothing.  A stopped worker node shows its shards'
# error rows while the other node's figures remain.
use strict; use warnings;
use FindBin; use lib "$FindBin::RealBin/../perl";
use PostgreSQL::Test::Cluster; use PostgreSQL::Test::Utils; use Test::More;
use PgsCitus;

my ($c, @w) = PgsCitus::cluster('mon');

sub as
{
	my ($node, $role, $sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => ['-U', $role]);
}

sub as_fails
{
	my ($node, $role, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql, extra_params => ['-U', $role]);
	return $ret == 0 ? undef : $err;
}

$c->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE ROLE mallory LOGIN;
GRANT CREATE ON SCHEMA public TO alice;
});
as($c, 'alice', q{
SET citus.shard_count = 4;
CREATE TABLE ev (tenant int, v int);
SELECT stream.create_stream('ev');
SELECT create_distributed_table('ev', 'tenant');
CREATE TABLE tgt2 (tenant int, v int);
SELECT create_distributed_table('tgt2', 'tenant', colocate_with => 'ev');
});

# started on the coordinator: until the transaction commits no node has the
# shards' queries, and the query is starting
my $in_tx = as($c, 'alice', q{
BEGIN;
SELECT stream.start_query('q', 'SELECT tenant, v FROM ev', 'tgt', trigger => '1 hour') IS NOT NULL;
SELECT status, shards FROM stream.queries WHERE name = 'q';
SELECT count(*), count(*) FILTER (WHERE status IS NULL AND node_error IS NULL AND applied_status IS NULL) FROM stream.query_shards;
COMMIT;
});
is($in_tx, "t\nstarting|4\n4|4", 'before its shards start, the query is starting, and query_shards has a row per shard without figures');

# the shards, their co-located target shards and their nodes
my %node_of_port = map { $_->port => $_ } @w;
my @shards = map { [ split /\|/ ] } split /\n/, $c->safe_psql('postgres', q{
SELECT s.shardid, t.shardid, n.nodename, n.nodeport
  FROM pg_dist_shard s
  JOIN pg_dist_shard t ON t.logicalrelid = 'tgt'::regclass AND t.shardminvalue = s.shardminvalue
  JOIN pg_dist_placement p ON p.shardid = s.shardid
  JOIN pg_dist_node n USING (groupid)
 WHERE s.logicalrelid = 'ev'::regclass ORDER BY s.shardid});
is(scalar(@shards), 4, 'four shards');
my %on_node;
$on_node{$_->[3]}++ for @shards;
is(scalar(keys %on_node), 2, 'the shards are on both workers');

as($c, 'alice', q{INSERT INTO ev SELECT g % 37, g FROM generate_series(1, 1000) g});
as($c, 'alice', q{CALL stream.process_all_available('q')});
is(as($c, 'alice', q{SELECT count(*) FROM tgt}), '1000', 'process_all_available: every row in the target');
is(as($c, 'alice', q{SELECT count(*), min(status), max(status), sum(input_rows), sum(output_rows), sum(shards), sum(last_batch_id) >= 4 FROM stream.queries WHERE name = 'q'}),
   '1|active|active|1000|1000|4|t', 'stream.queries: the query once, active, input and output rows summed over its shards');
is(as($c, 'alice', q{SELECT count(*) FROM stream.queries WHERE name LIKE 'q_s%'}), '0',
   'the shard queries are not the coordinator\'s');

my $expect = join("\n", map { "$_->[0]|$_->[2]:$_->[3]|q_s$_->[0]|active|active" } @shards);
is(as($c, 'alice', q{SELECT shardid, node, shard_query, applied_status, status FROM stream.query_shards WHERE name = 'q' ORDER BY shardid}),
   $expect, 'query_shards: one row per shard with its node and its query\'s status there');
is(as($c, 'alice', q{SELECT sum(input_rows), sum(output_rows), bool_and(batches >= 1), bool_and(lag_seconds IS NOT NULL) FROM stream.query_shards WHERE name = 'q'}),
   '1000|1000|t|t', 'query_shards: the nodes\' figures');
is(as($c, 'alice', q{SELECT count(DISTINCT shard), sum(input_rows) FROM stream.progress WHERE query = 'q'}),
   '4|1000', 'stream.progress: the shards\' batches, each named by its shard');

# the sums and extremes of stream.queries are those of the shards
is(as($c, 'alice', q{SELECT q.last_batch_id = s.batches AND q.lag_seconds = s.lag AND q.pending_rows = s.pending
  FROM stream.queries q,
       (SELECT sum(batches) AS batches, max(lag_seconds) AS lag, sum(pending_rows) AS pending
          FROM stream.query_shards WHERE name = 'q') s
 WHERE q.name = 'q'}), 't', 'stream.queries: batches and pending rows summed over the shards, the lag the largest');

# process_batch: one batch of every shard's query
my $batches = as($c, 'alice', q{SELECT last_batch_id FROM stream.queries WHERE name = 'q'});
as($c, 'alice', q{INSERT INTO ev SELECT g, g FROM generate_series(1, 40) g});
as($c, 'alice', q{CALL stream.process_batch('q')});
is(as($c, 'alice', q{SELECT count(*) FROM tgt}), '1040', 'process_batch: a batch of each shard took its rows');
is(as($c, 'alice', q{SELECT last_batch_id FROM stream.queries WHERE name = 'q'}), $batches + 4,
   'one batch per shard');

# a node answering the coordinator shows its own queries only: asked on
# the coordinator itself (as when it holds shards), it does not ask the
# nodes again
like(as($c, 'alice', q{SELECT stream._node_figures(false, ARRAY['q'])}), qr/"shards": 0,/,
   'a node answering does not ask the nodes again (no shard figures in its answer)');
like(as($w[0], 'alice', "SELECT stream._node_figures(false, ARRAY['q_s$shards[0][0]', 'q_s$shards[1][0]'])"),
   qr/"name": "q_s\d+"/, 'a node answers with its shard queries\' rows');

# what looking costs from the coordinator (noted, not judged): the median
# of 5 executions, and a process_all_available with nothing to do
sub median { my @s = sort { $a <=> $b } @_; return $s[$#s / 2]; }
for my $view ('stream.queries', 'stream.query_shards', 'stream.progress')
{
	my @t = map {
		(as($c, 'alice', "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM $view") =~ /"Execution Time": ([\d.]+)/)[0]
	} 1 .. 5;
	note sprintf('%s on the coordinator: %.1f ms (4 shards on 2 workers)', $view, median(@t));
}
{
	my @t = map {
		(as($w[0], 'alice', "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM stream.queries") =~ /"Execution Time": ([\d.]+)/)[0]
	} 1 .. 5;
	note sprintf('stream.queries on a worker (2 local shard queries): %.1f ms', median(@t));
	@t = map {
		(as($c, 'alice', "\\timing on\nCALL stream.process_all_available('q')") =~ /Time: ([\d.]+) ms/)[0]
	} 1 .. 5;
	note sprintf('process_all_available with nothing to do: %.1f ms', median(@t));
}

# a stranger sees nothing and may do nothing
my ($ret, $out, $leaks) = $c->psql('postgres', q{
CREATE FUNCTION pg_temp.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
    RAISE NOTICE 'leaked: %', $1;
    RETURN true;
END $$;
SELECT count(*) FROM stream.queries WHERE pg_temp.leak(name) AND pg_temp.leak(query);
SELECT count(*) FROM stream.progress WHERE pg_temp.leak(query);
SELECT count(*) FROM stream.query_shards WHERE pg_temp.leak(name) AND pg_temp.leak(shard_query);
}, extra_params => ['-U', 'mallory']);
is($ret, 0, 'a stranger reads the views');
unlike($leaks, qr/leaked/, 'a stranger\'s function in WHERE sees no row of the views');
is(as($c, 'mallory', q{SELECT (SELECT count(*) FROM stream.queries) + (SELECT count(*) FROM stream.query_shards) + (SELECT count(*) FROM stream.progress)}),
   '0', 'a stranger sees no distributed query, shard or batch');
my $err = as_fails($c, 'mallory', q{CALL stream.process_all_available('q')});
like($err, qr/permission denied for streaming query "q"/, 'a stranger may not process it');
$err = as_fails($c, 'mallory', q{SELECT stream.await_termination('q', '10 ms')});
like($err, qr/permission denied for streaming query "q"/, 'nor await it');

# await_termination: active shards do not end
is(as($c, 'alice', q{SELECT stream.await_termination('q', '300 ms')}), 'f',
   'await_termination times out while the shards are active');

# a shard's query failed on its node: the query is failed, naming the shard
my ($fsid, undef, undef, $fport) = @{ $shards[0] };
$node_of_port{$fport}->safe_psql('postgres', qq{
UPDATE stream.query_defs SET status = 'failed', last_error = 'boom in a batch', last_error_sqlstate = '22012', last_error_at = now() WHERE name = 'q_s$fsid'});
like(as($c, 'alice', q{SELECT status || ' ' || last_error FROM stream.queries WHERE name = 'q'}),
   qr/^failed shard $fsid on .*: boom in a batch$/, 'a failed shard fails the query, named');
$err = as_fails($c, 'alice', q{SELECT stream.await_termination('q', '5 s')});
like($err, qr/distributed query "q" failed on node .*:$fport, shard $fsid/, 'await_termination raises a failed shard\'s error, naming node and shard');
like($err, qr/boom in a batch/, 'with the shard query\'s error');
$node_of_port{$fport}->safe_psql('postgres', qq{SET ROLE alice; SELECT stream.resume_query('q_s$fsid')});

# a worker node stops: its shards show the error, the other node's remain
my $down = $w[1];
my $up_port = $w[0]->port;
my $down_port = $down->port;
my $up_count = grep { $_->[3] == $up_port } @shards;
my $down_count = grep { $_->[3] == $down_port } @shards;
my $up_rows = as($c, 'alice', qq{SELECT sum(input_rows) FROM stream.query_shards WHERE node LIKE '%:$up_port'});
$down->stop('immediate');
is(as($c, 'alice', qq{SELECT count(*) FILTER (WHERE node_error IS NOT NULL AND status IS NULL), count(*) FILTER (WHERE node_error IS NULL AND status = 'active'), sum(input_rows) FROM stream.query_shards WHERE name = 'q'}),
   "$down_count|$up_count|$up_rows", 'a stopped node: its shards show the error, the others their figures');
like(as($c, 'alice', qq{SELECT node_error FROM stream.query_shards WHERE node LIKE '%:$down_port' LIMIT 1}),
   qr/did not answer/, 'the error says the node did not answer');
like(as($c, 'alice', q{SELECT status || ' ' || last_error || ' ' || input_rows FROM stream.queries WHERE name = 'q'}),
   qr/^active node .*:$down_port did not answer.* $up_rows$/, 'stream.queries still shows the query, with the node\'s error and the figures it has');
my ($up_sid) = map { $_->[0] } grep { $_->[3] == $up_port } reverse @shards;
as($w[0], 'alice', "SET citus.enable_manual_changes_to_shards = on; INSERT INTO ev_$up_sid SELECT 1, g FROM generate_series(1, 50) g");
$err = as_fails($c, 'alice', q{CALL stream.process_all_available('q')});
like($err, qr/distributed query "q" failed on node .*:$down_port, shard \d+/, 'process_all_available names the node and the shard');
is(as($c, 'alice', qq{SELECT sum(input_rows) FROM stream.query_shards WHERE node LIKE '%:$up_port'}), $up_rows + 50,
   'the other node\'s shards were processed all the same');

# a query started while a node is down: its shards there cannot start, the
# query stays starting with the reason, the other node's shards run
as($c, 'alice', q{SELECT stream.start_query('q2', 'SELECT tenant, v FROM ev', 'tgt2', trigger => '1 hour')});
$err = as_fails($c, 'alice', q{CALL stream.process_all_available('q2')});
like($err, qr/shard query "q2_s\d+" of distributed query "q2" has not started on node .*:$down_port/,
	 'process_all_available: a shard that could not start is named with its node');
is(as($c, 'alice', qq{SELECT count(*) FROM stream.query_shards WHERE name = 'q2' AND node LIKE '%:$up_port' AND status = 'active' AND input_rows > 0}),
   $up_count, 'the other node\'s shards started and processed their rows');
ok($c->poll_query_until('postgres', qq{SELECT count(*) = $down_count FROM stream.query_shards WHERE name = 'q2' AND applied_status IS NULL AND last_error IS NOT NULL}),
   'the scheduler records why the shards on the stopped node did not start');
like(as($c, 'alice', q{SELECT status || ': ' || last_error FROM stream.queries WHERE name = 'q2'}),
   qr/^starting: shard \d+ on .*:$down_port: /, 'stream.queries: starting, with the reason');
$down->start;
$err = undef;
for (1 .. 3)
{
	$err = as_fails($c, 'alice', q{CALL stream.process_all_available('q2')});
	last unless defined $err;
	sleep 1;
}
is($err, undef, 'once the node is back, process_all_available starts and runs every shard');
is(as($c, 'alice', q{SELECT status, shards, input_rows FROM stream.queries WHERE name = 'q2'}),
   'active|4|' . as($c, 'alice', 'SELECT count(*) FROM ev'), 'q2 active with every row');

# stopped on the coordinator: await_termination brings the nodes to it and
# returns once every shard's query has stopped
as($c, 'alice', q{SELECT stream.stop_query('q')});
is(as($c, 'alice', q{SELECT stream.await_termination('q', '10 s')}), 't', 'await_termination: every shard has stopped');
is(as($c, 'alice', q{SELECT status FROM stream.queries WHERE name = 'q'}), 'stopped', 'stopped');

done_testing();
