-- What a join's batch evaluates of the query's text runs as the query's
-- owner, whoever runs the batch (here a superuser): a function of the
-- owner's in the join's condition, constant-folded when the batch reads
-- the join's shape, and when alter_query compares the old and new shapes.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE ROLE regress_jo_owner LOGIN;
GRANT CREATE ON SCHEMA public TO regress_jo_owner;
SET ROLE regress_jo_owner;

CREATE TABLE jo_imp (ad_id int, imp_time timestamptz);
CREATE TABLE jo_clk (ad_id int, click_time timestamptz);
CREATE INDEX ON jo_imp (ad_id);
CREATE INDEX ON jo_clk (ad_id);
SELECT stream.create_stream('jo_imp');
SELECT stream.create_stream('jo_clk');
-- immutable, so that the planner folds a call with a constant argument
CREATE FUNCTION jo_checked(n int) RETURNS boolean IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
    IF current_user <> 'regress_jo_owner' THEN
        RAISE EXCEPTION 'jo_checked ran as %', current_user;
    END IF;
    RETURN n > 0;
END $$;
SELECT stream.start_query('jo_q',
    $$SELECT i.ad_id, i.imp_time, c.click_time
        FROM jo_imp i JOIN jo_clk c ON c.ad_id = i.ad_id AND jo_checked(1)$$,
    'jo_out', trigger => '1 hour') > 0 AS started;
INSERT INTO jo_imp VALUES (1, '2026-01-01 00:00:00+00');
INSERT INTO jo_clk VALUES (1, '2026-01-01 00:10:00+00');
RESET ROLE;

-- the batch, run by a superuser
CALL stream.process_batch('jo_q');
SELECT ad_id, imp_time, click_time FROM jo_out;
SELECT status, last_error FROM stream.queries WHERE name = 'jo_q';

-- alter_query, called by a superuser: both texts are read as the owner's
SELECT stream.alter_query('jo_q',
    $$SELECT i.ad_id, i.imp_time, c.click_time
        FROM jo_imp i JOIN jo_clk c ON c.ad_id = i.ad_id AND jo_checked(2)$$) AS altered;
SET ROLE regress_jo_owner;
INSERT INTO jo_clk VALUES (1, '2026-01-01 00:20:00+00');
RESET ROLE;
CALL stream.process_batch('jo_q');
SELECT ad_id, imp_time, click_time FROM jo_out ORDER BY click_time;

SELECT stream.drop_query('jo_q');
SET ROLE regress_jo_owner;
DROP TABLE jo_out;
SELECT stream.drop_stream('jo_imp');
SELECT stream.drop_stream('jo_clk');
DROP TABLE jo_imp, jo_clk;
DROP FUNCTION jo_checked(int);
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM regress_jo_owner;
DROP ROLE regress_jo_owner;
