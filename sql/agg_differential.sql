-- Differential test of streaming aggregations: for fixed seeds, many
-- batches of random sizes and contents (NULL groups, NULL inputs, groups
-- that come and go through HAVING); after every batch each target equals
-- the same query computed over all rows so far, compared with EXCEPT ALL
-- both ways.  Float results are compared rounded to 6 decimal places (the
-- batches add them up in another order than one pass over all rows).
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;

CREATE TABLE d_events (g int, h text, x int, y float8, z numeric, b boolean);
SELECT stream.create_stream('d_events');

CREATE TABLE d_queries (name text, mode text, query text, target text);
INSERT INTO d_queries VALUES
 ('d_update', 'update',
  $$SELECT g, h, count(*) AS n, count(x) AS nx, sum(x) AS sx, min(x) AS mn, max(z) AS mz,
           avg(z) AS az, round(stddev_samp(y)::numeric, 6) AS sd,
           round(avg(y)::numeric, 6) AS ay, bool_or(b) AS anyb,
           count(*) FILTER (WHERE x > 50) AS big
      FROM d_events GROUP BY g, h HAVING count(*) % 3 <> 1$$, 'd_update'),
 ('d_complete', 'complete',
  $$SELECT g, sum(x) AS sx, count(*) AS n FROM d_events GROUP BY g$$, 'd_complete'),
 ('d_top', 'complete',
  $$SELECT h, count(*) AS n, sum(z) AS sz FROM d_events WHERE h IS NOT NULL
     GROUP BY h ORDER BY count(*) DESC, h LIMIT 4$$, 'd_top'),
 ('d_total', 'update',
  $$SELECT count(*) AS n, sum(x) AS sx, round(var_pop(y)::numeric, 6) AS vy,
           max(h) AS mh FROM d_events HAVING count(*) > 0$$, 'd_total');

SELECT stream.start_query(name, query, target, output_mode => mode, trigger => '1 hour') > 0 AS started
  FROM d_queries ORDER BY name;

-- rows of the target the query over all rows does not give, and the other
-- way round
CREATE FUNCTION d_mismatch(q d_queries) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((TABLE %I EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL TABLE %I)) d',
                   q.target, q.query, q.query, q.target) INTO n;
    RETURN n;
END
$$;

CREATE TABLE d_log (seed int, batch int, query text, mismatch bigint);

-- one run: batches of 0 to 300 random rows, each followed by a batch of
-- every query and the comparison
CREATE PROCEDURE d_run(seed int, batches int) LANGUAGE plpgsql AS $$
DECLARE
    i int;
    q d_queries;
BEGIN
    PERFORM setseed(seed / 100.0);
    FOR i IN 1 .. batches LOOP
        INSERT INTO d_events
        SELECT CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 6)::int END,
               CASE WHEN random() < 0.1 THEN NULL ELSE chr(97 + (random() * 5)::int) END,
               CASE WHEN random() < 0.2 THEN NULL ELSE (random() * 100)::int END,
               CASE WHEN random() < 0.2 THEN NULL ELSE random() * 10 END,
               CASE WHEN random() < 0.2 THEN NULL ELSE round((random() * 1000)::numeric, 2) END,
               CASE WHEN random() < 0.2 THEN NULL ELSE random() < 0.5 END
          FROM generate_series(1, (random() * 300)::int);
        COMMIT;
        FOR q IN SELECT * FROM d_queries ORDER BY name LOOP
            CALL stream.process_batch(q.name);
            INSERT INTO d_log VALUES (seed, i, q.name, d_mismatch(q));
            COMMIT;
        END LOOP;
    END LOOP;
END
$$;

CALL d_run(7, 25);
CALL d_run(42, 25);
CALL d_run(99, 25);

SELECT query, count(*) AS comparisons, sum(mismatch) AS mismatched_rows,
       count(*) FILTER (WHERE mismatch > 0) AS batches_differing
  FROM d_log GROUP BY query ORDER BY query;
SELECT count(*) > 1000 AS many_rows FROM d_events;
-- every row was read once (d_top's filter is applied as the rows are read)
SELECT query, count(*) AS batches,
       sum(input_rows) = (SELECT count(*) FROM d_events
                           WHERE query <> 'd_top' OR h IS NOT NULL) AS every_row_once
  FROM stream.progress WHERE query LIKE 'd\_%' GROUP BY query ORDER BY query;

SELECT stream.drop_stream('d_events', cascade => true);
DROP PROCEDURE d_run(int, int);
DROP FUNCTION d_mismatch(d_queries);
DROP TABLE d_events, d_queries, d_log, d_update, d_complete, d_top, d_total;
