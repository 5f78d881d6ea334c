-- Every row carries its inserting transaction's own id, whatever the writer
-- supplied: a row with another stamp would never be delivered.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;

CREATE TABLE st_a (id int, note text);
SELECT stream.create_stream('st_a');
CREATE TABLE st_b (id int, note text);
SELECT stream.create_stream('st_b');
SELECT stream.start_query('st_qa', 'SELECT id, note FROM st_a', 'st_out_a') > 0 AS started;
SELECT stream.start_query('st_qb', 'SELECT id, note FROM st_b', 'st_out_b') > 0 AS started;
INSERT INTO st_a VALUES (0, 'first');
CALL stream.process_all_available('st_qa');

-- an explicit stamp, an old one and a future one
INSERT INTO st_a (id, note, _stream_xid) VALUES (1, 'explicit old', '3');
INSERT INTO st_a (id, note, _stream_xid) VALUES (2, 'explicit future', '99999999999');
BEGIN;
INSERT INTO st_a (id, note, _stream_xid) VALUES (3, 'own', '3');
SELECT _stream_xid = pg_current_xact_id() AS stamped_with_own_xid FROM st_a WHERE id = 3;
COMMIT;
-- a BEFORE trigger that forges the stamp
CREATE FUNCTION st_forge() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW._stream_xid := '3';
    RETURN NEW;
END $$;
CREATE TRIGGER st_forge BEFORE INSERT ON st_a FOR EACH ROW EXECUTE FUNCTION st_forge();
INSERT INTO st_a VALUES (4, 'trigger');
DROP TRIGGER st_forge ON st_a;
-- COPY with the column
COPY st_a (id, note, _stream_xid) FROM STDIN;
5	copy	3
6	copy	7
\.
-- ON CONFLICT DO NOTHING with a stamp
CREATE UNIQUE INDEX st_a_id ON st_a (id);
INSERT INTO st_a (id, note, _stream_xid) VALUES (7, 'on conflict', '3') ON CONFLICT DO NOTHING;
-- one stream's rows, stamps and all, into another
INSERT INTO st_b SELECT * FROM st_a;

CALL stream.process_all_available('st_qa');
CALL stream.process_all_available('st_qb');
SELECT id, note FROM st_out_a ORDER BY id;
SELECT count(*) AS copied, count(DISTINCT id) AS ids FROM st_out_b;
SELECT count(*) AS stamps_from_the_past FROM st_a WHERE _stream_xid::text::bigint < 10;

-- a restore keeps the stamps it brings, in session_replication_role
-- "replica" (superusers only; PGOPTIONS='-c session_replication_role=replica')
SET session_replication_role = replica;
INSERT INTO st_a (id, note, _stream_xid) VALUES (8, 'restored', '5');
RESET session_replication_role;
SELECT _stream_xid::text AS kept FROM st_a WHERE id = 8;

SELECT stream.drop_query('st_qa');
SELECT stream.drop_query('st_qb');
DROP TABLE st_a, st_b, st_out_a, st_out_b;
DROP FUNCTION st_forge();
