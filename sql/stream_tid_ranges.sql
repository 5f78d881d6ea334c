-- TID range scans of a stream table: a range of whole blocks (as a batch
-- reads its rows) skips the check of every tuple's tid against the bounds;
-- bounds inside a block keep it.  Every range gives the rows a sequential
-- scan with the same condition gives, as a role without privileges on
-- anything else.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
CREATE ROLE regress_tid_reader;
CREATE TABLE tid_s (id int, pad text);
SELECT stream.create_stream('tid_s');
INSERT INTO tid_s SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g;
GRANT SELECT ON tid_s TO regress_tid_reader;
CREATE TABLE tid_ranges (n int, op_lo text, lo tid, op_hi text, hi tid);
INSERT INTO tid_ranges VALUES
  (1, '>=', '(0,0)', '<', '(1,0)'),
  (2, '>=', '(1,0)', '<', '(3,0)'),
  (3, '>=', '(1,1)', '<', '(3,0)'),
  (4, '>=', '(1,2)', '<', '(3,0)'),
  (5, '>', '(1,0)', '<', '(3,0)'),
  (6, '>', '(1,1)', '<', '(3,0)'),
  (7, '>=', '(1,0)', '<', '(2,5)'),
  (8, '>=', '(1,0)', '<=', '(2,0)'),
  (9, '>=', '(1,0)', '<=', '(2,5)'),
  (10, '>=', '(2,0)', '<', '(2,0)'),
  (11, '>=', '(3,0)', '<', '(1,0)'),
  (12, '>=', '(5,0)', '<', '(4294967294,0)'),
  (13, '>=', '(0,0)', '<', '(4294967295,0)'),
  (14, '>=', '(16,0)', '<', '(99,0)');
GRANT SELECT ON tid_ranges TO regress_tid_reader;
SET ROLE regress_tid_reader;

-- the rows of each range, its count, first and last tid: by sequential scan
CREATE FUNCTION pg_temp.tid_rows(r tid_ranges) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  res text;
BEGIN
  EXECUTE format('SELECT format(''%%s %%s %%s %%s'', count(*), min(ctid), max(ctid), sum(id))'
                 ' FROM tid_s WHERE ctid %s %L AND ctid %s %L', r.op_lo, r.lo, r.op_hi, r.hi)
    INTO res;
  RETURN res;
END $$;
SET enable_tidscan = off;
CREATE TEMP TABLE by_seq AS SELECT n, pg_temp.tid_rows(r) AS rows FROM tid_ranges r;
-- the same by TID range scan
SET enable_tidscan = on;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM tid_s WHERE ctid >= '(1,0)' AND ctid < '(3,0)';
CREATE TEMP TABLE by_range AS SELECT n, pg_temp.tid_rows(r) AS rows FROM tid_ranges r;
SELECT n, s.rows AS by_seq, s.rows = t.rows AS same
  FROM by_seq s JOIN by_range t USING (n) ORDER BY n;
-- ranges as parameters: a rescan sets the bounds anew for every range
SELECT r.n, (SELECT count(*) FROM tid_s WHERE ctid >= r.lo AND ctid < r.hi) AS rows
  FROM tid_ranges r WHERE r.op_lo = '>=' AND r.op_hi = '<' ORDER BY r.n;
RESET enable_seqscan;
RESET enable_tidscan;
SELECT r.n, (SELECT count(*) FROM tid_s WHERE ctid >= r.lo AND ctid < r.hi) AS rows
  FROM tid_ranges r WHERE r.op_lo = '>=' AND r.op_hi = '<' ORDER BY r.n;
DROP FUNCTION pg_temp.tid_rows(tid_ranges);
DROP TABLE by_seq, by_range;
RESET ROLE;
DROP TABLE tid_s, tid_ranges;
DROP ROLE regress_tid_reader;
