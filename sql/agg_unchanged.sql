-- A batch whose rows leave a group's aggregate states as they were writes
-- neither the group's state row nor its target row: max(v) and min(v) of a
-- group stay when the new rows lie between them.  The groups that did
-- change are written, their results equal the query over all rows, and
-- stream.progress counts only the groups written.  The query's owner is an
-- unprivileged role; a NULL key is a group like any other.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
CREATE ROLE regress_unch_owner LOGIN;
GRANT CREATE ON SCHEMA public TO regress_unch_owner;

-- rows of the target that the query over all rows does not give, and the
-- other way round
CREATE FUNCTION pg_temp.mismatch(target text, query text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((TABLE %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL TABLE %s)) d',
                   target, query, query, target) INTO n;
    RETURN n;
END
$$;

SET ROLE regress_unch_owner;
CREATE TABLE unch_events (k text, v int);
SELECT stream.create_stream('unch_events');
SELECT stream.start_query('unch_range',
    $$SELECT k, max(v) AS hi, min(v) AS lo FROM unch_events GROUP BY k$$,
    'unch_range', output_mode => 'update') > 0 AS started;
-- in complete mode too, with a key the target is upserted by
SELECT stream.start_query('unch_range_c',
    $$SELECT k, max(v) AS hi FROM unch_events GROUP BY k$$,
    'unch_range_c', output_mode => 'complete') > 0 AS started;

INSERT INTO unch_events VALUES ('a', 10), ('a', 3), ('b', 5), (NULL, 4), (NULL, 8);
CALL stream.process_all_available('unch_range');
CALL stream.process_all_available('unch_range_c');
SELECT * FROM unch_range ORDER BY k NULLS FIRST;
RESET ROLE;
CREATE TEMP TABLE before_target AS SELECT k, xmin::text AS x FROM unch_range;
CREATE TEMP TABLE before_target_c AS SELECT k, xmin::text AS x FROM unch_range_c;
CREATE TEMP TABLE before_state AS SELECT key_1 AS k, xmin::text AS x, _last_batch
  FROM stream_state.unch_range;
SET ROLE regress_unch_owner;

-- a: 7 lies between 3 and 10; NULL: 6 between 4 and 8; b: 9 is a new max;
-- c is a new group
INSERT INTO unch_events VALUES ('a', 7), ('b', 9), (NULL, 6), ('c', 1);
CALL stream.process_all_available('unch_range');
CALL stream.process_all_available('unch_range_c');
SELECT * FROM unch_range ORDER BY k NULLS FIRST;
SELECT pg_temp.mismatch('unch_range',
    $$SELECT k, max(v), min(v) FROM unch_events GROUP BY k$$) AS mismatch;
SELECT pg_temp.mismatch('unch_range_c',
    $$SELECT k, max(v) FROM unch_events GROUP BY k$$) AS mismatch_c;
RESET ROLE;
-- the target rows of a and NULL are the ones the first batch wrote
SELECT b.k, t.xmin::text = b.x AS target_row_unchanged
  FROM before_target b JOIN unch_range t ON t.k IS NOT DISTINCT FROM b.k
 ORDER BY b.k NULLS FIRST;
SELECT b.k, t.xmin::text = b.x AS target_row_unchanged
  FROM before_target_c b JOIN unch_range_c t ON t.k IS NOT DISTINCT FROM b.k
 ORDER BY b.k NULLS FIRST;
-- and so are their state rows, with their last batch
SELECT b.k, s.xmin::text = b.x AS state_row_unchanged, s._last_batch
  FROM before_state b JOIN stream_state.unch_range s ON s.key_1 IS NOT DISTINCT FROM b.k
 ORDER BY b.k NULLS FIRST;
-- one state row per group, the NULL group included
SELECT key_1 AS k, count(*) FROM stream_state.unch_range GROUP BY key_1 ORDER BY 1 NULLS FIRST;
-- the batch wrote two groups (b changed, c added) of the four it saw
SELECT query, batch_id, state_rows, state_rows_updated FROM stream.progress
 WHERE query IN ('unch_range', 'unch_range_c') ORDER BY query, batch_id;
SET ROLE regress_unch_owner;

-- a batch that changes nothing writes nothing
INSERT INTO unch_events VALUES ('a', 5), ('b', 6), ('c', 1);
CALL stream.process_all_available('unch_range');
SELECT batch_id, input_rows, output_rows, state_rows, state_rows_updated
  FROM stream.progress WHERE query = 'unch_range' ORDER BY batch_id DESC LIMIT 1;
SELECT pg_temp.mismatch('unch_range',
    $$SELECT k, max(v), min(v) FROM unch_events GROUP BY k$$) AS mismatch;

-- a group whose state changes again after being left alone is written
INSERT INTO unch_events VALUES ('a', 2), (NULL, 9);
CALL stream.process_all_available('unch_range');
SELECT * FROM unch_range ORDER BY k NULLS FIRST;
SELECT pg_temp.mismatch('unch_range',
    $$SELECT k, max(v), min(v) FROM unch_events GROUP BY k$$) AS mismatch;

-- the merge keeps an aggregate's functions with the query's statements
-- and checks the rights on them at every batch, as a statement would: a
-- combine function its owner may no longer run stops the batch that
-- combines, and runs again once granted
CREATE FUNCTION unch_larger(int, int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    RETURN greatest($1, $2);
END
$$;
CREATE AGGREGATE unch_max(int) (sfunc = int4larger, stype = int4, combinefunc = unch_larger);
SELECT stream.start_query('unch_rights',
    $$SELECT k, unch_max(v) AS m FROM unch_events GROUP BY k$$,
    'unch_rights', output_mode => 'update') > 0 AS started;
CALL stream.process_all_available('unch_rights');
INSERT INTO unch_events VALUES ('a', 100);
CALL stream.process_all_available('unch_rights');
REVOKE EXECUTE ON FUNCTION unch_larger(int, int) FROM PUBLIC, regress_unch_owner;
INSERT INTO unch_events VALUES ('a', 200);
CALL stream.process_batch('unch_rights');
GRANT EXECUTE ON FUNCTION unch_larger(int, int) TO regress_unch_owner;
CALL stream.process_all_available('unch_rights');
SELECT pg_temp.mismatch('unch_rights',
    $$SELECT k, max(v) FROM unch_events GROUP BY k$$) AS mismatch;

-- The aggregates' functions are looked up at every batch: a combine
-- function that becomes another role's SECURITY DEFINER runs as that role
-- from the next batch, and as the query's owner again once it is SECURITY
-- INVOKER (never as a definer it no longer has).  It reads a table, under
-- the batch's snapshot.
RESET ROLE;
CREATE ROLE regress_unch_definer;
SET ROLE regress_unch_owner;
CREATE FUNCTION unch_seen(int, int) RETURNS int LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM count(*) FROM pg_catalog.pg_class;
    RAISE WARNING 'combined as %', current_user;
    RETURN greatest($1, $2);
END
$$;
CREATE AGGREGATE unch_seen_max(int) (sfunc = int4larger, stype = int4, combinefunc = unch_seen);
CREATE TABLE unch_z (k text, v int);
SELECT stream.create_stream('unch_z');
SELECT stream.start_query('unch_seen', $$SELECT k, unch_seen_max(v) AS m FROM unch_z GROUP BY k$$,
    'unch_seen', output_mode => 'update') > 0 AS started;
INSERT INTO unch_z VALUES ('z', 1);
CALL stream.process_all_available('unch_seen');
INSERT INTO unch_z VALUES ('z', 2);
CALL stream.process_batch('unch_seen');
RESET ROLE;
ALTER FUNCTION unch_seen(int, int) OWNER TO regress_unch_definer;
ALTER FUNCTION unch_seen(int, int) SECURITY DEFINER;
SET ROLE regress_unch_owner;
INSERT INTO unch_z VALUES ('z', 3);
CALL stream.process_batch('unch_seen');
RESET ROLE;
ALTER FUNCTION unch_seen(int, int) SECURITY INVOKER;
SET ROLE regress_unch_owner;
INSERT INTO unch_z VALUES ('z', 4);
CALL stream.process_batch('unch_seen');
TABLE unch_seen;

SELECT stream.drop_stream('unch_events', cascade => true);
SELECT stream.drop_stream('unch_z', cascade => true);
RESET ROLE;
DROP TABLE unch_events, unch_range, unch_range_c, unch_rights, unch_z, unch_seen;
DROP OWNED BY regress_unch_owner, regress_unch_definer;
DROP ROLE regress_unch_owner, regress_unch_definer;
