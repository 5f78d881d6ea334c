#!/usr/bin/env bash
# Ingest cost of a stream table against a plain table, side by side:
#  1. COPY of 1,000,000 narrow rows into a fresh table, alternating plain
#     and stream, ROUNDS times; the ratio of each round, and their median;
#  2. pgbench, 4 clients of single-row INSERT transactions, SECONDS_PER_RUN
#     seconds each, alternating, PGBENCH_ROUNDS times; tps ratios and median.
#
#   bash bench/ingest.sh        # as root; ROUNDS=5 PGBENCH_ROUNDS=3 SECONDS_PER_RUN=10
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-5}
pgbench_rounds=${PGBENCH_ROUNDS:-3}
secs=${SECONDS_PER_RUN:-10}
bench_server ingest 54353 "shared_buffers=512MB" "max_wal_size=4GB"

"${psql[@]}" <<SQL
CREATE EXTENSION pg_streaming;
COPY (SELECT g, now() + g * interval '1 ms', g % 100 FROM generate_series(1, 1000000) g)
  TO '$dir/rows.copy';
SQL

# milliseconds the server spent on one COPY into a fresh table of the kind
copy_ms() {
    local kind=$1
    "${psql[@]}" >/dev/null 2>&1 <<SQL
DROP TABLE IF EXISTS t_copy;
CREATE TABLE t_copy (id int, ts timestamptz, v float8);
$( [ "$kind" = stream ] && echo "SELECT stream.create_stream('t_copy');" )
CHECKPOINT;
SQL
    "${psql[@]}" <<SQL | tail -1
SELECT clock_timestamp() AS start \gset
COPY t_copy (id, ts, v) FROM '$dir/rows.copy';
SELECT round(extract(epoch FROM clock_timestamp() - :'start') * 1000, 1);
SQL
}

echo "== COPY of 1M rows (server time, ms)"
echo "round plain stream ratio"
ratios=()
for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then
        p=$(copy_ms plain); s=$(copy_ms stream)
    else
        s=$(copy_ms stream); p=$(copy_ms plain)
    fi
    ratio=$(echo "scale=3; $s / $p" | bc)
    ratios+=("$ratio")
    echo "$r $p $s $ratio"
done
echo "median COPY ratio stream/plain: $(printf '%s\n' "${ratios[@]}" | median)"

echo "INSERT INTO t_ins (id, ts, v) VALUES (1, now(), 1);" > "$dir/insert.sql"
chmod 644 "$dir/insert.sql"
tps() {
    local kind=$1
    "${psql[@]}" >/dev/null 2>&1 <<SQL
DROP TABLE IF EXISTS t_ins;
CREATE TABLE t_ins (id int, ts timestamptz, v float8);
$( [ "$kind" = stream ] && echo "SELECT stream.create_stream('t_ins');" )
CHECKPOINT;
SQL
    "${pgbench[@]}" -c 4 -j 2 -T "$secs" -f "$dir/insert.sql" postgres 2>/dev/null |
        awk '/^tps = / { print $3; exit }'
}

echo "== pgbench, 4 clients of single-row INSERTs, ${secs} s each (tps)"
echo "round plain stream cost_ratio"
ratios=()
for r in $(seq 1 "$pgbench_rounds"); do
    if [ $((r % 2)) -eq 1 ]; then
        p=$(tps plain); s=$(tps stream)
    else
        s=$(tps stream); p=$(tps plain)
    fi
    ratio=$(echo "scale=3; $p / $s" | bc)
    ratios+=("$ratio")
    echo "$r $p $s $ratio"
done
echo "median INSERT cost ratio plain tps/stream tps: $(printf '%s\n' "${ratios[@]}" | median)"
