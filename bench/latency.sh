#!/usr/bin/env bash
# Insert-to-visible latency of the background worker: a client inserts one
# row per transaction at a fixed rate (pgbench -R), and the latency of a row
# is the commit time of the batch that wrote it into the target minus the
# commit time of the transaction that inserted it (track_commit_timestamp).
# Reports p50, p90 and p99 for a 'continuous' trigger and a '500 ms' trigger.
#
# With OPEN_TXN=1 a transaction that never touches the stream stays open
# (with an xid) through each run, as a long report or an idle-in-transaction
# session would; the worker's CPU time over the run is reported too.
#
#   bash bench/latency.sh            # as root; RATE=50 SECONDS_PER_RUN=20 OPEN_TXN=0 TRIGGERS="continuous,500 ms"
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rate=${RATE:-50}
secs=${SECONDS_PER_RUN:-20}
bench_server latency 54351 "shared_preload_libraries=pg_streaming" \
    "track_commit_timestamp=on" "max_worker_processes=16" "pg_streaming.max_workers=4"

"${psql[@]}" -c "CREATE EXTENSION pg_streaming"
echo "INSERT INTO ev (id, payload) VALUES (nextval('ev_ids'), 'x');" > "$dir/insert.sql"
chmod 644 "$dir/insert.sql"

echo "trigger rows p50_ms p90_ms p99_ms  (rate ${rate} rows/s, ${secs} s)"
IFS=',' read -r -a triggers <<<"${TRIGGERS:-continuous,500 ms}"
"${psql[@]}" -c "CREATE TABLE IF NOT EXISTS elsewhere (id int)" >/dev/null
for trig in "${triggers[@]}"; do
    "${psql[@]}" >/dev/null 2>&1 <<SQL
DROP TABLE IF EXISTS ev, ev_out CASCADE;
DROP SEQUENCE IF EXISTS ev_ids;
SELECT stream.drop_query('lat', if_exists => true);
CREATE SEQUENCE ev_ids;
CREATE TABLE ev (id bigint, payload text);
SELECT stream.create_stream('ev');
SELECT stream.start_query('lat', 'SELECT id FROM ev', 'ev_out', trigger => '$trig');
SQL
    sleep 1
    if [ "${OPEN_TXN:-0}" = 1 ]; then
        runuser -u postgres -- "$PG_BIN/psql" -h "$dir" -p 54351 -U postgres -X -q \
            -c "BEGIN; INSERT INTO elsewhere VALUES (1); SELECT pg_sleep(3600);" >/dev/null 2>&1 &
        sleep 1
    fi
    cpu0=$(ps -u postgres -o cputimes=,args= | awk '/pg_streaming worker/ { s += $1 } END { print s + 0 }')
    "${pgbench[@]}" -c 1 -R "$rate" -T "$secs" -f "$dir/insert.sql" postgres >/dev/null
    cpu1=$(ps -u postgres -o cputimes=,args= | awk '/pg_streaming worker/ { s += $1 } END { print s + 0 }')
    echo "worker CPU during the run: $((cpu1 - cpu0)) s"
    "${psql[@]}" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" >/dev/null
    sleep 2
    "${psql[@]}" -F ' ' <<SQL
SELECT replace('$trig', ' ', ''), count(*) AS rows,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p50_ms,
       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p90_ms,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p99_ms
  FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(o.xmin)
                                  - pg_xact_commit_timestamp(e.xmin)) * 1000 AS ms
          FROM ev e JOIN ev_out o USING (id)) d;
SQL
    "${psql[@]}" -c "SELECT stream.drop_query('lat')" >/dev/null
done
