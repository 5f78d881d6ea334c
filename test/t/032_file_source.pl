# Files as a source, fed while the background worker runs: a file written
# slowly (taken only once it settled), one renamed into the directory, an
# empty one, one with bad lines (set aside as dead letters), a new file
# under a name taken before (reported, not loaded); then the server killed
# with SIGKILL after a file's load committed and before it was archived
# (the archive directory refused the move for the while):
# after crash recovery the file is archived and not loaded again.  Every
# line of every complete file is in the stream exactly once.  A role
# without pg_read_server_files is refused, and a source whose owner lost
# it fails, saying so.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('filesource');
$node->init;
$node->append_conf('postgresql.conf', qq{
restart_after_crash = on
shared_preload_libraries = 'pg_streaming'
pg_streaming.launcher_naptime = '500ms'
timezone = 'UTC'
});
$node->start;

my $dir = PostgreSQL::Test::Utils::tempdir;
my $archive = PostgreSQL::Test::Utils::tempdir;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_streaming;
	CREATE ROLE loader LOGIN;
	CREATE ROLE nobody LOGIN;
	GRANT pg_read_server_files, pg_write_server_files TO loader;
	GRANT CREATE ON SCHEMA public TO loader, nobody;
});
my @as_loader = (extra_params => [ '-U', 'loader' ]);
my @as_nobody = (extra_params => [ '-U', 'nobody' ]);

# a role without pg_read_server_files is refused
my ($ret, $out, $err) = $node->psql('postgres', qq{
	CREATE TABLE nob (line text);
	SELECT stream.create_stream('nob');
	SELECT stream.create_file_source('nob_src', '$dir', 'nob', format => 'text');
}, @as_nobody);
like($err, qr/ERROR:  permission denied to read the files of file source "nob_src"/,
	'a role without pg_read_server_files may not create a file source');

$node->safe_psql('postgres', qq{
	CREATE TABLE ev (id int PRIMARY KEY, payload text, file text);
	SELECT stream.create_stream('ev');
	SELECT stream.create_file_source('src', '$dir', 'ev', header => true,
		file_name_column => 'file', pattern => '*.csv', settle => '1 second',
		after_read => 'archive', archive_directory => '$archive',
		on_error => 'dead_letter', trigger => '200 ms') > 0;
}, @as_loader);

sub lines
{
	my ($from, $to) = @_;
	return join('', map { "$_,row $_\n" } ($from .. $to));
}

sub write_file
{
	my ($name, $content) = @_;
	open(my $fh, '>', "$dir/$name") or die "could not write $name: $!";
	print $fh $content;
	close($fh);
}

# a file written slowly, in three parts less than the settle time apart
open(my $slow, '>', "$dir/a.csv") or die;
$slow->autoflush(1);
print $slow "id,payload\n" . lines(1, 50);
usleep(400_000);
print $slow lines(51, 100);
usleep(400_000);
print $slow lines(101, 150);
close($slow);
# one written under a hidden name and renamed in, an empty one, one with
# two bad lines (an id that is no integer, a line that lacks a field)
write_file('.b.tmp', "id,payload\n" . lines(151, 250));
rename("$dir/.b.tmp", "$dir/b.csv") or die;
write_file('c.csv', '');
write_file('d.csv', "id,payload\n" . lines(251, 260) . "twelve,bad id\n"
	. lines(261, 270) . "271\n" . lines(272, 300));

ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 4 AND bool_and(after_read_at IS NOT NULL)
	  FROM stream.files WHERE status = 'loaded'}),
	'the worker loaded and archived the four files');
is($node->safe_psql('postgres', q{
	SELECT string_agg(file_name || ' ' || rows || ' ' || bad_rows, ', ' ORDER BY file_name)
	  FROM stream.files}),
	'a.csv 150 0, b.csv 100 0, c.csv 0 0, d.csv 49 2', 'each file loaded whole, once');
is($node->safe_psql('postgres', q{
	SELECT count(*), count(DISTINCT id), min(id), max(id) FROM ev WHERE file = 'a.csv'}),
	'150|150|1|150', 'the slowly written file was taken only once complete');
is($node->safe_psql('postgres', q{
	SELECT string_agg(raw_line || ' @ ' || position, ', ' ORDER BY position)
	  FROM stream.dead_letters WHERE source = 'src'}),
	'twelve,bad id @ line 12 of file "d.csv", 271 @ line 23 of file "d.csv"',
	'the bad lines are in the dead letters, with their file and line');
ok(!-e "$dir/a.csv" && -e "$archive/a.csv" && -e "$archive/c.csv",
	'read files were moved to the archive');

# a new file under a name taken before
write_file('a.csv', "id,payload\n" . lines(900, 901));
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM stream.files WHERE status = 'duplicate' AND file_name = 'a.csv'}),
	'a new file with a taken name is recorded as a duplicate');
is($node->safe_psql('postgres', 'SELECT count(*) FROM ev WHERE id >= 900'), '0',
	'and not loaded');
ok(-e "$dir/a.csv", 'and left where it is');

# the archive refuses the move for a while: e.csv's load commits and its
# record says the move is still to do; then the server is killed
chmod(0500, $archive) or die;
my $log_before = -s $node->logfile;
write_file('e.csv', "id,payload\n" . lines(5000, 5099));
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM stream.files
	 WHERE file_name = 'e.csv' AND status = 'loaded' AND after_read_at IS NULL}),
	'e.csv is loaded and committed, its archiving not done');
$node->wait_for_log(qr/could not move file ".*e\.csv"/, $log_before);
ok(-e "$dir/e.csv" && !-e "$archive/e.csv", 'e.csv is still in the directory');

my $pid = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_streaming worker' LIMIT 1});
like($pid, qr/^\d+$/, 'the worker that loaded it is there');
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
chmod(0700, $archive) or die;
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server recovered from the crash');

ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM stream.files
	 WHERE file_name = 'e.csv' AND after_read_at IS NOT NULL}),
	'after the crash, the next pass archived e.csv');
ok(!-e "$dir/e.csv" && -e "$archive/e.csv", 'e.csv was moved to the archive');
is($node->safe_psql('postgres', q{
	SELECT count(*), count(DISTINCT id) FROM ev WHERE id BETWEEN 5000 AND 5099}),
	'100|100', 'and was not loaded again');

# the worker goes on
write_file('f.csv', "id,payload\n" . lines(6000, 6009));
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 10 FROM ev WHERE file = 'f.csv'}), 'a file after the crash is loaded');

# every line of every complete file, exactly once (the primary key would
# refuse a second copy of a line, and the sum checks the set)
my $expected_sum = 0;
$expected_sum += $_ for (1 .. 300, 5000 .. 5099, 6000 .. 6009);
$expected_sum -= 271;
is($node->safe_psql('postgres', 'SELECT count(*), sum(id) FROM ev'),
	(150 + 100 + 49 + 100 + 10) . "|$expected_sum",
	'every good line of every complete file is in the stream once');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM stream.files WHERE status = 'loaded'}), '6',
	'six files loaded, once each');

# an owner that lost pg_read_server_files: the source fails and says why
$node->safe_psql('postgres', 'REVOKE pg_read_server_files FROM loader');
write_file('g.csv', "id,payload\n" . lines(7000, 7001));
ok($node->poll_query_until('postgres', q{
	SELECT status = 'failed' AND sqlstate = '42501' FROM stream.file_sources WHERE name = 'src'}),
	'a source whose owner lost pg_read_server_files fails with 42501');
is($node->safe_psql('postgres', 'SELECT count(*) FROM ev WHERE id >= 7000'), '0',
	'and loads nothing');

$node->stop;
done_testing();
