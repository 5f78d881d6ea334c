# The foreach_batch example of the README, run for real: the background
# worker calls the query's procedure once per batch, which copies the
# batch's rows into an outbox in the batch's transaction; the external
# consumer (examples/foreach_batch_consumer.py, psycopg) moves the outbox
# into a file, and is killed in the middle of a batch and between writing a
# batch and acknowledging it.  In the end the file holds every row of the
# stream exactly once, each batch once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename;
use Cwd 'abs_path';

my $python = '/usr/bin/python3';
my $consumer = abs_path(dirname(__FILE__) . '/../../examples/foreach_batch_consumer.py');
plan skip_all => 'python3 with psycopg is not installed'
  unless -x $python && system($python, '-c', 'import psycopg') == 0;

my $node = PostgreSQL::Test::Cluster->new('consumer');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE ROLE exporter LOGIN;
	GRANT CREATE ON SCHEMA public TO exporter;
	SET ROLE exporter;
	CREATE TABLE events (id bigint PRIMARY KEY, payload text);
	SELECT stream.create_stream('events');
	CREATE TABLE outbox (batch_id bigint NOT NULL, id bigint NOT NULL, payload text);
	CREATE INDEX ON outbox (batch_id);
	CREATE PROCEDURE to_outbox(batch_id bigint) LANGUAGE plpgsql AS $$
	BEGIN
	    INSERT INTO outbox SELECT batch_id, id, payload FROM stream_batch.export;
	END $$;
	SELECT stream.start_query('export', 'SELECT id, payload FROM events',
	                          foreach_batch => 'to_outbox', trigger => 'continuous');
});

my $next = 1;
sub write_rows
{
	my ($transactions) = @_;
	for (1 .. $transactions)
	{
		my $last = $next + 9;
		$node->safe_psql('postgres',
			"INSERT INTO events SELECT g, 'row ' || g FROM generate_series($next, $last) g");
		$next = $last + 1;
	}
	$node->poll_query_until('postgres',
		q{SELECT stream.pending_rows('export') = 0 AND pending_batches = 0
		    FROM stream.queries WHERE name = 'export'})
	  or die 'the worker does not catch up';
}

my $file = PostgreSQL::Test::Utils::tempdir . '/export.tsv';
my $dsn = $node->connstr('postgres') . ' user=exporter';

sub consume
{
	my (@options) = @_;
	return system($python, $consumer, $dsn, $file, '--idle', '0.5', @options) >> 8;
}

write_rows(5);
is(consume('--crash-after-rows', '4'), 3, 'the consumer is killed in the middle of a batch');
write_rows(3);
is(consume('--crash-after-commit'), 4,
	'the consumer is killed after writing a batch, before acknowledging it');
write_rows(4);
is(consume(), 0, 'the consumer runs to the end');
write_rows(2);
is(consume(), 0, 'and again, after more batches');

# the file: every row once, each batch committed once
open my $fh, '<', $file or die "cannot read $file: $!";
my (%seen, %batches, $rows, $duplicates, $commits, $dup_commits);
$rows = $duplicates = $commits = $dup_commits = 0;
while (my $line = <$fh>)
{
	chomp $line;
	my @f = split /\t/, $line;
	if ($f[0] eq 'row')
	{
		$rows++;
		$duplicates++ if $seen{ $f[2] }++;
	}
	elsif ($f[0] eq 'commit')
	{
		$commits++;
		$dup_commits++ if $batches{ $f[1] }++;
	}
}
close $fh;
my $stream_rows = $node->safe_psql('postgres', 'SELECT count(*) FROM events');
is($stream_rows, $next - 1, 'the stream holds every row written');
is($rows, $stream_rows, 'the file holds as many rows as the stream');
is($duplicates, 0, 'no row twice');
is(scalar(grep { $seen{$_} } 1 .. $next - 1), $next - 1, 'every row of the stream');
is($dup_commits, 0, 'no batch twice');
cmp_ok($commits, '>=', 4, 'several batches');
is($node->safe_psql('postgres', 'SELECT count(*) FROM outbox'), '0',
	'every batch written is acknowledged');
$node->stop;
done_testing();
