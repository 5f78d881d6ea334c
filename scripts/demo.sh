#!/usr/bin/env bash
# Builds and installs pg_streaming, starts a private PostgreSQL 15 server on
# 127.0.0.1 with the background worker, and runs a short demo: a stream of
# sensor readings, two streaming queries (one 'continuous', one on a '1 s'
# trigger) that run by themselves while two writers insert, their live
# progress, a query changed in place, an upserted "latest per key" table,
# and retention removing what the queries have read.  Run as root on Debian 12: installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

need_packages
build_and_install

dir=${PGS_DEMO_DIR:-$PWD/.demo}
port=${PGS_DEMO_PORT:-54330}
if [ -f "$dir/data/postmaster.pid" ]; then stop_server "$dir"; fi
rm -rf "$dir"
start_server "$dir" "$port" "shared_preload_libraries=pg_streaming" \
    "max_worker_processes=16" "pg_streaming.launcher_naptime=1s" \
    "pg_streaming.retention_naptime=1s"
psql=(runuser -u postgres -- "$PG_BIN/psql" -h "$dir" -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1)

"${psql[@]}" -c "CREATE DATABASE demo"
"${psql[@]}" -d demo <<'SQL'
CREATE EXTENSION pg_streaming;
CREATE TABLE sensors (sensor_id int PRIMARY KEY, room text);
INSERT INTO sensors SELECT g, 'room ' || (g % 4) FROM generate_series(1, 20) g;
CREATE TABLE readings (sensor_id int, event_time timestamptz, temperature float8);
SELECT stream.create_stream('readings');
SELECT stream.start_query(
    name    => 'hot_readings',
    query   => $$SELECT r.sensor_id, s.room, r.event_time, r.temperature
                 FROM readings r JOIN sensors s USING (sensor_id)
                 WHERE r.temperature > 25$$,
    target  => 'hot_readings',
    trigger => 'continuous');
SELECT stream.start_query(
    name    => 'all_readings',
    query   => 'SELECT sensor_id, event_time, temperature FROM readings',
    target  => 'all_readings',
    trigger => '1 s');
SELECT stream.start_query(
    name        => 'room_stats',
    query       => $$SELECT s.room, count(*) AS readings, round(avg(r.temperature)::numeric, 2) AS avg_temp,
                            max(r.temperature) AS max_temp
                     FROM readings r JOIN sensors s USING (sensor_id) GROUP BY s.room$$,
    target      => 'room_stats',
    output_mode => 'update',
    trigger     => '1 s');
CREATE TABLE sensor_latest (sensor_id int PRIMARY KEY, event_time timestamptz, temperature float8);
SELECT stream.start_query(
    name        => 'sensor_latest',
    query       => 'SELECT sensor_id, event_time, temperature FROM readings',
    target      => 'sensor_latest',
    output_mode => 'update',
    trigger     => '1 s');
SQL

echo "== two writers insert readings; the background worker runs both queries"
for w in 1 2; do
    (for i in $(seq 1 25); do
        "${psql[@]}" -d demo -c "INSERT INTO readings
            SELECT 1 + (random() * 19)::int, now(), 15 + random() * 20
            FROM generate_series(1, 200)" >/dev/null
        sleep 0.2
     done) &
done
for i in $(seq 1 6); do
    sleep 1
    if [ "$i" = 3 ]; then
        echo "== all_readings goes from a 1 s trigger to 200 ms, in place, keeping its checkpoint"
        "${psql[@]}" -d demo -c "SELECT stream.alter_query('all_readings', trigger => '200 ms')" >/dev/null
    fi
    "${psql[@]}" -d demo -P footer=off -c "SELECT q.name, q.trigger, q.last_batch_id AS batches,
        q.pending_rows, q.lag_seconds, q.input_rows_per_second AS rows_per_s,
        p.input_rows AS last_input_rows, p.duration_ms AS last_ms
        FROM stream.queries q
        LEFT JOIN stream.progress p ON p.query = q.name AND p.batch_id = q.last_batch_id
        ORDER BY q.name"
done
wait
sleep 2

echo "== the target equals the query run over all rows, each row once"
"${psql[@]}" -d demo -P footer=off <<'SQL'
SELECT (SELECT count(*) FROM readings) AS stream_rows,
       (SELECT count(*) FROM all_readings) AS all_readings,
       (SELECT count(*) FROM hot_readings) AS hot_readings,
       (SELECT count(*) FROM (
            SELECT r.sensor_id, s.room, r.event_time, r.temperature
              FROM readings r JOIN sensors s USING (sensor_id) WHERE r.temperature > 25
            EXCEPT ALL SELECT * FROM hot_readings) d) AS hot_missing,
       (SELECT count(*) FROM (SELECT * FROM all_readings EXCEPT ALL
                              SELECT sensor_id, event_time, temperature FROM readings) d) AS all_extra;
SELECT (SELECT count(*) FROM sensor_latest) AS sensors_latest,
       (SELECT count(DISTINCT sensor_id) FROM readings) AS sensors_seen,
       (SELECT count(*) FROM sensor_latest l
         WHERE NOT EXISTS (SELECT 1 FROM readings r WHERE r.sensor_id = l.sensor_id
                              AND r.event_time = l.event_time AND r.temperature = l.temperature))
         AS latest_not_in_stream;
SELECT name, status, trigger, last_batch_id, last_batch_at FROM stream.queries ORDER BY name;
SQL

echo "== a streaming aggregation, kept batch by batch, equals the aggregate over all rows"
"${psql[@]}" -d demo -P footer=off <<'SQL'
SELECT * FROM room_stats ORDER BY room;
SELECT count(*) AS rooms_differing
  FROM room_stats t
  FULL JOIN (SELECT s.room, count(*) AS readings, avg(r.temperature) AS avg_temp,
                    max(r.temperature) AS max_temp
               FROM readings r JOIN sensors s USING (sensor_id) GROUP BY s.room) a USING (room)
 WHERE t.readings IS DISTINCT FROM a.readings OR t.max_temp IS DISTINCT FROM a.max_temp
    OR abs(t.avg_temp - a.avg_temp::numeric) > 0.005 OR t.avg_temp IS NULL;
SELECT batch_id, input_rows, state_rows, state_rows_updated, duration_ms
  FROM stream.progress WHERE query = 'room_stats' ORDER BY batch_id DESC LIMIT 3;
SQL

echo "== retention: keep what a query has not read, and 2 seconds of the rest"
"${psql[@]}" -d demo -c "SELECT stream.set_retention('readings', keep => '2 seconds')" >/dev/null
"${psql[@]}" -d demo -c "INSERT INTO readings SELECT 1 + g % 20, now(), 20 + g % 10 FROM generate_series(1, 500) g" >/dev/null
sleep 5
"${psql[@]}" -d demo -P footer=off <<'SQL'
SELECT stream, keep, rows_removed, blocks_recycled, held_by_query,
       (SELECT count(*) FROM readings) AS rows_kept
  FROM stream.stream_retention;
SELECT count(*) AS all_readings_rows_read_before_removal FROM all_readings;
SQL
echo "== a join between two streams: clicks within an hour of their impression"
"${psql[@]}" -d demo -P footer=off <<'SQL'
CREATE TABLE impressions (ad_id int, imp_time timestamptz);
CREATE TABLE clicks (ad_id int, click_time timestamptz);
SELECT stream.create_stream('impressions'), stream.create_stream('clicks');
CREATE INDEX ON impressions (ad_id, imp_time);
CREATE INDEX ON clicks (ad_id, click_time);
SELECT stream.start_query('ad_clicks',
    $$SELECT i.ad_id, i.imp_time, c.click_time
        FROM impressions i LEFT JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'ad_clicks', watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;
-- a click may commit before its impression; one transaction may write both
INSERT INTO clicks VALUES (2, '2026-01-01 10:20+00');
BEGIN;
INSERT INTO impressions VALUES (1, '2026-01-01 10:00+00'), (2, '2026-01-01 10:05+00');
INSERT INTO clicks VALUES (1, '2026-01-01 10:50+00'), (3, '2026-01-01 11:30+00');
COMMIT;
INSERT INTO impressions VALUES (3, '2026-01-01 10:10+00');
CALL stream.process_all_available('ad_clicks');
SELECT * FROM ad_clicks ORDER BY ad_id, click_time;
-- hours later: the watermark passes impression 3, which never had a click in its hour
INSERT INTO impressions VALUES (4, '2026-01-01 16:00+00');
INSERT INTO clicks VALUES (4, '2026-01-01 16:10+00');
CALL stream.process_all_available('ad_clicks');
SELECT * FROM ad_clicks ORDER BY ad_id, click_time;
SELECT batch_id, side, stream, input_rows, late_rows, state_rows, watermark
  FROM stream.progress_sides WHERE query = 'ad_clicks' ORDER BY batch_id, side;
SQL
echo "== a medallion pipeline: files -> bronze -> silver -> gold"
# JSON lines dropped into a directory (written under a hidden name, then
# renamed in); a file source loads them into the bronze stream, a line that
# is no JSON into the dead letters; a query parses bronze into the silver
# stream, which it creates (target_is_stream), a row whose time does not
# parse into the dead letters; an hourly aggregation over silver keeps gold
mkdir -p "$dir/landing" "$dir/landed"
chown postgres "$dir/landing" "$dir/landed"
"${psql[@]}" -d demo -P footer=off <<SQL
CREATE TABLE bronze_sales (doc jsonb, file text);
SELECT stream.create_stream('bronze_sales');
SELECT stream.create_file_source('sales_files', '$dir/landing', 'bronze_sales',
    format => 'jsonl', file_name_column => 'file', settle => '0',
    after_read => 'archive', archive_directory => '$dir/landed',
    on_error => 'dead_letter', trigger => '500 ms') > 0 AS source_created;
SELECT stream.start_query('silver',
    \$\$SELECT (doc->>'id')::int AS sale_id, (doc->>'at')::timestamptz AS sold_at,
             doc->>'region' AS region, (doc->>'amount')::numeric AS amount
        FROM bronze_sales\$\$,
    'silver_sales', trigger => '500 ms', target_is_stream => true,
    on_error => 'dead_letter') > 0 AS silver_started;
SELECT stream.start_query('gold',
    \$\$SELECT stream.tumble(sold_at, '1 hour') AS hour, region, count(*) AS sales,
             sum(amount) AS amount
        FROM silver_sales GROUP BY 1, 2\$\$,
    'gold_hourly', output_mode => 'update', trigger => '500 ms') > 0 AS gold_started;
SQL
for f in 1 2 3; do
    for i in $(seq 1 200); do
        id=$((f * 1000 + i))
        printf '{"id": %d, "at": "2026-01-01 %02d:%02d:00+00", "region": "%s", "amount": %d.%02d}\n' \
            "$id" $((8 + (id % 5))) $((id % 60)) "$( [ $((id % 3)) = 0 ] && echo north || echo south)" \
            $((id % 90)) $((id % 100))
        [ "$f" = 2 ] && [ "$i" = 100 ] && echo '{"id": 2999, "at": "2026-01-01 09:00:00+00", "amount": 12,50}'
        [ "$f" = 3 ] && [ "$i" = 50 ] && echo '{"id": 3999, "at": "2026-01-01 25:00:00+00", "region": "north", "amount": 1}'
    done > "$dir/landing/.sales_$f.tmp"
    chown postgres "$dir/landing/.sales_$f.tmp"
    mv "$dir/landing/.sales_$f.tmp" "$dir/landing/sales_$f.jsonl"
done
# gold, recomputed from bronze's rows but those silver set aside, each hour and region
recompute="SELECT stream.tumble((doc->>'at')::timestamptz, '1 hour') AS hour, doc->>'region' AS region,
                  count(*) AS sales, sum((doc->>'amount')::numeric) AS amount
             FROM bronze_sales b
            WHERE NOT EXISTS (SELECT FROM stream.dead_letters d
                               WHERE d.query = 'silver' AND d.row_data->'doc' = b.doc)
            GROUP BY 1, 2"
for _ in $(seq 1 60); do
    differing=$("${psql[@]}" -d demo -A -t -c "
        SELECT (SELECT count(*) FROM stream.files WHERE source = 'sales_files') = 3
           AND (SELECT count(*) FROM gold_hourly g FULL JOIN ($recompute) r USING (hour, region)
                 WHERE g.sales IS DISTINCT FROM r.sales OR g.amount IS DISTINCT FROM r.amount) = 0" 2>/dev/null) || true
    [ "$differing" = t ] && break
    sleep 0.5
done
"${psql[@]}" -d demo -P footer=off <<SQL
SELECT file_name, status, rows, bad_rows, after_read_at IS NOT NULL AS archived
  FROM stream.files WHERE source = 'sales_files' ORDER BY file_name;
SELECT coalesce(source, query) AS set_aside_by, coalesce(raw_line, row_data->>'doc') AS row,
       position, sqlstate, message
  FROM stream.dead_letters ORDER BY id;
SELECT (SELECT count(*) FROM bronze_sales) AS bronze_rows, (SELECT count(*) FROM silver_sales) AS silver_rows;
SELECT * FROM gold_hourly ORDER BY hour, region;
SELECT count(*) AS gold_groups_differing_from_recomputation
  FROM gold_hourly g FULL JOIN ($recompute) r USING (hour, region)
 WHERE g.sales IS DISTINCT FROM r.sales OR g.amount IS DISTINCT FROM r.amount;
SQL
echo
echo "The server keeps running, and so do the queries. Connect with:"
echo "  runuser -u postgres -- $PG_BIN/psql -h $dir -p $port demo"
echo "Stop it with:"
echo "  runuser -u postgres -- $PG_BIN/pg_ctl -D $dir/data stop"
