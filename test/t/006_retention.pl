# Retention under a steady ingest, with the background worker running the
# query and the retention passes: the stream's size stops growing while
# every committed row still reaches the target exactly once, through an
# immediate shutdown while writers fill recycled blocks; and a crash in
# the middle of a retention pass loses no row a query has not processed;
# and a join between two streams loses no row it may still read.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('retention');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
pg_streaming.retention_naptime = '300ms'
max_worker_processes = 16
restart_after_crash = on
autovacuum = off
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (id bigint PRIMARY KEY, pad text);
	CREATE INDEX ON ev USING brin (id);
	SELECT stream.create_stream('ev');
	SELECT stream.start_query('keep_up', 'SELECT id FROM ev', 'ev_out', trigger => '100 ms');
	SELECT stream.set_retention('ev', '500 ms');
	CREATE SEQUENCE ids;
	CREATE TABLE written (id bigint);
});

# a writer committing small transactions for a while
sub start_writer
{
	my ($iterations) = @_;
	my ($stdout, $stderr) = ('', '');
	my $sql = qq{
		DO \$\$
		BEGIN
			FOR i IN 1..$iterations LOOP
				WITH n AS (SELECT nextval('ids') AS id FROM generate_series(1, 40)),
				     s AS (INSERT INTO ev SELECT id, repeat('p', 200) FROM n RETURNING id)
				INSERT INTO written SELECT id FROM s;
				COMMIT;
				PERFORM pg_sleep(0.01);
			END LOOP;
		END \$\$;
	};
	return IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c', $sql ],
		'>', \$stdout, '2>', \$stderr);
}

sub size_of_ev
{
	return $node->safe_psql('postgres', q{SELECT pg_relation_size('ev')});
}

# warm up: the size the retained rows need
my @writers = map { start_writer(400) } (1, 2);
$_->finish for @writers;
$node->poll_query_until('postgres',
	q{SELECT pending_rows = 0 FROM stream.queries WHERE name = 'keep_up'})
  or die 'the query does not catch up';
$node->poll_query_until('postgres',
	q{SELECT blocks_recycled > 0 FROM stream.stream_retention})
  or die 'nothing is recycled';
my $warm = size_of_ev();

# as much again, with an immediate shutdown in the middle
@writers = map { start_writer(400) } (1, 2);
$node->poll_query_until('postgres',
	q{SELECT (SELECT count(*) FROM ev_out) > 40000})
  or die 'rows do not arrive';
$node->stop('immediate');
$_->finish for @writers;
$node->start;
@writers = map { start_writer(400) } (1, 2);
$_->finish for @writers;
$node->poll_query_until('postgres',
	q{SELECT pending_rows = 0 FROM stream.queries WHERE name = 'keep_up'})
  or die 'the query does not catch up after the restart';
my $after = size_of_ev();

my ($rows, $ids) = split /\|/, $node->safe_psql('postgres',
	'SELECT count(*), count(DISTINCT id) FROM ev_out');
my $written = $node->safe_psql('postgres', 'SELECT count(*) FROM written');
note 'missing from the target, extra in it: ' . $node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE o.id IS NULL), count(*) FILTER (WHERE w.id IS NULL),
	       min(w.id) FILTER (WHERE o.id IS NULL), max(w.id) FILTER (WHERE o.id IS NULL)
	  FROM written w FULL JOIN ev_out o USING (id)});
is($rows, $ids, 'no row reached the target twice');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM written w FULL JOIN ev_out o USING (id)
	 WHERE w.id IS NULL OR o.id IS NULL}), '0',
	"the target holds exactly the $written committed rows");
cmp_ok($node->safe_psql('postgres', 'SELECT rows_removed FROM stream.stream_retention'),
	'>', $rows / 2, 'retention removed most rows');
$node->safe_psql('postgres',
	q{CREATE TABLE plain AS SELECT id, repeat('p', 200) AS pad, '0'::xid8 AS x FROM written});
my $plain = $node->safe_psql('postgres', q{SELECT pg_relation_size('plain')});
cmp_ok($after, '<', $plain / 2,
	"the stream keeps its size: $after bytes, where its rows would take $plain");
note "rows $rows; stream size after the first third $warm, at the end $after; the same rows in a plain table $plain";

# a crash in the middle of a retention pass: its deletions are undone, and
# rows the query has not processed are all still there
$node->safe_psql('postgres', q{
	CREATE TABLE ev2 (id int, pad text);
	SELECT stream.create_stream('ev2');
	SELECT stream.start_query('held', 'SELECT id FROM ev2', 'ev2_out', trigger => '1 hour');
	INSERT INTO ev2 SELECT g, 'read' FROM generate_series(1, 3000) g;
	CALL stream.process_all_available('held');
	INSERT INTO ev2 SELECT g, 'unread' FROM generate_series(3001, 4000) g;
	SELECT stream.stop_query('held');
});
my ($stdout, $stderr) = ('', '');
my $pass = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
	  q{BEGIN; SELECT stream.set_retention('ev2', '0 seconds'); SELECT stream.run_retention('ev2'); SELECT pg_sleep(600);} ],
	'>', \$stdout, '2>', \$stderr);
$node->poll_query_until('postgres',
	q{SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%run_retention(''ev2'')%' AND wait_event = 'PgSleep')})
  or die 'the pass does not run';
$node->stop('immediate');
$pass->finish;
$node->start;
is($node->safe_psql('postgres', 'SELECT count(*) FROM ev2'), '4000',
	'the crashed pass removed nothing');

$node->safe_psql('postgres', q{
	SELECT stream.set_retention('ev2', '0 seconds');
	SELECT stream.run_retention('ev2');
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM ev2 WHERE pad = 'unread'}), '1000',
	'a pass after the restart keeps every unread row');
$node->safe_psql('postgres', q{
	SELECT stream.resume_query('held');
	CALL stream.process_all_available('held');
});
is($node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT id) FROM ev2_out'), '4000|4000',
	'the query read every row once');

# recycled runs written in a subtransaction that rolls back are not used:
# rows written afterwards all arrive.  The scheduler's own passes would
# record runs of ev3 too (its retention is on): they pause meanwhile
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET pg_streaming.retention_naptime = '1h';
	SELECT pg_reload_conf();
});
sleep(2);
$node->safe_psql('postgres', q{
	CREATE TABLE ev3 (id int, pad text);
	SELECT stream.create_stream('ev3');
	SELECT stream.start_query('sub', 'SELECT id FROM ev3', 'ev3_out', trigger => '1 hour');
	SELECT stream.set_retention('ev3', NULL);
	INSERT INTO ev3 SELECT g, repeat('r', 200) FROM generate_series(1, 3000) g;
	CALL stream.process_all_available('sub');
	SELECT stream.set_retention('ev3', '0 seconds');
	SELECT stream.run_retention('ev3');
});
$node->safe_psql('postgres', 'VACUUM ev3');
$node->safe_psql('postgres', q{
	BEGIN;
	SAVEPOINT s;
	SELECT stream.run_retention('ev3');
	ROLLBACK TO SAVEPOINT s;
	COMMIT;
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM stream.stream_runs WHERE relid = 'ev3'::regclass}),
	'0', 'the rolled-back pass left no runs');
$node->safe_psql('postgres', q{
	ALTER SYSTEM RESET pg_streaming.retention_naptime;
	SELECT pg_reload_conf();
});
$node->safe_psql('postgres', q{
	SELECT stream.set_retention('ev3', NULL);
	INSERT INTO ev3 SELECT g, 'after' FROM generate_series(3001, 4000) g;
	CALL stream.process_all_available('sub');
});
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT id) FROM ev3_out}),
	'4000|4000', 'rows written after the rolled-back pass all arrived once');

# a join between two streams reads the other side's rows from its stream
# table: retention removes no row a batch of the join may still read (a
# match, or the row behind a NULL-extended one), with a pass after every
# step of the scenario of docs/joins/surface.md 3.2, and removes the rows
# the join's watermark has passed
$node->safe_psql('postgres', q{
	SET TimeZone = 'UTC';
	CREATE TABLE impressions (ad_id int, imp_time timestamptz);
	CREATE TABLE clicks (ad_id int, click_time timestamptz);
	SELECT stream.create_stream('impressions');
	SELECT stream.create_stream('clicks');
	CREATE INDEX ON impressions (ad_id, imp_time);
	CREATE INDEX ON clicks (ad_id, click_time);
	CREATE INDEX ON impressions USING brin (imp_time);
	-- stopped from the start: the batches are run by hand
	BEGIN;
	SELECT stream.start_query('j_left',
		$$SELECT i.ad_id, i.imp_time, c.click_time
		    FROM impressions i LEFT JOIN clicks c
		      ON c.ad_id = i.ad_id
		     AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
		'j_left_out', output_mode => 'append', trigger => '1 hour',
		watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
	SELECT stream.stop_query('j_left');
	COMMIT;
	SELECT stream.set_retention('impressions', '0 seconds');
	SELECT stream.set_retention('clicks', '0 seconds');
});
my @join_steps = (
	q{INSERT INTO impressions VALUES (1, '2026-01-01 10:00+00'), (2, '2026-01-01 10:05+00'), (3, '2026-01-01 10:10+00');
	  INSERT INTO clicks VALUES (2, '2026-01-01 10:20+00'), (4, '2026-01-01 10:30+00');},
	q{INSERT INTO clicks VALUES (1, '2026-01-01 10:50+00'), (2, '2026-01-01 10:45+00'),
		(3, '2026-01-01 11:15+00'), (7, '2026-01-01 07:20+00');
	  INSERT INTO impressions VALUES (4, '2026-01-01 10:25+00'), (5, '2026-01-01 11:00+00'),
		(8, '2026-01-01 08:00+00'), (6, '2026-01-01 07:30+00');},
	q{INSERT INTO impressions VALUES (10, '2026-01-01 12:00+00'), (11, '2026-01-01 08:00+00');
	  INSERT INTO clicks VALUES (5, '2026-01-01 11:40+00'), (9, '2026-01-01 12:30+00'), (8, '2026-01-01 08:10+00'),
		(11, '2026-01-01 08:30+00'), (6, '2026-01-01 08:20+00');},
	q{INSERT INTO impressions VALUES (12, '2026-01-01 14:00+00'), (14, '2026-01-01 10:30+00');
	  INSERT INTO clicks VALUES (12, '2026-01-01 14:30+00'), (15, '2026-01-01 11:30+00');},
	q{INSERT INTO clicks VALUES (10, '2026-01-01 12:50+00');},
	q{INSERT INTO impressions VALUES (13, '2026-01-01 20:00+00');
	  INSERT INTO clicks VALUES (13, '2026-01-01 20:10+00');});
my $removed = 0;
foreach my $step (@join_steps)
{
	# the step's rows come in transactions of their own, one per stream
	$node->safe_psql('postgres', $_) foreach grep { /\S/ } split /;\n/, $step;
	$node->safe_psql('postgres', "CALL stream.process_all_available('j_left')");
	$removed += $node->safe_psql('postgres', q{
		SELECT stream.run_retention('impressions') + stream.run_retention('clicks')});
}
is($node->safe_psql('postgres', q{
	SELECT string_agg(ad_id || ' ' || to_char(imp_time AT TIME ZONE 'UTC', 'HH24:MI') || ' '
	                  || coalesce(to_char(click_time AT TIME ZONE 'UTC', 'HH24:MI'), 'NULL'), ', '
	                  ORDER BY ad_id, imp_time, click_time NULLS LAST)
	  FROM j_left_out}),
	'1 10:00 10:50, 2 10:05 10:20, 2 10:05 10:45, 3 10:10 NULL, 4 10:25 10:30, 5 11:00 11:40, '
	  . '8 08:00 NULL, 10 12:00 12:50, 12 14:00 14:30, 13 20:00 20:10, 14 10:30 NULL',
	'with retention passes after every step, the join wrote every pair and NULL row of the scenario');
note "rows removed by the passes between the steps: $removed";
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM impressions) || ' ' || (SELECT count(*) FROM clicks)}),
	'1 1', 'at the end retention removed every row the join\'s watermark has passed');

# once the watermarks pass them, retention removes a join's old rows while
# the join goes on: the streams shrink mid-way, and every pair and every
# NULL-extended row is still written exactly once
$node->safe_psql('postgres', q{
	SET TimeZone = 'UTC';
	CREATE TABLE views (k int, vt timestamptz, pad text);
	CREATE TABLE buys (k int, bt timestamptz, pad text);
	SELECT stream.create_stream('views');
	SELECT stream.create_stream('buys');
	CREATE INDEX ON views (k, vt);
	CREATE INDEX ON buys (k, bt);
	BEGIN;
	SELECT stream.start_query('j_grow',
		$$SELECT v.k, v.vt, b.bt
		    FROM views v LEFT JOIN buys b
		      ON b.k = v.k AND b.bt BETWEEN v.vt AND v.vt + interval '10 minutes'$$,
		'j_grow_out', output_mode => 'append', trigger => '1 hour',
		watermarks => '{"v.vt 5 minutes", "b.bt 5 minutes"}');
	SELECT stream.stop_query('j_grow');
	COMMIT;
	SELECT stream.set_retention('views', '0 seconds');
	SELECT stream.set_retention('buys', '0 seconds');
});
# round r: 200 views at minute 10 * r, each even one bought 3 minutes later
my $rounds = 10;
my @sizes;
for my $r (0 .. $rounds - 1)
{
	$node->safe_psql('postgres', qq{
		INSERT INTO views SELECT $r * 1000 + g, '2026-01-01 00:00+00'::timestamptz + $r * interval '10 minutes',
			repeat('v', 100) FROM generate_series(1, 200) g;
		INSERT INTO buys SELECT $r * 1000 + g, '2026-01-01 00:03+00'::timestamptz + $r * interval '10 minutes',
			repeat('b', 100) FROM generate_series(2, 200, 2) g;
		CALL stream.process_all_available('j_grow');
		SELECT stream.run_retention('views') + stream.run_retention('buys');
	});
	push @sizes, $node->safe_psql('postgres',
		q{SELECT (SELECT count(*) FROM views) + (SELECT count(*) FROM buys)});
}
note 'rows kept in the two streams after each round: ' . join(' ', @sizes);
cmp_ok($sizes[-1], '<', 4 * 300,
	"the streams keep only the rows the join may still read ($sizes[-1] of " . 300 * $rounds . ')');
cmp_ok($node->safe_psql('postgres', q{SELECT rows_removed FROM stream.stream_retention WHERE stream = 'views'::regclass}),
	'>', 0, 'retention removed rows of the join\'s stream while the join runs');
# the last rounds' rows get their NULL rows once the watermark passes them
$node->safe_psql('postgres', qq{
	INSERT INTO views VALUES (-1, '2026-01-01 23:00+00');
	INSERT INTO buys VALUES (-2, '2026-01-01 23:00+00');
	CALL stream.process_all_available('j_grow');
	SELECT stream.run_retention('views') + stream.run_retention('buys');
});
is($node->safe_psql('postgres', qq{
	WITH expected AS (
		SELECT r * 1000 + g AS k, '2026-01-01 00:00+00'::timestamptz + r * interval '10 minutes' AS vt,
		       CASE WHEN g % 2 = 0 THEN '2026-01-01 00:03+00'::timestamptz + r * interval '10 minutes' END AS bt
		  FROM generate_series(0, $rounds - 1) r, generate_series(1, 200) g)
	SELECT (SELECT count(*) FROM j_grow_out) || ' '
	    || (SELECT count(*) FROM (SELECT DISTINCT k, vt, bt FROM j_grow_out) d) || ' '
	    || (SELECT count(*) FROM expected e FULL JOIN j_grow_out o
	          ON o.k = e.k AND o.vt = e.vt
	         AND coalesce(o.bt, 'infinity') = coalesce(e.bt, 'infinity')
	         WHERE e.k IS NULL OR o.k IS NULL)}),
	(200 * $rounds) . ' ' . (200 * $rounds) . ' 0',
	'with the streams shrinking, every pair and NULL row was written exactly once');
is($node->safe_psql('postgres', q{SELECT missed_rows_at IS NULL FROM stream.queries WHERE name = 'j_grow'}),
	't', 'retention removed no row the join had still to read');

# a self-join reads its one stream as both sides: the stream keeps what
# either side may still read, and each pair is written once
$node->safe_psql('postgres', q{
	SET TimeZone = 'UTC';
	CREATE TABLE taps (k int, t timestamptz, pad text);
	SELECT stream.create_stream('taps');
	CREATE INDEX ON taps (k, t);
	BEGIN;
	SELECT stream.start_query('j_self',
		$$SELECT x.k, x.t AS t1, y.t AS t2 FROM taps x JOIN taps y
		    ON y.k = x.k AND y.t BETWEEN x.t AND x.t + interval '1 minute'$$,
		'j_self_out', output_mode => 'append', trigger => '1 hour',
		watermarks => '{"x.t 1 minute", "y.t 1 minute"}');
	SELECT stream.stop_query('j_self');
	COMMIT;
	SELECT stream.set_retention('taps', '0 seconds');
});
# round r: 100 keys at minute 10 * r, the same keys again 30 seconds later
# in a transaction of their own
my @self_sizes;
for my $r (0 .. $rounds - 1)
{
	$node->safe_psql('postgres', qq{
		INSERT INTO taps SELECT $r * 1000 + g, '2026-01-01 00:00+00'::timestamptz + $r * interval '10 minutes',
			repeat('x', 100) FROM generate_series(1, 100) g;
		INSERT INTO taps SELECT $r * 1000 + g, '2026-01-01 00:00:30+00'::timestamptz + $r * interval '10 minutes',
			repeat('y', 100) FROM generate_series(1, 100) g;
		CALL stream.process_all_available('j_self');
		SELECT stream.run_retention('taps');
	});
	push @self_sizes, $node->safe_psql('postgres', q{SELECT count(*) FROM taps});
}
note 'rows kept in the self-joined stream after each round: ' . join(' ', @self_sizes);
cmp_ok($self_sizes[-1], '<', 4 * 200,
	"the self-joined stream keeps only the rows either side may still read ($self_sizes[-1] of " . 200 * $rounds . ')');
# each key: (first, first), (first, second), (second, second)
is($node->safe_psql('postgres', qq{
	WITH expected AS (
		SELECT r * 1000 + g AS k, '2026-01-01 00:00+00'::timestamptz + r * interval '10 minutes' + a * interval '30 seconds' AS t1,
		       '2026-01-01 00:00+00'::timestamptz + r * interval '10 minutes' + b * interval '30 seconds' AS t2
		  FROM generate_series(0, $rounds - 1) r, generate_series(1, 100) g,
		       (VALUES (0, 0), (0, 1), (1, 1)) AS p(a, b))
	SELECT (SELECT count(*) FROM j_self_out) || ' '
	    || (SELECT count(*) FROM (SELECT DISTINCT k, t1, t2 FROM j_self_out) d) || ' '
	    || (SELECT count(*) FROM expected e FULL JOIN j_self_out o USING (k, t1, t2)
	         WHERE e.k IS NULL OR o.k IS NULL)}),
	(300 * $rounds) . ' ' . (300 * $rounds) . ' 0',
	'with the stream shrinking, the self-join wrote every pair exactly once');

# a detached join is marked only when removal takes a row it may still
# read: another query holds the newer rows back first, then lets them go
$node->safe_psql('postgres', q{
	SET TimeZone = 'UTC';
	CREATE TABLE pings (k int, t timestamptz);
	SELECT stream.create_stream('pings');
	CREATE INDEX ON pings (k, t);
	BEGIN;
	SELECT stream.start_query('j_det',
		$$SELECT x.k, x.t AS t1, y.t AS t2 FROM pings x JOIN pings y
		    ON y.k = x.k AND y.t BETWEEN x.t AND x.t + interval '1 minute'$$,
		'j_det_out', output_mode => 'append', trigger => '1 hour',
		watermarks => '{"x.t 1 minute", "y.t 1 minute"}');
	SELECT stream.stop_query('j_det');
	SELECT stream.start_query('p_all', 'SELECT k FROM pings', 'p_all_out', trigger => '1 hour');
	SELECT stream.stop_query('p_all');
	COMMIT;
	INSERT INTO pings SELECT g, '2026-01-01 00:00+00' FROM generate_series(1, 100) g;
	CALL stream.process_all_available('p_all');
	INSERT INTO pings SELECT g, '2026-01-01 00:10+00' FROM generate_series(1, 100) g;
	INSERT INTO pings SELECT g, '2026-01-01 00:20+00' FROM generate_series(1, 100) g;
	CALL stream.process_all_available('j_det');
	SELECT stream.detach_query('pings', 'j_det');
	SELECT stream.set_retention('pings', '0 seconds');
});
# the rows left after a pass (the scheduler's own pass may come first) and
# whether the query is marked
sub pass_and_mark
{
	my ($stream, $query) = @_;
	$node->safe_psql('postgres', "SELECT stream.run_retention('$stream')");
	return $node->safe_psql('postgres', "SELECT count(*) FROM $stream") . ' ' . $node->safe_psql('postgres',
		"SELECT missed_rows_at IS NOT NULL FROM stream.queries WHERE name = '$query'");
}
is(pass_and_mark('pings', 'j_det'), '200 f',
	'removing rows a detached join no longer reads does not mark it');
$node->safe_psql('postgres', q{CALL stream.process_all_available('p_all')});
is(pass_and_mark('pings', 'j_det'), '0 t',
	'removing rows a detached join may still read marks it');

# a join owned by an unprivileged role that can no longer analyze its text
# (the stream's schema is taken from it) holds every row, with a WARNING,
# and the pass goes on; once it can again, its old rows go
$node->safe_psql('postgres', q{
	SET TimeZone = 'UTC';
	CREATE ROLE shop_owner LOGIN;
	CREATE ROLE analyst LOGIN;
	CREATE SCHEMA shop AUTHORIZATION shop_owner;
	CREATE SCHEMA lab AUTHORIZATION analyst;
	SET ROLE shop_owner;
	CREATE TABLE shop.carts (k int, t timestamptz);
	CREATE TABLE shop.orders (k int, t timestamptz);
	SELECT stream.create_stream('shop.carts');
	SELECT stream.create_stream('shop.orders');
	CREATE INDEX ON shop.carts (k, t);
	CREATE INDEX ON shop.orders (k, t);
	GRANT USAGE ON SCHEMA shop TO analyst;
	GRANT SELECT ON shop.carts, shop.orders TO analyst;
	SELECT stream.set_retention('shop.carts', '0 seconds');
	SELECT stream.set_retention('shop.orders', '0 seconds');
	RESET ROLE;
	SET ROLE analyst;
	BEGIN;
	SELECT stream.start_query('j_priv',
		$$SELECT c.k, c.t AS ct, o.t AS ot FROM shop.carts c JOIN shop.orders o
		    ON o.k = c.k AND o.t BETWEEN c.t AND c.t + interval '1 minute'$$,
		'lab.j_priv_out', output_mode => 'append', trigger => '1 hour',
		watermarks => '{"c.t 1 minute", "o.t 1 minute"}');
	SELECT stream.stop_query('j_priv');
	COMMIT;
	RESET ROLE;
	INSERT INTO shop.carts SELECT g, '2026-01-01 00:00+00' FROM generate_series(1, 50) g;
	INSERT INTO shop.orders SELECT g, '2026-01-01 00:00:30+00' FROM generate_series(1, 50) g;
	INSERT INTO shop.carts SELECT g, '2026-01-01 00:10+00' FROM generate_series(1, 50) g;
	INSERT INTO shop.orders SELECT g, '2026-01-01 00:10:30+00' FROM generate_series(1, 50) g;
});
$node->safe_psql('postgres', q{SET ROLE analyst; CALL stream.process_all_available('j_priv')});
$node->safe_psql('postgres', q{REVOKE USAGE ON SCHEMA shop FROM analyst});
my ($rc, $out, $err) = $node->psql('postgres', q{SET ROLE shop_owner; SELECT stream.run_retention('shop.carts')});
is("$rc $out", '0 0', 'a join its owner cannot analyze any more holds every row, and the pass does not fail');
like($err, qr/WARNING:  retention keeps every row of stream "carts" for streaming query "j_priv"/,
	'a WARNING names the query and the stream');
$node->safe_psql('postgres', q{GRANT USAGE ON SCHEMA shop TO analyst});
# the scheduler's own pass may come first: what counts is what is left
$node->safe_psql('postgres', q{SET ROLE shop_owner; SELECT stream.run_retention('shop.carts')});
is($node->safe_psql('postgres', q{SELECT count(*), count(*) FILTER (WHERE t < '2026-01-01 00:10+00') FROM shop.carts}),
	'50|0', 'once it can again, the rows its watermark has passed go');
# the join reads its streams as its owner: rows a policy hides from the
# owner hold nothing back, even written before the rows it may still read
$node->safe_psql('postgres', q{
	SET ROLE shop_owner;
	ALTER TABLE shop.carts ENABLE ROW LEVEL SECURITY;
	CREATE POLICY seen ON shop.carts TO analyst USING (k <= 1000);
	RESET ROLE;
	INSERT INTO shop.carts SELECT 2000 + g, '2026-01-01 00:20+00' FROM generate_series(1, 50) g;
	INSERT INTO shop.carts SELECT g, '2026-01-01 00:20+00' FROM generate_series(1, 50) g;
	INSERT INTO shop.orders SELECT g, '2026-01-01 00:20:30+00' FROM generate_series(1, 50) g;
});
$node->safe_psql('postgres', q{SET ROLE analyst; CALL stream.process_all_available('j_priv')});
$node->safe_psql('postgres', q{SET ROLE shop_owner; SELECT stream.run_retention('shop.carts')});
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE t < '2026-01-01 00:20+00'), count(*) FILTER (WHERE k > 1000) FROM shop.carts}),
	'0|0', 'the rows its watermark passed go, and the rows hidden from its owner with them');
is($node->safe_psql('postgres', q{SELECT count(*), min(k), max(k) FROM shop.carts}),
	'50|1|50', 'the rows it may still read stay');
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT (k, ct)), max(k) FROM lab.j_priv_out}),
	'150|150|50', 'each pair it may read was written once');

# a join without watermarks may meet any earlier row: it holds every row
$node->safe_psql('postgres', q{
	CREATE TABLE l (k int, pad text);
	CREATE TABLE r (k int, pad text);
	SELECT stream.create_stream('l');
	SELECT stream.create_stream('r');
	CREATE INDEX ON l (k);
	CREATE INDEX ON r (k);
	BEGIN;
	SELECT stream.start_query('j_all', 'SELECT l.k FROM l JOIN r USING (k)',
		'j_all_out', output_mode => 'append', trigger => '1 hour');
	SELECT stream.stop_query('j_all');
	COMMIT;
	SELECT stream.set_retention('l', '0 seconds');
	SELECT stream.set_retention('r', '0 seconds');
	INSERT INTO l SELECT g, 'l' FROM generate_series(1, 500) g;
	CALL stream.process_all_available('j_all');
});
is($node->safe_psql('postgres', q{SELECT stream.run_retention('l') + stream.run_retention('r')}),
	'0', 'a join without watermarks lets retention remove nothing');
is($node->safe_psql('postgres', q{SELECT holds_retention FROM stream.queries WHERE name = 'j_all'}),
	't', 'and it is named as the query holding removal back');
$node->safe_psql('postgres', q{
	INSERT INTO r SELECT g, 'r' FROM generate_series(1, 500, 5) g;
	CALL stream.process_all_available('j_all');
});
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT k) FROM j_all_out}),
	'100|100', 'its later rows still meet every earlier row');

$node->stop;
done_testing();
