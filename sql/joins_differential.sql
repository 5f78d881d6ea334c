-- Differential test of stream-stream joins (docs/joins/surface.md 3.8): for
-- a fixed seed, 300 steps of random arrivals on two streams (keys 1..30,
-- times around a clock that moves a minute a step, jittered by up to 40
-- minutes either way, one row in ten two to four hours old), some steps
-- writing both streams in one transaction, some one stream only.  After
-- every step each query has processed everything, and each target is
-- compared (EXCEPT ALL both ways) with the same join recomputed over every
-- row that was not late: a row is late when its time is at or before the
-- watermark after the step before (W = the smaller of the two sides'
-- watermarks, each the largest time seen minus its delay).  An outer join's
-- NULL rows are those of the rows the watermark has evicted without a match
-- (l: t < W - 20 minutes; r: t < W - 5 minutes, solved from the range);
-- the semi join writes each matched row once.  A unique index on each target
-- fails a batch that would write a row twice.  A self-join of l (a row
-- and its key's rows in the ten minutes after it) is checked the same way.  The per-side watermarks and
-- state rows, and the rows each step's batches dropped as late, are
-- compared with the same recomputation.
-- The output is one line per check, never the random rows.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE ROLE regress_jdiff_owner LOGIN;
GRANT CREATE ON SCHEMA public TO regress_jdiff_owner;
SET ROLE regress_jdiff_owner;

CREATE TABLE l (id int, k int, g int, t timestamptz, step int);
CREATE TABLE r (id int, k int, g int, t timestamptz, step int);
CREATE INDEX ON l (k, t);
CREATE INDEX ON r (k, t);
CREATE INDEX ON l (g);
CREATE INDEX ON r (g);
SELECT stream.create_stream('l');
SELECT stream.create_stream('r');

-- the queries; the condition of the four with a range
CREATE TABLE d_queries (name text PRIMARY KEY, query text, watermarks text[], unique_key text);
INSERT INTO d_queries VALUES
 ('d_inner',
  $$SELECT l.id AS l_id, r.id AS r_id, l.t AS l_t, r.t AS r_t
      FROM l JOIN r ON r.k = l.k
       AND r.t BETWEEN l.t - interval '5 minutes' AND l.t + interval '20 minutes'$$,
  '{"l.t 30 minutes", "r.t 45 minutes"}', 'l_id, r_id'),
 ('d_left',
  $$SELECT l.id AS l_id, r.id AS r_id, l.t AS l_t, r.t AS r_t
      FROM l LEFT JOIN r ON r.k = l.k
       AND r.t BETWEEN l.t - interval '5 minutes' AND l.t + interval '20 minutes'$$,
  '{"l.t 30 minutes", "r.t 45 minutes"}', 'l_id, r_id'),
 ('d_full',
  $$SELECT l.id AS l_id, r.id AS r_id, l.t AS l_t, r.t AS r_t
      FROM l FULL JOIN r ON r.k = l.k
       AND r.t BETWEEN l.t - interval '5 minutes' AND l.t + interval '20 minutes'$$,
  '{"l.t 30 minutes", "r.t 45 minutes"}', 'l_id, r_id'),
 ('d_semi',
  $$SELECT l.id AS l_id, l.t AS l_t
      FROM l WHERE EXISTS (SELECT 1 FROM r WHERE r.k = l.k
       AND r.t BETWEEN l.t - interval '5 minutes' AND l.t + interval '20 minutes')$$,
  '{"l.t 30 minutes", "r.t 45 minutes"}', 'l_id'),
 -- no range, no watermark: every pair, state kept for ever (its WARNING is
 -- joins_more's)
 ('d_all',
  $$SELECT l.id AS l_id, r.id AS r_id FROM l JOIN r ON r.g = l.g$$,
  NULL, 'l_id, r_id'),
 -- a self-join of l: a row and the rows of its key in the ten minutes after
 -- it; both sides watermarked by l's times (W = max(l.t) - 30 minutes)
 ('d_self',
  $$SELECT a.id AS l_id, b.id AS r_id, a.t AS l_t, b.t AS r_t
      FROM l a JOIN l b ON b.k = a.k
       AND b.t > a.t AND b.t <= a.t + interval '10 minutes'$$,
  '{"a.t 30 minutes", "b.t 30 minutes"}', 'l_id, r_id');

SET client_min_messages = error;
SELECT name, stream.start_query(name, query, name, trigger => '1 hour',
                                watermarks => watermarks) > 0 AS started
  FROM d_queries ORDER BY name;
SET client_min_messages = warning;
-- a row written twice fails its batch
DO $$
DECLARE
    q d_queries;
BEGIN
    FOR q IN SELECT * FROM d_queries LOOP
        EXECUTE format('CREATE UNIQUE INDEX ON %I (%s) NULLS NOT DISTINCT', q.name, q.unique_key);
    END LOOP;
END
$$;

-- the watermarks after each step (step 0: none)
CREATE TABLE d_wm (step int PRIMARY KEY, wl timestamptz, wr timestamptz, w timestamptz);
INSERT INTO d_wm VALUES (0, NULL, NULL, NULL);

-- the rows that were not late, and the late ones
CREATE VIEW l_ok AS
SELECT l.id, l.k, l.g, l.t, l.step
  FROM l JOIN d_wm w ON w.step = l.step - 1 WHERE w.w IS NULL OR l.t > w.w;
CREATE VIEW r_ok AS
SELECT r.id, r.k, r.g, r.t, r.step
  FROM r JOIN d_wm w ON w.step = r.step - 1 WHERE w.w IS NULL OR r.t > w.w;
CREATE VIEW l_late AS
SELECT l.id, l.k, l.g, l.t, l.step
  FROM l JOIN d_wm w ON w.step = l.step - 1 WHERE l.t <= w.w;
CREATE VIEW r_late AS
SELECT r.id, r.k, r.g, r.t, r.step
  FROM r JOIN d_wm w ON w.step = r.step - 1 WHERE r.t <= w.w;
-- for the self-join: late by l's own watermark
CREATE VIEW l_ok_self AS
SELECT l.id, l.k, l.g, l.t, l.step
  FROM l JOIN d_wm w ON w.step = l.step - 1 WHERE w.wl IS NULL OR l.t > w.wl;
CREATE VIEW l_late_self AS
SELECT l.id, l.k, l.g, l.t, l.step
  FROM l JOIN d_wm w ON w.step = l.step - 1 WHERE l.t <= w.wl;
-- the watermark now, and the eviction bounds it gives each side
CREATE VIEW d_now AS
SELECT w, wl, wr, w - interval '20 minutes' AS l_bound, w - interval '5 minutes' AS r_bound
  FROM d_wm ORDER BY step DESC LIMIT 1;

-- what each target must hold now
CREATE VIEW ref_pairs AS
SELECT l.id AS l_id, r.id AS r_id, l.t AS l_t, r.t AS r_t
  FROM l_ok l JOIN r_ok r ON r.k = l.k
   AND r.t BETWEEN l.t - interval '5 minutes' AND l.t + interval '20 minutes';
CREATE VIEW ref_l_null AS
SELECT l.id AS l_id, NULL::int AS r_id, l.t AS l_t, NULL::timestamptz AS r_t
  FROM l_ok l, d_now n
 WHERE l.t < n.l_bound
   AND NOT EXISTS (SELECT 1 FROM r_ok r WHERE r.k = l.k
                      AND r.t BETWEEN l.t - interval '5 minutes' AND l.t + interval '20 minutes');
CREATE VIEW ref_r_null AS
SELECT NULL::int AS l_id, r.id AS r_id, NULL::timestamptz AS l_t, r.t AS r_t
  FROM r_ok r, d_now n
 WHERE r.t < n.r_bound
   AND NOT EXISTS (SELECT 1 FROM l_ok l WHERE r.k = l.k
                      AND r.t BETWEEN l.t - interval '5 minutes' AND l.t + interval '20 minutes');
CREATE VIEW ref AS
SELECT 'd_inner' AS name, l_id, r_id, l_t, r_t FROM ref_pairs
UNION ALL SELECT 'd_left', * FROM ref_pairs
UNION ALL SELECT 'd_left', * FROM ref_l_null
UNION ALL SELECT 'd_full', * FROM ref_pairs
UNION ALL SELECT 'd_full', * FROM ref_l_null
UNION ALL SELECT 'd_full', * FROM ref_r_null
UNION ALL SELECT DISTINCT 'd_semi', l_id, NULL::int, l_t, NULL::timestamptz FROM ref_pairs
UNION ALL SELECT 'd_all', l.id, r.id, NULL, NULL FROM l JOIN r ON r.g = l.g
UNION ALL SELECT 'd_self', a.id, b.id, a.t, b.t FROM l_ok_self a JOIN l_ok_self b ON b.k = a.k
   AND b.t > a.t AND b.t <= a.t + interval '10 minutes';
CREATE VIEW got AS
SELECT 'd_inner' AS name, l_id, r_id, l_t, r_t FROM d_inner
UNION ALL SELECT 'd_left', l_id, r_id, l_t, r_t FROM d_left
UNION ALL SELECT 'd_full', l_id, r_id, l_t, r_t FROM d_full
UNION ALL SELECT 'd_semi', l_id, NULL, l_t, NULL FROM d_semi
UNION ALL SELECT 'd_all', l_id, r_id, NULL, NULL FROM d_all
UNION ALL SELECT 'd_self', l_id, r_id, l_t, r_t FROM d_self;

-- what each side's state table must hold now, and its watermark: the rows
-- of a preserved side not late, not evicted and not matched (for the semi
-- join: not written), and the late rows the eviction bound has not passed
CREATE VIEW ref_state AS
WITH l_waiting AS (
    SELECT l.id FROM l_ok l, d_now n
     WHERE l.t >= n.l_bound
       AND NOT EXISTS (SELECT 1 FROM r_ok r WHERE r.k = l.k
                          AND r.t BETWEEN l.t - interval '5 minutes' AND l.t + interval '20 minutes')),
r_waiting AS (
    SELECT r.id FROM r_ok r, d_now n
     WHERE r.t >= n.r_bound
       AND NOT EXISTS (SELECT 1 FROM l_ok l WHERE r.k = l.k
                          AND r.t BETWEEN l.t - interval '5 minutes' AND l.t + interval '20 minutes')),
kept_late AS (
    SELECT (SELECT count(*) FROM l_late l, d_now n WHERE l.t >= n.l_bound) AS l,
           (SELECT count(*) FROM r_late r, d_now n WHERE r.t >= n.r_bound) AS r)
SELECT q.name, s.side,
       CASE WHEN s.side = 1 THEN k.l ELSE k.r END
       + CASE WHEN s.side = 1 AND q.name IN ('d_left', 'd_full', 'd_semi')
              THEN (SELECT count(*) FROM l_waiting)
              WHEN s.side = 2 AND q.name = 'd_full'
              THEN (SELECT count(*) FROM r_waiting)
              ELSE 0 END AS state_rows,
       CASE WHEN s.side = 1 THEN n.wl ELSE n.wr END AS watermark
  FROM d_queries q, generate_series(1, 2) s(side), kept_late k, d_now n
 WHERE q.watermarks IS NOT NULL AND q.name <> 'd_self'
UNION ALL
SELECT 'd_all', s.side, 0, NULL FROM generate_series(1, 2) s(side)
UNION ALL
-- the self-join keeps late rows only: side a's until a.t < W - 10 minutes,
-- side b's until b.t <= W (b.t > a.t is strict), so none of b's
SELECT 'd_self', s.side,
       CASE WHEN s.side = 1
            THEN (SELECT count(*) FROM l_late_self x, d_now n WHERE x.t >= n.wl - interval '10 minutes')
            ELSE (SELECT count(*) FROM l_late_self x, d_now n WHERE x.t > n.wl) END,
       n.wl
  FROM generate_series(1, 2) s(side), d_now n;

CREATE TABLE d_checks (step int, name text, check_name text, bad bigint);
CREATE TABLE d_new (id int, side text, k int, g int, t timestamptz);
CREATE TABLE d_before (name text, batch_id bigint);

-- one step: rows for either stream or both, in one transaction or two, then
-- every query processes all that is available, then the comparisons
CREATE PROCEDURE d_run(steps int) LANGUAGE plpgsql AS $$
DECLARE
    s int;
    n_l int;
    n_r int;
    shape float8;
    clock timestamptz;
    next_id int := 0;
    q d_queries;
BEGIN
    PERFORM setseed(0.42);
    FOR s IN 1 .. steps LOOP
        clock := '2026-01-01 00:00+00'::timestamptz + s * interval '1 minute';
        n_l := (random() * 20)::int;
        n_r := (random() * 20)::int;
        shape := random();
        IF shape < 0.1 THEN
            -- one stream only
            IF random() < 0.5 THEN n_l := 0; ELSE n_r := 0; END IF;
        END IF;
        TRUNCATE d_new;
        INSERT INTO d_new
        SELECT next_id + i, CASE WHEN i <= n_l THEN 'l' ELSE 'r' END,
               1 + (random() * 29)::int, 1 + (random() * 999)::int,
               date_trunc('minute',
                   CASE WHEN random() < 0.1
                        THEN clock - interval '2 hours' - random() * interval '2 hours'
                        ELSE clock + (random() * 80 - 40) * interval '1 minute' END)
          FROM generate_series(1, n_l + n_r) i;
        next_id := next_id + n_l + n_r;
        IF shape >= 0.1 AND shape < 0.3 THEN
            -- one transaction writes both streams
            INSERT INTO l SELECT id, k, g, t, s FROM d_new WHERE side = 'l';
            INSERT INTO r SELECT id, k, g, t, s FROM d_new WHERE side = 'r';
            COMMIT;
        ELSE
            -- one transaction per stream, in either order
            COMMIT;
            IF random() < 0.5 THEN
                INSERT INTO l SELECT id, k, g, t, s FROM d_new WHERE side = 'l';
                COMMIT;
                INSERT INTO r SELECT id, k, g, t, s FROM d_new WHERE side = 'r';
                COMMIT;
            ELSE
                INSERT INTO r SELECT id, k, g, t, s FROM d_new WHERE side = 'r';
                COMMIT;
                INSERT INTO l SELECT id, k, g, t, s FROM d_new WHERE side = 'l';
                COMMIT;
            END IF;
        END IF;
        -- the batches this step runs are those after the last one so far
        DELETE FROM d_before;
        INSERT INTO d_before
        SELECT q0.name, coalesce((SELECT max(p.batch_id) FROM stream.progress p
                                   WHERE p.query = q0.name), 0)
          FROM d_queries q0;
        COMMIT;
        FOR q IN SELECT * FROM d_queries ORDER BY name LOOP
            CALL stream.process_all_available(q.name);
        END LOOP;
        -- the watermarks after this step: never back
        INSERT INTO d_wm
        SELECT s, x.wl, x.wr, CASE WHEN x.wl IS NULL OR x.wr IS NULL THEN NULL
                                   ELSE least(x.wl, x.wr) END
          FROM (SELECT (SELECT max(t) FROM l) - interval '30 minutes' AS wl,
                       (SELECT max(t) FROM r) - interval '45 minutes' AS wr) x;
        INSERT INTO d_checks
        SELECT s, q2.name, 'rows', count(d.name)
          FROM d_queries q2 LEFT JOIN (
               (TABLE got EXCEPT ALL TABLE ref)
               UNION ALL
               (TABLE ref EXCEPT ALL TABLE got)) d ON d.name = q2.name
         GROUP BY q2.name;
        INSERT INTO d_checks
        SELECT s, e.name, 'state rows', count(*) FILTER (WHERE g.state_rows IS DISTINCT FROM e.state_rows)
          FROM ref_state e
          LEFT JOIN stream.query_sides g ON g.query = e.name AND g.side = e.side
         GROUP BY e.name;
        INSERT INTO d_checks
        SELECT s, e.name, 'watermarks', count(*) FILTER (WHERE g.watermark IS DISTINCT FROM e.watermark)
          FROM ref_state e
          LEFT JOIN stream.query_sides g ON g.query = e.name AND g.side = e.side
         GROUP BY e.name;
        -- the rows dropped as late by this step's batches, per side
        INSERT INTO d_checks
        SELECT s, q5.name, 'late rows',
               count(*) FILTER (WHERE coalesce(g.late, 0) <> e.late)
          FROM d_queries q5 CROSS JOIN generate_series(1, 2) sd(side)
          JOIN d_before b ON b.name = q5.name
          LEFT JOIN LATERAL (SELECT sum(p.late_rows) AS late FROM stream.progress_sides p
                              WHERE p.query = q5.name AND p.side = sd.side
                                AND p.batch_id > b.batch_id) g ON true
          CROSS JOIN LATERAL (
              SELECT CASE WHEN q5.watermarks IS NULL THEN 0
                          WHEN q5.name = 'd_self'
                          THEN (SELECT count(*) FROM l_late_self WHERE l_late_self.step = s)
                          WHEN sd.side = 1 THEN (SELECT count(*) FROM l_late WHERE l_late.step = s)
                          ELSE (SELECT count(*) FROM r_late WHERE r_late.step = s) END AS late) e
         GROUP BY q5.name;
        INSERT INTO d_checks
        SELECT s, g.query, 'state bounded', count(*) FILTER (WHERE g.state_rows >= 200)
          FROM stream.query_sides g JOIN d_queries q3 ON q3.name = g.query
         GROUP BY g.query;
        INSERT INTO d_checks
        SELECT s, x.name, 'nothing pending', count(*) FILTER (WHERE x.pending_rows <> 0)
          FROM stream.queries x JOIN d_queries q4 ON q4.name = x.name
         GROUP BY x.name;
        COMMIT;
    END LOOP;
END
$$;

CALL d_run(300);

-- one line per query and check: ok, or the number of steps that differed
SELECT name, check_name,
       CASE WHEN count(*) FILTER (WHERE bad <> 0) = 0 AND count(*) = 300 THEN 'ok'
            ELSE format('%s of %s steps differ', count(*) FILTER (WHERE bad <> 0), count(*))
       END AS result
  FROM d_checks GROUP BY name, check_name ORDER BY name, check_name;
-- the data did what it is there for: late rows on both sides, NULL rows on
-- both sides, pairs within one transaction, matched and unmatched rows
SELECT (SELECT count(*) FROM l_late) > 0 AS l_late,
       (SELECT count(*) FROM d_self) > 1000 AS self_pairs,
       (SELECT count(*) FROM r_late) > 0 AS r_late,
       (SELECT count(*) FROM d_full WHERE r_id IS NULL) > 0 AS l_nulls,
       (SELECT count(*) FROM d_full WHERE l_id IS NULL) > 0 AS r_nulls,
       (SELECT count(*) FROM d_inner) > 1000 AS pairs,
       (SELECT count(*) FROM l_late l, r_ok r WHERE r.k = l.k
           AND r.t BETWEEN l.t - interval '5 minutes' AND l.t + interval '20 minutes') > 0
           AS late_rows_in_reach;

SELECT stream.drop_query(name) FROM d_queries ORDER BY name;
SELECT stream.drop_stream('l');
SELECT stream.drop_stream('r');
RESET ROLE;
DROP OWNED BY regress_jdiff_owner;
DROP ROLE regress_jdiff_owner;
