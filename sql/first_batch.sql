-- The first batch of a query in a session prepares only the statements its
-- batches run: an update-mode aggregation served by the merge in C keeps
-- no merge in SQL, and never empties its target, so keeps no statement for
-- that.  A batch that the C merge turns back (its state table changed
-- under it) prepares the SQL merge then, and its result is the same.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
CREATE ROLE regress_fb_owner LOGIN;
GRANT CREATE ON SCHEMA public TO regress_fb_owner;
SET ROLE regress_fb_owner;

CREATE TABLE fb_ev (k int, v float8);
SELECT stream.create_stream('fb_ev');
INSERT INTO fb_ev SELECT g % 7, g FROM generate_series(1, 100) g;
SELECT stream.start_query('fb_q', 'SELECT k, count(*) AS n, sum(v) AS s FROM fb_ev GROUP BY k',
                          'fb_out', output_mode => 'update', trigger => '1 hour') > 0 AS started;
CALL stream.process_all_available('fb_q');
INSERT INTO fb_ev SELECT g % 7, g FROM generate_series(101, 150) g;
CALL stream.process_batch('fb_q');

-- what this session prepared for the query: the partial statement and the
-- write to the target, not the SQL merge nor the target's emptying
RESET ROLE;
SELECT (SELECT state_relid::regclass::text FROM stream.query_defs WHERE name = 'fb_q') AS state \gset
SELECT count(*) FILTER (WHERE ident LIKE 'WITH m AS (INSERT INTO ' || :'state' || ' %') AS sql_merge,
       count(*) FILTER (WHERE ident = 'DELETE FROM public.fb_out') AS clear,
       count(*) FILTER (WHERE ident LIKE 'INSERT INTO public.fb_out %') AS write
  FROM pg_backend_memory_contexts WHERE name = 'CachedPlanSource';
SELECT o.k, o.n = r.n AND o.s = r.s AS same
  FROM fb_out o FULL JOIN (SELECT k, count(*) AS n, sum(v) AS s FROM fb_ev GROUP BY k) r USING (k)
 ORDER BY 1;

-- a trigger on the state table: the merge in C turns the batch back, and
-- the SQL merge, prepared now, folds the batch (the trigger sees its rows)
CREATE TABLE fb_seen (k int);
CREATE FUNCTION fb_note() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN INSERT INTO public.fb_seen VALUES (NEW.key_1); RETURN NEW; END$$;
SELECT format('CREATE TRIGGER fb_note BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION public.fb_note()',
              :'state') \gexec
SET ROLE regress_fb_owner;
INSERT INTO fb_ev SELECT g % 7, g FROM generate_series(151, 200) g;
CALL stream.process_batch('fb_q');
RESET ROLE;
SELECT count(*) FILTER (WHERE ident LIKE 'WITH m AS (INSERT INTO ' || :'state' || ' %') AS sql_merge
  FROM pg_backend_memory_contexts WHERE name = 'CachedPlanSource';
SELECT count(DISTINCT k) AS groups_through_sql_merge FROM fb_seen;
SELECT o.k, o.n = r.n AND o.s = r.s AS same
  FROM fb_out o FULL JOIN (SELECT k, count(*) AS n, sum(v) AS s FROM fb_ev GROUP BY k) r USING (k)
 ORDER BY 1;
SELECT format('DROP TRIGGER fb_note ON %s', :'state') \gexec

-- The first batch of a query in a session analyzes the query's text once:
-- the partial statement's analysis gives the query's shape too (over an
-- aggregation of an aggregation, the chain's statements are prepared again
-- once its shapes are known).  A first batch of each shape in a new session
-- gives the rows that aggregating the whole stream gives.
SET ROLE regress_fb_owner;
CREATE TABLE fs_ev (id int, k int, v float8, t timestamptz);
SELECT stream.create_stream('fs_ev');
INSERT INTO fs_ev SELECT g, g % 4, g, '2026-01-01 10:00+00'::timestamptz + (g / 6) * interval '1 minute'
  FROM generate_series(1, 60) g;
SELECT stream.start_query('fs_upd', 'SELECT k, count(*) AS n, avg(v) AS a FROM fs_ev GROUP BY k HAVING count(*) > 14',
                          'fs_upd', output_mode => 'update', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('fs_top', 'SELECT k, sum(v) AS s FROM fs_ev GROUP BY k ORDER BY s DESC, k LIMIT 3',
                          'fs_top', output_mode => 'complete', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('fs_all', 'SELECT count(*) AS n, max(v) AS m FROM fs_ev',
                          'fs_all', output_mode => 'update', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('fs_win', $$SELECT stream.tumble(t, '1 minute') AS w, k, count(*) AS n, sum(v) AS s
                                        FROM fs_ev GROUP BY 1, 2$$,
                          'fs_win', output_mode => 'append', event_time => 't',
                          watermark => '1 minute', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('fs_chain', $$SELECT stream.tumble(m.minute, '10 minutes') AS w, sum(m.n) AS n,
                                               count(*) AS minutes
                                          FROM (SELECT stream.tumble(t, '1 minute') AS minute, count(*) AS n
                                                  FROM fs_ev GROUP BY 1) m
                                         GROUP BY 1$$,
                          'fs_chain', output_mode => 'append', event_time => 't',
                          watermark => '1 minute', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('fs_dedup', 'SELECT k, count(*) AS n FROM fs_ev GROUP BY k',
                          'fs_dedup', output_mode => 'update', event_time => 't',
                          watermark => '1 hour', deduplicate => '{id}', trigger => '1 hour') > 0 AS started;
CALL stream.process_all_available('fs_upd');
CALL stream.process_all_available('fs_top');
CALL stream.process_all_available('fs_all');
CALL stream.process_all_available('fs_win');
CALL stream.process_all_available('fs_chain');
CALL stream.process_all_available('fs_dedup');
\c
SET client_min_messages = warning;
SET ROLE regress_fb_owner;
-- more rows, ten of them twice, and one that closes every window before it
INSERT INTO fs_ev SELECT g, g % 4, g, '2026-01-01 10:00+00'::timestamptz + (g / 6) * interval '1 minute'
  FROM generate_series(61, 120) g;
INSERT INTO fs_ev SELECT * FROM fs_ev WHERE id BETWEEN 111 AND 120;
INSERT INTO fs_ev VALUES (1000, 0, 0, '2026-01-01 12:00+00');
CALL stream.process_all_available('fs_upd');
CALL stream.process_all_available('fs_top');
CALL stream.process_all_available('fs_all');
CALL stream.process_all_available('fs_win');
CALL stream.process_all_available('fs_chain');
CALL stream.process_all_available('fs_dedup');
SELECT 'fs_upd' AS query, count(*) AS rows, count(*) FILTER (WHERE o.n IS DISTINCT FROM r.n OR o.a IS DISTINCT FROM r.a) AS wrong
  FROM fs_upd o FULL JOIN (SELECT k, count(*) AS n, avg(v) AS a FROM fs_ev GROUP BY k HAVING count(*) > 14) r USING (k)
UNION ALL
SELECT 'fs_top', count(*), count(*) FILTER (WHERE o.s IS DISTINCT FROM r.s)
  FROM fs_top o FULL JOIN (SELECT k, sum(v) AS s FROM fs_ev GROUP BY k ORDER BY s DESC, k LIMIT 3) r USING (k)
UNION ALL
SELECT 'fs_all', count(*), count(*) FILTER (WHERE o.n IS DISTINCT FROM r.n OR o.m IS DISTINCT FROM r.m)
  FROM fs_all o FULL JOIN (SELECT count(*) AS n, max(v) AS m FROM fs_ev) r ON true
UNION ALL
SELECT 'fs_win', count(*), count(*) FILTER (WHERE o.n IS DISTINCT FROM r.n OR o.s IS DISTINCT FROM r.s)
  FROM fs_win o FULL JOIN (SELECT stream.tumble(t, '1 minute') AS w, k, count(*) AS n, sum(v) AS s
                             FROM fs_ev WHERE t < '2026-01-01 11:00+00' GROUP BY 1, 2) r USING (w, k)
UNION ALL
SELECT 'fs_chain', count(*), count(*) FILTER (WHERE o.n IS DISTINCT FROM r.n OR o.minutes IS DISTINCT FROM r.minutes)
  FROM fs_chain o FULL JOIN (SELECT stream.tumble(t, '10 minutes') AS w, count(*) AS n,
                                    count(DISTINCT stream.tumble(t, '1 minute')) AS minutes
                               FROM fs_ev WHERE t < '2026-01-01 11:00+00' GROUP BY 1) r USING (w)
UNION ALL
SELECT 'fs_dedup', count(*), count(*) FILTER (WHERE o.n IS DISTINCT FROM r.n)
  FROM fs_dedup o FULL JOIN (SELECT k, count(DISTINCT id) AS n FROM fs_ev GROUP BY k) r USING (k);
SELECT stream.drop_query(q) FROM (VALUES ('fs_upd'), ('fs_top'), ('fs_all'), ('fs_win'),
                                         ('fs_chain'), ('fs_dedup')) v(q);
DROP TABLE fs_ev, fs_upd, fs_top, fs_all, fs_win, fs_chain, fs_dedup;
RESET ROLE;

SET ROLE regress_fb_owner;
SELECT stream.drop_query('fb_q');
RESET ROLE;
DROP TABLE fb_ev, fb_out, fb_seen;
DROP FUNCTION fb_note();
REVOKE CREATE ON SCHEMA public FROM regress_fb_owner;
DROP ROLE regress_fb_owner;
