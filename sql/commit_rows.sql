-- A batch's offsets row, commit row and progress row are written in C on
-- a 0.11 catalog (whose tables have no keys to the offsets) and by
-- statements on older ones: the same batches leave the same rows either
-- way, retained batches and minute figures included.  What the statements
-- would do more still happens: a CHECK constraint or a duplicate key on
-- those tables refuses the batch, which commits nothing; a trigger on them
-- fires.
SET client_min_messages = warning;
CREATE DATABASE regress_commit_rows;
\c regress_commit_rows
SET client_min_messages = warning;
CREATE TABLE seen (catalog text, what text, row_text text);

-- the same work on a catalog: an append query and an update-mode
-- aggregation, more batches than are retained, one without minute figures
CREATE PROCEDURE work(catalog text) LANGUAGE plpgsql AS $$
DECLARE
  i int;
BEGIN
  CREATE TABLE cr_s (id int, k text);
  PERFORM stream.create_stream('cr_s');
  PERFORM stream.start_query('cr_app', 'SELECT id, k FROM cr_s WHERE id % 3 <> 0', 'cr_app_out');
  PERFORM stream.start_query('cr_agg', 'SELECT k, count(*) AS n FROM cr_s GROUP BY k',
                             'cr_agg_out', output_mode => 'update');
  COMMIT;
  FOR i IN 1..10 LOOP
    INSERT INTO cr_s SELECT g, 'k' || (g % 4) FROM generate_series(i * 10, i * 10 + i) g;
    COMMIT;
    IF i = 7 THEN
      PERFORM set_config('pg_streaming.progress_history_minutes', '0', false);
    END IF;
    -- minute boundaries forced: three days back (older than the 1440
    -- minutes kept: the next batch removes them), then an hour back (the
    -- next batch starts a new minute's row), then half an hour
    IF i IN (4, 7, 10) THEN
      UPDATE stream.progress_by_minute
         SET minute = minute - CASE i WHEN 4 THEN interval '3 days'
                                      WHEN 7 THEN interval '1 hour' ELSE interval '30 minutes' END;
      COMMIT;
    END IF;
    CALL stream.process_batch('cr_app');
    CALL stream.process_batch('cr_agg');
    PERFORM set_config('pg_streaming.progress_history_minutes', '1440', false);
  END LOOP;
  INSERT INTO seen
    SELECT catalog, 'commit', format('%s %s %s', d.name, c.batch_id,
                                     c.committed_at = p.finished_at)
      FROM stream.checkpoint_commits c JOIN stream.query_defs d USING (query_id)
      LEFT JOIN stream.progress_log p USING (query_id, batch_id);
  INSERT INTO seen
    SELECT catalog, 'progress', format('%s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s',
        d.name, p.batch_id, p.input_rows, p.output_rows, p.replayed, p.state_rows,
        p.state_rows_updated, p.watermark, p.next_watermark, p.event_time_min,
        p.late_rows, p.started_at <= p.finished_at, p.blocks_read IS NULL,
        p.plan_ms IS NULL, p.previous_commit_ms IS NULL,
        p.state_bytes IS NULL)
      FROM stream.progress_log p JOIN stream.query_defs d USING (query_id);
  INSERT INTO seen
    SELECT catalog, 'operators', format('%s %s %s %s %s %s', d.name, o.batch_id, o.ordinal,
                                        o.operator, o.state_rows, o.state_rows_updated)
      FROM stream.progress_operator_log o JOIN stream.query_defs d USING (query_id);
  INSERT INTO seen
    SELECT catalog, 'minutes', format('%s %s %s %s', d.name, sum(m.batches),
                                      sum(m.input_rows), sum(m.output_rows))
      FROM stream.progress_by_minute m JOIN stream.query_defs d USING (query_id)
     GROUP BY d.name;
  INSERT INTO seen
    SELECT catalog, 'minute rows', format('%s %s %s %s %s', d.name, count(DISTINCT m.minute) >= 3,
                                          bool_and(m.max_batch_ms <= m.busy_ms),
                                          min(m.minute) > now() - interval '1 day',
                                          max(m.minute) = date_trunc('minute', max(p.finished_at)))
      FROM stream.progress_by_minute m JOIN stream.query_defs d USING (query_id)
      JOIN stream.progress_log p USING (query_id)
     GROUP BY d.name;
  -- the latest minute holds only the last batch, its time to the microsecond
  INSERT INTO seen
    SELECT catalog, 'last minute', format('%s %s %s %s %s', d.name, m.batches, m.input_rows,
        m.busy_ms = pg_catalog.date_part('epoch', p.finished_at - p.started_at) * 1000,
        m.max_batch_ms = m.busy_ms)
      FROM stream.progress_by_minute m JOIN stream.query_defs d USING (query_id)
      JOIN stream.progress_log p USING (query_id)
     WHERE p.batch_id = 10 AND m.minute = date_trunc('minute', p.finished_at);
  INSERT INTO seen
    SELECT catalog, 'offsets', format('%s %s', d.name, o.batch_id)
      FROM stream.checkpoint_offsets o JOIN stream.query_defs d USING (query_id);
  INSERT INTO seen
    SELECT catalog, 'offsets row', format('%s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s',
        d.name, o.batch_id, o.start_snapshot IS NULL,
        o.end_snapshot IS NOT NULL, o.end_tail_block, o.scan_from_block,
        o.end_floor_block, o.relfilenode = pg_relation_filenode('cr_s'),
        o.watermark, o.planned_at <= clock_timestamp(), o.start_split_xid,
        o.start_split_block, o.end_split_xid, o.end_split_block,
        o.end_rest_floor, o.scan_to_block, o.end_writer_xids IS NULL,
        o.history_id = h.history_id, o.system_identifier = h.system_identifier)
      FROM stream.checkpoint_offsets o JOIN stream.query_defs d USING (query_id),
           stream.local_history h;
END $$;

SET pg_streaming.retained_batches = 4;
CREATE EXTENSION pg_streaming VERSION '0.10';
CALL work('0.10');
SELECT stream.drop_stream('cr_s', cascade => true);
DROP TABLE cr_s, cr_app_out, cr_agg_out;
DROP EXTENSION pg_streaming;
CREATE EXTENSION pg_streaming;
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
CALL work('0.11');
-- the rows, and that both catalogs wrote them alike
SELECT what, count(*) FROM seen WHERE catalog = '0.11' GROUP BY what ORDER BY what;
SELECT what, row_text FROM seen WHERE catalog = '0.11'
   AND what IN ('commit', 'minutes', 'minute rows', 'last minute', 'offsets row')
 ORDER BY what, row_text COLLATE "C";
(SELECT what, row_text FROM seen WHERE catalog = '0.10'
 EXCEPT ALL SELECT what, row_text FROM seen WHERE catalog = '0.11')
UNION ALL
(SELECT what, row_text FROM seen WHERE catalog = '0.11'
 EXCEPT ALL SELECT what, row_text FROM seen WHERE catalog = '0.10');

-- a CHECK constraint on the progress rows refuses the batch: nothing of it
-- is committed, and it runs once the constraint is gone
ALTER TABLE stream.progress_log ADD CONSTRAINT regress_not_two CHECK (output_rows <> 2) NOT VALID;
INSERT INTO cr_s VALUES (1001, 'x'), (1003, 'y');
\set VERBOSITY terse
CALL stream.process_batch('cr_app');
\set VERBOSITY default
SELECT last_batch_id FROM stream.queries WHERE name = 'cr_app';
SELECT count(*) AS commit_rows FROM stream.checkpoint_commits c JOIN stream.query_defs d
 USING (query_id) WHERE d.name = 'cr_app' AND c.batch_id = 11;
ALTER TABLE stream.progress_log DROP CONSTRAINT regress_not_two;
CALL stream.process_batch('cr_app');
SELECT last_batch_id FROM stream.queries WHERE name = 'cr_app';

-- a duplicate key too
INSERT INTO stream.checkpoint_commits (query_id, batch_id)
  SELECT query_id, 12 FROM stream.query_defs WHERE name = 'cr_app';
DELETE FROM stream.checkpoint_commits WHERE batch_id = 12
  AND query_id = (SELECT query_id FROM stream.query_defs WHERE name = 'cr_app');
INSERT INTO stream.progress_log (query_id, batch_id, started_at, finished_at,
                                 input_rows, output_rows, replayed)
  SELECT query_id, 12, now(), now(), 0, 0, false FROM stream.query_defs WHERE name = 'cr_app';
INSERT INTO cr_s VALUES (1004, 'x');
\set VERBOSITY terse
CALL stream.process_batch('cr_app');
\set VERBOSITY default
SELECT last_batch_id FROM stream.queries WHERE name = 'cr_app';
DELETE FROM stream.progress_log WHERE batch_id = 12
  AND query_id = (SELECT query_id FROM stream.query_defs WHERE name = 'cr_app');
CALL stream.process_batch('cr_app');
SELECT last_batch_id FROM stream.queries WHERE name = 'cr_app';

-- a trigger on the offsets rows or the commit rows fires for each
CREATE FUNCTION regress_commit_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE WARNING '% row of batch %', TG_TABLE_NAME, NEW.batch_id;
  RETURN NEW;
END $$;
CREATE TRIGGER regress_commit_seen AFTER INSERT ON stream.checkpoint_commits
  FOR EACH ROW EXECUTE FUNCTION regress_commit_seen();
CREATE TRIGGER regress_offsets_seen AFTER INSERT ON stream.checkpoint_offsets
  FOR EACH ROW EXECUTE FUNCTION regress_commit_seen();
INSERT INTO cr_s VALUES (1005, 'x');
CALL stream.process_batch('cr_app');
DROP TRIGGER regress_commit_seen ON stream.checkpoint_commits;
DROP TRIGGER regress_offsets_seen ON stream.checkpoint_offsets;
-- so does a rule; a CHECK calling a function that reads a table (not
-- inlined: its SET) runs under the statement's snapshot
CREATE TABLE regress_rule_seen (batch_id bigint);
CREATE RULE regress_offsets_rule AS ON INSERT TO stream.checkpoint_offsets
  DO ALSO INSERT INTO regress_rule_seen VALUES (NEW.batch_id);
CREATE FUNCTION regress_seen_count() RETURNS bigint LANGUAGE sql STABLE
  SET search_path = public AS $$ SELECT count(*) FROM regress_rule_seen $$;
ALTER TABLE stream.checkpoint_commits
  ADD CONSTRAINT regress_reads CHECK (regress_seen_count() >= 0);
INSERT INTO cr_s VALUES (1006, 'x');
CALL stream.process_batch('cr_app');
SELECT count(*) AS rule_rows FROM regress_rule_seen;
DROP RULE regress_offsets_rule ON stream.checkpoint_offsets;
ALTER TABLE stream.checkpoint_commits DROP CONSTRAINT regress_reads;
-- the same CHECK on the minute's figures, updated by two batches in a minute
ALTER TABLE stream.progress_by_minute
  ADD CONSTRAINT regress_reads CHECK (regress_seen_count() >= 0);
INSERT INTO cr_s VALUES (1008, 'x');
CALL stream.process_batch('cr_app');
INSERT INTO cr_s VALUES (1009, 'x');
CALL stream.process_batch('cr_app');
ALTER TABLE stream.progress_by_minute DROP CONSTRAINT regress_reads;
-- a batch inside a transaction block: the commit row's CHECK sees the rows
-- the batch wrote into its target, as the statement's snapshot does
CREATE FUNCTION regress_target_has(id int) RETURNS boolean LANGUAGE sql STABLE
  SET search_path = public AS $$ SELECT EXISTS (SELECT FROM cr_app_out WHERE id = $1) $$;
INSERT INTO cr_s VALUES (1010, 'x');
ALTER TABLE stream.checkpoint_commits
  ADD CONSTRAINT regress_sees_target CHECK (regress_target_has(1010)) NOT VALID;
BEGIN;
CALL stream.process_batch('cr_app');
COMMIT;
ALTER TABLE stream.checkpoint_commits DROP CONSTRAINT regress_sees_target;
INSERT INTO cr_s VALUES (1007, 'x');
CALL stream.process_batch('cr_app');
SELECT id FROM cr_app_out WHERE id > 1000 ORDER BY id;

-- a trigger on the minute figures fires too (the batch's minute is then
-- written by the statement), and the row is updated in C once it is gone
CREATE FUNCTION regress_minute_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE WARNING '% % of a minute, % batches', TG_TABLE_NAME, TG_OP, NEW.batches;
  RETURN NEW;
END $$;
UPDATE stream.progress_by_minute SET minute = minute - interval '1 day';
CREATE TRIGGER regress_minute_seen AFTER INSERT OR UPDATE ON stream.progress_by_minute
  FOR EACH ROW EXECUTE FUNCTION regress_minute_seen();
INSERT INTO cr_s VALUES (1009, 'x');
CALL stream.process_batch('cr_app');
DROP TRIGGER regress_minute_seen ON stream.progress_by_minute;
-- the same minute's row, updated in C after the statement inserted it
INSERT INTO cr_s VALUES (1010, 'x');
CALL stream.process_batch('cr_app');
SELECT m.batches, m.input_rows, m.output_rows
  FROM stream.progress_by_minute m JOIN stream.query_defs d USING (query_id)
 WHERE d.name = 'cr_app' AND m.minute > now() - interval '1 hour';

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_commit_rows;
