-- A batch's state_bytes (stream.progress) is what pg_total_relation_size
-- says of the query's state table and of the tables that are parts of it,
-- their indexes and TOAST included: measured from their files, the TOAST
-- table and its index without being opened.  Checked where the TOAST
-- holds rows, after a rewrite gave the tables new files, and for a chain
-- whose lower aggregation keeps a state table of its own.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE ROLE regress_sb_owner LOGIN;
GRANT CREATE ON SCHEMA public TO regress_sb_owner;
SET ROLE regress_sb_owner;

-- values of about 6 kB that do not compress: the state keeps max(t) out of line
CREATE TABLE sb_raw (k int, t text);
SELECT stream.create_stream('sb_raw');
CREATE FUNCTION sb_long(n int) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$SELECT string_agg(md5(n::text || '/' || i::text), '') FROM generate_series(1, 200) i$$;
INSERT INTO sb_raw SELECT g % 5, sb_long(g) FROM generate_series(1, 20) g;
SELECT stream.start_query('sb_q', 'SELECT k, count(*) AS n, max(t) AS m FROM sb_raw GROUP BY k',
                          'sb_out', output_mode => 'update', trigger => '1 hour') > 0 AS started;
CALL stream.process_batch('sb_q');

RESET ROLE;
CREATE FUNCTION sb_check(query text) RETURNS TABLE (toast_used bool, same bool)
LANGUAGE sql AS $$
    SELECT pg_relation_size(c.reltoastrelid) > 0,
           (SELECT state_bytes FROM stream.progress WHERE progress.query = sb_check.query
             ORDER BY batch_id DESC LIMIT 1)
           = pg_total_relation_size(c.oid)
             + coalesce((SELECT sum(pg_total_relation_size(d.objid))
                           FROM pg_depend d JOIN pg_class p ON p.oid = d.objid
                          WHERE d.classid = 'pg_class'::regclass
                            AND d.refclassid = 'pg_class'::regclass
                            AND d.refobjid = c.oid AND d.deptype = 'i'
                            AND p.relkind = 'r'), 0)
      FROM stream.query_defs q JOIN pg_class c ON c.oid = q.state_relid
     WHERE q.name = sb_check.query
$$;
SELECT * FROM sb_check('sb_q');

-- a rewrite gives the state table, its index and its TOAST new files
SELECT (SELECT state_relid::regclass::text FROM stream.query_defs WHERE name = 'sb_q') AS state \gset
SELECT pg_relation_filenode(:'state') AS before \gset
VACUUM FULL :state;
SELECT pg_relation_filenode(:'state') <> :before AS new_files;
SET ROLE regress_sb_owner;
INSERT INTO sb_raw SELECT g % 7, sb_long(g) FROM generate_series(21, 40) g;
CALL stream.process_batch('sb_q');
RESET ROLE;
SELECT * FROM sb_check('sb_q');
SET ROLE regress_sb_owner;

-- a chain: the lower aggregation's state table is a part of the query's
CREATE TABLE sb_views (page text, viewed_at timestamptz);
SELECT stream.create_stream('sb_views');
SELECT stream.start_query('sb_hourly',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views
        FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, page, count(*) AS views
                FROM sb_views GROUP BY 1, 2) m
       GROUP BY 1$$,
    'sb_hourly', output_mode => 'append', event_time => 'viewed_at',
    watermark => '10 minutes', trigger => '1 hour') > 0 AS started;
INSERT INTO sb_views SELECT 'p' || (g % 3), '2026-01-01 10:00'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, 100) g;
CALL stream.process_batch('sb_hourly');
RESET ROLE;
SELECT count(*) AS parts
  FROM pg_depend d JOIN stream.query_defs q ON d.refobjid = q.state_relid
  JOIN pg_class p ON p.oid = d.objid
 WHERE q.name = 'sb_hourly' AND d.classid = 'pg_class'::regclass
   AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i' AND p.relkind = 'r';
SELECT * FROM sb_check('sb_hourly');

SET ROLE regress_sb_owner;
SELECT stream.drop_query('sb_q');
SELECT stream.drop_query('sb_hourly');
RESET ROLE;
DROP FUNCTION sb_check(text);
DROP TABLE sb_out, sb_hourly, sb_raw, sb_views;
DROP FUNCTION sb_long(int);
REVOKE CREATE ON SCHEMA public FROM regress_sb_owner;
DROP ROLE regress_sb_owner;
