# Joins between streams carry on after a logical restore, as every query
# does.  A left outer join and a semi join with rows waiting for a match and
# a row dropped as late, and a left join started from the latest rows, are
# dumped with rows pending; restored keeping the stamps into another
# cluster, stream.resume_restored_query(..., 'checkpoint') stamps both
# streams again at once and gives each join's state the rows' new places;
# restored into the same cluster, the checkpoint is adopted and the state
# follows the rows too; after a plain restore, 'deliver' processes every
# restored row again into an emptied target.  Each target then equals the
# join recomputed over the rows it should hold, with nothing twice (a
# unique index on it).  And the refusals: 'skip' for a join, a join state
# made without fingerprints, more restored queries than the stamps can
# tell apart.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

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

my $left_sql = q{SELECT i.ad_id, i.imp_time, c.click_time
		    FROM impressions i LEFT JOIN clicks c
		      ON c.ad_id = i.ad_id
		     AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'};
my $hourly_sql = q{SELECT stream.tumble(i.imp_time, '1 hour') AS hour, count(*) AS rows,
		     count(c.click_time) AS clicks
		    FROM impressions i LEFT JOIN clicks c
		      ON c.ad_id = i.ad_id
		     AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
		   GROUP BY 1};
my $semi_sql = q{SELECT i.ad_id, i.imp_time FROM impressions i
		   WHERE EXISTS (SELECT 1 FROM clicks c WHERE c.ad_id = i.ad_id
		                    AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour')};

# --- the source cluster, its xids past a fresh cluster's
my $src = PostgreSQL::Test::Cluster->new('source');
$src->init;
$src->start;
$src->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	CREATE DATABASE app OWNER alice;
	CREATE DATABASE same_copy OWNER alice;
});
$src->safe_psql('app', q{
	DO $$ BEGIN FOR i IN 1..2000 LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$;
	CREATE EXTENSION pg_streaming;
	GRANT CREATE ON SCHEMA public TO alice;
});
alice($src, 'app', qq{
	CREATE TYPE mood AS ENUM ('calm', 'eager');
	CREATE TABLE impressions (ad_id int, imp_time timestamptz, note text, m mood);
	CREATE TABLE clicks (ad_id int, click_time timestamptz);
	SELECT stream.create_stream('impressions');
	SELECT stream.create_stream('clicks');
	CREATE INDEX ON impressions (ad_id, imp_time);
	CREATE INDEX ON clicks (ad_id, click_time);
	CREATE INDEX ON impressions USING brin (imp_time);
	CREATE TABLE j_left_out (ad_id int, imp_time timestamptz, click_time timestamptz);
	CREATE UNIQUE INDEX ON j_left_out (ad_id, imp_time, click_time) NULLS NOT DISTINCT;
	CREATE TABLE j_semi_out (ad_id int, imp_time timestamptz);
	CREATE UNIQUE INDEX ON j_semi_out (ad_id, imp_time);
	CREATE TABLE j_latest_out (ad_id int, imp_time timestamptz, click_time timestamptz);
	CREATE UNIQUE INDEX ON j_latest_out (ad_id, imp_time, click_time) NULLS NOT DISTINCT;
	SELECT stream.start_query('j_left', \$\$$left_sql\$\$, 'j_left_out', trigger => '1 hour',
		watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
	SELECT stream.start_query('j_semi', \$\$$semi_sql\$\$, 'j_semi_out', trigger => '1 hour',
		watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
	-- a join then a windowed aggregation: the join's state is stream_state.j_hourly_join
	SELECT stream.start_query('j_hourly', \$\$$hourly_sql\$\$, 'j_hourly_out', output_mode => 'append',
		trigger => '1 hour', watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
	-- rows of an aborted writer: the restored rows lie elsewhere
	BEGIN;
	INSERT INTO impressions SELECT g, '2026-01-01 09:00+00', 'x', 'calm' FROM generate_series(500, 560) g;
	INSERT INTO clicks SELECT g, '2026-01-01 09:10+00' FROM generate_series(500, 560) g;
	ROLLBACK;
});

# each statement on its own, as alice: a CALL outside a transaction block
sub run_all
{
	my ($node, $db, @queries) = @_;
	alice($node, $db, "CALL stream.process_all_available('$_')") foreach @queries;
	return;
}

alice($src, 'app', q{
	INSERT INTO impressions VALUES (1, '2026-01-01 10:00+00', 'one', 'calm'),
		(2, '2026-01-01 10:05+00', 'two', 'eager'), (3, '2026-01-01 10:10+00', 'three', 'calm');
	INSERT INTO clicks VALUES (2, '2026-01-01 10:20+00'), (4, '2026-01-01 10:30+00');
});
run_all($src, 'app', 'j_left', 'j_semi', 'j_hourly');
alice($src, 'app', q{
	INSERT INTO clicks VALUES (1, '2026-01-01 10:50+00');
	INSERT INTO impressions VALUES (4, '2026-01-01 10:25+00', repeat('long ', 2000), 'calm'),
		(5, '2026-01-01 11:00+00', NULL, NULL), (8, '2026-01-01 11:30+00', 'eight', 'eager');
});
run_all($src, 'app', 'j_left', 'j_semi', 'j_hourly');
# the watermark moves to 09:40 (the clicks' 12:40 less 3 hours)
alice($src, 'app', q{
	INSERT INTO impressions VALUES (9, '2026-01-01 12:30+00', 'nine', 'calm');
	INSERT INTO clicks VALUES (9, '2026-01-01 12:40+00');
});
run_all($src, 'app', 'j_left', 'j_semi', 'j_hourly');
# late: an impression the watermark passed (kept as late until 10:10) and a click
alice($src, 'app', q{
	INSERT INTO impressions VALUES (6, '2026-01-01 09:10+00', 'six', 'calm');
	INSERT INTO clicks VALUES (7, '2026-01-01 08:00+00');
});
run_all($src, 'app', 'j_left', 'j_semi', 'j_hourly');
# a left join from the latest rows on, and rows of its own
alice($src, 'app', qq{
	SELECT stream.start_query('j_latest', \$\$$left_sql\$\$, 'j_latest_out', trigger => '1 hour',
		starting_from => 'latest',
		watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
	INSERT INTO impressions VALUES (101, '2026-01-01 10:00+00', 'a', 'calm'),
		(102, '2026-01-01 10:10+00', 'b', 'calm'), (103, '2026-01-01 10:20+00', 'c', 'eager');
	INSERT INTO clicks VALUES (102, '2026-01-01 10:30+00');
});
run_all($src, 'app', 'j_left', 'j_semi', 'j_hourly', 'j_latest');
# pending at dump time: a click for a waiting impression, and more
alice($src, 'app', q{
	INSERT INTO impressions VALUES (104, '2026-01-01 10:40+00', 'd', 'calm');
	INSERT INTO clicks VALUES (101, '2026-01-01 10:45+00'), (3, '2026-01-01 10:55+00');
});

# what each state holds at dump time: rows waiting, and a late one
is($src->safe_psql('app', q{
	SELECT (SELECT string_agg(kind || side, ',' ORDER BY kind, side) FROM
	         (SELECT DISTINCT kind, side FROM stream_state.j_left) k),
	       (SELECT count(*) FROM stream_state.j_left WHERE kind = 'u'),
	       (SELECT count(*) FROM stream_state.j_semi WHERE kind = 'u'),
	       (SELECT count(*) FROM stream_state.j_latest WHERE kind = 'u'),
	       (SELECT count(*) FROM stream_state.j_latest WHERE kind = 's')}),
	'l1,u1|5|5|2|1', 'source: waiting rows, a late row and a start snapshot in the states');
is($src->safe_psql('app', q{SELECT count(*) FROM stream_state.j_left WHERE fp IS NULL AND kind <> 's'}),
	'0', 'source: each row the state keeps has its fingerprint');

my $dump = $src->basedir . '/app.dump';
$src->command_ok([ 'pg_dump', '-Fc', '-d', $src->connstr('app'), '-f', $dump ], 'pg_dump');

# the rows written after the restore, and the last ones, which move the
# watermark past every earlier row
my $after = q{
	INSERT INTO clicks VALUES (6, '2026-01-01 09:50+00'), (5, '2026-01-01 11:20+00'),
		(103, '2026-01-01 10:50+00');
	INSERT INTO impressions VALUES (105, '2026-01-01 11:00+00', 'e', 'calm');
};
my $last = q{
	INSERT INTO impressions VALUES (999, '2026-01-02 10:00+00', 'z', 'calm');
	INSERT INTO clicks VALUES (999, '2026-01-02 10:10+00');
};

# a target against the join recomputed: rows missing, rows extra, rows twice
sub differs
{
	my ($node, $db, $target, $recompute) = @_;
	return $node->safe_psql($db, qq{
		SELECT (SELECT count(*) FROM (($recompute) EXCEPT ALL SELECT * FROM $target) m) || ' missing, ' ||
		       (SELECT count(*) FROM (SELECT * FROM $target EXCEPT ALL ($recompute)) x) || ' extra, ' ||
		       (SELECT count(*) FROM $target) || ' rows'});
}

# the joins over every row but the late ones (impression 6, click 7)
my $left_expect = q{
	SELECT i.ad_id, i.imp_time, c.click_time
	  FROM impressions i LEFT JOIN clicks c
	    ON c.ad_id = i.ad_id AND c.ad_id <> 7
	   AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
	 WHERE i.ad_id <> 6};
my $semi_expect = q{
	SELECT i.ad_id, i.imp_time FROM impressions i
	 WHERE i.ad_id <> 6
	   AND EXISTS (SELECT 1 FROM clicks c WHERE c.ad_id = i.ad_id AND c.ad_id <> 7
	                  AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour')};
# the join from the latest rows: those written after it started (ids from 100)
my $latest_expect = q{
	SELECT i.ad_id, i.imp_time, c.click_time
	  FROM impressions i LEFT JOIN clicks c
	    ON c.ad_id = i.ad_id AND c.ad_id >= 100
	   AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
	 WHERE i.ad_id >= 100};

# the hourly windows over the left join, those the last watermark closed
my $hourly_expect = qq{
	SELECT stream.tumble(imp_time, '1 hour') AS hour, count(*) AS rows, count(click_time) AS clicks
	  FROM ($left_expect) j
	 GROUP BY 1 HAVING stream.tumble(imp_time, '1 hour') < '2026-01-02 00:00+00'};

sub check_all
{
	my ($node, $db, $what) = @_;
	my $n_left = $node->safe_psql($db, "SELECT count(*) FROM ($left_expect) e");
	my $n_semi = $node->safe_psql($db, "SELECT count(*) FROM ($semi_expect) e");
	my $n_latest = $node->safe_psql($db, "SELECT count(*) FROM ($latest_expect) e");
	my $n_nulls = $node->safe_psql($db, "SELECT count(*) FROM ($left_expect) e WHERE click_time IS NULL");
	cmp_ok($n_nulls, '>=', 3, "$what: the recomputed left join has NULL rows to compare");
	is(differs($node, $db, 'j_left_out', $left_expect), "0 missing, 0 extra, $n_left rows",
		"$what: the left join wrote every pair and every unmatched impression once, no late row");
	is(differs($node, $db, 'j_semi_out', $semi_expect), "0 missing, 0 extra, $n_semi rows",
		"$what: the semi join wrote each matched impression once");
	is(differs($node, $db, 'j_latest_out', $latest_expect), "0 missing, 0 extra, $n_latest rows",
		"$what: the join from the latest rows wrote only the rows after its start, each once");
	my $n_hourly = $node->safe_psql($db, "SELECT count(*) FROM ($hourly_expect) e");
	cmp_ok($n_hourly, '>=', 3, "$what: the recomputed aggregation has windows to compare");
	is(differs($node, $db, '(SELECT hour, rows, clicks FROM j_hourly_out) h', $hourly_expect),
		"0 missing, 0 extra, $n_hourly rows",
		"$what: the aggregation over the join wrote each closed window once, whole");
	return;
}

# --- another cluster, keeping the stamps
my $dst = PostgreSQL::Test::Cluster->new('target');
$dst->init;
$dst->start;
$dst->safe_psql('postgres', 'CREATE ROLE alice LOGIN');

sub restore
{
	my ($node, $db, $replica) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db OWNER alice");
	local $ENV{PGOPTIONS} = $replica ? '-c session_replication_role=replica' : '';
	$node->command_ok([ 'pg_restore', '-d', $node->connstr($db), $dump ],
		"pg_restore into $db" . ($replica ? ' keeping the stamps' : ''));
	return;
}

restore($dst, 'replica1', 1);
my ($ret, $out, $err) = psql_alice($dst, 'replica1', "CALL stream.process_all_available('j_left')");
like($err, qr/the checkpoint of streaming query "j_left" was written in another transaction history/,
	'the restored join does not run on its own');
($ret, $out, $err) = psql_alice($dst, 'replica1', "SELECT stream.resume_restored_query('j_semi', 'skip')");
like($err, qr/streaming query "j_semi" joins two streams and cannot take its restored rows as processed/,
	"'skip' is refused for a join");
like($err, qr/HINT:  Choose restored_rows => 'deliver'/, 'the refusal names the way on');
($ret, $out, $err) = psql_alice($dst, 'replica1', "SELECT stream.resume_restored_query('j_left', 'checkpoint')");
is($out, 't', "resume_restored_query(..., 'checkpoint') for a join restored into another cluster");
like($err, qr/NOTICE:  stamped \d+ restored rows of stream tables "impressions", "clicks" again\nDETAIL:  The checkpoints of streaming queries j_semi, j_hourly, j_latest, restored with them, are this cluster's now too/,
	'both streams stamped again at once, for every restored join on them');
is($dst->safe_psql('replica1', q{
	SELECT count(*) FILTER (WHERE _stream_xid::text::bigint < 300), count(*) FROM impressions}),
	'12|12', 'every restored row has its new stamp');
alice($dst, 'replica1', "SELECT stream.resume_query(q) FROM unnest('{j_semi,j_hourly,j_latest}'::text[]) q");
alice($dst, 'replica1', $after);
run_all($dst, 'replica1', 'j_left', 'j_semi', 'j_hourly', 'j_latest');
alice($dst, 'replica1', $last);
run_all($dst, 'replica1', 'j_left', 'j_semi', 'j_hourly', 'j_latest');
check_all($dst, 'replica1', 'another cluster');
is($dst->safe_psql('replica1', q{
	SELECT string_agg(ad_id || ' ' || coalesce(to_char(click_time AT TIME ZONE 'UTC', 'HH24:MI'), 'NULL'), ', ' ORDER BY ad_id)
	  FROM j_left_out WHERE ad_id IN (3, 5, 6, 8)}),
	'3 10:55, 5 11:20, 8 NULL',
	'rows that waited across the restore matched, the late impression met nothing');
is($dst->safe_psql('replica1', q{SELECT count(*) FROM stream_state.j_left WHERE kind <> 's'}),
	'0', 'the last watermark passed every row the state kept');

# --- the same cluster, keeping the stamps: the checkpoint holds, the places do not
{
	local $ENV{PGOPTIONS} = '-c session_replication_role=replica';
	$src->command_ok([ 'pg_restore', '-d', $src->connstr('same_copy'), $dump ],
		'pg_restore into another database of the same cluster, keeping the stamps');
}
isnt($src->safe_psql('same_copy', q{SELECT string_agg(ctid::text, ',' ORDER BY ad_id) FROM impressions}),
	$src->safe_psql('app', q{SELECT string_agg(ctid::text, ',' ORDER BY ad_id) FROM impressions}),
	'the restored rows lie elsewhere');
is(alice($src, 'same_copy', q{
	SELECT string_agg(stream.resume_restored_query(name, 'checkpoint')::text, ',' ORDER BY name)
	  FROM stream.queries}),
	'true,true,true,true', "each join adopts its checkpoint with 'checkpoint'");
alice($src, 'same_copy', $after);
run_all($src, 'same_copy', 'j_left', 'j_semi', 'j_hourly', 'j_latest');
alice($src, 'same_copy', $last);
run_all($src, 'same_copy', 'j_left', 'j_semi', 'j_hourly', 'j_latest');
check_all($src, 'same_copy', 'the same cluster');

# --- a plain restore: 'deliver' into an emptied target
restore($dst, 'plain1', 0);
($ret, $out, $err) = psql_alice($dst, 'plain1', "SELECT stream.resume_restored_query('j_left', 'checkpoint')");
like($err, qr/the checkpoint of streaming query "j_left" cannot tell which restored rows it processed/,
	"'checkpoint' is refused after a plain restore");
($ret, $out, $err) = psql_alice($dst, 'plain1', "SELECT stream.resume_restored_query('j_hourly', 'deliver')");
like($err, qr/streaming query "j_hourly" keeps state, which holds the restored rows already/,
	"'deliver' is refused for an aggregation over a join");
alice($dst, 'plain1', 'TRUNCATE j_left_out');
is(alice($dst, 'plain1', "SELECT stream.resume_restored_query('j_left', 'deliver')"), 't',
	"resume_restored_query(..., 'deliver') for a join");
alice($dst, 'plain1', $after);
run_all($dst, 'plain1', 'j_left');
alice($dst, 'plain1', $last);
run_all($dst, 'plain1', 'j_left');
my $all_left = q{
	SELECT i.ad_id, i.imp_time, c.click_time
	  FROM impressions i LEFT JOIN clicks c
	    ON c.ad_id = i.ad_id
	   AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'};
my $n_all = $dst->safe_psql('plain1', "SELECT count(*) FROM ($all_left) e");
is(differs($dst, 'plain1', 'j_left_out', $all_left), "0 missing, 0 extra, $n_all rows",
	"'deliver': the join over every row, restored or later, each once, as a fresh start");

# --- a join state made without fingerprints (by pg_streaming 0.7)
restore($dst, 'old1', 1);
$dst->safe_psql('old1', 'ALTER TABLE stream_state.j_left DROP COLUMN fp');
($ret, $out, $err) = psql_alice($dst, 'old1', "SELECT stream.resume_restored_query('j_left', 'checkpoint')");
like($err, qr/streaming query "j_left" joins two streams and cannot carry on after a restore into another transaction history\nDETAIL:  Its state was made by pg_streaming 0.7/,
	'a join state without fingerprints keeps the refusal');
is($dst->safe_psql('old1', q{SELECT count(*) FROM impressions WHERE _stream_xid::text::bigint < 300}),
	'0', 'and nothing was stamped again');

# --- more restored queries than the stamps can tell apart
restore($dst, 'many1', 1);
# six more queries on a stream of the joins, as if restored with them (their
# offsets named another history): a row of this cluster gives them a batch
alice($dst, 'many1', q{
	INSERT INTO clicks VALUES (700, '2026-01-01 12:00+00');
	SELECT stream.start_query('c' || g, 'SELECT ad_id FROM clicks', 'c' || g || '_out')
	  FROM generate_series(1, 6) g;
});
run_all($dst, 'many1', map { "c$_" } 1 .. 6);
$dst->safe_psql('many1', q{
	UPDATE stream.checkpoint_offsets SET history_id = 42
	 WHERE query_id IN (SELECT id FROM stream.queries WHERE name LIKE 'c_')});
($ret, $out, $err) = psql_alice($dst, 'many1', "SELECT stream.resume_restored_query('j_left', 'checkpoint')");
like($err, qr/stream tables "impressions", "clicks" linked by joins have 11 restored queries, more than 8\nDETAIL:  The streams of restored joins are stamped again together, for streaming queries j_left, j_semi, j_hourly, j_latest, c1, c2, c3, c4, c5, c6/,
	'more restored queries than the limit in a component are refused, naming them');
is($dst->safe_psql('many1', q{SELECT count(*) FROM clicks WHERE _stream_xid::text::bigint < 300}),
	'0', 'and nothing was stamped again');

# the source itself, without any restore, with the same rows, writes what the
# expectations say
alice($src, 'app', $after);
run_all($src, 'app', 'j_left', 'j_semi', 'j_hourly', 'j_latest');
alice($src, 'app', $last);
run_all($src, 'app', 'j_left', 'j_semi', 'j_hourly', 'j_latest');
check_all($src, 'app', 'without a restore');

$dst->stop;
$src->stop;
done_testing();
