-- The target of an update-mode aggregation is written as its owner, by an
-- upsert by the key:
--   * a plain target: known groups, new groups, a group whose target row
--     was deleted, a NULL group, a row of an inheritance child with the
--     same key (left alone); the rows equal the query over all rows; a
--     check constraint that refuses a known group's row refuses the batch;
--   * a target with row and statement triggers and a row-level security
--     policy: the triggers fire as an upsert fires them (BEFORE INSERT for
--     every group, then BEFORE/AFTER UPDATE or AFTER INSERT), in that order,
--     and the policy's check refuses a row it does not admit;
--   * the owner's rights (all four at start): a target of another role
--     whose SELECT is then revoked is refused, and one whose INSERT is
--     revoked is refused even when every group is known.
-- The query's owner is an unprivileged role.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
CREATE ROLE regress_tw_owner LOGIN;
CREATE ROLE regress_tw_keeper;
GRANT CREATE ON SCHEMA public TO regress_tw_owner, regress_tw_keeper;

-- rows of one query that the other does not give, and the other way round
CREATE FUNCTION pg_temp.mismatch(target text, query text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM (((%s) EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL (%s))) d',
                   target, query, query, target) INTO n;
    RETURN n;
END
$$;

SET ROLE regress_tw_owner;
CREATE TABLE tw_events (k int, v int);
SELECT stream.create_stream('tw_events');

-- a plain target the query makes
SELECT stream.start_query('tw_plain',
    $$SELECT k, count(*) AS n, sum(v) AS s FROM tw_events GROUP BY k$$,
    'tw_plain', output_mode => 'update', trigger => '1 hour') > 0 AS started;
-- a target with a child table holding a row of key 2
CREATE TABLE tw_parent (k int, n bigint, s bigint, UNIQUE NULLS NOT DISTINCT (k));
CREATE TABLE tw_child () INHERITS (tw_parent);
INSERT INTO tw_child VALUES (2, -1, -1);
SELECT stream.start_query('tw_inh',
    $$SELECT k, count(*) AS n, sum(v) AS s FROM tw_events GROUP BY k$$,
    'tw_parent', output_mode => 'update', trigger => '1 hour') > 0 AS started;

-- a target with triggers and a policy
CREATE TABLE tw_log (i serial, what text);
CREATE TABLE tw_trig (k int, n bigint, s bigint, note text DEFAULT 'default',
                      UNIQUE NULLS NOT DISTINCT (k));
CREATE FUNCTION tw_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tw_log (what) VALUES (format('%s %s %s k=%s n=%s%s', TG_WHEN, TG_OP, TG_LEVEL,
        CASE WHEN TG_OP = 'DELETE' THEN OLD.k ELSE NEW.k END,
        CASE WHEN TG_OP = 'DELETE' THEN OLD.n ELSE NEW.n END,
        CASE WHEN TG_OP = 'UPDATE' THEN format(' (was %s, %s)', OLD.n, OLD.note) ELSE '' END));
    IF TG_WHEN = 'BEFORE' AND TG_OP = 'UPDATE' THEN
        NEW.note := 'updated by ' || current_user;
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE FUNCTION tw_stmt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tw_log (what) VALUES (format('%s %s %s', TG_WHEN, TG_OP, TG_LEVEL));
    RETURN NULL;
END
$$;
CREATE TRIGGER a_before_row BEFORE INSERT OR UPDATE ON tw_trig
    FOR EACH ROW EXECUTE FUNCTION tw_row();
CREATE TRIGGER b_after_row AFTER INSERT OR UPDATE ON tw_trig
    FOR EACH ROW EXECUTE FUNCTION tw_row();
CREATE TRIGGER c_stmt_before BEFORE INSERT OR UPDATE ON tw_trig
    FOR EACH STATEMENT EXECUTE FUNCTION tw_stmt();
CREATE TRIGGER d_stmt_after AFTER INSERT OR UPDATE ON tw_trig
    FOR EACH STATEMENT EXECUTE FUNCTION tw_stmt();
ALTER TABLE tw_trig ENABLE ROW LEVEL SECURITY;
ALTER TABLE tw_trig FORCE ROW LEVEL SECURITY;
CREATE POLICY tw_read ON tw_trig FOR SELECT USING (true);
CREATE POLICY tw_ins ON tw_trig FOR INSERT WITH CHECK (n < 100);
CREATE POLICY tw_upd ON tw_trig FOR UPDATE USING (true) WITH CHECK (n < 100);
SELECT stream.start_query('tw_trig',
    $$SELECT k, count(*) AS n, sum(v) AS s FROM tw_events WHERE k IS NULL OR k < 100 GROUP BY k$$,
    'tw_trig', output_mode => 'update', trigger => '1 hour') > 0 AS started;
RESET ROLE;

-- targets of another role
SET ROLE regress_tw_keeper;
CREATE TABLE tw_blind (k int, n bigint, s bigint, UNIQUE NULLS NOT DISTINCT (k));
GRANT SELECT, INSERT, UPDATE, DELETE ON tw_blind TO regress_tw_owner;
CREATE TABLE tw_noins (k int, n bigint, s bigint, UNIQUE NULLS NOT DISTINCT (k));
GRANT SELECT, INSERT, UPDATE, DELETE ON tw_noins TO regress_tw_owner;
RESET ROLE;
SET ROLE regress_tw_owner;
SELECT stream.start_query('tw_blind',
    $$SELECT k, count(*) AS n, sum(v) AS s FROM tw_events GROUP BY k$$,
    'tw_blind', output_mode => 'update', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('tw_noins',
    $$SELECT k, count(*) AS n, sum(v) AS s FROM tw_events GROUP BY k$$,
    'tw_noins', output_mode => 'update', trigger => '1 hour') > 0 AS started;
RESET ROLE;
REVOKE SELECT ON tw_blind FROM regress_tw_owner;
SET ROLE regress_tw_owner;

-- batch 1: every group new
INSERT INTO tw_events VALUES (1, 10), (2, 20), (3, 30), (NULL, 5);
INSERT INTO tw_events SELECT g, g FROM generate_series(100, 199) g;
CALL stream.process_batch('tw_plain');
CALL stream.process_batch('tw_inh');
CALL stream.process_batch('tw_trig');
CALL stream.process_batch('tw_blind');
CALL stream.process_batch('tw_noins');
-- batch 2: known groups (one of them NULL) and a new one; the row of group
-- 3 deleted from the targets first
DELETE FROM tw_plain WHERE k = 3;
DELETE FROM ONLY tw_parent WHERE k = 3;
INSERT INTO tw_events VALUES (1, 1), (2, 2), (3, 3), (NULL, 6), (4, 40);
INSERT INTO tw_events SELECT g, 1 FROM generate_series(100, 199) g;
TRUNCATE tw_log;
CALL stream.process_batch('tw_plain');
CALL stream.process_batch('tw_inh');
CALL stream.process_batch('tw_trig');
SELECT what FROM tw_log ORDER BY i;
CALL stream.process_batch('tw_blind');
CALL stream.process_batch('tw_noins');
RESET ROLE;
REVOKE INSERT ON tw_noins FROM regress_tw_owner;
SET ROLE regress_tw_owner;
-- batch 3: known groups only
INSERT INTO tw_events VALUES (1, 1), (2, 2), (4, 4);
INSERT INTO tw_events SELECT g, 2 FROM generate_series(100, 199) g;
TRUNCATE tw_log;
CALL stream.process_batch('tw_plain');
CALL stream.process_batch('tw_inh');
CALL stream.process_batch('tw_trig');
SELECT what FROM tw_log ORDER BY i;
CALL stream.process_batch('tw_blind');
-- every group known, INSERT no longer granted: refused
CALL stream.process_batch('tw_noins');
-- batch 4: a row the insert policy refuses (n reaches 100 for group 5)
INSERT INTO tw_events SELECT 5, 1 FROM generate_series(1, 100);
CALL stream.process_batch('tw_trig');

SELECT * FROM tw_plain WHERE k IS NULL OR k < 100 OR k % 50 = 0 ORDER BY k NULLS FIRST;
SELECT pg_temp.mismatch('TABLE ONLY tw_plain',
    $$SELECT k, count(*), sum(v) FROM tw_events WHERE k IS DISTINCT FROM 5 GROUP BY k$$) AS mismatch;
SELECT tableoid::regclass, * FROM tw_parent WHERE k IS NULL OR k < 100 OR k % 50 = 0
  ORDER BY k NULLS FIRST, tableoid::regclass::text;
SELECT pg_temp.mismatch('TABLE ONLY tw_parent',
    $$SELECT k, count(*), sum(v) FROM tw_events WHERE k IS DISTINCT FROM 5 GROUP BY k$$) AS mismatch_inh;
SELECT * FROM tw_trig ORDER BY k NULLS FIRST;
SELECT pg_temp.mismatch('SELECT k, n, s FROM tw_trig',
    $$SELECT k, count(*), sum(v) FROM tw_events WHERE k IS DISTINCT FROM 5 AND (k IS NULL OR k < 100) GROUP BY k$$) AS mismatch_trig;
RESET ROLE;
SELECT count(*) FROM tw_blind;
SELECT count(*), sum(n) FROM tw_noins;

SET ROLE regress_tw_owner;
-- a known group's row refused by a constraint refuses the batch
ALTER TABLE tw_plain ADD CHECK (s < 10000);
INSERT INTO tw_events SELECT g, CASE g WHEN 150 THEN 100000 ELSE 3 END
  FROM generate_series(100, 199) g;
CALL stream.process_batch('tw_plain');
SELECT * FROM tw_plain WHERE k IN (5, 150) ORDER BY k;
SELECT stream.drop_stream('tw_events', cascade => true);
RESET ROLE;
DROP TABLE tw_events, tw_plain, tw_child, tw_parent, tw_trig, tw_log, tw_blind, tw_noins;
DROP FUNCTION tw_row(), tw_stmt();
DROP OWNED BY regress_tw_owner, regress_tw_keeper;
DROP ROLE regress_tw_owner, regress_tw_keeper;
