# Streaming queries over a stream distributed with Citus, started on the
# coordinator by an unprivileged role: an append query, a keyed upsert and an
# aggregation grouped by the distribution column run as one query per shard
# on the workers and, under four concurrent writers through the coordinator,
# each target equals the recomputation over every row, nothing twice.  The
# shapes that cannot run per shard are refused and create nothing;
# stop/resume/drop on the coordinator reach every shard's query.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use PgsCitus;

my ($c, @w) = PgsCitus::cluster('cq', workers => 2, conf => "citus.shard_count = 4");
my @nodes = ($c, @w);

# the owner of the streams: a role without any privilege but its own
$c->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	GRANT CREATE ON SCHEMA public TO alice;
});
for my $n (@w)
{
	is($n->safe_psql('postgres', q{SELECT count(*) FROM pg_roles WHERE rolname = 'alice'}),
		'1', 'the role reaches worker ' . $n->name);
}

sub as_alice
{
	my ($sql) = @_;
	return $c->safe_psql('postgres', $sql, extra_params => [ '-U', 'alice' ]);
}

as_alice(q{
	CREATE TABLE ev(tenant int NOT NULL, id bigint NOT NULL, v int NOT NULL);
	SELECT stream.create_stream('ev');
	SELECT create_distributed_table('ev', 'tenant');
	CREATE TABLE ev2(tenant int NOT NULL, id bigint NOT NULL, ts timestamptz NOT NULL DEFAULT now());
	SELECT stream.create_stream('ev2');
	SELECT create_distributed_table('ev2', 'tenant');
	CREATE TABLE pages(page int PRIMARY KEY, title text);
	SELECT create_reference_table('pages');
	CREATE TABLE coordinator_only(x int);
	CREATE TABLE bad_target(tenant int, id bigint, v int);
	SELECT create_distributed_table('bad_target', 'id', colocate_with => 'none');
	CREATE PROCEDURE each_batch(batch_id bigint) LANGUAGE sql AS 'SELECT 1';
	CREATE TABLE local_stream(tenant int, id bigint, v int);
	SELECT stream.create_stream('local_stream');
});

# what a refused start must leave as it was
sub census
{
	my $s = $c->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM stream.distributed_queries) || '/' ||
			(SELECT count(*) FROM stream.distributed_query_shards) || '/' ||
			(SELECT count(*) FROM stream.query_defs) || '/' ||
			(SELECT count(*) FROM pg_class WHERE relname IN ('t_join', 't_global', 't_each', 't_local', 't_bad', 't_keyed_bad', 't_expr', 't_dedup_bad'))});
	for my $n (@w)
	{
		$s .= ' ' . $n->safe_psql('postgres', q{SELECT count(*) FROM stream.query_defs});
	}
	return $s;
}

sub refused
{
	my ($what, $sql, $state, $re) = @_;
	my $before = census();
	my ($rc, $out, $err) = $c->psql('postgres', "\\set VERBOSITY verbose\n$sql",
		extra_params => [ '-U', 'alice' ]);
	like($err, qr/ERROR:  $state: $re/, "$what: refused with $state");
	is(census(), $before, "$what: nothing created");
}

refused('a join between streams',
	q{SELECT stream.start_query('q_join',
		$$SELECT a.tenant, a.id, b.ts FROM ev2 a JOIN ev2 b ON b.tenant = a.tenant AND b.id = a.id
		  AND b.ts BETWEEN a.ts AND a.ts + interval '1 hour'$$,
		't_join', watermarks => '{"a.ts 1 hour", "b.ts 1 hour"}')},
	'0A000', 'a join between streams is not supported over a distributed stream');
refused('a global aggregation setting rows aside (merged on the coordinator: 045)',
	q{SELECT stream.start_query('q_global', 'SELECT count(*) AS n FROM ev', 't_global',
		output_mode => 'complete', on_error => 'dead_letter')},
	'0A000', q{on_error => 'dead_letter' is not supported for an aggregation merged across shards});
refused('foreach_batch',
	q{SELECT stream.start_query('q_each', 'SELECT tenant, id FROM ev', NULL,
		foreach_batch => 'each_batch')},
	'0A000', 'foreach_batch is not supported over a distributed stream');
refused('a table of the coordinator alone',
	q{SELECT stream.start_query('q_local',
		'SELECT e.tenant, e.id FROM ev e JOIN coordinator_only o ON o.x = e.v', 't_local')},
	'0A000', 'table "coordinator_only" is not supported in a query over a distributed stream');
refused('a target not co-located',
	q{SELECT stream.start_query('q_bad', 'SELECT tenant, id, v FROM ev', 'bad_target')},
	'42809', 'target "bad_target" is not distributed by "tenant" co-located with stream "ev"');
refused('an append without the distribution column itself',
	q{SELECT stream.start_query('q_expr', 'SELECT tenant + 1 AS t, id FROM ev', 't_expr')},
	'0A000', 'a query over a distributed stream must output its distribution column "tenant"');
refused('a key without the distribution column',
	q{SELECT stream.start_query('q_keyed_bad', 'SELECT tenant, id, v FROM ev', 't_keyed_bad',
		output_mode => 'update', key => '{id}')},
	'0A000', 'the key of an upsert over a distributed stream must include its distribution column "tenant"');
refused('a deduplication without the distribution column',
	q{SELECT stream.start_query('q_dedup_bad', 'SELECT tenant, id, ts FROM ev2', 't_dedup_bad',
		event_time => 'ts', watermark => '10 minutes', deduplicate => '{id}')},
	'0A000', 'deduplication over a distributed stream must include its distribution column "tenant"');

# the three shapes that run per shard (a reference table joined as a static side)
as_alice(q{
	INSERT INTO pages SELECT g, 'page ' || g FROM generate_series(0, 99) g;
	SELECT stream.start_query('q_app',
		'SELECT e.tenant, e.id, e.v, p.title FROM ev e JOIN pages p ON p.page = e.v',
		't_app', trigger => '200 ms');
	SELECT stream.start_query('q_ups', 'SELECT tenant, id, v FROM ev', 't_ups',
		output_mode => 'update', key => '{tenant, id}', trigger => '200 ms');
	SELECT stream.start_query('q_agg',
		'SELECT tenant, count(*) AS n, sum(v) AS s FROM ev GROUP BY tenant', 't_agg',
		output_mode => 'update', trigger => '200 ms');
});
is($c->safe_psql('postgres', q{
	SELECT string_agg(name || ':' || owner::text || ':' || placement || ':' || distribution_column || ':' || desired_status, ' ' ORDER BY name)
	FROM stream.distributed_queries}),
	'q_agg:alice:per_shard:tenant:active q_app:alice:per_shard:tenant:active q_ups:alice:per_shard:tenant:active',
	'the coordinator records each distributed query');
is($c->safe_psql('postgres', q{
	SELECT count(*) FROM stream.distributed_query_shards d
	JOIN pg_dist_shard s ON s.shardid = d.shardid AND s.logicalrelid = 'ev'::regclass
	JOIN pg_dist_shard t ON t.shardid = d.target_shardid
	 AND t.shardminvalue = s.shardminvalue AND t.shardmaxvalue = s.shardmaxvalue
	WHERE d.shard_query = d.name || '_s' || d.shardid}),
	'12', 'one row per shard of the stream, each with its co-located target shard');
for my $t (qw(t_app t_ups t_agg))
{
	is($c->safe_psql('postgres', qq{
		SELECT p.partmethod::text || ':' || column_to_column_name(p.logicalrelid, p.partkey) || ':' ||
			(p.colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'ev'::regclass))
		FROM pg_dist_partition p WHERE p.logicalrelid = '$t'::regclass}),
		'h:tenant:true', "target $t is distributed by tenant, co-located with the stream");
}

# a windowed aggregation and a deduplication by the distribution column:
# their options reach every shard's query as start_query's arguments
as_alice(q{
	SELECT stream.start_query('q_win',
		$$SELECT tenant, stream.tumble(ts, '1 minute') AS w, count(*) AS n FROM ev2 GROUP BY 1, 2$$,
		't_win', event_time => 'ts', watermark => '10 minutes', max_rows_per_batch => 100,
		trigger => '1 second');
	SELECT stream.start_query('q_dedup', 'SELECT tenant, id, ts FROM ev2', 't_dedup',
		event_time => 'ts', watermark => '5 minutes', deduplicate => '{tenant, id}');
});
wait_for('the shards of q_win and q_dedup start', sub {
	my $n = 0;
	for my $node (@w)
	{
		$n += $node->safe_psql('postgres', q{
			SELECT count(*) FROM stream.query_defs
			WHERE (name LIKE 'q\_win\_s%' AND watermark_delay = interval '10 minutes'
			       AND max_rows_per_batch = 100)
			   OR (name LIKE 'q\_dedup\_s%' AND watermark_delay = interval '5 minutes'
			       AND dedup_columns = '{tenant,id}')});
	}
	$n == 8;
});
as_alice(q{SELECT stream.drop_query('q_win'); SELECT stream.drop_query('q_dedup');});

# a name is one query's, local or distributed
my ($rc, $out, $err) = $c->psql('postgres',
	q{SELECT stream.start_query('q_app', 'SELECT tenant, id FROM local_stream', 't_other')},
	extra_params => [ '-U', 'alice' ]);
like($err, qr/streaming query "q_app" already exists/, 'a local query cannot take a distributed query\'s name');
as_alice(q{SELECT stream.start_query('q_loc', 'SELECT tenant, id FROM local_stream', 't_loc')});
($rc, $out, $err) = $c->psql('postgres',
	q{SELECT stream.start_query('q_loc', 'SELECT tenant, id, v FROM ev', 't_loc2')},
	extra_params => [ '-U', 'alice' ]);
like($err, qr/streaming query "q_loc" already exists/, 'a distributed query cannot take a local query\'s name');
as_alice(q{SELECT stream.drop_query('q_loc')});

# every shard's query starts on its node, as the owner
sub shard_statuses
{
	my ($pattern) = @_;
	my @s;
	for my $n (@w)
	{
		push @s, split /\n/, $n->safe_psql('postgres', qq{
			SELECT q.name || ':' || q.status || ':' || q.owner::regrole::text
			FROM stream.query_defs q WHERE q.name LIKE '$pattern'});
	}
	return join(' ', sort @s);
}

sub wait_for
{
	my ($what, $check) = @_;
	for (1 .. 600)
	{
		return pass($what) if $check->();
		select(undef, undef, undef, 0.1);
	}
	fail($what);
	diag($c->safe_psql('postgres', 'SELECT * FROM stream.distributed_query_shards ORDER BY 1, 2'));
}

wait_for('every shard row is as desired', sub {
	$c->safe_psql('postgres', q{
		SELECT count(*) FROM stream.distributed_query_shards s
		JOIN stream.distributed_queries q USING (name)
		WHERE s.applied_status IS DISTINCT FROM q.desired_status}) eq '0';
});
my $shard_ids = $c->safe_psql('postgres', q{
	SELECT string_agg(shard_query || ':active:alice', ' ' ORDER BY shard_query)
	FROM stream.distributed_query_shards WHERE name = 'q_app'});
is(shard_statuses('q\_app\_s%'), $shard_ids, 'each shard of q_app runs its query on its node, owned by alice');

# four writers through the coordinator
my @writers;
for my $wr (1 .. 4)
{
	my $script = '';
	for my $i (1 .. 150)
	{
		my @rows;
		for my $j (1 .. 4)
		{
			my $id = $wr * 1000000 + $i * 10 + $j;
			push @rows, sprintf('(%d, %d, %d)', ($id * 7 + $wr) % 20, $id, $id % 100);
		}
		$script .= 'INSERT INTO ev VALUES ' . join(', ', @rows) . ";\n";
	}
	my ($in, $o, $e) = ($script, '', '');
	push @writers, IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $c->connstr('postgres') . ' user=alice' ],
		'<', \$in, '>', \$o, '2>', \$e);
}
$_->finish for @writers;
is($c->safe_psql('postgres', 'SELECT count(*) FROM ev'), '2400', 'the writers committed 2,400 rows');

wait_for('the shards caught up', sub {
	$c->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM t_app) = 2400 AND (SELECT count(*) FROM t_ups) = 2400
		   AND (SELECT sum(n) FROM t_agg) = 2400}) eq 't';
});
is($c->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM (SELECT e.tenant, e.id, e.v, p.title FROM ev e JOIN pages p ON p.page = e.v
		EXCEPT ALL SELECT tenant, id, v, title FROM t_app) x) || '/' ||
	       (SELECT count(*) FROM (SELECT tenant, id, v, title FROM t_app
		EXCEPT ALL SELECT e.tenant, e.id, e.v, p.title FROM ev e JOIN pages p ON p.page = e.v) y)}),
	'0/0', 'the append target is every row once');
is($c->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM (SELECT tenant, id, v FROM ev EXCEPT ALL SELECT tenant, id, v FROM t_ups) x) || '/' ||
	       (SELECT count(*) FROM (SELECT tenant, id, v FROM t_ups EXCEPT ALL SELECT tenant, id, v FROM ev) y)}),
	'0/0', 'the upserted target is every key once');
is($c->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM (SELECT tenant, count(*), sum(v) FROM ev GROUP BY tenant
		EXCEPT ALL SELECT tenant, n, s FROM t_agg) x) || '/' ||
	       (SELECT count(*) FROM (SELECT tenant, n, s FROM t_agg
		EXCEPT ALL SELECT tenant, count(*), sum(v) FROM ev GROUP BY tenant) y)}),
	'0/0', 'the aggregation equals its recomputation over every row');

# stop, resume, drop reach every shard
is(as_alice(q{SELECT stream.stop_query('q_app')}), 't', 'stop_query on the coordinator');
is(as_alice(q{SELECT stream.stop_query('q_app')}), 'f', 'stopping it again changes nothing');
(my $stopped = $shard_ids) =~ s/:active:/:stopped:/g;
wait_for('every shard of q_app stopped', sub { shard_statuses('q\_app\_s%') eq $stopped });
is(shard_statuses('q\_ups\_s%') =~ tr/ //, 3, 'the other queries go on');
unlike(shard_statuses('q\_ups\_s%'), qr/stopped/, 'the other queries are not stopped');
as_alice(q{INSERT INTO ev VALUES (1, 9000001, 1), (2, 9000002, 2)});
is(as_alice(q{SELECT stream.resume_query('q_app')}), 't', 'resume_query on the coordinator');
wait_for('every shard of q_app active again', sub { shard_statuses('q\_app\_s%') eq $shard_ids });
wait_for('the resumed query takes the rows written while stopped', sub {
	$c->safe_psql('postgres', q{SELECT count(*) FROM t_app}) eq '2402';
});

# only the owner (or a member) manages a query
$c->safe_psql('postgres', q{CREATE ROLE mallory LOGIN});
($rc, $out, $err) = $c->psql('postgres', q{SELECT stream.stop_query('q_app')},
	extra_params => [ '-U', 'mallory' ]);
like($err, qr/permission denied for streaming query "q_app"/, 'another role cannot stop it');
($rc, $out, $err) = $c->psql('postgres', q{SELECT stream.drop_query('q_app')},
	extra_params => [ '-U', 'mallory' ]);
like($err, qr/permission denied for streaming query "q_app"/, 'another role cannot drop it');
($rc, $out, $err) = $c->psql('postgres', q{SELECT stream.alter_query('q_app', trigger => '1 second')},
	extra_params => [ '-U', 'mallory' ]);
like($err, qr/permission denied for streaming query "q_app"/, 'another role cannot alter it');

# alter_query: refused changes change nothing
sub dist_defs
{
	return $c->safe_psql('postgres', q{
		SELECT string_agg(name || '|' || query_text || '|' || options::text || '|' || coalesce(altered_at::text, '-'), E'\n' ORDER BY name)
		FROM stream.distributed_queries});
}
my $defs = dist_defs();
refused('an alter that makes the aggregation a merged one',
	q{SELECT stream.alter_query('q_agg', query => 'SELECT v, count(*) AS n, sum(v) AS s FROM ev GROUP BY v')},
	'0A000', 'alter_query cannot change the placement of distributed query "q_agg"');
refused('an alter that renames the distribution column in the output',
	q{SELECT stream.alter_query('q_app', query => 'SELECT e.tenant AS t, e.id, e.v, p.title FROM ev e JOIN pages p ON p.page = e.v')},
	'0A000', 'alter_query cannot change the distribution column in the output of distributed query "q_app"');
refused('an alter that drops the distribution column from the output',
	q{SELECT stream.alter_query('q_app', query => 'SELECT e.id, e.v, p.title FROM ev e JOIN pages p ON p.page = e.v')},
	'0A000', 'a query over a distributed stream must output its distribution column "tenant"');
refused('an alter that reads another stream',
	q{SELECT stream.alter_query('q_app', query => 'SELECT tenant, id, 0 AS v, ''x'' AS title FROM ev2')},
	'0A000', 'alter_query cannot change the stream of distributed query "q_app"');
refused('a watermark for a query without event time',
	q{SELECT stream.alter_query('q_app', watermark => '1 minute')},
	'0A000', 'distributed query "q_app" has no event time, so no watermark');
is(dist_defs(), $defs, 'the refused alters changed nothing');

# alter the filter of the append and the trigger of the aggregation while writers run
sub ev_ids
{
	return map { $_ => 1 } split /\n/, $c->safe_psql('postgres', q{SELECT id FROM ev WHERE id >= 50000000});
}
@writers = ();
for my $wr (1 .. 4)
{
	my $script = '';
	for my $i (1 .. 150)
	{
		my @rows;
		for my $j (1 .. 4)
		{
			my $id = 50000000 + $wr * 1000000 + $i * 10 + $j;
			push @rows, sprintf('(%d, %d, %d)', ($id * 7 + $wr) % 20, $id, $id % 100);
		}
		$script .= 'INSERT INTO ev VALUES ' . join(', ', @rows) . ";\nSELECT pg_sleep(0.02);\n";
	}
	# from a file: the writers run while the test goes on
	my $file = PostgreSQL::Test::Utils::tempdir() . "/writer$wr.sql";
	PostgreSQL::Test::Utils::append_to_file($file, $script);
	push @writers, IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $file, '-d', $c->connstr('postgres') . ' user=alice' ],
		'>', '/dev/null', '2>', '/dev/null');
}
wait_for('the writers are writing', sub {
	$c->safe_psql('postgres', q{SELECT count(*) FROM ev WHERE id >= 50000000}) > 100 });
my %before = ev_ids();
as_alice(q{CALL stream.process_all_available('q_app')});
as_alice(q{SELECT stream.alter_query('q_app',
	query => 'SELECT e.tenant, e.id, e.v, p.title FROM ev e JOIN pages p ON p.page = e.v WHERE e.v < 50')});
as_alice(q{SELECT stream.alter_query('q_agg', trigger => '300 ms', max_rows_per_batch => 500)});
wait_for('every shard of q_app and q_agg is brought to the alter', sub {
	$c->safe_psql('postgres', q{
		SELECT bool_and(s.applied_at = q.altered_at AND s.last_error IS NULL)
		FROM stream.distributed_query_shards s JOIN stream.distributed_queries q USING (name)
		WHERE name IN ('q_app', 'q_agg')}) eq 't';
});
my %after = ev_ids();
$_->finish for @writers;
ok(scalar(keys %before) > 0 && scalar(keys %after) > scalar(keys %before) &&
   scalar(keys %after) < 2400, 'rows were written before, during and after the alter')
  or diag(scalar(keys %before) . ' rows before, ' . scalar(keys %after) . ' after');
as_alice(q{CALL stream.process_all_available('q_app')});
as_alice(q{CALL stream.process_all_available('q_agg')});

my $node_defs = join(' ', map { $_->safe_psql('postgres', q{
	SELECT string_agg(name || ':' || (query_text LIKE '%JOIN public.pages\_% WHERE e.v < 50')::text, ' ' ORDER BY name)
	FROM stream.query_defs WHERE name LIKE 'q\_app\_s%'}) } @w);
unlike($node_defs, qr/false/, 'every shard query of q_app runs the new text, rewritten for its node');
my $agg_trigger = $c->safe_psql('postgres', q{
	SELECT (options->>'trigger') || '/' || (options->>'max_rows_per_batch') FROM stream.distributed_queries WHERE name = 'q_agg'});
isnt($agg_trigger, '200 ms/', 'the coordinator records the new trigger and cap');
is(join(' ', map { $_->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT trigger || '/' || max_rows_per_batch, ' ') FROM stream.query_defs WHERE name LIKE 'q\_agg\_s%'}) } @w),
	"$agg_trigger $agg_trigger", 'every shard query of q_agg has the new trigger and cap');

# the append: rows before went through the old text, rows after through the new one
my %got;
my $twice = 0;
for my $row (split /\n/, $c->safe_psql('postgres', q{SELECT id FROM t_app WHERE id >= 50000000}))
{
	$twice++ if $got{$row}++;
}
is($twice, 0, 'no row is in the append target twice');
my ($lost, $extra) = (0, 0);
for my $row (split /\n/, $c->safe_psql('postgres', q{SELECT id || ':' || v FROM ev WHERE id >= 50000000}))
{
	my ($id, $v) = split /:/, $row;
	if ($before{$id} || $v < 50) { $lost++ unless $got{$id}; }
	elsif (!$after{$id}) { $extra++ if $got{$id}; }
	delete $got{$id};
}
is("$lost/$extra/" . scalar(keys %got), '0/0/0',
	'rows before the alter went through the old text, rows after through the new one, none lost or made up');
is($c->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM (SELECT tenant, count(*), sum(v) FROM ev GROUP BY tenant
		EXCEPT ALL SELECT tenant, n, s FROM t_agg) x) || '/' ||
	       (SELECT count(*) FROM (SELECT tenant, n, s FROM t_agg
		EXCEPT ALL SELECT tenant, count(*), sum(v) FROM ev GROUP BY tenant) y)}),
	'0/0', 'the aggregation altered while writers ran equals its recomputation');

# the same change again is no change: a pass over shards marked as not brought changes nothing
$c->safe_psql('postgres', q{UPDATE stream.distributed_query_shards SET applied_at = NULL WHERE name = 'q_app'});
as_alice(q{SELECT stream._reconcile_distributed('q_app')});
is($c->safe_psql('postgres', q{
	SELECT bool_and(s.applied_at = q.altered_at AND s.last_error IS NULL)
	FROM stream.distributed_query_shards s JOIN stream.distributed_queries q USING (name)
	WHERE name = 'q_app'}), 't', 'the shards are brought again without an error');
my $kept = 0;
$kept += $_->safe_psql('postgres', q{
	SELECT count(*) FROM stream.query_defs WHERE name LIKE 'q\_app\_s%' AND query_text LIKE '%WHERE e.v < 50'}) for @w;
is($kept, $c->safe_psql('postgres', q{SELECT count(*) FROM stream.distributed_query_shards WHERE name = 'q_app'}),
	'the shard queries keep the one new text');

# a new status is no new definition: the shards stay brought to it
as_alice(q{SELECT stream.stop_query('q_agg')});
is($c->safe_psql('postgres', q{
	SELECT bool_and(s.applied_at = q.altered_at)
	FROM stream.distributed_query_shards s JOIN stream.distributed_queries q USING (name)
	WHERE name = 'q_agg'}), 't', 'stopping an altered query asks no alter of its shards');
as_alice(q{SELECT stream.resume_query('q_agg')});

is(as_alice(q{SELECT stream.drop_query('q_app')}), 't', 'drop_query on the coordinator');
wait_for('every shard query of q_app is dropped, and the coordinator forgets it', sub {
	shard_statuses('q\_app\_s%') eq '' &&
	  $c->safe_psql('postgres', q{SELECT count(*) FROM stream.distributed_queries WHERE name = 'q_app'}) eq '0';
});
is($c->safe_psql('postgres', q{SELECT to_regclass('t_app') IS NOT NULL}), 't', 'the target stays');
($rc, $out, $err) = $c->psql('postgres', q{SELECT stream.drop_query('q_app')},
	extra_params => [ '-U', 'alice' ]);
like($err, qr/streaming query "q_app" does not exist/, 'a dropped query is gone');

# a table a distributed query uses is dropped only with CASCADE, which drops the query
as_alice(q{
	CREATE TABLE ev3(tenant int NOT NULL, v int NOT NULL);
	SELECT stream.create_stream('ev3');
	SELECT create_distributed_table('ev3', 'tenant');
	SELECT stream.start_query('q_drop', 'SELECT tenant, v FROM ev3', 't_drop');
});
wait_for('the shards of q_drop start', sub { shard_statuses('q\_drop\_s%') ne '' &&
	$c->safe_psql('postgres', q{SELECT bool_and(applied_status = 'active') FROM stream.distributed_query_shards WHERE name = 'q_drop'}) eq 't' });
($rc, $out, $err) = $c->psql('postgres', q{DROP TABLE t_drop}, extra_params => [ '-U', 'alice' ]);
like($err, qr/cannot drop table public.t_drop because distributed streaming query "q_drop" uses it/,
	'dropping a distributed query\'s target without CASCADE is refused');
($rc, $out, $err) = $c->psql('postgres', q{DROP TABLE ev3}, extra_params => [ '-U', 'alice' ]);
like($err, qr/cannot drop table public.ev3 because distributed streaming query "q_drop" uses it/,
	'dropping a distributed query\'s stream without CASCADE is refused');
is($c->safe_psql('postgres', q{SELECT to_regclass('t_drop') IS NOT NULL AND to_regclass('ev3') IS NOT NULL}), 't',
	'both tables are still there');
($rc, $out, $err) = $c->psql('postgres', q{DROP TABLE t_drop CASCADE}, extra_params => [ '-U', 'alice' ]);
is($rc, 0, 'DROP TABLE ... CASCADE of the target works');
like($err, qr/drop cascades to distributed streaming queries that use/, 'and says it drops the query');
wait_for('the shards of q_drop are dropped and the coordinator forgets it', sub {
	shard_statuses('q\_drop\_s%') eq '' &&
	  $c->safe_psql('postgres', q{SELECT count(*) FROM stream.distributed_queries WHERE name = 'q_drop'}) eq '0';
});

# a node that does not answer: its error is recorded, the others go on, a later pass retries
$w[1]->stop('immediate');
as_alice(q{SELECT stream.stop_query('q_ups')});
wait_for('the down node\'s shards record the error', sub {
	$c->safe_psql('postgres', q{
		SELECT count(*) FILTER (WHERE applied_status = 'stopped') > 0
		   AND count(*) FILTER (WHERE last_error IS NOT NULL AND applied_status = 'active') > 0
		FROM stream.distributed_query_shards WHERE name = 'q_ups'}) eq 't';
});
$w[1]->start;
wait_for('after the node is back, every shard of q_ups is stopped', sub {
	$c->safe_psql('postgres', q{
		SELECT bool_and(applied_status = 'stopped' AND last_error IS NULL)
		FROM stream.distributed_query_shards WHERE name = 'q_ups'}) eq 't';
});

for my $n ($c, @w)
{
	unlike(slurp_file($n->logfile), qr/terminated by signal/, 'no process of ' . $n->name . ' crashed');
}

done_testing();
