#!/usr/bin/env bash
# Cost of one append batch against the same INSERT ... SELECT written by hand
# with the batch's predicate.  A stream holds 1M processed rows; each round
# inserts NEW_ROWS new rows, runs one batch (CALL stream.process_batch), then
# runs by hand the INSERT ... SELECT that selects the same rows (the batch's
# offsets, read from stream.checkpoint_offsets, as literals) into a second
# table.  Both are timed on the server; reports each round's ratio and the
# median.
#
#   bash bench/batch.sh         # as root; ROUNDS=7 NEW_ROWS=200000
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-7}
new_rows=${NEW_ROWS:-200000}
bench_server batch 54354 "shared_buffers=512MB" "max_wal_size=4GB"

"${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
CREATE TABLE ev (id bigint, ts timestamptz, v float8);
SELECT stream.create_stream('ev');
INSERT INTO ev SELECT g, now(), g % 100 FROM generate_series(1, ${HISTORY:-1000000}) g;
SELECT stream.start_query('b', 'SELECT id, ts, v * 2 AS v2 FROM ev WHERE v >= 10', 'batch_out');
CALL stream.process_all_available('b');
CREATE TABLE manual_out (id bigint, ts timestamptz, v2 float8);
VACUUM ANALYZE ev;
SQL

batch_ms() {
    "${psql[@]}" <<SQL | tail -1
SELECT clock_timestamp() AS start \gset
CALL stream.process_batch('b');
SELECT round(extract(epoch FROM clock_timestamp() - :'start') * 1000, 2);
SQL
}

# the hand-written INSERT ... SELECT with the latest batch's predicate
manual_ms() {
    "${psql[@]}" <<'SQL' | tail -1
SELECT o.scan_from_block AS b, pg_snapshot_xmax(o.start_snapshot) AS lo,
       pg_snapshot_xmax(o.end_snapshot) AS hi, o.end_snapshot AS snap,
       coalesce((SELECT array_agg(x) FROM pg_snapshot_xip(o.start_snapshot) x
                  WHERE NOT pg_visible_in_snapshot(x, o.start_snapshot)
                    AND pg_visible_in_snapshot(x, o.end_snapshot)), '{}') AS b_xids
  FROM stream.checkpoint_offsets o ORDER BY batch_id DESC LIMIT 1 \gset
SELECT clock_timestamp() AS start \gset
INSERT INTO manual_out
SELECT id, ts, v * 2 FROM ONLY ev
 WHERE ctid >= format('(%s,0)', :'b')::tid
   AND ((_stream_xid >= :'lo' AND _stream_xid < :'hi'
         AND pg_visible_in_snapshot(_stream_xid, :'snap'))
        OR _stream_xid = ANY (:'b_xids'::xid8[]))
   AND v >= 10;
SELECT round(extract(epoch FROM clock_timestamp() - :'start') * 1000, 2);
SQL
}

echo "== one batch of ${new_rows} new rows over a 1M-row stream (ms)"
echo "round batch hand_written ratio"
ratios=()
for r in $(seq 1 "$rounds"); do
    "${psql[@]}" -c "INSERT INTO ev SELECT g, now(), g % 100 FROM generate_series(1, $new_rows) g"
    "${psql[@]}" -c "CHECKPOINT"
    # warm the new blocks for both the same way: read them once
    "${psql[@]}" -c "SELECT count(*) FROM ev WHERE ctid >= (SELECT format('(%s,0)', end_tail_block)::tid FROM stream.checkpoint_offsets ORDER BY batch_id DESC LIMIT 1)" >/dev/null
    bm=$(batch_ms)
    mm=$(manual_ms)
    ratio=$(echo "scale=3; $bm / $mm" | bc)
    ratios+=("$ratio")
    echo "$r $bm $mm $ratio"
done
"${psql[@]}" -F ' ' -c "SELECT 'rows written: batch', (SELECT count(*) FROM batch_out), 'hand-written', (SELECT count(*) FROM manual_out)"
echo "median ratio batch/hand-written: $(printf '%s\n' "${ratios[@]}" | median)"
