#!/usr/bin/env bash
# Where a stream-stream join keeps its state: measured before choosing.
#
# Impressions and clicks (ad_id key, event times), joined with a one-hour
# time constraint (click_time BETWEEN imp_time AND imp_time + 1 hour),
# watermarks of 2 hours (impressions) and 3 hours (clicks), the query's
# watermark the smaller of the two.  Both streams are made with
# stream.create_stream, so their rows carry _stream_xid and the access
# method's placement.  Each batch is what the design's batch would run,
# written by hand in SQL; both designs read the same new rows.
#
# (A) no copy: the delta
#         new(imp) JOIN clk as of hi   UNION ALL   imp as of lo JOIN new(clk)
#     where "as of a snapshot" is pg_visible_in_snapshot(_stream_xid, s)
#     and new(x) is the rows past the batch's block floor visible in hi and
#     not in lo; the other side is read through a btree on (ad_id, time).
#     Left outer: the impressions whose last possible match the watermark
#     passed in this batch, anti-joined against clk as of hi (a btree on
#     imp_time finds them).
# (B) a state table per side, as Spark keeps: the new rows of each side are
#     joined against the other side's state table, inserted into their own,
#     and the rows the watermark makes unmatchable are deleted.  Left outer:
#     a matched flag per impression, set when a click matches it, and the
#     unmatched ones written as NULL rows when they are evicted.
#
# For each history in HISTORIES (rows per side already processed: 100k and
# 1M), ROUNDS (7) batches of NEW_ROWS (10k) rows per side: each design's
# batch time and WAL bytes, alternating which runs first; the results are
# checked against each other and against the join recomputed over all rows.
# Then the state's size against the indexes (A), and NOIDX_ROUNDS (3)
# batches of (A) with the streams' indexes dropped (the batch scans the
# streams).  Last, the writers' cost of the indexes: INSERT of NEW_ROWS rows
# into a stream of the same history with no index, with (ad_id, time), and
# with (ad_id, time) and (time), in one INSERT and in single-row
# transactions of several clients (pgbench).  TIME_INDEX=brin makes the index on the
# event time a BRIN instead of a btree; SHARED_BUFFERS (512MB) sets the
# server's shared_buffers.
#
# EXPLAIN=1 prints (A)'s plans (EXPLAIN=analyze: one batch under EXPLAIN
# ANALYZE); PLANNER=own leaves (A)'s plan to the planner.  The numbers and
# what they decided: docs/joins/state.md.
#
#   bash bench/join_state.sh   # as root; HISTORIES='100000 1000000' ROUNDS=7
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-7}
histories=${HISTORIES:-100000 1000000}
new_rows=${NEW_ROWS:-10000}
ads=${ADS:-20000}
per_minute=${ROWS_PER_MINUTE:-250}
noidx_rounds=${NOIDX_ROUNDS:-3}
time_index=${TIME_INDEX:-btree}
bench_server join_state 54362 "shared_buffers=${SHARED_BUFFERS:-512MB}" "max_wal_size=4GB"

"${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
-- rows first+1 .. first+cnt of one side: ROWS_PER_MINUTE rows a minute of
-- event time from 2026-01-01, up to 5 minutes out of order
CREATE FUNCTION gen_rows(first bigint, cnt int)
RETURNS TABLE (ad_id int, t timestamptz, payload text) LANGUAGE sql AS \$\$
    SELECT (random() * ($ads - 1))::int,
           timestamptz '2026-01-01 00:00:00+00'
             + (g * 60.0 / $per_minute) * interval '1 second'
             - random() * interval '5 minutes',
           md5(g::text)
    FROM generate_series(first + 1, first + cnt) g
\$\$;
SQL

# median of column N of the lines on standard input
col_median() {
    awk -v c="$1" '{ print $c }' | median
}

# setup HISTORY: both streams with HISTORY rows, their indexes, the state
# tables of (B) as the history leaves them, and the batch position
setup() {
    local h=$1
    "${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS out_a, out_a_null, out_b, out_bo, out_bo_null,
    bi_imp, bi_clk, bo_imp, bo_clk, pos;
SELECT stream.drop_stream(s) FROM unnest(ARRAY['imp', 'clk']) s WHERE to_regclass(s) IS NOT NULL;
DROP TABLE IF EXISTS imp, clk;
CREATE TABLE imp (ad_id int NOT NULL, imp_time timestamptz NOT NULL, payload text);
CREATE TABLE clk (ad_id int NOT NULL, click_time timestamptz NOT NULL, payload text);
SELECT stream.create_stream('imp');
SELECT stream.create_stream('clk');
CREATE INDEX imp_key ON imp (ad_id, imp_time);
CREATE INDEX clk_key ON clk (ad_id, click_time);
CREATE INDEX imp_time_idx ON imp USING $time_index (imp_time);
INSERT INTO imp SELECT * FROM gen_rows(0, $h);
INSERT INTO clk SELECT * FROM gen_rows(0, $h);
CREATE TABLE out_a (ad_id int, imp_time timestamptz, click_time timestamptz, imp_payload text, click_payload text);
CREATE TABLE out_a_null (LIKE out_a);
CREATE TABLE out_b (LIKE out_a);
CREATE TABLE out_bo (LIKE out_a);
CREATE TABLE out_bo_null (LIKE out_a);
-- the batch position: lo snapshot and block floors (the last block, which
-- the next writers may still fill), the watermark in force
-- (w) and the one before it (wl: late rows, and the last eviction), the
-- largest event times seen, rows generated per side
CREATE TABLE pos AS
SELECT pg_current_snapshot() AS lo, pg_current_snapshot() AS s0,
       greatest(pg_relation_size('imp') / 8192 - 1, 0) AS fi, greatest(pg_relation_size('clk') / 8192 - 1, 0) AS fc,
       w, w AS wl, w AS w0, mi, mc, $h::bigint AS gen
FROM (SELECT max(imp_time) AS mi FROM imp) i, (SELECT max(click_time) AS mc FROM clk) c,
     LATERAL (SELECT least(mi - interval '2 hours', mc - interval '3 hours') AS w) x;
-- (B)'s state as the history leaves it: what the watermark has not evicted
CREATE TABLE bi_imp (ad_id int NOT NULL, imp_time timestamptz NOT NULL, payload text);
CREATE TABLE bi_clk (ad_id int NOT NULL, click_time timestamptz NOT NULL, payload text);
INSERT INTO bi_imp SELECT ad_id, imp_time, payload FROM imp, pos WHERE imp_time > w - interval '1 hour';
INSERT INTO bi_clk SELECT ad_id, click_time, payload FROM clk, pos WHERE click_time > w;
CREATE INDEX ON bi_imp (ad_id, imp_time);
CREATE INDEX ON bi_clk (ad_id, click_time);
CREATE TABLE bo_imp (LIKE bi_imp);
ALTER TABLE bo_imp ADD matched bool NOT NULL DEFAULT false;
CREATE TABLE bo_clk (LIKE bi_clk);
INSERT INTO bo_imp SELECT i.*, EXISTS (SELECT 1 FROM clk c WHERE c.ad_id = i.ad_id
                                       AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour')
FROM bi_imp i;
INSERT INTO bo_clk SELECT * FROM bi_clk;
CREATE INDEX ON bo_imp (ad_id, imp_time);
CREATE INDEX ON bo_clk (ad_id, click_time);
VACUUM ANALYZE imp, clk, bi_imp, bi_clk, bo_imp, bo_clk;
SQL
}

# the new rows of one side in this batch, not late: rows past the block
# floor (a TID range scan) visible in hi and not in lo
new_imp="SELECT i.ctid AS id, i.* FROM ONLY imp i
  WHERE i.ctid >= ('(' || :fi || ',0)')::tid
    AND pg_visible_in_snapshot(i._stream_xid, :'hi') AND NOT pg_visible_in_snapshot(i._stream_xid, :'lo')
    AND i.imp_time > :'wl'"
new_clk="SELECT c.ctid AS id, c.* FROM ONLY clk c
  WHERE c.ctid >= ('(' || :fc || ',0)')::tid
    AND pg_visible_in_snapshot(c._stream_xid, :'hi') AND NOT pg_visible_in_snapshot(c._stream_xid, :'lo')
    AND c.click_time > :'wl'"
# the time constraint, and the same solved for imp_time: the form an index
# on (ad_id, imp_time) can use on both bounds when clicks probe impressions
match="c.ad_id = i.ad_id AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'"
match_i="i.ad_id = c.ad_id AND i.imp_time BETWEEN c.click_time - interval '1 hour' AND c.click_time"

# each step: its SQL, then "ms wal" appended to the variable res
timed() {
    cat <<SQL
SELECT clock_timestamp() AS t0, pg_current_wal_insert_lsn() AS l0 \gset
$1
SELECT :'res' || ' ' || round(extract(epoch FROM clock_timestamp() - :'t0') * 1000, 1)
       || ' ' || pg_wal_lsn_diff(pg_current_wal_insert_lsn(), :'l0') AS res \gset
SQL
}

# (A): the inner join's delta, then the left outer join's NULL rows.  Its
# plan is the design's: each new row probes the other stream's index (a
# nested loop), which the planner, not knowing how few rows the snapshot
# predicate keeps, may not choose; with NOIDX set (or PLANNER=own), the
# planner's own plan.
design_a() {
    if [ -z "${NOIDX:-}" ] && [ "${PLANNER:-}" != own ]; then
        echo "SET enable_hashjoin = off; SET enable_mergejoin = off;"
    else
        echo "RESET enable_hashjoin; RESET enable_mergejoin;"
    fi
    timed "INSERT INTO out_a
SELECT i.ad_id, i.imp_time, c.click_time, i.payload, c.payload
FROM ($new_imp) i JOIN ONLY clk c ON $match
WHERE pg_visible_in_snapshot(c._stream_xid, :'hi')
UNION ALL
SELECT i.ad_id, i.imp_time, c.click_time, i.payload, c.payload
FROM ($new_clk) c JOIN ONLY imp i ON $match_i
WHERE pg_visible_in_snapshot(i._stream_xid, :'lo');"
    echo
    timed "INSERT INTO out_a_null
SELECT i.ad_id, i.imp_time, NULL, i.payload, NULL FROM ONLY imp i
WHERE i.imp_time > :'wl'::timestamptz - interval '1 hour'
  AND i.imp_time <= :'w'::timestamptz - interval '1 hour'
  AND pg_visible_in_snapshot(i._stream_xid, :'hi')
  AND NOT EXISTS (SELECT 1 FROM ONLY clk c WHERE $match
                  AND pg_visible_in_snapshot(c._stream_xid, :'hi'));"
}

# (B): inner join with state tables; then the left outer join with its own
# state tables (a matched flag, NULL rows at eviction)
design_b() {
    echo "RESET enable_hashjoin; RESET enable_mergejoin;"
    timed "BEGIN;
INSERT INTO out_b SELECT i.ad_id, i.imp_time, c.click_time, i.payload, c.payload
  FROM ($new_imp) i JOIN bi_clk c ON $match;
INSERT INTO bi_imp SELECT ad_id, imp_time, payload FROM ($new_imp) i;
INSERT INTO out_b SELECT i.ad_id, i.imp_time, c.click_time, i.payload, c.payload
  FROM ($new_clk) c JOIN bi_imp i ON $match_i;
INSERT INTO bi_clk SELECT ad_id, click_time, payload FROM ($new_clk) c;
DELETE FROM bi_imp WHERE imp_time <= :'w'::timestamptz - interval '1 hour';
DELETE FROM bi_clk WHERE click_time <= :'w';
COMMIT;"
    echo
    timed "BEGIN;
WITH ni AS MATERIALIZED ($new_imp),
     pairs AS MATERIALIZED (SELECT i.id, i.ad_id, i.imp_time, c.click_time, i.payload, c.payload AS cp
                            FROM ni i JOIN bo_clk c ON $match),
     o AS (INSERT INTO out_bo SELECT ad_id, imp_time, click_time, payload, cp FROM pairs)
INSERT INTO bo_imp SELECT ad_id, imp_time, payload, id IN (SELECT id FROM pairs) FROM ni;
WITH pairs AS MATERIALIZED (SELECT i.ad_id, i.imp_time, c.click_time, i.payload, c.payload AS cp, i.matched
                            FROM ($new_clk) c JOIN bo_imp i ON $match_i),
     o AS (INSERT INTO out_bo SELECT ad_id, imp_time, click_time, payload, cp FROM pairs)
UPDATE bo_imp s SET matched = true
  FROM (SELECT DISTINCT ad_id, imp_time FROM pairs WHERE NOT matched) p
  WHERE s.ad_id = p.ad_id AND s.imp_time = p.imp_time AND NOT s.matched;
INSERT INTO bo_clk SELECT ad_id, click_time, payload FROM ($new_clk) c;
WITH ev AS (DELETE FROM bo_imp WHERE imp_time <= :'w'::timestamptz - interval '1 hour' RETURNING *)
INSERT INTO out_bo_null SELECT ad_id, imp_time, NULL, payload, NULL FROM ev WHERE NOT matched;
DELETE FROM bo_clk WHERE click_time <= :'w';
COMMIT;"
}

# one round: the writers add NEW_ROWS rows to each side, then one batch of
# each design (ORDER: ab or ba, or a for (A) alone), then the position
# moves on; prints "a_ms a_wal ax_ms ax_wal b_ms b_wal bo_ms bo_wal".
# ORDER explain prints the plans of (A)'s statements and changes nothing;
# with EXPLAIN=analyze it runs a batch of both designs, (A)'s statements
# under EXPLAIN ANALYZE.
round() {
    local order=$1 body
    case $order in
        ab)
            body="$(design_a)
$(design_b)" ;;
        ba)
            body="$(design_b)
$(design_a)" ;;
        a)
            body=$(design_a) ;;
        explain)
            if [ "${EXPLAIN:-}" = analyze ]; then
                body="$(design_a | sed 's/^INSERT INTO/EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) INSERT INTO/')
$(design_b)"
            else
                body=$(design_a | sed 's/^INSERT INTO/EXPLAIN (COSTS OFF) INSERT INTO/')
                "${psql[@]}" <<SQL
BEGIN;
INSERT INTO imp SELECT * FROM gen_rows((SELECT gen FROM pos), $new_rows);
INSERT INTO clk SELECT * FROM gen_rows((SELECT gen FROM pos), $new_rows);
SELECT pg_current_snapshot() AS hi, lo, fi, fc, w, wl FROM pos \gset
\set res ''
$body
ROLLBACK;
SQL
                return
            fi ;;
    esac
    "${psql[@]}" <<SQL | if [ "$order" = explain ]; then cat; else tail -1; fi
SET client_min_messages = warning;
INSERT INTO imp SELECT * FROM gen_rows((SELECT gen FROM pos), $new_rows);
INSERT INTO clk SELECT * FROM gen_rows((SELECT gen FROM pos), $new_rows);
SELECT pg_current_snapshot() AS hi, lo, fi, fc, w, wl FROM pos \gset
\set res ''
$body
WITH ni AS ($new_imp), nc AS ($new_clk)
UPDATE pos SET lo = :'hi', wl = w,
    fi = greatest(pg_relation_size('imp') / 8192 - 1, 0), fc = greatest(pg_relation_size('clk') / 8192 - 1, 0),
    mi = greatest(mi, (SELECT max(imp_time) FROM ni)),
    mc = greatest(mc, (SELECT max(click_time) FROM nc)),
    gen = gen + $new_rows;
UPDATE pos SET w = greatest(w, least(mi - interval '2 hours', mc - interval '3 hours'));
SELECT :'res';
SQL
}

# the check: both designs wrote the same rows, and those are the join over
# all rows less the pairs the history alone made; the NULL rows are the
# impressions whose last match the watermark passed and that never matched
check() {
    "${psql[@]}" <<SQL
SELECT (SELECT count(*) FROM out_a) AS pairs, (SELECT count(*) FROM out_a_null) AS null_rows,
  (SELECT count(*) = 0 FROM ((TABLE out_a EXCEPT ALL TABLE out_b) UNION ALL (TABLE out_b EXCEPT ALL TABLE out_a)) d) AS a_b,
  (SELECT count(*) = 0 FROM ((TABLE out_a EXCEPT ALL TABLE out_bo) UNION ALL (TABLE out_bo EXCEPT ALL TABLE out_a)) d) AS a_bo,
  (SELECT count(*) = 0 FROM ((TABLE out_a_null EXCEPT ALL TABLE out_bo_null) UNION ALL (TABLE out_bo_null EXCEPT ALL TABLE out_a_null)) d) AS nulls_a_bo,
  (SELECT count(*) = 0 FROM (
        (SELECT i.ad_id, i.imp_time, c.click_time, i.payload, c.payload FROM imp i JOIN clk c ON $match, pos
          WHERE NOT (pg_visible_in_snapshot(i._stream_xid, s0) AND pg_visible_in_snapshot(c._stream_xid, s0))
            AND pg_visible_in_snapshot(i._stream_xid, lo) AND pg_visible_in_snapshot(c._stream_xid, lo)
         EXCEPT ALL TABLE out_a)
        UNION ALL
        (TABLE out_a EXCEPT ALL
         SELECT i.ad_id, i.imp_time, c.click_time, i.payload, c.payload FROM imp i JOIN clk c ON $match, pos
          WHERE NOT (pg_visible_in_snapshot(i._stream_xid, s0) AND pg_visible_in_snapshot(c._stream_xid, s0))
            AND pg_visible_in_snapshot(i._stream_xid, lo) AND pg_visible_in_snapshot(c._stream_xid, lo))) d) AS a_all,
  (SELECT count(*) = 0 FROM (
        (SELECT i.ad_id, i.imp_time, NULL::timestamptz, i.payload, NULL::text FROM imp i, pos p
          WHERE i.imp_time > p.w0 - interval '1 hour'
            AND i.imp_time <= p.wl - interval '1 hour'
            AND NOT EXISTS (SELECT 1 FROM clk c WHERE $match)
         EXCEPT ALL TABLE out_a_null)
        UNION ALL
        (TABLE out_a_null EXCEPT ALL
         SELECT i.ad_id, i.imp_time, NULL::timestamptz, i.payload, NULL::text FROM imp i, pos p
          WHERE i.imp_time > p.w0 - interval '1 hour'
            AND i.imp_time <= p.wl - interval '1 hour'
            AND NOT EXISTS (SELECT 1 FROM clk c WHERE $match))) d) AS nulls_all;
SQL
}

summary=()
for h in $histories; do
    echo "== history ${h} rows per side, ${new_rows} new rows per side per batch (ms, WAL bytes)"
    setup "$h"
    round ab >/dev/null         # a first batch that warms the caches
    if [ -n "${EXPLAIN:-}" ]; then
        round explain
    fi
    echo "round a_inner_ms a_inner_wal a_expiry_ms a_expiry_wal b_inner_ms b_inner_wal b_outer_ms b_outer_wal"
    lines=()
    for r in $(seq 1 "$rounds"); do
        if [ $((r % 2)) -eq 1 ]; then
            read -r am aw xm xw bm bw om ow <<<"$(round ab)"
        else
            read -r bm bw om ow am aw xm xw <<<"$(round ba)"
        fi
        lines+=("$am $aw $xm $xw $bm $bw $om $ow")
        echo "$r $am $aw $xm $xw $bm $bw $om $ow"
    done
    echo "check: pairs null_rows a=b_inner a=b_outer nulls_a=nulls_b a=join_of_all_rows nulls_a=recomputed"
    checked=$(check | tr '|' ' ')
    echo "$checked"
    if echo "$checked" | grep -qw f; then
        echo "the designs' results differ from each other or from the join over all rows" >&2
        exit 1
    fi
    med() { printf '%s\n' "${lines[@]}" | col_median "$1"; }
    a_in=$(med 1)
    a_out=$(printf '%s\n' "${lines[@]}" | awk '{ print $1 + $3 }' | median)
    echo "median (A) inner: $a_in ms, $(med 2) WAL bytes; (A) left outer (inner + expiry): $a_out ms, $(printf '%s\n' "${lines[@]}" | awk '{ print $2 + $4 }' | median) WAL bytes"
    echo "median (B) inner: $(med 5) ms, $(med 6) WAL bytes; (B) left outer: $(med 7) ms, $(med 8) WAL bytes"
    echo "== storage at ${h} rows per side (bytes, rows)"
    "${psql[@]}" -F ' ' <<SQL
VACUUM bi_imp, bi_clk, bo_imp, bo_clk;
SELECT '(A) stream indexes (ad_id, time) both sides', pg_relation_size('imp_key') + pg_relation_size('clk_key'), '-';
SELECT '(A) stream index (imp_time, $time_index), left outer', pg_relation_size('imp_time_idx'), '-';
SELECT '(A) the streams themselves', pg_table_size('imp') + pg_table_size('clk'), (SELECT count(*) FROM imp) + (SELECT count(*) FROM clk);
SELECT '(B) inner state tables', pg_total_relation_size('bi_imp') + pg_total_relation_size('bi_clk'),
       (SELECT count(*) FROM bi_imp) + (SELECT count(*) FROM bi_clk);
SELECT '(B) left outer state tables', pg_total_relation_size('bo_imp') + pg_total_relation_size('bo_clk'),
       (SELECT count(*) FROM bo_imp) + (SELECT count(*) FROM bo_clk);
SQL
    echo "== (A) with no index on the streams: the batch scans them (ms, WAL bytes)"
    "${psql[@]}" -c "DROP INDEX imp_key, clk_key, imp_time_idx" -c "ANALYZE imp, clk"
    nl=()
    for r in $(seq 1 "$noidx_rounds"); do
        read -r am aw xm xw <<<"$(NOIDX=1 round a)"
        nl+=("$am $xm")
        echo "$r $am $aw $xm $xw"
    done
    n_in=$(printf '%s\n' "${nl[@]}" | col_median 1)
    n_ex=$(printf '%s\n' "${nl[@]}" | col_median 2)
    echo "median (A) no index: inner $n_in ms, expiry $n_ex ms"
    summary+=("$h $a_in $a_out $(med 5) $(med 7) $n_in")
done
echo "== summary: history a_inner_ms a_outer_ms b_inner_ms b_outer_ms a_noindex_inner_ms"
printf '%s\n' "${summary[@]}"

# the writers' cost of (A)'s indexes: the same INSERT into three streams of
# the largest history, one without index, one with (ad_id, time), one with
# (ad_id, time) and (time) (TIME_INDEX); order rotates each round
hw=$(printf '%s\n' $histories | sort -n | tail -1)
echo "== writers: INSERT of ${new_rows} rows into a stream of ${hw} rows (ms, WAL bytes)"
"${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE TABLE w_none (ad_id int NOT NULL, t timestamptz NOT NULL, payload text);
CREATE TABLE w_key (LIKE w_none);
CREATE TABLE w_both (LIKE w_none);
SELECT stream.create_stream('w_none');
SELECT stream.create_stream('w_key');
SELECT stream.create_stream('w_both');
CREATE INDEX ON w_key (ad_id, t);
CREATE INDEX ON w_both (ad_id, t);
CREATE INDEX ON w_both USING $time_index (t);
CREATE TABLE wpos AS SELECT $hw::bigint AS gen;
INSERT INTO w_none SELECT * FROM gen_rows(0, $hw);
INSERT INTO w_key SELECT * FROM w_none;
INSERT INTO w_both SELECT * FROM w_none;
VACUUM ANALYZE w_none, w_key, w_both;
SQL
writer() {
    timed "INSERT INTO $1 SELECT * FROM gen_rows(:gen, $new_rows);"
}
echo "round none_ms none_wal key_ms key_wal both_ms both_wal"
wl=()
for r in $(seq 1 "$rounds"); do
    case $((r % 3)) in
        0) order="w_none w_key w_both" ;;
        1) order="w_key w_both w_none" ;;
        *) order="w_both w_none w_key" ;;
    esac
    body=""
    for t in $order; do
        body="$body$(writer "$t")
SELECT :'res' || ' $t' AS res \gset
"
    done
    out=$("${psql[@]}" <<SQL | tail -1
SELECT gen FROM wpos \gset
\set res ''
$body
UPDATE wpos SET gen = gen + $new_rows;
SELECT :'res';
SQL
)
    # out: "ms wal name ms wal name ms wal name": by name
    line=$(echo "$out" | awk '{ for (i = 1; i <= NF; i += 3) v[$(i + 2)] = $i " " $(i + 1);
                                print v["w_none"], v["w_key"], v["w_both"] }')
    wl+=("$line")
    echo "$r $line"
done
wm() { printf '%s\n' "${wl[@]}" | col_median "$1"; }
echo "median writer INSERT: none $(wm 1) ms $(wm 2) WAL; (ad_id, time) $(wm 3) ms $(wm 4) WAL; both $(wm 5) ms $(wm 6) WAL"
echo "median writer ratio (ad_id, time)/none: $(printf '%s\n' "${wl[@]}" | awk '{ print $3 / $1 }' | median); both/none: $(printf '%s\n' "${wl[@]}" | awk '{ print $5 / $1 }' | median)"

# the same, for writers of single-row transactions: CLIENTS (4) pgbench
# clients each inserting one row per transaction, PGBENCH_SECONDS (5) per
# stream, PGBENCH_ROUNDS (3) rounds, order rotating
clients=${CLIENTS:-4}
pgbench_secs=${PGBENCH_SECONDS:-5}
for t in w_none w_key w_both; do
    printf '\\set g random(%s, %s)\nINSERT INTO %s SELECT * FROM gen_rows(:g, 1);\n' \
        "$hw" "$((hw + 100000))" "$t" > "$dir/$t.sql"
    chmod 644 "$dir/$t.sql"
done
tps() {
    "${pgbench[@]}" -c "$clients" -j 2 -T "$pgbench_secs" -f "$dir/$1.sql" postgres 2>/dev/null |
        awk '/^tps = / { print $3; exit }'
}
echo "== writers: ${clients} clients of single-row INSERT transactions, ${pgbench_secs} s per stream (tps)"
echo "round none key both"
pl=()
for r in $(seq 1 "${PGBENCH_ROUNDS:-3}"); do
    case $((r % 3)) in
        0) order="w_none w_key w_both" ;;
        1) order="w_key w_both w_none" ;;
        *) order="w_both w_none w_key" ;;
    esac
    declare -A got=()
    for t in $order; do
        got[$t]=$(tps "$t")
    done
    pl+=("${got[w_none]} ${got[w_key]} ${got[w_both]}")
    echo "$r ${got[w_none]} ${got[w_key]} ${got[w_both]}"
done
echo "median single-row tps: none $(printf '%s\n' "${pl[@]}" | col_median 1), (ad_id, time) $(printf '%s\n' "${pl[@]}" | col_median 2), both $(printf '%s\n' "${pl[@]}" | col_median 3)"
echo "median cost ratio none tps/(ad_id, time) tps: $(printf '%s\n' "${pl[@]}" | awk '{ print $1 / $2 }' | median); none/both: $(printf '%s\n' "${pl[@]}" | awk '{ print $1 / $3 }' | median)"
