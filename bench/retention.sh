#!/usr/bin/env bash
# Retention, side by side on one server with the background worker:
#  1. on-disk size over time under a steady ingest: two streams get the same
#     rows at the same rate (one pgbench transaction writes a row into each),
#     one with stream.set_retention(keep => KEEP), one without; both are read
#     by a query on a 200 ms trigger; the sizes are sampled every SAMPLE s;
#  2. insert latency with retention passes running (every 200 ms, each with
#     its VACUUM) against none: pgbench, 4 clients of single-row INSERTs into
#     one stream read by a query, SECONDS_PER_RUN s each, alternating,
#     ROUNDS times; the worst and the 99th percentile latency of each run,
#     and the medians.
#
#   bash bench/retention.sh   # as root; KEEP='5 seconds' RATE=2000 DURATION=60 SAMPLE=5 ROUNDS=3 SECONDS_PER_RUN=15
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

keep=${KEEP:-5 seconds}
rate=${RATE:-2000}
duration=${DURATION:-60}
sample=${SAMPLE:-5}
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-15}
bench_server retention 54355 "shared_preload_libraries=pg_streaming" \
    "max_worker_processes=16" "pg_streaming.retention_naptime=200ms" \
    "shared_buffers=256MB" "max_wal_size=4GB"

"${psql[@]}" >/dev/null <<SQL
CREATE EXTENSION pg_streaming;
CREATE SEQUENCE ids;
CREATE TABLE kept (id bigint PRIMARY KEY, ts timestamptz, payload text);
CREATE INDEX ON kept USING brin (ts);
CREATE TABLE grows (id bigint PRIMARY KEY, ts timestamptz, payload text);
CREATE INDEX ON grows USING brin (ts);
SELECT stream.create_stream('kept');
SELECT stream.create_stream('grows');
SELECT stream.start_query('read_kept', 'SELECT id FROM kept', 'kept_out', trigger => '200 ms');
SELECT stream.start_query('read_grows', 'SELECT id FROM grows', 'grows_out', trigger => '200 ms');
SELECT stream.set_retention('kept', '$keep');
SQL
cat > "$dir/both.sql" <<'SQL'
WITH n AS (SELECT nextval('ids') AS id),
     k AS (INSERT INTO kept SELECT id, now(), repeat('p', 100) FROM n)
INSERT INTO grows SELECT id, now(), repeat('p', 100) FROM n;
SQL
chmod 644 "$dir/both.sql"

echo "== on-disk size under ${rate} rows/s, retention '$keep' against none (MB: table, and table with its indexes)"
echo "seconds kept kept_total grows grows_total"
"${pgbench[@]}" -c 2 -j 2 -R "$rate" -T "$duration" -f "$dir/both.sql" postgres >/dev/null 2>&1 &
bench_pid=$!
for t in $(seq "$sample" "$sample" "$duration"); do
    sleep "$sample"
    "${psql[@]}" -F ' ' -c "SELECT $t, round(pg_relation_size('kept') / 1048576.0, 1),
                                   round(pg_total_relation_size('kept') / 1048576.0, 1),
                                   round(pg_relation_size('grows') / 1048576.0, 1),
                                   round(pg_total_relation_size('grows') / 1048576.0, 1)"
done
wait "$bench_pid" || true
sleep 2
"${psql[@]}" -F ' ' -c "SELECT 'rows written', (SELECT count(*) FROM grows),
                               'kept in the retained stream', (SELECT count(*) FROM kept),
                               'removed', (SELECT rows_removed FROM stream.stream_retention),
                               'recycled blocks', (SELECT blocks_recycled FROM stream.stream_retention)"
"${psql[@]}" -F ' ' -c "SELECT 'each query read every row once:',
                               (SELECT count(*) = count(DISTINCT id) FROM kept_out)
                               AND (SELECT count(*) FROM kept_out) = (SELECT count(*) FROM grows_out)"

echo "INSERT INTO ins (id, ts, payload) VALUES (nextval('ids'), now(), 'x');" > "$dir/insert.sql"
chmod 644 "$dir/insert.sql"
# worst and 99th percentile latency (ms) of one pgbench run, with or without retention
latency() {
    local with=$1
    "${psql[@]}" >/dev/null 2>&1 <<SQL
SELECT stream.drop_query('read_ins', if_exists => true);
DROP TABLE IF EXISTS ins, ins_out;
CREATE TABLE ins (id bigint PRIMARY KEY, ts timestamptz, payload text);
CREATE INDEX ON ins USING brin (ts);
SELECT stream.create_stream('ins');
SELECT stream.start_query('read_ins', 'SELECT id FROM ins', 'ins_out', trigger => '200 ms');
$( [ "$with" = retention ] && echo "SELECT stream.set_retention('ins', '1 second');" )
CHECKPOINT;
SQL
    rm -f "$dir"/lat.*
    (cd "$dir" && "${pgbench[@]}" -c 4 -j 2 -T "$secs" -l --log-prefix="$dir/lat" \
        -f "$dir/insert.sql" postgres >/dev/null 2>&1)
    # pgbench's log: the third field is the latency in microseconds
    local removed
    removed=$("${psql[@]}" -c "SELECT coalesce((SELECT rows_removed FROM stream.stream_retention WHERE stream = 'ins'::regclass), 0)")
    cat "$dir"/lat.* | awk '{ print $3 / 1000 }' | sort -g |
        awk -v removed="$removed" '{ v[NR] = $1 } END { printf "%.1f %.1f %d %d\n", v[NR], v[int(NR * 0.99)], NR, removed }'
}

echo "== insert latency, 4 clients, ${secs} s: retention passes every 200 ms against none (ms)"
echo "round none_max none_p99 none_rows with_max with_p99 with_rows with_removed"
maxes_none=(); maxes_with=(); p99_none=(); p99_with=()
for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then
        read -r nm np nn _ <<<"$(latency none)"; read -r wm wp wn removed <<<"$(latency retention)"
    else
        read -r wm wp wn removed <<<"$(latency retention)"; read -r nm np nn _ <<<"$(latency none)"
    fi
    maxes_none+=("$nm"); maxes_with+=("$wm"); p99_none+=("$np"); p99_with+=("$wp")
    echo "$r $nm $np $nn $wm $wp $wn $removed"
done
echo "median worst latency: none $(printf '%s\n' "${maxes_none[@]}" | median) ms, with retention $(printf '%s\n' "${maxes_with[@]}" | median) ms"
echo "median p99 latency: none $(printf '%s\n' "${p99_none[@]}" | median) ms, with retention $(printf '%s\n' "${p99_with[@]}" | median) ms"
