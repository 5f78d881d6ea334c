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

SET ROLE regress_fb_owner;
SELECT stream.drop_query('fb_q');
RESET ROLE;
DROP TABLE fb_ev, fb_out, fb_seen;
DROP FUNCTION fb_note();
REVOKE CREATE ON SCHEMA public FROM regress_fb_owner;
DROP ROLE regress_fb_owner;
