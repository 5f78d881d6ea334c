#!/usr/bin/env bash
# Builds and installs pg_streaming, starts a private PostgreSQL 15 server on
# 127.0.0.1, and runs a short demo: a stream of sensor readings, a streaming
# query that enriches them, writers inserting while batches run, and live
# progress.  Run as root on Debian 12: installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

need_packages
build_and_install

dir=${PGS_DEMO_DIR:-/tmp/pg_streaming_demo}
port=${PGS_DEMO_PORT:-54330}
if [ -f "$dir/data/postmaster.pid" ]; then stop_server "$dir"; fi
rm -rf "$dir"
start_server "$dir" "$port"
psql=(runuser -u postgres -- "$PG_BIN/psql" -h "$dir" -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1)

"${psql[@]}" -c "CREATE DATABASE demo"
"${psql[@]}" -d demo <<'SQL'
CREATE EXTENSION pg_streaming;
CREATE TABLE sensors (sensor_id int PRIMARY KEY, room text);
INSERT INTO sensors SELECT g, 'room ' || (g % 4) FROM generate_series(1, 20) g;
CREATE TABLE readings (sensor_id int, event_time timestamptz, temperature float8);
SELECT stream.create_stream('readings');
SELECT stream.start_query(
    name   => 'hot_readings',
    query  => $$SELECT r.sensor_id, s.room, r.event_time, r.temperature
                FROM readings r JOIN sensors s USING (sensor_id)
                WHERE r.temperature > 25$$,
    target => 'hot_readings');
SQL

echo "== two writers insert readings while batches run"
for w in 1 2; do
    (for i in $(seq 1 20); do
        "${psql[@]}" -d demo -c "INSERT INTO readings
            SELECT 1 + (random() * 19)::int, now(), 15 + random() * 20
            FROM generate_series(1, 500)" >/dev/null
        sleep 0.2
     done) &
done
for i in $(seq 1 6); do
    sleep 1
    "${psql[@]}" -d demo -c "CALL stream.process_all_available('hot_readings')" >/dev/null
    "${psql[@]}" -d demo -P footer=off -c "SELECT query, batch_id, input_rows, output_rows,
        processed_rows_per_second AS rows_per_s, duration_ms
        FROM stream.progress ORDER BY batch_id DESC LIMIT 1"
done
wait
"${psql[@]}" -d demo -c "CALL stream.process_all_available('hot_readings')" >/dev/null

echo "== the target equals the query run over all rows, each row once"
"${psql[@]}" -d demo -P footer=off <<'SQL'
SELECT (SELECT count(*) FROM readings) AS stream_rows,
       (SELECT count(*) FROM hot_readings) AS target_rows,
       (SELECT count(*) FROM (
            SELECT r.sensor_id, s.room, r.event_time, r.temperature
              FROM readings r JOIN sensors s USING (sensor_id) WHERE r.temperature > 25
            EXCEPT ALL SELECT * FROM hot_readings) d) AS missing;
SELECT name, status, last_batch_id, last_batch_at FROM stream.queries;
SQL
echo
echo "The server keeps running. Connect with:"
echo "  runuser -u postgres -- $PG_BIN/psql -h $dir -p $port demo"
echo "Stop it with:"
echo "  runuser -u postgres -- $PG_BIN/pg_ctl -D $dir/data stop"
