# pg_upgrade keeps transaction ids and copies every relation's files, the
# extension's own tables among them: the database's transaction history
# (stream.local_history) comes along, although the new cluster has a system
# identifier of its own, and a query with rows pending, a planned batch that
# never committed, an aggregation, a foreach_batch query and a join between
# two streams (with a planned batch and rows it keeps waiting) go on
# exactly once without any call.  pg_upgrade refuses a table column of a
# reg* type that names a function (it keeps no function's oid): the
# catalog keeps a foreach_batch procedure by oid and by name.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $old = PostgreSQL::Test::Cluster->new('old');
$old->init;
$old->start;
$old->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	CREATE DATABASE app OWNER alice;
});
$old->safe_psql('app', q{
	CREATE EXTENSION pg_streaming;
	GRANT CREATE ON SCHEMA public TO alice;
	SET ROLE alice;
	CREATE TABLE ev (id int, k int);
	SELECT stream.create_stream('ev');
	CREATE TABLE q_out (id int, k int);
	SELECT stream.start_query('q', 'SELECT id, k FROM ev', 'q_out', max_rows_per_batch => 40);
	SELECT stream.start_query('counts', 'SELECT k, count(*) AS n, sum(id) AS s FROM ev GROUP BY k',
	                          'counts', output_mode => 'update');
	INSERT INTO ev SELECT g, g % 5 FROM generate_series(1, 100) g;
	CALL stream.process_all_available('q');
	CALL stream.process_all_available('counts');
});
# a foreach_batch query, its procedure renamed since, made after other
# functions came and went (so that a new cluster gives it another oid)
$old->safe_psql('app', q{
	SET ROLE alice;
	DO $$ BEGIN FOR i IN 1..50 LOOP EXECUTE format('CREATE FUNCTION f%s() RETURNS int LANGUAGE sql AS ''SELECT 1''', i); END LOOP; END $$;
	DO $$ BEGIN FOR i IN 1..50 LOOP EXECUTE format('DROP FUNCTION f%s()', i); END LOOP; END $$;
	CREATE TABLE outbox (batch_id bigint, n bigint, s bigint);
	CREATE PROCEDURE deliver(batch_id bigint) LANGUAGE plpgsql AS $$
	BEGIN
	    INSERT INTO outbox SELECT batch_id, count(*), sum(id) FROM stream_batch.fe;
	END $$;
	SELECT stream.start_query('fe', 'SELECT id FROM ev', foreach_batch => 'deliver');
	CALL stream.process_all_available('fe');
	ALTER PROCEDURE deliver(bigint) RENAME TO deliver_all;
});
is($old->safe_psql('app', "SELECT foreach_batch FROM stream.queries WHERE name = 'fe'"),
	'deliver_all(bigint)', 'the renamed procedure is followed');
$old->safe_psql('app', q{
	SET ROLE alice;
	CREATE SCHEMA jobs;
	ALTER PROCEDURE deliver_all(bigint) SET SCHEMA jobs;
});
is($old->safe_psql('app', "SELECT foreach_batch_name FROM stream.query_defs WHERE name = 'fe'"),
	'jobs.deliver_all(bigint)', 'and so is its move to another schema, by name');
my $fe_oid = $old->safe_psql('app', "SELECT 'jobs.deliver_all(bigint)'::regprocedure::oid");
$old->safe_psql('app', 'INSERT INTO ev SELECT g, g % 5 FROM generate_series(101, 150) g');
# a planned batch whose run never committed: the write-ahead row stays
my ($ret, $out, $err) = $old->psql('app', q{
	CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN RAISE EXCEPTION 'not now'; END $$;
	CREATE TRIGGER fail_once BEFORE INSERT ON q_out FOR EACH ROW EXECUTE FUNCTION fail_once();
}, extra_params => [ '-U', 'alice' ]);
($ret, $out, $err) = $old->psql('app', "CALL stream.process_batch('q')",
	extra_params => [ '-U', 'alice' ]);
like($err, qr/not now/, 'a batch failed after its offsets were written');
$old->safe_psql('app', 'DROP TRIGGER fail_once ON q_out');
# a left outer join between two streams (docs/joins/surface.md 3.2): steps
# 1 and 2 processed (impressions 3 and 8 wait for a click or their NULL
# row), step 3's data batch planned, its offsets and side offsets written,
# and never committed
$old->safe_psql('app', q{
	SET ROLE alice;
	CREATE TABLE impressions (ad_id int, imp_time timestamptz);
	CREATE TABLE clicks (ad_id int, click_time timestamptz);
	SELECT stream.create_stream('impressions');
	SELECT stream.create_stream('clicks');
	CREATE INDEX ON impressions (ad_id, imp_time);
	CREATE INDEX ON clicks (ad_id, click_time);
	CREATE INDEX ON impressions USING brin (imp_time);
	SELECT stream.start_query('j_left',
		$$SELECT i.ad_id, i.imp_time, c.click_time
		    FROM impressions i LEFT JOIN clicks c
		      ON c.ad_id = i.ad_id
		     AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
		'j_left_out', output_mode => 'append',
		watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
	INSERT INTO impressions VALUES (1, '2026-01-01 10:00+00'), (2, '2026-01-01 10:05+00'), (3, '2026-01-01 10:10+00');
	INSERT INTO clicks VALUES (2, '2026-01-01 10:20+00'), (4, '2026-01-01 10:30+00');
	CALL stream.process_all_available('j_left');
	INSERT INTO clicks VALUES (1, '2026-01-01 10:50+00'), (2, '2026-01-01 10:45+00'),
		(3, '2026-01-01 11:15+00'), (7, '2026-01-01 07:20+00');
	INSERT INTO impressions VALUES (4, '2026-01-01 10:25+00'), (5, '2026-01-01 11:00+00'),
		(8, '2026-01-01 08:00+00'), (6, '2026-01-01 07:30+00');
	CALL stream.process_all_available('j_left');
	INSERT INTO impressions VALUES (10, '2026-01-01 12:00+00'), (11, '2026-01-01 08:00+00');
	INSERT INTO clicks VALUES (5, '2026-01-01 11:40+00'), (9, '2026-01-01 12:30+00'), (8, '2026-01-01 08:10+00'),
		(11, '2026-01-01 08:30+00'), (6, '2026-01-01 08:20+00');
	CREATE TRIGGER fail_once BEFORE INSERT ON j_left_out FOR EACH ROW EXECUTE FUNCTION fail_once();
});
($ret, $out, $err) = $old->psql('app', "CALL stream.process_batch('j_left')",
	extra_params => [ '-U', 'alice' ]);
like($err, qr/not now/, 'a join batch failed after its offsets were written');
$old->safe_psql('app', 'DROP TRIGGER fail_once ON j_left_out', extra_params => [ '-U', 'alice' ]);
is($old->safe_psql('app', "SELECT pending_batches FROM stream.queries WHERE name = 'j_left'"),
	'1', 'before the upgrade: the join has a planned batch');
is($old->safe_psql('app', "SELECT pending_batches, pending_rows FROM stream.queries WHERE name = 'q'"),
	'1|50', 'before the upgrade: a planned batch and 50 pending rows');
my $history = $old->safe_psql('app', 'SELECT history_id FROM stream.local_history');
my $old_sysid = $old->safe_psql('app', 'SELECT system_identifier FROM pg_control_system()');
$old->stop;

my $new = PostgreSQL::Test::Cluster->new('new');
$new->init;

my $bindir = $old->config_data('--bindir');
my $sockdir = PostgreSQL::Test::Utils::tempdir_short;
my $workdir = PostgreSQL::Test::Utils::tempdir;
chdir $workdir;
command_ok(
	[
		'pg_upgrade', '--no-sync',
		'-d', $old->data_dir, '-D', $new->data_dir,
		'-b', $bindir, '-B', $bindir,
		'-p', $old->port, '-P', $new->port,
		'-s', $sockdir
	],
	'pg_upgrade 15 -> 15 with a stream, a query and pending rows');

$new->start;
isnt($new->safe_psql('app', 'SELECT system_identifier FROM pg_control_system()'), $old_sysid,
	'the new cluster has a system identifier of its own');
is($new->safe_psql('app', 'SELECT history_id FROM stream.local_history'), $history,
	'and the database its transaction history');
is($new->safe_psql('app', "SELECT status, pending_batches, pending_rows FROM stream.queries WHERE name = 'q'"),
	'active|1|50', 'the query is as it was, its pending count too');

$new->safe_psql('app', 'INSERT INTO ev SELECT g, g % 5 FROM generate_series(151, 170) g');
$new->safe_psql('app', "CALL stream.process_all_available('q')", extra_params => [ '-U', 'alice' ]);
$new->safe_psql('app', "CALL stream.process_all_available('counts')", extra_params => [ '-U', 'alice' ]);
is($new->safe_psql('app', 'SELECT count(*), count(DISTINCT id), sum(id) FROM q_out'),
	'170|170|14535', 'after pg_upgrade every row once, the planned batch replayed, no call');
is($new->safe_psql('app', q{
	SELECT count(*) FROM ((TABLE counts EXCEPT ALL SELECT k, count(*), sum(id) FROM ev GROUP BY k)
	                      UNION ALL (SELECT k, count(*), sum(id) FROM ev GROUP BY k EXCEPT ALL TABLE counts)) d}),
	'0', 'the aggregation equals the query over all rows');
$new->safe_psql('app', "CALL stream.process_all_available('fe')", extra_params => [ '-U', 'alice' ]);
isnt($new->safe_psql('app', "SELECT 'jobs.deliver_all(bigint)'::regprocedure::oid"), $fe_oid,
	'the procedure has another oid in the new cluster');
is($new->safe_psql('app', "SELECT foreach_batch FROM stream.queries WHERE name = 'fe'"),
	'jobs.deliver_all(bigint)', 'the foreach_batch query still names its procedure');
$new->safe_psql('app', "CALL stream.process_all_available('j_left')", extra_params => [ '-U', 'alice' ]);
is($new->safe_psql('app', q{
	SELECT replayed FROM stream.progress WHERE query = 'j_left' AND batch_id = 5}),
	't', 'the join\'s planned batch was replayed');
is($new->safe_psql('app', q{
	SELECT string_agg(ad_id || ' ' || to_char(imp_time AT TIME ZONE 'UTC', 'HH24:MI') || ' '
	                  || coalesce(to_char(click_time AT TIME ZONE 'UTC', 'HH24:MI'), 'NULL'), ', '
	                  ORDER BY ad_id, imp_time, click_time NULLS LAST)
	  FROM j_left_out}),
	'1 10:00 10:50, 2 10:05 10:20, 2 10:05 10:45, 4 10:25 10:30, 5 11:00 11:40, 8 08:00 NULL',
	'after pg_upgrade the join wrote step 3: its pair, and the NULL row of an impression it kept, once');
is($new->safe_psql('app', 'SELECT sum(n), sum(s), count(DISTINCT batch_id) = count(*) FROM outbox'),
	'170|14535|t', 'and calls it: every row once, in batches of their own');
$new->stop;
done_testing();
