-- A batch's rows in the checkpoint and progress tables go with its offsets:
-- from catalog 0.11 those tables have no foreign key to
-- stream.checkpoint_offsets, and whatever removes offsets removes their
-- rows itself.  After old batches are forgotten (with and without the
-- per-minute history), after a query is restarted on its latest committed
-- batch (a planned batch that never committed forgotten), and after
-- queries are dropped (one by one, with their stream, with their owner),
-- no table keeps a row of offsets that are gone or of a query that is
-- gone.  The tables checked are found in the catalog, not listed here: a
-- table added later is checked too.  Run as a role without privileges of
-- its own.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';

-- no foreign key of the extension's tables refers to the offsets
SELECT count(*) AS keys_to_offsets
  FROM pg_constraint
 WHERE contype = 'f' AND confrelid = 'stream.checkpoint_offsets'::regclass;

-- the tables that hold rows of a batch: every table of schema stream with
-- query_id and batch_id but the offsets themselves and the dead letters
-- (kept past their batch's offsets, until delivered)
CREATE FUNCTION pg_temp.batch_tables() RETURNS SETOF regclass
LANGUAGE sql AS $$
SELECT c.oid::regclass
  FROM pg_class c
 WHERE c.relnamespace = 'stream'::regnamespace AND c.relkind = 'r'
   AND c.oid NOT IN ('stream.checkpoint_offsets'::regclass, 'stream.dead_letter_log'::regclass)
   AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'query_id')
   AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'batch_id')
 ORDER BY c.relname
$$;
SELECT pg_temp.batch_tables() AS batch_table;

-- rows of a batch whose offsets are gone, per table (none: no row)
CREATE FUNCTION pg_temp.orphans() RETURNS TABLE (tab text, orphan_rows bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT pg_temp.batch_tables() LOOP
        tab := t::text;
        EXECUTE format('SELECT count(*) FROM %s x WHERE NOT EXISTS'
                       ' (SELECT 1 FROM stream.checkpoint_offsets o'
                       '   WHERE o.query_id = x.query_id AND o.batch_id = x.batch_id)', t)
           INTO orphan_rows;
        IF orphan_rows > 0 THEN
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;

-- rows, in any table of schema stream with a query_id, of a query that is
-- gone (none: no row)
CREATE FUNCTION pg_temp.leftovers() RETURNS TABLE (tab text, leftover_rows bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT c.oid::regclass FROM pg_class c
              WHERE c.relnamespace = 'stream'::regnamespace AND c.relkind = 'r'
                AND c.oid <> 'stream.query_defs'::regclass
                AND EXISTS (SELECT 1 FROM pg_attribute a
                             WHERE a.attrelid = c.oid AND a.attname = 'query_id')
              ORDER BY c.relname LOOP
        tab := t::text;
        EXECUTE format('SELECT count(*) FROM %s x WHERE x.query_id IS NOT NULL AND NOT EXISTS'
                       ' (SELECT 1 FROM stream.query_defs q WHERE q.query_id = x.query_id)', t)
           INTO leftover_rows;
        IF leftover_rows > 0 THEN
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;

CREATE ROLE regress_orphans_user;
GRANT CREATE ON SCHEMA public TO regress_orphans_user;
SET ROLE regress_orphans_user;

CREATE TABLE imps (ad_id int, imp_time timestamptz);
CREATE TABLE clicks (ad_id int, click_time timestamptz);
SELECT stream.create_stream('imps');
SELECT stream.create_stream('clicks');
-- an append query; a windowed count with a watermark (watermark and
-- operator rows); a join (side offsets, side progress, operator rows)
SELECT stream.start_query('plain', 'SELECT ad_id, imp_time FROM imps', 'plain_out',
                          trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('hourly',
    $$SELECT stream.tumble(imp_time, '1 hour') AS hour, count(*) AS n
        FROM imps GROUP BY 1$$, 'hourly_out', output_mode => 'append',
    event_time => 'imp_time', watermark => '2 hours', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('pairs',
    $$SELECT i.ad_id, i.imp_time, c.click_time
        FROM imps i JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'pairs_out', watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}',
    trigger => '1 hour') > 0 AS started;

-- twelve batches of each, keeping the latest 4 (old ones forgotten at
-- every batch past the fourth); the first six with the per-minute history,
-- the last six without (the commit statement's two forms)
SET pg_streaming.retained_batches = 4;
SELECT format('INSERT INTO imps VALUES (%s, %L)', g, timestamptz '2026-01-01 10:00' + g * interval '10 minutes'),
       format('INSERT INTO clicks VALUES (%s, %L)', g, timestamptz '2026-01-01 10:05' + g * interval '10 minutes'),
       CASE WHEN g = 7 THEN 'SET pg_streaming.progress_history_minutes = 0' ELSE 'SELECT' END,
       $$CALL stream.process_all_available('plain')$$,
       $$CALL stream.process_all_available('hourly')$$,
       $$CALL stream.process_all_available('pairs')$$
  FROM generate_series(1, 12) g \gexec
RESET pg_streaming.progress_history_minutes;
SELECT count(*) AS joined FROM pairs_out;
RESET ROLE;
-- each query kept its latest 4 batches, the latest committed, and the
-- other tables nothing older
SELECT q.name, count(*) AS offsets,
       max(o.batch_id) = (SELECT max(c.batch_id) FROM stream.checkpoint_commits c
                           WHERE c.query_id = q.query_id) AS latest_committed
  FROM stream.checkpoint_offsets o JOIN stream.query_defs q USING (query_id)
 GROUP BY q.name, q.query_id ORDER BY q.name;
SELECT (SELECT count(DISTINCT (query_id, batch_id)) FROM stream.progress_operator_log) AS operator_batches,
       (SELECT count(*) FROM stream.checkpoint_watermarks) AS watermark_rows,
       (SELECT count(*) FROM stream.checkpoint_sides) AS side_rows,
       (SELECT count(DISTINCT (query_id, batch_id)) FROM stream.progress_side_log) AS side_progress_batches;
SELECT * FROM pg_temp.orphans();

-- a batch planned (its offsets, watermarks and side offsets written ahead)
-- that never committed, then a restore into another history: the query
-- restarts on its latest committed batch and the planned batch is
-- forgotten with every row of it
SELECT query_id AS pairs_id FROM stream.query_defs WHERE name = 'pairs' \gset
INSERT INTO stream.checkpoint_offsets (query_id, batch_id, start_snapshot, end_snapshot,
       scan_from_block, end_floor_block, end_tail_block, relfilenode, history_id)
SELECT query_id, batch_id + 1, end_snapshot, end_snapshot, end_floor_block, end_floor_block,
       end_tail_block, relfilenode, history_id
  FROM stream.checkpoint_offsets WHERE query_id = :pairs_id ORDER BY batch_id DESC LIMIT 1;
INSERT INTO stream.checkpoint_watermarks (query_id, batch_id, watermark, late_watermark)
SELECT query_id, max(batch_id), NULL, NULL FROM stream.checkpoint_offsets
 WHERE query_id = :pairs_id GROUP BY query_id;
INSERT INTO stream.checkpoint_sides
SELECT query_id, batch_id + 1, side, scan_from_block, end_floor_block, end_tail_block,
       relfilenode, end_rest_floor, end_writer_xids, end_writer_firsts
  FROM stream.checkpoint_sides WHERE query_id = :pairs_id ORDER BY batch_id DESC LIMIT 1;
UPDATE stream.checkpoint_offsets SET history_id = NULL WHERE query_id = :pairs_id;
SET ROLE regress_orphans_user;
SELECT stream.resume_restored_query('pairs', 'deliver');
RESET ROLE;
SELECT count(*) AS offsets,
       max(batch_id) = (SELECT max(batch_id) FROM stream.checkpoint_commits
                         WHERE query_id = :pairs_id) AS latest_committed
  FROM stream.checkpoint_offsets WHERE query_id = :pairs_id;
SELECT * FROM pg_temp.orphans();

-- the same for the append query, which has no side offsets
SELECT query_id AS plain_id FROM stream.query_defs WHERE name = 'plain' \gset
INSERT INTO stream.checkpoint_offsets (query_id, batch_id, start_snapshot, end_snapshot,
       scan_from_block, end_floor_block, end_tail_block, relfilenode, history_id)
SELECT query_id, batch_id + 1, end_snapshot, end_snapshot, end_floor_block, end_floor_block,
       end_tail_block, relfilenode, NULL
  FROM stream.checkpoint_offsets WHERE query_id = :plain_id ORDER BY batch_id DESC LIMIT 1;
INSERT INTO stream.checkpoint_watermarks (query_id, batch_id)
SELECT query_id, max(batch_id) FROM stream.checkpoint_offsets
 WHERE query_id = :plain_id GROUP BY query_id;
UPDATE stream.checkpoint_offsets SET history_id = NULL WHERE query_id = :plain_id;
SET ROLE regress_orphans_user;
SELECT stream.resume_restored_query('plain', 'skip');
RESET ROLE;
SELECT count(*) AS offsets,
       max(batch_id) = (SELECT max(batch_id) FROM stream.checkpoint_commits
                         WHERE query_id = :plain_id) AS latest_committed
  FROM stream.checkpoint_offsets WHERE query_id = :plain_id;
SELECT * FROM pg_temp.orphans();
SET ROLE regress_orphans_user;

-- dropped one by one, with their stream, with their owner: nothing of
-- them stays in any table
SELECT stream.drop_query('hourly');
RESET ROLE;
SELECT * FROM pg_temp.leftovers();
SELECT * FROM pg_temp.orphans();
SET ROLE regress_orphans_user;
SELECT stream.drop_stream('clicks', cascade => true);
RESET ROLE;
SELECT * FROM pg_temp.leftovers();
SELECT * FROM pg_temp.orphans();
SELECT count(*) AS queries_left FROM stream.query_defs;
DROP OWNED BY regress_orphans_user;
SELECT count(*) AS queries_left FROM stream.query_defs;
SELECT * FROM pg_temp.leftovers();
SELECT * FROM pg_temp.orphans();
DROP ROLE regress_orphans_user;
