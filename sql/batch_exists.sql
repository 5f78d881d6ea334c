-- Whether a new batch has rows is read in C where the owner's statement
-- it replaces would see every row of the stream (catalog 0.10 on, an owner
-- who may read the whole stream), and by that statement elsewhere; both
-- answer alike.  No batch is written for rows the batch does not see: an
-- aborted writer's, the caller's own uncommitted ones, rows row security
-- hides from the query's owner; one is for committed rows.  A privilege
-- the owner lost fails the batch as before.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
CREATE ROLE regress_bx_owner LOGIN;
CREATE ROLE regress_bx_reader LOGIN;
GRANT CREATE ON SCHEMA public TO regress_bx_owner, regress_bx_reader;
SET ROLE regress_bx_owner;
CREATE TABLE bx (id int, v text);
SELECT stream.create_stream('bx');
GRANT SELECT, INSERT ON bx TO regress_bx_reader;
SET ROLE regress_bx_reader;
SELECT stream.start_query('bx_q', 'SELECT id FROM bx', 'bx_out',
                          trigger => '1 hour') > 0 AS started;
RESET ROLE;
-- the batches written so far, with their rows
CREATE FUNCTION bx_batches() RETURNS TABLE (batches bigint, last_batch bigint,
                                            input_rows numeric, output_rows bigint)
LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM stream.checkpoint_offsets o
           JOIN stream.query_defs d USING (query_id) WHERE d.name = 'bx_q'),
         (SELECT max(batch_id) FROM stream.checkpoint_commits c
           JOIN stream.query_defs d USING (query_id) WHERE d.name = 'bx_q'),
         (SELECT sum(p.input_rows) FROM stream.progress_log p
           JOIN stream.query_defs d USING (query_id) WHERE d.name = 'bx_q'),
         (SELECT count(*) FROM bx_out)
$$;
GRANT EXECUTE ON FUNCTION bx_batches() TO PUBLIC;
ALTER FUNCTION bx_batches() SECURITY DEFINER;
SELECT * FROM bx_batches();

SET ROLE regress_bx_reader;
-- nothing written: no batch
CALL stream.process_batch('bx_q');
SELECT * FROM bx_batches();
-- an aborted writer's row is no row of the batch
BEGIN;
INSERT INTO bx VALUES (1, 'aborted');
ROLLBACK;
CALL stream.process_batch('bx_q');
SELECT * FROM bx_batches();
-- nor is the caller's own, not yet committed
BEGIN;
INSERT INTO bx VALUES (2, 'own');
CALL stream.process_batch('bx_q');
SELECT * FROM bx_batches();
ROLLBACK;
-- committed rows make a batch, and then there is none
INSERT INTO bx VALUES (3, 'a'), (4, 'b');
CALL stream.process_batch('bx_q');
SELECT * FROM bx_batches();
CALL stream.process_batch('bx_q');
SELECT * FROM bx_batches();
-- a row committed after an aborted one in the same block
BEGIN;
INSERT INTO bx VALUES (5, 'aborted');
ROLLBACK;
INSERT INTO bx VALUES (6, 'c');
CALL stream.process_batch('bx_q');
SELECT * FROM bx_batches();

-- row security that hides rows from the query's owner: a batch whose only
-- rows it hides is no batch, as the owner's statement says
RESET ROLE;
SET ROLE regress_bx_owner;
ALTER TABLE bx ENABLE ROW LEVEL SECURITY;
CREATE POLICY bx_all ON bx FOR INSERT WITH CHECK (true);
CREATE POLICY bx_big ON bx FOR SELECT TO regress_bx_reader USING (id > 100);
SET ROLE regress_bx_reader;
INSERT INTO bx VALUES (7, 'hidden');
CALL stream.process_batch('bx_q');
SELECT * FROM bx_batches();
INSERT INTO bx VALUES (107, 'seen');
CALL stream.process_batch('bx_q');
SELECT * FROM bx_batches();
SELECT id FROM bx_out ORDER BY id;
RESET ROLE;
SET ROLE regress_bx_owner;
ALTER TABLE bx DISABLE ROW LEVEL SECURITY;

-- the owner without SELECT on the stream: the batch fails, nothing written
REVOKE SELECT ON bx FROM regress_bx_reader;
INSERT INTO bx VALUES (8, 'd');
SET ROLE regress_bx_reader;
CALL stream.process_batch('bx_q');
SELECT * FROM bx_batches();
RESET ROLE;
GRANT SELECT ON bx TO regress_bx_reader;
-- nor on the schema of the stream
CREATE SCHEMA bx_nsp;
CREATE TABLE bx_nsp.bx2 (id int);
SELECT stream.create_stream('bx_nsp.bx2');
GRANT USAGE ON SCHEMA bx_nsp TO regress_bx_reader;
GRANT SELECT ON bx_nsp.bx2 TO regress_bx_reader;
SET ROLE regress_bx_reader;
SELECT stream.start_query('bx_q2', 'SELECT id FROM bx_nsp.bx2', 'bx_out2',
                          trigger => '1 hour') > 0 AS started;
RESET ROLE;
REVOKE USAGE ON SCHEMA bx_nsp FROM regress_bx_reader;
SET ROLE regress_bx_reader;
CALL stream.process_batch('bx_q2');
RESET ROLE;
SELECT count(*) AS q2_batches FROM stream.checkpoint_commits c
  JOIN stream.query_defs d USING (query_id) WHERE d.name = 'bx_q2';
GRANT USAGE ON SCHEMA bx_nsp TO regress_bx_reader;
INSERT INTO bx_nsp.bx2 VALUES (1);
SET ROLE regress_bx_reader;
CALL stream.process_batch('bx_q2');
CALL stream.process_batch('bx_q');
SELECT * FROM bx_batches();
SELECT id FROM bx_out ORDER BY id;
SELECT id FROM bx_out2 ORDER BY id;

RESET ROLE;
SELECT stream.drop_query('bx_q');
SELECT stream.drop_query('bx_q2');
DROP TABLE bx_out, bx_out2;
DROP FUNCTION bx_batches();
SELECT stream.drop_stream('bx_nsp.bx2');
DROP SCHEMA bx_nsp CASCADE;
SELECT stream.drop_stream('bx');
DROP TABLE bx;
REVOKE CREATE ON SCHEMA public FROM regress_bx_owner, regress_bx_reader;
DROP ROLE regress_bx_owner;
DROP ROLE regress_bx_reader;
