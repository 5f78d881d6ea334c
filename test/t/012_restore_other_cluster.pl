# A checkpoint belongs to the transaction history it was written in.  A
# logical dump restored into another cluster (plainly, or keeping the rows'
# stamps) brings a query's checkpoint whose snapshots name transactions
# that are not the new cluster's: the query never runs a batch on them, it
# fails with an error that stream.queries shows (from a CALL and from the
# worker, which does not retry it), and stream.resume_restored_query carries
# on as the caller chooses, each promise counted row by row in the target.
# A promoted physical standby and a point-in-time recovery are the same
# history: the query goes on without a call.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# statements as alice, each on its own (a CALL outside a transaction block)
sub psql_alice
{
	my ($node, $db, $sql) = @_;
	my ($ret, $out, $err) = $node->psql($db, $sql, extra_params => [ '-U', 'alice' ]);
	return ($ret, $out, $err);
}

sub alice
{
	my ($node, $db, $sql) = @_;
	return $node->safe_psql($db, $sql, extra_params => [ '-U', 'alice' ]);
}

# --- the cluster the dump comes from, its xids well past a fresh cluster's
my $src = PostgreSQL::Test::Cluster->new('source');
$src->init(allows_streaming => 1, has_archiving => 1);
$src->start;
$src->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	CREATE DATABASE app OWNER alice;
	CREATE DATABASE same_copy OWNER alice;
});
# 2,000 transactions first: the checkpoint's snapshots name xids a fresh
# cluster reaches only later, so the rows written there after a restore
# would look processed to them
$src->safe_psql('app', q{
	DO $$ BEGIN FOR i IN 1..2000 LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$;
});
$src->safe_psql('app', q{
	CREATE EXTENSION pg_streaming;
	GRANT CREATE ON SCHEMA public TO alice;
	SET ROLE alice;
	CREATE TABLE ev (id int);
	SELECT stream.create_stream('ev');
	CREATE INDEX ev_stamps ON ev (_stream_xid);
	CREATE TABLE q_out (id int);
	CREATE TABLE q2_out (id int);
	INSERT INTO ev SELECT g FROM generate_series(1, 50) g;
	SELECT stream.start_query('q', 'SELECT id FROM ev', 'q_out', trigger => '200 ms');
	SELECT stream.start_query('q2', 'SELECT id FROM ev', 'q2_out', trigger => '200 ms');
	CALL stream.process_all_available('q2');
	INSERT INTO ev SELECT g FROM generate_series(51, 100) g;
	CALL stream.process_all_available('q');
});
# a join reading the stream, whose checkpoint comes with the dump too
$src->safe_psql('app', q{
	SET ROLE alice;
	CREATE TABLE ev2 (id int);
	SELECT stream.create_stream('ev2');
	CREATE INDEX ON ev (id);
	CREATE INDEX ON ev2 (id);
	CREATE TABLE j_out (id int);
	SELECT stream.start_query('j', 'SELECT e.id FROM ev e JOIN ev2 f ON f.id = e.id', 'j_out');
	INSERT INTO ev2 VALUES (1), (2);
	CALL stream.process_all_available('j');
});
# 51 rows pending at dump time, in three transactions
$src->safe_psql('app', q{
	INSERT INTO ev SELECT g FROM generate_series(101, 120) g;
	INSERT INTO ev SELECT g FROM generate_series(121, 140) g;
	INSERT INTO ev SELECT g FROM generate_series(141, 151) g;
});
is($src->safe_psql('app', "SELECT count(*) FROM q_out"), '100', 'source: 100 rows delivered');
is($src->safe_psql('app', "SELECT count(*) FROM q2_out"), '50', 'source: 50 rows delivered by a second query');
is($src->safe_psql('app', "SELECT pending_rows FROM stream.queries WHERE name = 'q'"), '51',
	'source: 51 rows pending at dump time');

my $dump = $src->basedir . '/app.dump';
$src->command_ok([ 'pg_dump', '-Fc', '-d', $src->connstr('app'), '-f', $dump ], 'pg_dump');

# a standby of the source, for the promotion case below
$src->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($src, 'base', has_streaming => 1);
$standby->start;

# --- a fresh cluster
my $dst = PostgreSQL::Test::Cluster->new('target');
$dst->init;
$dst->start;
$dst->safe_psql('postgres', 'CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN');

# restore the dump into a new database of $node, plainly or keeping stamps
sub restore
{
	my ($node, $db, $replica) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db OWNER alice");
	local $ENV{PGOPTIONS} = ($replica // '') eq '1' ? '-c session_replication_role=replica' : '';
	my @single = ($replica // '') eq 'single' ? ('--single-transaction') : ();
	$node->command_ok([ 'pg_restore', @single, '-d', $node->connstr($db), $dump ],
		"pg_restore into $db" . ($replica ? " keeping the stamps ($replica)" : ''));
	return;
}

# the ids in the target, and whether each appears once
sub delivered
{
	my ($node, $db) = @_;
	return $node->safe_psql($db,
		q{SELECT count(*) || ' rows, ' || count(DISTINCT id) || ' distinct, ' ||
		         coalesce(sum(id), 0) FROM q_out});
}

# what a target holds when ids a..b of each range are in it once
sub expect
{
	my $n = 0;
	my $sum = 0;
	foreach my $r (@_)
	{
		my ($a, $b) = @$r;
		$n += $b - $a + 1;
		$sum += ($a + $b) * ($b - $a + 1) / 2;
	}
	return "$n rows, $n distinct, $sum";
}

# --- plain restore: the query refuses, says so, and 'skip' goes on
restore($dst, 'plain1', 0);
$dst->safe_psql('plain1',
	'INSERT INTO ev SELECT g FROM generate_series(1001, 1030) g');
my ($ret, $out, $err) = psql_alice($dst, 'plain1', "CALL stream.process_all_available('q')");
like($err, qr/the checkpoint of streaming query "q" was written in another transaction history/,
	'a batch on a restored checkpoint is refused');
like($err, qr/DETAIL:  Its latest offsets \(batch 1, .*\) were written in history -?\d+ of the database system with identifier \d+; this database's history is -?\d+, of system \d+/,
	'the detail names both histories and systems');
like($err, qr/HINT:  After a restore, carry on with stream.resume_restored_query\('q'/,
	'the hint names the call that carries on');
is($dst->safe_psql('plain1',
		"SELECT status, last_error_sqlstate, pending_rows IS NULL FROM stream.queries WHERE name = 'q'"),
	'failed|55000|t', 'stream.queries shows the query failed, with no pending count');
is(delivered($dst, 'plain1'), expect([1, 100]), 'nothing was delivered by the refused batch');
# retention takes the restored checkpoints as having read nothing (their
# snapshots would see every row here as processed)
alice($dst, 'plain1', "SELECT stream.set_retention('ev', '0 seconds')");
is(alice($dst, 'plain1', "SELECT stream.run_retention('ev')"), '0',
	'retention removes no row a restored checkpoint seems to cover');
is($dst->safe_psql('plain1', 'SELECT count(*) FROM ev'), '181', 'all 181 rows are there');
alice($dst, 'plain1', "SELECT stream.set_retention('ev', NULL)");

($ret, $out, $err) = psql_alice($dst, 'plain1', "SELECT stream.resume_restored_query('q', 'checkpoint')");
like($err, qr/cannot tell which restored rows it processed/,
	'the checkpoint is not adopted after a restore into another cluster');
($ret, $out, $err) = psql_alice($dst, 'plain1', "SELECT stream.resume_restored_query('q', 'guess')");
like($err, qr/restored_rows must be 'checkpoint', 'skip' or 'deliver'/, 'no other choice');
($ret, $out, $err) = psql_alice($dst, 'plain1', "SELECT stream.resume_restored_query('q', 'skip')");
is($out, 't', "resume_restored_query(..., 'skip')");
like($err, qr/NOTICE:  the 151 rows of stream table "ev" written by transaction \d+, the first to write it, count as restored and processed/,
	'it says which rows it took as restored');
is($dst->safe_psql('plain1', "SELECT status, last_error FROM stream.queries WHERE name = 'q'"),
	'active|', 'the query is active again, without its error');
is($dst->safe_psql('plain1', "SELECT pending_rows FROM stream.queries WHERE name = 'q'"),
	'30', 'pending: the 30 rows written after the restore');
$dst->safe_psql('plain1', 'INSERT INTO ev SELECT g FROM generate_series(2001, 2020) g');
alice($dst, 'plain1', "CALL stream.process_all_available('q')");
is(delivered($dst, 'plain1'), expect([1, 100], [1001, 1030], [2001, 2020]),
	"'skip': the rows written after the restore and after the call, each once; none restored");
is(alice($dst, 'plain1', "SELECT stream.resume_restored_query('q', 'skip')"),
	'f', 'a second call changes nothing');
$dst->safe_psql('plain1', 'INSERT INTO ev SELECT g FROM generate_series(3001, 3005) g');
alice($dst, 'plain1', "CALL stream.process_all_available('q')");
is(delivered($dst, 'plain1'), expect([1, 100], [1001, 1030], [2001, 2020], [3001, 3005]),
	'and the query goes on, each row once');

# --- plain restore, 'deliver' into an emptied target
restore($dst, 'plain2', 0);
$dst->safe_psql('plain2', 'INSERT INTO ev SELECT g FROM generate_series(1001, 1030) g');
$dst->safe_psql('plain2', 'TRUNCATE q_out');
is(alice($dst, 'plain2', "SELECT stream.resume_restored_query('q', 'deliver')"),
	't', "resume_restored_query(..., 'deliver')");
$dst->safe_psql('plain2', 'INSERT INTO ev SELECT g FROM generate_series(2001, 2020) g');
alice($dst, 'plain2', "CALL stream.process_all_available('q')");
is(delivered($dst, 'plain2'), expect([1, 151], [1001, 1030], [2001, 2020]),
	"'deliver': every restored row and every later row, each once");

# an aggregation's state holds the rows already: 'deliver' is refused
alice($dst, 'plain2', q{
	SELECT stream.start_query('counts', 'SELECT id % 3 AS k, count(*) AS n FROM ev GROUP BY 1',
	                          'counts', output_mode => 'update');
	CALL stream.process_all_available('counts');
});
$dst->safe_psql('plain2',
	"UPDATE stream.checkpoint_offsets SET history_id = 42 WHERE query_id = (SELECT id FROM stream.queries WHERE name = 'counts')");
($ret, $out, $err) = psql_alice($dst, 'plain2', "SELECT stream.resume_restored_query('counts', 'deliver')");
like($err, qr/streaming query "counts" keeps state, which holds the restored rows already/,
	"'deliver' is refused for a query with state");

# offsets that name no history (a dump of a database older than 0.6
# restored into 0.6) are another history's too
$dst->safe_psql('plain2', "UPDATE stream.checkpoint_offsets SET history_id = NULL");
($ret, $out, $err) = psql_alice($dst, 'plain2', "CALL stream.process_all_available('q')");
like($err, qr/was written in another transaction history\nDETAIL:  Its latest offsets \(batch \d+, .*\) name no history/,
	'offsets without a history are refused');
$dst->safe_psql('plain2', q{
	UPDATE stream.checkpoint_offsets SET history_id = (SELECT history_id FROM stream.local_history)});
alice($dst, 'plain2', "SELECT stream.resume_query('q')");

# offsets of this history that name transactions it has not reached (a
# copy of the data directory that went back) are refused as well
$dst->safe_psql('plain2', q{
	UPDATE stream.checkpoint_offsets SET end_snapshot = '4000000:4000000:'
	 WHERE batch_id = (SELECT max(batch_id) FROM stream.checkpoint_offsets)});
$dst->safe_psql('plain2', 'INSERT INTO ev VALUES (7001)');
($ret, $out, $err) = psql_alice($dst, 'plain2', "CALL stream.process_all_available('q')");
like($err, qr/the checkpoint of streaming query "q" names transactions this cluster has not reached/,
	'offsets past the next transaction id are refused');
is(delivered($dst, 'plain2'), expect([1, 151], [1001, 1030], [2001, 2020]), 'nothing delivered');

# --- a restore into another cluster that kept the stamps: their numbers
# mean nothing here, but the restored checkpoints tell exactly which rows
# each query processed; 'checkpoint' stamps the restored rows again
restore($dst, 'replica1', 1);
$dst->safe_psql('replica1', 'INSERT INTO ev SELECT g FROM generate_series(1001, 1030) g');
($ret, $out, $err) = psql_alice($dst, 'replica1', "CALL stream.process_all_available('q')");
like($err, qr/was written in another transaction history/, 'replica-mode restore: refused too');
foreach my $how ('skip', 'deliver')
{
	($ret, $out, $err) = psql_alice($dst, 'replica1',
		"SELECT stream.resume_restored_query('q', '$how')");
	like($err, qr/stream table "ev" of streaming query "q" holds rows stamped in another cluster/,
		"replica-mode restore into another cluster: '$how' refused");
}
is(delivered($dst, 'replica1'), expect([1, 100]), 'and nothing was delivered');
($ret, $out, $err) = $dst->psql('replica1', "SELECT stream.resume_restored_query('q', 'checkpoint')",
	extra_params => [ '-U', 'bob' ]);
like($err, qr/permission denied for streaming query "q"/, 'another role may not carry on the query');
($ret, $out, $err) = psql_alice($dst, 'replica1',
	"BEGIN; SELECT stream.resume_restored_query('q', 'checkpoint'); ROLLBACK;");
like($err, qr/cannot run inside a transaction block when it stamps restored rows again/,
	'stamping again is refused inside a transaction block, whose ROLLBACK would keep the stamps');
($ret, $out, $err) = psql_alice($dst, 'replica1',
	"SELECT stream.resume_restored_query('q', 'checkpoint')");
is($out, 't', "resume_restored_query(..., 'checkpoint') after a replica-mode restore");
like($err, qr/NOTICE:  stamped 153 restored rows of stream tables "ev", "ev2" again\nDETAIL:  The checkpoints of streaming queries q2, j, restored with them, are this cluster's now too/,
	'every restored row stamped again, for every restored query, with the other stream of the join on it');
is(alice($dst, 'replica1', "SELECT stream.resume_restored_query('q', 'checkpoint')"),
	'f', 'a second call changes nothing');
# the join on the stream got its boundary with the others: it goes on,
# each pair once
alice($dst, 'replica1', "SELECT stream.resume_query('j')");
$dst->safe_psql('replica1', 'INSERT INTO ev2 VALUES (1001), (3)');
alice($dst, 'replica1', "CALL stream.process_all_available('j')");
is($dst->safe_psql('replica1', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM j_out'),
	'1,2,3,1001', 'a join reading the stream carries on from its restored checkpoint, each pair once');
is($dst->safe_psql('replica1', q{
	SET enable_seqscan = off; SET enable_bitmapscan = off;
	SELECT count(*) FROM ev WHERE _stream_xid < '300'}),
	'151', 'an index on the stamps was built again');
alice($dst, 'replica1', "SELECT stream.resume_query('q2')");
$dst->safe_psql('replica1', 'INSERT INTO ev SELECT g FROM generate_series(2001, 2020) g');
alice($dst, 'replica1', "CALL stream.process_all_available('q')");
alice($dst, 'replica1', "CALL stream.process_all_available('q2')");
is(delivered($dst, 'replica1'), expect([1, 151], [1001, 1030], [2001, 2020]),
	"'checkpoint' after a replica-mode restore: the 51 rows pending at dump time and every later row, each once");
is($dst->safe_psql('replica1',
		q{SELECT count(*) || ' rows, ' || count(DISTINCT id) || ' distinct, ' || sum(id) FROM q2_out}),
	expect([1, 151], [1001, 1030], [2001, 2020]),
	'and for the second query, which had processed fewer: its own 101 pending rows');
alice($dst, 'replica1', q{
	CREATE TABLE q3_out (id int);
	SELECT stream.start_query('q3', 'SELECT id FROM ev', 'q3_out');
});
$dst->safe_psql('replica1', 'INSERT INTO ev SELECT g FROM generate_series(3001, 3005) g');
alice($dst, 'replica1', "CALL stream.process_all_available('q3')");
alice($dst, 'replica1', "CALL stream.process_all_available('q')");
is($dst->safe_psql('replica1',
		q{SELECT count(*) || ' rows, ' || count(DISTINCT id) || ' distinct, ' || sum(id) FROM q3_out}),
	expect([1, 151], [1001, 1030], [2001, 2020], [3001, 3005]),
	'a query started afterwards reads every row once');
is(delivered($dst, 'replica1'), expect([1, 151], [1001, 1030], [2001, 2020], [3001, 3005]),
	'and the restored one goes on');

# --- pg_restore --single-transaction keeps the stamps too (the table is
# created by the transaction that loads it): the same exact path
restore($dst, 'single1', 'single');
$dst->safe_psql('single1', 'INSERT INTO ev SELECT g FROM generate_series(1001, 1030) g');
is(alice($dst, 'single1', "SELECT stream.resume_restored_query('q', 'checkpoint')"),
	't', "'checkpoint' after pg_restore --single-transaction into another cluster");
alice($dst, 'single1', "SELECT stream.resume_query('q2')");
$dst->safe_psql('single1', 'INSERT INTO ev SELECT g FROM generate_series(2001, 2020) g');
alice($dst, 'single1', "CALL stream.process_all_available('q')");
alice($dst, 'single1', "CALL stream.process_all_available('q2')");
is(delivered($dst, 'single1'), expect([1, 151], [1001, 1030], [2001, 2020]), 'each row once');
is($dst->safe_psql('single1',
		q{SELECT count(*) || ' rows, ' || count(DISTINCT id) || ' distinct, ' || sum(id) FROM q2_out}),
	expect([1, 151], [1001, 1030], [2001, 2020]), 'for both queries');

# --- the background worker fails such a query once and leaves it failed
# (the databases above are done with: their schedulers would take workers)
$dst->safe_psql('postgres', 'DROP DATABASE plain1; DROP DATABASE plain2; DROP DATABASE replica1; DROP DATABASE single1');
$dst->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
max_worker_processes = 16
});
$dst->restart;
restore($dst, 'worker1', 0);
$dst->poll_query_until('worker1',
	"SELECT status = 'failed' FROM stream.queries WHERE name = 'q'")
  or die 'the worker did not fail the restored query';
is($dst->safe_psql('worker1',
		"SELECT last_error_sqlstate, last_error LIKE '%another transaction history%' FROM stream.queries WHERE name = 'q'"),
	'55000|t', 'the worker recorded the refusal');
my $at = $dst->safe_psql('worker1', "SELECT last_error_at FROM stream.queries WHERE name = 'q'");
sleep 2;
is($dst->safe_psql('worker1', "SELECT status, last_error_at FROM stream.queries WHERE name = 'q'"),
	"failed|$at", 'and nothing retried it');
$dst->safe_psql('worker1', 'INSERT INTO ev SELECT g FROM generate_series(1001, 1030) g');
alice($dst, 'worker1', "SELECT stream.resume_restored_query('q', 'skip')");
$dst->safe_psql('worker1', 'INSERT INTO ev SELECT g FROM generate_series(2001, 2020) g');
$dst->poll_query_until('worker1', 'SELECT count(*) = 150 FROM q_out')
  or die 'the worker did not carry on';
is(delivered($dst, 'worker1'), expect([1, 100], [1001, 1030], [2001, 2020]),
	"the worker carries on after 'skip', each row once");

# --- a restore into the same cluster keeping the stamps: 'checkpoint' is
# exact, and a plain one there cannot adopt it
{
	local $ENV{PGOPTIONS} = '-c session_replication_role=replica';
	$src->command_ok([ 'pg_restore', '-d', $src->connstr('same_copy'), $dump ],
		'pg_restore into another database of the same cluster, keeping the stamps');
}
$src->safe_psql('same_copy', 'INSERT INTO ev SELECT g FROM generate_series(1001, 1030) g');
($ret, $out, $err) = psql_alice($src, 'same_copy', "CALL stream.process_all_available('q')");
like($err, qr/was written in another transaction history/,
	'a logical copy in the same cluster is another history too');
is(alice($src, 'same_copy', "SELECT stream.resume_restored_query('q', 'checkpoint')"),
	't', "resume_restored_query(..., 'checkpoint')");
$src->safe_psql('same_copy', 'INSERT INTO ev SELECT g FROM generate_series(2001, 2020) g');
alice($src, 'same_copy', "CALL stream.process_all_available('q')");
is(delivered($src, 'same_copy'), expect([1, 151], [1001, 1030], [2001, 2020]),
	"'checkpoint': the 51 pending rows and every later row once, nothing processed twice");

# --- a promoted standby is the same history: no call, each row once
$src->safe_psql('app', 'INSERT INTO ev SELECT g FROM generate_series(5001, 5010) g');
$src->wait_for_catchup($standby);
# and a point in time before the next rows, for recovery to stop at
$src->safe_psql('app', "SELECT pg_create_restore_point('before_7001')");
$src->safe_psql('app', 'INSERT INTO ev SELECT g FROM generate_series(7001, 7010) g');
my $walfile = $src->safe_psql('postgres', 'SELECT pg_walfile_name(pg_current_wal_lsn())');
$src->safe_psql('postgres', 'SELECT pg_switch_wal()');
$src->poll_query_until('postgres',
	"SELECT last_archived_wal >= '$walfile' FROM pg_stat_archiver")
  or die 'the WAL was not archived';
$standby->promote;
$standby->safe_psql('app', 'INSERT INTO ev SELECT g FROM generate_series(6001, 6010) g');
alice($standby, 'app', "CALL stream.process_all_available('q')");
is(delivered($standby, 'app'), expect([1, 151], [5001, 5010], [6001, 6010], [7001, 7010]),
	'after promotion the query goes on from its checkpoint, each row once');


# --- point-in-time recovery from the base backup: the same history too
my $pitr = PostgreSQL::Test::Cluster->new('pitr');
$pitr->init_from_backup($src, 'base', has_restoring => 1);
$pitr->append_conf('postgresql.conf', qq{
recovery_target_name = 'before_7001'
recovery_target_action = 'promote'
});
$pitr->start;
$pitr->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'recovery did not end';
$pitr->safe_psql('app', 'INSERT INTO ev SELECT g FROM generate_series(8001, 8010) g');
alice($pitr, 'app', "CALL stream.process_all_available('q')");
is(delivered($pitr, 'app'), expect([1, 151], [5001, 5010], [8001, 8010]),
	'after point-in-time recovery the query goes on from its checkpoint, each row once, without a call');
$pitr->stop;
$standby->stop;
$dst->stop;
$src->stop;
done_testing();
