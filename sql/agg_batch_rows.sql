-- An aggregation's batch reads its rows by one scan under the partial
-- aggregation; the query's own code still sees only the batch's rows: a
-- WHERE condition (however cheap it says it is) and an aggregate's
-- argument or FILTER never run on a row of another batch that lies in the
-- same blocks.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
CREATE ROLE regress_abr_owner LOGIN;
GRANT CREATE ON SCHEMA public TO regress_abr_owner;
SET ROLE regress_abr_owner;

CREATE TABLE abr (id int, k int);
SELECT stream.create_stream('abr');
-- rows already processed: the query's code must never see them again
CREATE TABLE abr_done (id int PRIMARY KEY);
CREATE FUNCTION abr_check(x int) RETURNS boolean LANGUAGE plpgsql STABLE COST 0.00001 AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM abr_done WHERE id = x) THEN
    RAISE EXCEPTION 'row % of an earlier batch seen again', x;
  END IF;
  RETURN x % 2 = 0;
END $$;
CREATE FUNCTION abr_val(x int) RETURNS int LANGUAGE plpgsql STABLE COST 0.00001 AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM abr_done WHERE id = x) THEN
    RAISE EXCEPTION 'row % of an earlier batch seen again', x;
  END IF;
  RETURN x;
END $$;

SELECT stream.start_query('abr_where',
    'SELECT k, count(*) AS n FROM abr WHERE abr_check(id) GROUP BY k',
    'abr_where_out', output_mode => 'update', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('abr_args',
    'SELECT k, count(*) FILTER (WHERE abr_check(id)) AS evens, sum(abr_val(id)) AS s
       FROM abr GROUP BY k HAVING count(*) > 0',
    'abr_args_out', output_mode => 'update', trigger => '1 hour') > 0 AS started;

INSERT INTO abr SELECT g, g % 3 FROM generate_series(1, 30) g;
CALL stream.process_all_available('abr_where');
CALL stream.process_all_available('abr_args');
INSERT INTO abr_done SELECT id FROM abr;
-- the next batch's rows share the first batch's block
INSERT INTO abr SELECT g, g % 3 FROM generate_series(31, 60) g;
SELECT count(DISTINCT (ctid::text::point)[0]) AS blocks FROM abr;
CALL stream.process_all_available('abr_where');
CALL stream.process_all_available('abr_args');
SELECT k, n FROM abr_where_out ORDER BY k;
SELECT k, evens, s FROM abr_args_out ORDER BY k;
SELECT query, batch_id, input_rows FROM stream.progress
 WHERE query IN ('abr_where', 'abr_args') ORDER BY query, batch_id;

-- an aggregation without GROUP BY whose aggregates are all min or max,
-- over a stream with an index on their argument: its batch reads the
-- batch's blocks, every row of them, not the index from one end (which
-- would read the history and stop at the batch's first row)
CREATE TABLE abr_keyed (id int PRIMARY KEY, v int);
SELECT stream.create_stream('abr_keyed');
INSERT INTO abr_keyed SELECT g, g FROM generate_series(1, 20000) g;
SELECT stream.start_query('abr_minmax',
    'SELECT min(id) AS lo, max(id) AS hi FROM abr_keyed',
    'abr_minmax_out', output_mode => 'update', trigger => '1 hour') > 0 AS started;
CALL stream.process_all_available('abr_minmax');
ANALYZE abr_keyed;
INSERT INTO abr_keyed SELECT g, g FROM generate_series(20001, 20005) g;
-- even where the planner would rather not scan by block
SET enable_tidscan = off;
CALL stream.process_all_available('abr_minmax');
RESET enable_tidscan;
SELECT lo, hi FROM abr_minmax_out;
SELECT input_rows FROM stream.progress
 WHERE query = 'abr_minmax' ORDER BY batch_id DESC LIMIT 1;
SELECT stream.drop_query('abr_minmax');
DROP TABLE abr_keyed, abr_minmax_out;

SELECT stream.drop_query('abr_where');
SELECT stream.drop_query('abr_args');
RESET ROLE;
DROP TABLE abr, abr_done, abr_where_out, abr_args_out;
DROP FUNCTION abr_check(int), abr_val(int);
REVOKE CREATE ON SCHEMA public FROM regress_abr_owner;
DROP ROLE regress_abr_owner;
