-- A batch that brings many groups for its state table's size finds their
-- rows by one pass over the state table (its seq_scan counts one, its index
-- no scan); a batch of few groups looks each up through the index.  Either
-- way the results equal the query over all rows: a NULL key is a group, two
-- spellings equal under a nondeterministic collation are one group, and so
-- are 1.0 and 1.00.  A new state table leaves half of each block free
-- (fillfactor 50): a batch that changes every group updates every row on
-- its block (HOT), and so does a target the query creates.  The query's
-- owner is an unprivileged role.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
CREATE ROLE regress_scan_owner LOGIN;
GRANT CREATE ON SCHEMA public TO regress_scan_owner;
CREATE COLLATION scan_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

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

-- the state table's scans and updates since the last call
CREATE TEMP TABLE scan_seen (relname name PRIMARY KEY, seq bigint, idx bigint, upd bigint, hot bigint);
CREATE FUNCTION pg_temp.scans(state name, OUT seq_scans bigint, OUT idx_scans bigint,
                              OUT updates bigint, OUT hot_updates bigint)
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    o record;
BEGIN
    SELECT seq_scan, coalesce(idx_scan, 0) AS idx_scan, n_tup_upd, n_tup_hot_upd INTO s
      FROM pg_stat_user_tables WHERE schemaname = 'stream_state' AND relname = state;
    SELECT * INTO o FROM scan_seen WHERE relname = state;
    IF NOT FOUND THEN
        o := ROW(state, 0, 0, 0, 0)::scan_seen;
    END IF;
    seq_scans := s.seq_scan - o.seq;
    idx_scans := s.idx_scan - o.idx;
    updates := s.n_tup_upd - o.upd;
    hot_updates := s.n_tup_hot_upd - o.hot;
    INSERT INTO scan_seen VALUES (state, s.seq_scan, s.idx_scan, s.n_tup_upd, s.n_tup_hot_upd)
      ON CONFLICT (relname) DO UPDATE SET seq = excluded.seq, idx = excluded.idx,
                                          upd = excluded.upd, hot = excluded.hot;
END
$$;

SET ROLE regress_scan_owner;
CREATE TABLE scan_events (k int, t text COLLATE scan_ci, n numeric, v int);
SELECT stream.create_stream('scan_events');
SELECT stream.start_query('scan_k',
    $$SELECT k, count(*) AS c, sum(v) AS s, avg(v) AS a FROM scan_events GROUP BY k$$,
    'scan_k', output_mode => 'update') > 0 AS started;
SELECT stream.start_query('scan_t',
    $$SELECT t, count(*) AS c, max(v) AS m FROM scan_events GROUP BY t$$,
    'scan_t', output_mode => 'update') > 0 AS started;
SELECT stream.start_query('scan_n',
    $$SELECT n, count(*) AS c, sum(v) AS s FROM scan_events GROUP BY n$$,
    'scan_n', output_mode => 'update') > 0 AS started;
RESET ROLE;
SELECT c.relname, c.reloptions FROM pg_class c
  WHERE c.relnamespace = 'stream_state'::regnamespace AND c.relname LIKE 'scan\_%' AND c.relkind = 'r'
  ORDER BY 1;
SELECT relname, reloptions FROM pg_class
  WHERE oid IN ('scan_k'::regclass, 'scan_t'::regclass, 'scan_n'::regclass) ORDER BY 1;
SELECT * FROM pg_temp.scans('scan_k');
SET ROLE regress_scan_owner;

-- 300 groups and a NULL one, first all new, then all known
INSERT INTO scan_events
  SELECT nullif(g % 301, 300), 'Key ' || (g % 150), (g % 120)::numeric, g
  FROM generate_series(1, 3000) g;
CALL stream.process_all_available('scan_k');
CALL stream.process_all_available('scan_t');
CALL stream.process_all_available('scan_n');
RESET ROLE;
SELECT pg_stat_force_next_flush();
SELECT seq_scans > 0 AS passed, idx_scans, updates FROM pg_temp.scans('scan_k');
SET ROLE regress_scan_owner;

-- the same groups, spelled otherwise: upper case, more decimals
INSERT INTO scan_events
  SELECT nullif(g % 301, 300), 'KEY ' || (g % 150), (g % 120)::numeric(10, 3), g
  FROM generate_series(1, 3000) g;
CALL stream.process_all_available('scan_k');
CALL stream.process_all_available('scan_t');
CALL stream.process_all_available('scan_n');
RESET ROLE;
SELECT pg_stat_force_next_flush();
-- one pass, no lookup through the index; every row updated in its block
SELECT * FROM pg_temp.scans('scan_k');
SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
  WHERE schemaname = 'public' AND relname = 'scan_k';
SET ROLE regress_scan_owner;
SELECT pg_temp.mismatch('scan_k',
    $$SELECT k, count(*), sum(v), avg(v) FROM scan_events GROUP BY k$$) AS mismatch_k;
SELECT pg_temp.mismatch('scan_t',
    $$SELECT t, count(*), max(v) FROM scan_events GROUP BY t$$) AS mismatch_t;
SELECT pg_temp.mismatch('scan_n',
    $$SELECT n, count(*), sum(v) FROM scan_events GROUP BY n$$) AS mismatch_n;
SELECT count(*) AS groups_t FROM scan_t;
SELECT count(*) AS groups_n FROM scan_n;

-- two rows: two groups, looked up through the index
INSERT INTO scan_events VALUES (7, 'key 7', 7.00, 1), (NULL, NULL, NULL, 2);
CALL stream.process_all_available('scan_k');
CALL stream.process_all_available('scan_t');
CALL stream.process_all_available('scan_n');
RESET ROLE;
SELECT pg_stat_force_next_flush();
SELECT seq_scans, idx_scans > 0 AS looked_up, updates, hot_updates FROM pg_temp.scans('scan_k');
SET ROLE regress_scan_owner;
SELECT pg_temp.mismatch('scan_k',
    $$SELECT k, count(*), sum(v), avg(v) FROM scan_events GROUP BY k$$) AS mismatch_k;
SELECT pg_temp.mismatch('scan_t',
    $$SELECT t, count(*), max(v) FROM scan_events GROUP BY t$$) AS mismatch_t;
SELECT pg_temp.mismatch('scan_n',
    $$SELECT n, count(*), sum(v) FROM scan_events GROUP BY n$$) AS mismatch_n;
SELECT * FROM scan_k WHERE k IS NULL OR k = 7 ORDER BY k NULLS FIRST;

-- a key type without a hash function (varbit): looked up through the index
-- however many groups
CREATE TABLE scan_bits (b varbit, v int);
SELECT stream.create_stream('scan_bits');
SELECT stream.start_query('scan_b',
    $$SELECT b, count(*) AS c FROM scan_bits GROUP BY b$$, 'scan_b',
    output_mode => 'update') > 0 AS started;
INSERT INTO scan_bits SELECT (g % 200)::bit(8)::varbit, g FROM generate_series(1, 1000) g;
CALL stream.process_all_available('scan_b');
RESET ROLE;
SELECT pg_stat_force_next_flush();
SELECT NULL FROM pg_temp.scans('scan_b');
SET ROLE regress_scan_owner;
INSERT INTO scan_bits SELECT (g % 200)::bit(8)::varbit, g FROM generate_series(1, 1000) g;
CALL stream.process_all_available('scan_b');
RESET ROLE;
SELECT pg_stat_force_next_flush();
SELECT seq_scans, idx_scans, updates FROM pg_temp.scans('scan_b');
SET ROLE regress_scan_owner;
SELECT pg_temp.mismatch('scan_b',
    $$SELECT b, count(*) FROM scan_bits GROUP BY b$$) AS mismatch_b;
SELECT stream.drop_stream('scan_bits', cascade => true);

-- an array of a type without a hash function: the array type's hash
-- function would fail on its elements, so the groups are looked up through
-- the index, from the first batch (where the state is empty) on
CREATE TABLE scan_bitarr (b varbit[], v int);
SELECT stream.create_stream('scan_bitarr');
SELECT stream.start_query('scan_ba',
    $$SELECT b, count(*) AS c FROM scan_bitarr GROUP BY b$$, 'scan_ba',
    output_mode => 'update') > 0 AS started;
INSERT INTO scan_bitarr SELECT ARRAY[(g % 200)::bit(8)::varbit], g FROM generate_series(1, 1000) g;
CALL stream.process_all_available('scan_ba');
INSERT INTO scan_bitarr SELECT ARRAY[(g % 200)::bit(8)::varbit], g FROM generate_series(1, 1000) g;
CALL stream.process_all_available('scan_ba');
RESET ROLE;
SELECT pg_stat_force_next_flush();
SELECT seq_scans, idx_scans, updates FROM pg_temp.scans('scan_ba');
SET ROLE regress_scan_owner;
SELECT pg_temp.mismatch('scan_ba',
    $$SELECT b, count(*) FROM scan_bitarr GROUP BY b$$) AS mismatch_ba;
SELECT stream.drop_stream('scan_bitarr', cascade => true);

-- a first batch of many new groups whose keys alone would take more than
-- work_mem: no pass, the index
CREATE TABLE scan_new (k int, v int);
SELECT stream.create_stream('scan_new');
SELECT stream.start_query('scan_nq',
    $$SELECT k, count(*) AS c FROM scan_new GROUP BY k$$, 'scan_nq',
    output_mode => 'update') > 0 AS started;
INSERT INTO scan_new SELECT g, g FROM generate_series(1, 3000) g;
SET work_mem = '64kB';
CALL stream.process_all_available('scan_nq');
RESET work_mem;
RESET ROLE;
SELECT pg_stat_force_next_flush();
SELECT seq_scans, idx_scans > 0 AS looked_up FROM pg_temp.scans('scan_nq');
SET ROLE regress_scan_owner;
SELECT pg_temp.mismatch('scan_nq',
    $$SELECT k, count(*) FROM scan_new GROUP BY k$$) AS mismatch_n;
SELECT stream.drop_stream('scan_new', cascade => true);

-- rows found that would take more than work_mem: the pass is given up, the
-- groups looked up through the index (small keys, wide states)
CREATE TABLE scan_wide (k int, w text);
SELECT stream.create_stream('scan_wide');
SELECT stream.start_query('scan_x',
    $$SELECT k, count(*) AS c, max(w) AS w FROM scan_wide GROUP BY k$$, 'scan_x',
    output_mode => 'update') > 0 AS started;
INSERT INTO scan_wide SELECT g % 300, repeat(md5(g::text), 20) FROM generate_series(1, 900) g;
CALL stream.process_all_available('scan_x');
RESET ROLE;
SELECT pg_stat_force_next_flush();
SELECT NULL FROM pg_temp.scans('scan_x');
SET ROLE regress_scan_owner;
INSERT INTO scan_wide SELECT g % 300, repeat(md5(g::text), 20) FROM generate_series(901, 1800) g;
SET work_mem = '64kB';
CALL stream.process_all_available('scan_x');
RESET work_mem;
RESET ROLE;
SELECT pg_stat_force_next_flush();
SELECT seq_scans, idx_scans, updates FROM pg_temp.scans('scan_x');
SET ROLE regress_scan_owner;
SELECT pg_temp.mismatch('scan_x',
    $$SELECT k, count(*), max(w) FROM scan_wide GROUP BY k$$) AS mismatch_x;
SELECT stream.drop_stream('scan_wide', cascade => true);

-- a windowed state (a second index, on the window) found by one pass too;
-- the watermark then evicts the closed minute
CREATE TABLE scan_times (t timestamptz, k int, v int);
SELECT stream.create_stream('scan_times');
SELECT stream.start_query('scan_w',
    $$SELECT stream.tumble(t, '1 minute') AS w, k, count(*) AS c, sum(v) AS s
        FROM scan_times GROUP BY 1, 2$$,
    'scan_w', output_mode => 'update', event_time => 't', watermark => '1 minute') > 0 AS started;
INSERT INTO scan_times
  SELECT '2026-01-01 00:00+00'::timestamptz + (g % 3) * interval '20 s', g % 200, g
  FROM generate_series(1, 2000) g;
CALL stream.process_all_available('scan_w');
INSERT INTO scan_times
  SELECT '2026-01-01 00:00+00'::timestamptz + (g % 3) * interval '20 s', g % 200, g
  FROM generate_series(1, 2000) g;
CALL stream.process_all_available('scan_w');
RESET ROLE;
SELECT pg_stat_force_next_flush();
SELECT updates FROM pg_temp.scans('scan_w');
SET ROLE regress_scan_owner;
INSERT INTO scan_times
  SELECT '2026-01-01 00:03+00'::timestamptz + (g % 3) * interval '20 s', g % 200, g
  FROM generate_series(1, 2000) g;
CALL stream.process_all_available('scan_w');
SELECT pg_temp.mismatch('scan_w',
    $$SELECT stream.tumble(t, '1 minute'), k, count(*), sum(v) FROM scan_times GROUP BY 1, 2$$) AS mismatch_w;
RESET ROLE;
SELECT count(*) AS state_rows FROM stream_state.scan_w;
SET ROLE regress_scan_owner;
SELECT stream.drop_stream('scan_times', cascade => true);
SELECT stream.drop_stream('scan_events', cascade => true);
RESET ROLE;
DROP TABLE scan_events, scan_k, scan_t, scan_n, scan_times, scan_w, scan_bits, scan_b, scan_wide, scan_x;
DROP COLLATION scan_ci;
DROP OWNED BY regress_scan_owner;
DROP ROLE regress_scan_owner;
