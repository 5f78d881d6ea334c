#!/usr/bin/env bash
# A stream-stream join's batch: against the history, and against the same
# join written by hand over the new rows.
#
# Impressions and clicks (ad_id key uniform over ADS (100k) ads, event times
# at ROWS_PER_MINUTE (250) rows a minute per side, up to 5 minutes out of
# order), joined with Spark's time constraint
# (c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour') and
# watermarks of 2 hours (impressions) and 3 hours (clicks): an inner join
# (j_inner) and a left outer join (j_left), each a streaming query over
# both streams.  The streams grow to each history of HISTORIES (100k, 1M,
# 2M rows per side), processed by the queries in batches of CHUNK (100k)
# rows per side; then ROUNDS (3) rounds, each adding NEW_ROWS (10k) rows per
# side (one transaction per stream) and timing, in one session:
#   - each query's data batch and the no-data batch after it (which evicts
#     what the watermark passed and, for j_left, writes the NULL rows);
#   - the same join written by hand over the new rows (the statements of
#     bench/join_state.sh's design (A): the new rows of each side, by the
#     batch's snapshots and block floors, probing the other stream's index
#     as of the batch's end or start; then the impressions the watermark
#     passed in this batch that no click matched), with its own snapshots;
# alternating which goes first.  After each round: each query's state rows
# per side (stream.progress_side_log) beside the live window per side
# counted by hand (impressions at or after W - 1 hour, clicks at or after
# W, every row of both arrived and none late) and the impressions of the
# window no click matched (what a left outer join keeps waiting).  At the
# end of each history the targets of the measured rounds must equal the
# hand-written join's rows; the script fails otherwise.
#
# Medians of the rounds and the ratios query/hand; the batch cost at each
# history against the smallest (flat: near 1).  JIT=off runs the server
# without JIT (the default is PostgreSQL's, on).  PGS_BENCH_SMOKE=1: a small
# pass for the test command's smoke suite (seconds).
#
#   bash bench/joins.sh   # as root; HISTORIES='100000 1000000 2000000' ROUNDS=3
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

if [ -n "${PGS_BENCH_SMOKE:-}" ]; then
    : "${HISTORIES:=2000 4000}" "${NEW_ROWS:=200}" "${ADS:=200}" "${ROWS_PER_MINUTE:=5}"
    : "${CHUNK:=2000}" "${ROUNDS:=1}"
fi
rounds=${ROUNDS:-3}
histories=${HISTORIES:-100000 1000000 2000000}
new_rows=${NEW_ROWS:-10000}
ads=${ADS:-100000}
per_minute=${ROWS_PER_MINUTE:-250}
chunk=${CHUNK:-100000}
bench_server joins 54364 "shared_buffers=${SHARED_BUFFERS:-512MB}" "max_wal_size=4GB" "jit=${JIT:-on}"

match="c.ad_id = i.ad_id AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'"
match_i="i.ad_id = c.ad_id AND i.imp_time BETWEEN c.click_time - interval '1 hour' AND c.click_time"

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
CREATE TABLE imp (ad_id int NOT NULL, imp_time timestamptz NOT NULL, payload text);
CREATE TABLE clk (ad_id int NOT NULL, click_time timestamptz NOT NULL, payload text);
SELECT stream.create_stream('imp');
SELECT stream.create_stream('clk');
CREATE INDEX imp_key ON imp (ad_id, imp_time);
CREATE INDEX clk_key ON clk (ad_id, click_time);
CREATE INDEX imp_time_brin ON imp USING brin (imp_time);
SELECT stream.start_query('j_inner',
    \$q\$SELECT i.ad_id, i.imp_time, c.click_time, i.payload AS imp_payload, c.payload AS click_payload
         FROM imp i JOIN clk c ON $match\$q\$,
    'j_inner_out', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
SELECT stream.start_query('j_left',
    \$q\$SELECT i.ad_id, i.imp_time, c.click_time, i.payload AS imp_payload, c.payload AS click_payload
         FROM imp i LEFT JOIN clk c ON $match\$q\$,
    'j_left_out', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
-- the hand-written join's output, and its position: lo snapshot, block
-- floors, the watermark in force (w) and the one before (wl), the largest
-- event times, rows generated per side
CREATE TABLE hand_pairs (ad_id int, imp_time timestamptz, click_time timestamptz, imp_payload text, click_payload text);
CREATE TABLE hand_nulls (LIKE hand_pairs);
CREATE TABLE pos (lo pg_snapshot, fi bigint, fc bigint, w timestamptz, wl timestamptz,
                  mi timestamptz, mc timestamptz, gen bigint);
INSERT INTO pos (gen) VALUES (0);
SQL

# grow both streams to HISTORY rows per side, CHUNK at a time, the queries
# processing each chunk; then the hand-written join starts where they are
grow() {
    local h=$1 gen
    gen=$("${psql[@]}" -c "SELECT gen FROM pos")
    while [ "$gen" -lt "$h" ]; do
        local n=$((h - gen < chunk ? h - gen : chunk))
        "${psql[@]}" >/dev/null <<SQL
INSERT INTO imp SELECT * FROM gen_rows($gen, $n);
INSERT INTO clk SELECT * FROM gen_rows($gen, $n);
CALL stream.process_all_available('j_inner');
CALL stream.process_all_available('j_left');
UPDATE pos SET gen = gen + $n;
SQL
        gen=$((gen + n))
    done
    "${psql[@]}" >/dev/null <<SQL
VACUUM ANALYZE imp, clk;
TRUNCATE j_inner_out, j_left_out, hand_pairs, hand_nulls;
UPDATE pos SET lo = pg_current_snapshot(),
    fi = greatest(pg_relation_size('imp') / 8192 - 1, 0), fc = greatest(pg_relation_size('clk') / 8192 - 1, 0),
    mi = (SELECT max(imp_time) FROM imp), mc = (SELECT max(click_time) FROM clk);
UPDATE pos SET w = least(mi - interval '2 hours', mc - interval '3 hours'), wl = least(mi - interval '2 hours', mc - interval '3 hours');
SQL
}

# the new rows of one side, not late: past the block floor (a TID range
# scan), visible in hi and not in lo
new_imp="SELECT i.* FROM ONLY imp i
  WHERE i.ctid >= ('(' || :fi || ',0)')::tid
    AND pg_visible_in_snapshot(i._stream_xid, :'hi') AND NOT pg_visible_in_snapshot(i._stream_xid, :'lo')
    AND i.imp_time > :'wl'"
new_clk="SELECT c.* FROM ONLY clk c
  WHERE c.ctid >= ('(' || :fc || ',0)')::tid
    AND pg_visible_in_snapshot(c._stream_xid, :'hi') AND NOT pg_visible_in_snapshot(c._stream_xid, :'lo')
    AND c.click_time > :'wl'"

# each step: its SQL, then its milliseconds appended to the variable res
timed() {
    cat <<SQL
SELECT clock_timestamp() AS t0 \gset
$1
SELECT :'res' || ' ' || round(extract(epoch FROM clock_timestamp() - :'t0') * 1000, 1) AS res \gset
SQL
}

# the queries: each one's data batch, then the batch after it (the no-data
# batch the moved watermark asks for); prints "inner_ms inner_nd_ms left_ms left_nd_ms"
queries() {
    for q in j_inner j_left; do
        timed "CALL stream.process_batch('$q');"
        timed "CALL stream.process_batch('$q');"
    done
}

# the hand-written join over the same new rows: the pairs (each new row
# probing the other stream's index, the plan design (A) asks for), then the
# impressions the new watermark passed that no click matched; then the
# position moves on.  Prints "pairs_ms nulls_ms".
hand() {
    echo "SET enable_hashjoin = off; SET enable_mergejoin = off;"
    echo "SELECT pg_current_snapshot() AS hi, lo, fi, fc, w AS wl FROM pos \gset"
    timed "INSERT INTO hand_pairs
SELECT i.ad_id, i.imp_time, c.click_time, i.payload, c.payload
FROM ($new_imp) i JOIN ONLY clk c ON $match
WHERE pg_visible_in_snapshot(c._stream_xid, :'hi')
UNION ALL
SELECT i.ad_id, i.imp_time, c.click_time, i.payload, c.payload
FROM ($new_clk) c JOIN ONLY imp i ON $match_i
WHERE pg_visible_in_snapshot(i._stream_xid, :'lo');"
    # the watermark after this batch, from the largest event times
    cat <<SQL
WITH ni AS ($new_imp), nc AS ($new_clk)
UPDATE pos SET mi = greatest(mi, (SELECT max(imp_time) FROM ni)),
    mc = greatest(mc, (SELECT max(click_time) FROM nc));
SELECT greatest(w, least(mi - interval '2 hours', mc - interval '3 hours')) AS w FROM pos \gset
SQL
    timed "INSERT INTO hand_nulls
SELECT i.ad_id, i.imp_time, NULL, i.payload, NULL FROM ONLY imp i
WHERE i.imp_time >= :'wl'::timestamptz - interval '1 hour'
  AND i.imp_time < :'w'::timestamptz - interval '1 hour'
  AND pg_visible_in_snapshot(i._stream_xid, :'hi')
  AND NOT EXISTS (SELECT 1 FROM ONLY clk c WHERE $match
                  AND pg_visible_in_snapshot(c._stream_xid, :'hi'));"
    cat <<SQL
UPDATE pos SET lo = :'hi', wl = :'wl', w = :'w',
    fi = greatest(pg_relation_size('imp') / 8192 - 1, 0), fc = greatest(pg_relation_size('clk') / 8192 - 1, 0);
RESET enable_hashjoin; RESET enable_mergejoin;
SQL
}

# one round: the writers add NEW_ROWS rows per side, then the queries and
# the hand-written join (ORDER qh or hq); prints
# "inner_ms inner_nd_ms left_ms left_nd_ms pairs_ms nulls_ms"
round() {
    local order=$1 body out
    if [ "$order" = qh ]; then
        body="$(queries)
$(hand)"
    else
        body="$(hand)
$(queries)"
    fi
    out=$("${psql[@]}" <<SQL | tail -1
SET client_min_messages = warning;
INSERT INTO imp SELECT * FROM gen_rows((SELECT gen FROM pos), $new_rows);
INSERT INTO clk SELECT * FROM gen_rows((SELECT gen FROM pos), $new_rows);
UPDATE pos SET gen = gen + $new_rows;
\set res ''
$body
SELECT :'res';
SQL
)
    if [ "$order" = qh ]; then
        echo "$out" | awk '{ print $1, $2, $3, $4, $5, $6 }'
    else
        echo "$out" | awk '{ print $3, $4, $5, $6, $1, $2 }'
    fi
}

# after a round: the watermark of each query against the hand-written
# join's, each query's state rows per side after its latest batch, the live
# window per side and the impressions of the window no click matched
state() {
    "${psql[@]}" -F ' ' <<SQL
WITH last AS (
    SELECT d.name, l.side, l.state_rows, l.late_rows, l.batch_id,
           max(l.batch_id) OVER (PARTITION BY d.name) AS latest
      FROM stream.progress_side_log l JOIN stream.query_defs d USING (query_id)
     WHERE d.name IN ('j_inner', 'j_left'))
SELECT coalesce((SELECT w FROM pos) = ALL (SELECT watermark FROM stream.queries WHERE name IN ('j_inner', 'j_left')), false) AS same_w,
       coalesce((SELECT state_rows FROM last WHERE name = 'j_inner' AND side = 1 AND batch_id = latest), -1),
       coalesce((SELECT state_rows FROM last WHERE name = 'j_inner' AND side = 2 AND batch_id = latest), -1),
       coalesce((SELECT state_rows FROM last WHERE name = 'j_left' AND side = 1 AND batch_id = latest), -1),
       coalesce((SELECT state_rows FROM last WHERE name = 'j_left' AND side = 2 AND batch_id = latest), -1),
       (SELECT count(*) FROM imp, pos WHERE imp_time >= w - interval '1 hour') AS live_imp,
       (SELECT count(*) FROM clk, pos WHERE click_time >= w) AS live_clk,
       (SELECT count(*) FROM imp i, pos WHERE i.imp_time >= w - interval '1 hour'
           AND NOT EXISTS (SELECT 1 FROM clk c WHERE $match)) AS unmatched_imp,
       (SELECT coalesce(sum(late_rows), 0) FROM last) AS late_rows;
SQL
}

# the targets of the measured rounds against the hand-written join
check() {
    "${psql[@]}" -F ' ' <<SQL
SELECT (SELECT count(*) FROM j_inner_out) AS pairs, (SELECT count(*) FROM j_left_out WHERE click_time IS NULL) AS null_rows,
  (SELECT count(*) = 0 FROM ((TABLE j_inner_out EXCEPT ALL TABLE hand_pairs)
                             UNION ALL (TABLE hand_pairs EXCEPT ALL TABLE j_inner_out)) d) AS inner_ok,
  (SELECT count(*) = 0 FROM ((TABLE j_left_out EXCEPT ALL (TABLE hand_pairs UNION ALL TABLE hand_nulls))
                             UNION ALL ((TABLE hand_pairs UNION ALL TABLE hand_nulls) EXCEPT ALL TABLE j_left_out)) d) AS left_ok;
SQL
}

summary=()
for h in $histories; do
    echo "== history ${h} rows per side, ${new_rows} new rows per side per batch (ms)"
    grow "$h"
    round qh >/dev/null         # a first round that warms the caches
    echo "round inner_ms inner_nodata_ms left_ms left_nodata_ms hand_pairs_ms hand_nulls_ms"
    lines=()
    for r in $(seq 1 "$rounds"); do
        if [ $((r % 2)) -eq 1 ]; then
            line=$(round hq)
        else
            line=$(round qh)
        fi
        lines+=("$line")
        echo "$r $line"
    done
    echo "state: same_watermark inner_state_rows_1 inner_state_rows_2 left_state_rows_1 left_state_rows_2 live_imp live_clk unmatched_imp late_rows"
    st=$(state)
    echo "$st"
    read -r same_w _ _ ls1 ls2 live_i live_c unmatched late <<<"$st"
    echo "check: pairs null_rows inner=hand left=hand"
    checked=$(check)
    echo "$checked"
    if echo "$checked $same_w" | grep -qw f; then
        echo "the queries' results or watermarks differ from the join written by hand" >&2
        exit 1
    fi
    med() { printf '%s\n' "${lines[@]}" | awk -v c="$1" '{ print $c }' | median; }
    inner=$(printf '%s\n' "${lines[@]}" | awk '{ print $1 + $2 }' | median)
    left=$(printf '%s\n' "${lines[@]}" | awk '{ print $3 + $4 }' | median)
    hand_in=$(med 5)
    hand_left=$(printf '%s\n' "${lines[@]}" | awk '{ print $5 + $6 }' | median)
    r_in=$(printf '%s\n' "${lines[@]}" | awk '{ print ($1 + $2) / $5 }' | median)
    r_left=$(printf '%s\n' "${lines[@]}" | awk '{ print ($3 + $4) / ($5 + $6) }' | median)
    echo "median j_inner: $inner ms (data $(med 1), no-data $(med 2)); by hand $hand_in ms; ratio $r_in"
    echo "median j_left: $left ms (data $(med 3), no-data $(med 4)); by hand $hand_left ms; ratio $r_left"
    summary+=("$h $inner $hand_in $r_in $left $hand_left $r_left $ls1 $ls2 $live_i $live_c $unmatched $late")
done
echo "== summary: history inner_ms hand_inner_ms inner_ratio left_ms hand_left_ms left_ratio left_state_1 left_state_2 live_imp live_clk unmatched_imp late_rows"
printf '%s\n' "${summary[@]}"
first=${summary[0]}
for s in "${summary[@]}"; do
    read -r h i _ _ l _ <<<"$s"
    read -r _ i0 _ _ l0 _ <<<"$first"
    echo "history $h against $(echo "$first" | cut -d' ' -f1): j_inner $(awk -v a="$i" -v b="$i0" 'BEGIN { printf "%.2f", a / b }')x, j_left $(awk -v a="$l" -v b="$l0" 'BEGIN { printf "%.2f", a / b }')x"
done
