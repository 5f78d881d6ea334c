#!/usr/bin/env bash
# Event-time windows over a long run.
#
# Rows arrive in event-time order, ROWS_PER_MINUTE (10k) a minute of event
# time over KEYS (100) keys, one minute per round, for ROUNDS (60) rounds.
# Two queries read the same stream side by side:
#   windowed: SELECT tumble(t, '1 minute'), k, count(*), avg(v) ... GROUP BY 1, 2
#             in append mode with a 2-minute watermark (each window written
#             once, its state then dropped);
#   plain:    SELECT k, count(*), avg(v) ... GROUP BY k in update mode.
# Each round runs both queries' batches (the windowed one's batch without
# rows too) in one session and times them on the server.  Reports the state
# rows and batch times of the first and last ten rounds (flat when the state
# is bounded), and the median ratio windowed/plain.
#
#   bash bench/windows.sh   # as root
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-60}
per_minute=${ROWS_PER_MINUTE:-10000}
keys=${KEYS:-100}
bench_server windows 54357 "shared_buffers=256MB" "shared_preload_libraries=pg_streaming"

"${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
CREATE TABLE ev (k int, v float8, t timestamptz);
SELECT stream.create_stream('ev');
SELECT stream.start_query('windowed',
    \$\$SELECT stream.tumble(t, '1 minute') AS minute, k, count(*) AS n, avg(v) AS a
        FROM ev GROUP BY 1, 2\$\$, 'windowed', output_mode => 'append',
    event_time => 't', watermark => '2 minutes', trigger => '1 hour');
SELECT stream.start_query('plain',
    \$\$SELECT k, count(*) AS n, avg(v) AS a FROM ev GROUP BY k\$\$, 'plain',
    output_mode => 'update', trigger => '1 hour');
SQL

echo "round windowed_ms plain_ms ratio state_rows windows_written"
for r in $(seq 1 "$rounds"); do
    line=$("${psql[@]}" -F ' ' <<SQL | tail -1
INSERT INTO ev SELECT g % $keys, g % 1000,
       '2026-01-01 00:00'::timestamptz + ($r - 1) * interval '1 minute'
       + (g * 60.0 / $per_minute) * interval '1 second'
  FROM generate_series(0, $per_minute - 1) g;
SELECT clock_timestamp() AS t0 \gset
CALL stream.process_all_available('windowed');
SELECT clock_timestamp() AS t1 \gset
CALL stream.process_all_available('plain');
SELECT clock_timestamp() AS t2 \gset
SELECT round(extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz) * 1000, 2),
       round(extract(epoch FROM :'t2'::timestamptz - :'t1'::timestamptz) * 1000, 2),
       (SELECT state_rows FROM stream.progress WHERE query = 'windowed' ORDER BY batch_id DESC LIMIT 1),
       (SELECT count(*) FROM windowed);
SQL
)
    read -r w p st wr <<<"$line"
    ratio=$(echo "scale=3; $w / $p" | bc)
    echo "$r $w $p $ratio $st $wr"
done | tee "$dir/windows.txt"
echo "first ten rounds: median windowed ms $(head -10 "$dir/windows.txt" | awk '{print $2}' | median), state rows $(head -10 "$dir/windows.txt" | awk '{print $5}' | median)"
echo "last ten rounds:  median windowed ms $(tail -10 "$dir/windows.txt" | awk '{print $2}' | median), state rows $(tail -10 "$dir/windows.txt" | awk '{print $5}' | median)"
echo "median ratio windowed/plain batch: $(awk '{print $4}' "$dir/windows.txt" | median)"
"${psql[@]}" -F ' ' -c "SELECT 'check: every closed window written once, equal to the aggregate:', ($(closed_windows_equal_sql ev))"
rm -f "$dir/windows.txt"
