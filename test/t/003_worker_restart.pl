# Queries run by the background worker survive an immediate shutdown while
# rows keep arriving, and a worker killed with SIGKILL: after the restart
# every active query resumes from its checkpoint and the target ends with
# each committed row exactly once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('restart');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
max_worker_processes = 16
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (id bigint, writer int);
	SELECT stream.create_stream('ev');
	SELECT stream.start_query('fast', 'SELECT id, writer FROM ev', 'fast_out', trigger => '50 ms');
	SELECT stream.start_query('cont', 'SELECT id, writer FROM ev', 'cont_out', trigger => 'continuous');
	CREATE SEQUENCE ids;
});

# a writer committing small transactions until the server goes away
sub start_writer
{
	my ($writer) = @_;
	my ($stdout, $stderr) = ('', '');
	my $sql = qq{
		DO \$\$
		BEGIN
			FOR i IN 1..100000 LOOP
				INSERT INTO ev SELECT nextval('ids'), $writer FROM generate_series(1, 5);
				COMMIT;
				PERFORM pg_sleep(0.002);
			END LOOP;
		END \$\$;
	};
	return IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c', $sql ],
		'>', \$stdout, '2>', \$stderr);
}

for my $round (1 .. 3)
{
	my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM fast_out');
	my @writers = map { start_writer($_) } (1, 2);
	$node->poll_query_until('postgres', 'SELECT count(*) >= ' . ($before + 300) . ' FROM fast_out')
	  or die 'rows do not arrive';
	$node->stop('immediate');
	$_->finish for @writers;
	$node->start;
	ok(1, "round $round: immediate shutdown while two writers and two queries ran");
}

# a worker killed with SIGKILL: the server recovers and the queries resume
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_streaming worker'")
  or die 'no worker';
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_streaming worker' LIMIT 1");
kill 'KILL', $pid;
$node->poll_query_until('postgres', 'SELECT true') or die 'no recovery';
$node->safe_psql('postgres', "INSERT INTO ev SELECT nextval('ids'), 9 FROM generate_series(1, 50)");
pass('a worker was killed with SIGKILL');

my $total = $node->safe_psql('postgres', 'SELECT count(*) FROM ev');
ok($node->poll_query_until('postgres', "SELECT count(*) = $total FROM fast_out"),
	'interval query caught up after the crashes');
ok($node->poll_query_until('postgres', "SELECT count(*) = $total FROM cont_out"),
	'continuous query caught up after the crashes');
for my $t ('fast_out', 'cont_out')
{
	is($node->safe_psql('postgres', qq{
		SELECT count(*), count(DISTINCT id),
		       (SELECT count(*) FROM (SELECT id, writer FROM ev EXCEPT ALL SELECT id, writer FROM $t) d)
		  FROM $t}),
		"$total|$total|0", "$t holds every committed row exactly once");
}
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM stream.checkpoint_offsets o
	 WHERE NOT EXISTS (SELECT 1 FROM stream.checkpoint_commits k
	                    WHERE k.query_id = o.query_id AND k.batch_id = o.batch_id)}),
	'0', 'no batch is left pending');
is($node->safe_psql('postgres', "SELECT string_agg(status, ',') FROM stream.queries"),
	'active,active', 'both queries are still active');

$node->stop;
done_testing();
