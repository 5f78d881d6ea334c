# A hot standby reads everything of pg_streaming (stream tables, targets,
# stream.queries, stream.progress, pending rows) and refuses every call that
# would change or run a streaming query with one message in the user's
# terms, naming the primary, instead of a catalog statement's error.  After
# promotion the queries go on from their checkpoints, exactly once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
max_worker_processes = 16
});
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE TABLE ev (id bigint, ts timestamptz);
	SELECT stream.create_stream('ev');
	SELECT stream.start_query('copy', 'SELECT id FROM ev', 'copy_out', trigger => '1 hour');
	INSERT INTO ev SELECT g, now() FROM generate_series(1, 100) g;
	CALL stream.process_all_available('copy');
	INSERT INTO ev SELECT g, now() FROM generate_series(101, 150) g;
});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

# reading works on the standby, and shows what the primary shows
$primary->safe_psql('postgres', q{SELECT stream.stop_query('copy')});
$primary->wait_for_catchup($standby);
my $view = q{SELECT name, status, pending_rows, last_batch_id FROM stream.queries};
is($standby->safe_psql('postgres', $view), $primary->safe_psql('postgres', $view),
	'stream.queries reads on a standby');
is($standby->safe_psql('postgres', q{SELECT count(*) > 0 FROM stream.progress}),
	't', 'stream.progress reads on a standby');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM copy_out}),
	$primary->safe_psql('postgres', q{SELECT count(*) FROM copy_out}),
	'the target reads on a standby');
is($standby->safe_psql('postgres', q{SELECT stream.pending_rows('copy')}),
	$primary->safe_psql('postgres', q{SELECT stream.pending_rows('copy')}),
	'the exact pending count reads on a standby');

# every management call is refused in the same words, without internal SQL
my @calls = (
	q{SELECT stream.start_query('other', 'SELECT id FROM ev', 'other_out')},
	q{SELECT stream.stop_query('copy')},
	q{SELECT stream.resume_query('copy')},
	q{SELECT stream.drop_query('copy')},
	q{SELECT stream.alter_query('copy', trigger => '1 second')},
	q{CALL stream.process_batch('copy')},
	q{CALL stream.process_all_available('copy')},
	q{SELECT stream.drop_stream('ev', cascade => true)},
	q{SELECT stream.set_retention('ev', keep => '1 day')},
);
for my $sql (@calls)
{
	my ($rc, $out, $err) = $standby->psql('postgres', $sql);
	isnt($rc, 0, "refused on a standby: $sql");
	like($err, qr/ERROR:  (streaming queries are managed and run on the primary|cannot execute .* during recovery|cannot .* in a read-only transaction)/,
		"a read-only message: $sql");
	unlike($err, qr/FOR UPDATE|stream\.query_defs|CONTEXT:  SQL statement/,
		"no internal statement in the message: $sql");
}
my ($rc, $out, $err) = $standby->psql('postgres', q{CALL stream.process_batch('copy')});
like($err, qr/streaming queries are managed and run on the primary/, 'a batch on a standby names the primary');
like($err, qr/HINT:  Connect to the primary server/, 'with a hint');

# a read-only transaction on the primary says so in the same terms
($rc, $out, $err) = $primary->psql('postgres',
	q{SET default_transaction_read_only = on; SELECT stream.start_query('other', 'SELECT id FROM ev', 'other_out')});
like($err, qr/ERROR:  cannot change or run streaming queries in a read-only transaction/,
	'a read-only transaction is named as such');
($rc, $out, $err) = $primary->psql('postgres',
	q{SET default_transaction_read_only = on; CALL stream.process_batch('copy')});
like($err, qr/ERROR:  cannot change or run streaming queries in a read-only transaction/,
	'a batch in a read-only transaction is named as such');

# nothing changed; after promotion the query goes on exactly once
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'promotion did not finish';
$standby->safe_psql('postgres', q{
	SELECT stream.resume_query('copy');
	INSERT INTO ev SELECT g, now() FROM generate_series(151, 200) g;
	CALL stream.process_all_available('copy');
});
is($standby->safe_psql('postgres', q{SELECT count(*), count(DISTINCT id), min(id), max(id) FROM copy_out}),
	'200|200|1|200', 'after promotion every row once');

$standby->stop;
$primary->stop;
done_testing();
