-- Files as a source: the SQL surface, the refusals, and what one batch
-- loads (stream.load_file_source makes it deterministic; trigger 'manual'
-- keeps the background worker away).  Files are written with COPY TO, as
-- the superuser; the sources belong to an unprivileged role.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SELECT '/tmp/pgs_files_source_' || current_setting('port') AS dir \gset
SELECT :'dir' || '/archive' AS archive,
       'rm -rf ' || :'dir' || ' && mkdir -p ' || :'dir' || '/archive ' || :'dir' || '/j' AS setup
\gset
COPY (SELECT 1) TO PROGRAM :'setup';
-- a file with exactly this content (stdin is read first: COPY writes to it)
CREATE FUNCTION pg_temp.fs_write(path text, content text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT 1) TO PROGRAM %L',
        'cat > /dev/null; echo ' ||
        replace(encode(convert_to(content, 'UTF8'), 'base64'), E'\n', '') ||
        ' | base64 -d > ' || path);
END $$;

CREATE ROLE regress_fs_owner LOGIN;
CREATE ROLE regress_fs_reader LOGIN;
CREATE ROLE regress_fs_other LOGIN;
GRANT pg_read_server_files TO regress_fs_reader;
GRANT regress_fs_reader TO regress_fs_owner;
GRANT pg_write_server_files TO regress_fs_owner;
GRANT CREATE ON SCHEMA public TO regress_fs_owner, regress_fs_other, regress_fs_reader;

SET ROLE regress_fs_owner;
CREATE TABLE fs_sales (id int PRIMARY KEY, amount numeric CHECK (amount >= 0),
                       region text, file text);
CREATE TABLE fs_lines (line text, file text);
CREATE TABLE fs_events (doc jsonb);
CREATE TABLE fs_plain (a int, b text);
SELECT stream.create_stream('fs_sales'), stream.create_stream('fs_lines'),
       stream.create_stream('fs_events');
RESET ROLE;

-- files: a header in another column order, a NULL string, quoted fields
-- with a delimiter and a newline inside
SELECT pg_temp.fs_write(:'dir' || '/s1.csv', E'region;id;amount\r\nnorth;1;10.5\r\n"south;east";2;NA\r\n"two\nlines";3;7\r\n');
-- bad lines: a value numeric refuses, a check constraint, a duplicate key,
-- a missing field, and a blank line (skipped); no newline at the end
SELECT pg_temp.fs_write(:'dir' || '/s2.csv', E'region;id;amount\nwest;4;4\nwest;5;12,50\n\nwest;6;-1\nwest;1;3\nwest;7\nwest;8;8');
SELECT pg_temp.fs_write(:'dir' || '/.hidden.csv', E'region;id;amount\nhidden;99;1\n');
SELECT pg_temp.fs_write(:'dir' || '/notes.txt', E'not a csv\n');

-- refusals, as a role without pg_read_server_files
SET ROLE regress_fs_other;
CREATE TABLE fs_other (line text);
SELECT stream.create_stream('fs_other');
\set VERBOSITY default
SELECT stream.create_file_source('fs_no', '/tmp', 'fs_other', format => 'text');
\set VERBOSITY terse
RESET ROLE;
-- pg_read_server_files without pg_write_server_files may not delete
SET ROLE regress_fs_reader;
CREATE TABLE fs_reader (line text);
SELECT stream.create_stream('fs_reader');
\set VERBOSITY default
SELECT stream.create_file_source('fs_no', '/tmp', 'fs_reader', format => 'text',
                                 after_read => 'delete');
\set VERBOSITY terse
RESET ROLE;

SET ROLE regress_fs_owner;
-- arguments
SELECT stream.create_file_source('fs_bad', '/tmp', 'fs_sales', format => 'xml');
SELECT stream.create_file_source('fs_bad', 'relative/dir', 'fs_sales');
SELECT stream.create_file_source('fs_bad', '/tmp', 'fs_plain');
SELECT stream.create_file_source('fs_bad', '/tmp', 'fs_lines', format => 'text', header => true);
SELECT stream.create_file_source('fs_bad', '/tmp', 'fs_sales', delimiter => ';;');
SELECT stream.create_file_source('fs_bad', '/tmp', 'fs_sales', after_read => 'archive');
SELECT stream.create_file_source('fs_bad', '/tmp', 'fs_sales', after_read => 'shred');
SELECT stream.create_file_source('fs_bad', '/tmp', 'fs_sales', on_error => 'ignore');
SELECT stream.create_file_source('fs_bad', '/tmp', 'fs_sales', file_name_column => 'nope');
SELECT stream.create_file_source('fs_bad', '/tmp', 'fs_sales', max_files_per_batch => 0);
SELECT stream.create_file_source('fs_bad', '/tmp', 'fs_sales', trigger => 'continuous');

-- CSV with a header, by name; bad lines set aside; the file's name kept
SELECT stream.create_file_source('fs_csv', :'dir', 'fs_sales', header => true,
    delimiter => ';', null_string => 'NA', file_name_column => 'file',
    pattern => '*.csv', settle => '0', on_error => 'dead_letter',
    trigger => 'manual') > 0 AS created;
SELECT stream.create_file_source('fs_csv', :'dir', 'fs_sales');
SELECT name, stream, format, header, delimiter, null_string, after_read, on_error, status
  FROM stream.file_sources;
SELECT stream.load_file_source('fs_csv');
SELECT id, amount, region, file FROM fs_sales ORDER BY id;
SELECT source, file_name, status, rows, bad_rows, batch_id, after_read_at IS NOT NULL AS handled
  FROM stream.files ORDER BY file_name;
SELECT source, batch_id, raw_line, position, sqlstate FROM stream.dead_letters ORDER BY id;
-- nothing new: nothing loaded, nothing recorded
SELECT stream.load_file_source('fs_csv');
SELECT count(*) FROM stream.files;

-- a new file with a name already taken is reported, not loaded
RESET ROLE;
SELECT pg_temp.fs_write(:'dir' || '/s1.csv', E'region;id;amount\nnorth;50;1\n');
SET ROLE regress_fs_owner;
SET client_min_messages = warning;
SELECT stream.load_file_source('fs_csv');
SELECT file_name, status, rows FROM stream.files ORDER BY file_name, status;
SELECT count(*) AS no_id_50 FROM fs_sales WHERE id = 50;
-- reported once
SELECT stream.load_file_source('fs_csv');
SELECT count(*) FROM stream.files WHERE status = 'duplicate';

-- text lines, archived after the commit; max_files_per_batch bounds a batch
RESET ROLE;
SELECT pg_temp.fs_write(:'dir' || '/j/a.log', E'first line\n\n\\.\ntab\tand "quotes", a\\backslash\n');
SELECT pg_temp.fs_write(:'dir' || '/j/b.log', E'second file\n');
SET ROLE regress_fs_owner;
-- the stream's triggers run as the source's owner, whoever loads it (here
-- a superuser), with search_path pg_catalog, pg_temp: names are qualified
CREATE TABLE fs_lines_audit (loaded_by name);
CREATE FUNCTION fs_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.fs_lines_audit VALUES (current_user);
    RETURN NEW;
END $$;
CREATE TRIGGER fs_audit BEFORE INSERT ON fs_lines FOR EACH ROW EXECUTE FUNCTION fs_audit();
SELECT stream.create_file_source('fs_text', :'dir' || '/j', 'fs_lines', format => 'text',
    file_name_column => 'file', settle => '0', max_files_per_batch => 1,
    after_read => 'archive', archive_directory => :'archive',
    trigger => 'manual') > 0 AS created;
RESET ROLE;
SELECT stream.load_file_source('fs_text');
SET ROLE regress_fs_owner;
SELECT line, file FROM fs_lines ORDER BY file, line;
SELECT loaded_by, count(*) FROM fs_lines_audit GROUP BY 1;
-- the file just loaded is moved only after this transaction commits
SELECT file_name, after_read_at IS NOT NULL AS handled FROM stream.files
 WHERE source = 'fs_text' ORDER BY file_name;
SELECT stream.load_file_source('fs_text');
SELECT line, file FROM fs_lines ORDER BY file, line;
SELECT stream.load_file_source('fs_text');
SELECT file_name, rows, batch_id, after_read_at IS NOT NULL AS handled FROM stream.files
 WHERE source = 'fs_text' ORDER BY file_name;
RESET ROLE;
SELECT pg_catalog.pg_ls_dir(:'archive') AS archived ORDER BY 1;
SELECT pg_catalog.pg_ls_dir(:'dir' || '/j') AS left_behind ORDER BY 1;
SET ROLE regress_fs_owner;

-- JSON lines into jsonb; with on_error 'fail' a bad line fails the file,
-- naming the file and the line, and nothing of it is loaded
RESET ROLE;
SELECT 'mkdir -p ' || :'dir' || '/json' AS cmd \gset
COPY (SELECT 1) TO PROGRAM :'cmd';
SELECT pg_temp.fs_write(:'dir' || '/json/e1.jsonl', E'{"k": 1}\n\n{"k": [2, 3], "s": "a,b"}\n');
SELECT pg_temp.fs_write(:'dir' || '/json/e2.jsonl', E'{"k": 4}\n{"k": 5\n{"k": 6}\n');
SET ROLE regress_fs_owner;
SELECT stream.create_file_source('fs_json', :'dir' || '/json', 'fs_events', format => 'jsonl',
    settle => '0', trigger => 'manual') > 0 AS created;
SELECT stream.load_file_source('fs_json');
SELECT count(*) AS nothing_loaded FROM fs_events;
-- set bad lines aside instead: drop and create again; max_bytes_per_batch
-- bounds a batch, which takes one file at least
SELECT stream.drop_file_source('fs_json');
SELECT stream.create_file_source('fs_json', :'dir' || '/json', 'fs_events', format => 'jsonl',
    settle => '0', on_error => 'dead_letter', max_bytes_per_batch => 20,
    trigger => 'manual') > 0 AS created;
SELECT stream.load_file_source('fs_json');
SELECT stream.load_file_source('fs_json');
SELECT stream.load_file_source('fs_json');
SELECT file_name, rows, bad_rows, batch_id FROM stream.files WHERE source = 'fs_json'
 ORDER BY file_name;
SELECT doc FROM fs_events ORDER BY doc::text;
SELECT raw_line, position, sqlstate FROM stream.dead_letters WHERE source = 'fs_json';

-- stop and resume; the rows carry the loading transaction's stamp
SELECT stream.stop_file_source('fs_csv'), stream.stop_file_source('fs_csv');
SELECT name, status FROM stream.file_sources ORDER BY name;
SELECT stream.resume_file_source('fs_csv'), stream.resume_file_source('fs_csv');
SELECT count(DISTINCT _stream_xid) AS transactions FROM fs_sales;

-- another role sees none of it, and cannot drop or load it
SET ROLE regress_fs_other;
SELECT count(*) FROM stream.file_sources;
SELECT count(*) FROM stream.files;
SELECT count(*) FROM stream.dead_letters;
SELECT stream.drop_file_source('fs_csv');
SELECT stream.load_file_source('fs_csv');
SELECT stream.drop_file_source('fs_csv', if_exists => true);
SELECT count(*) FROM stream.file_log;
RESET ROLE;

-- a role that lost pg_read_server_files loads nothing more
REVOKE regress_fs_reader FROM regress_fs_owner;
SET ROLE regress_fs_owner;
SELECT stream.load_file_source('fs_csv');
RESET ROLE;
GRANT regress_fs_reader TO regress_fs_owner;

SET ROLE regress_fs_owner;
SELECT stream.drop_file_source('fs_csv'), stream.drop_file_source('fs_text'),
       stream.drop_file_source('fs_json'), stream.drop_file_source('fs_json', true);
SELECT count(*) FROM stream.file_sources;
DROP TABLE fs_sales, fs_lines, fs_events, fs_plain, fs_lines_audit;
DROP FUNCTION fs_audit();
RESET ROLE;
DELETE FROM stream.dead_letter_log WHERE source IS NOT NULL;
SELECT 'rm -rf ' || :'dir' AS cmd \gset
COPY (SELECT 1) TO PROGRAM :'cmd';
REVOKE CREATE ON SCHEMA public FROM regress_fs_owner, regress_fs_other, regress_fs_reader;
DROP TABLE fs_other, fs_reader;
DROP ROLE regress_fs_owner, regress_fs_reader, regress_fs_other;
