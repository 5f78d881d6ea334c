#!/usr/bin/env bash
# A batch's cost after a server restart, with a transaction open that began
# after the restart but before the stream's first row (and first batch)
# since then, against none open: NEW_ROWS new rows over a HISTORY-row
# stream, processed by CALL stream.process_batch, ROUNDS times in each
# state.  Batches run only when called (pg_streaming.max_workers = 0), so
# that nothing touches the stream between the restart and the open
# transaction.  Reports each batch's server time and the stream blocks it
# read, their medians, and the ratios of the medians.
#
#   bash bench/restart_floors.sh   # as root; ROUNDS=5 HISTORY=1000000 NEW_ROWS=10000
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-5}
history=${HISTORY:-1000000}
new_rows=${NEW_ROWS:-10000}
bench_server restart_floors 54358 "shared_preload_libraries=pg_streaming" \
    "shared_buffers=512MB" "max_wal_size=4GB" "pg_streaming.max_workers=0"

"${psql[@]}" >/dev/null <<SQL
CREATE EXTENSION pg_streaming;
CREATE TABLE h (id bigint, ts timestamptz, payload text);
SELECT stream.create_stream('h');
SELECT stream.start_query('q', 'SELECT id, ts FROM h', 'h_out', trigger => '1 hour');
CREATE TABLE elsewhere (id int);
CREATE SEQUENCE ids;
INSERT INTO h SELECT nextval('ids'), now(), repeat('p', 60) FROM generate_series(1, $history);
CALL stream.process_all_available('q');
SQL

# part 1: after a restart, nothing open
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -w -m fast restart >/dev/null
batch_cost "$new_rows" >/dev/null    # the first batch after a restart reads its pages from disk
echo "round none_open_ms none_open_blocks"
none_ms=(); none_blocks=()
for r in $(seq 1 "$rounds"); do
    read -r ms blocks <<<"$(batch_cost "$new_rows")"
    none_ms+=("$ms"); none_blocks+=("$blocks")
    echo "$r $ms $blocks"
done

# part 2: restart, then a transaction with an xid opens before anything
# touches the stream, and stays open
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -w -m fast restart >/dev/null
runuser -u postgres -- "$PG_BIN/psql" -h "$dir" -p "$port" -U postgres -X -q \
    -c "BEGIN; INSERT INTO elsewhere VALUES (1); SELECT pg_sleep(3600);" >/dev/null 2>&1 &
until [ "$("${psql[@]}" -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND backend_xid IS NOT NULL")" = 1 ]; do
    sleep 0.1
done
batch_cost "$new_rows" >/dev/null
echo "round open_ms open_blocks"
open_ms=(); open_blocks=()
for r in $(seq 1 "$rounds"); do
    read -r ms blocks <<<"$(batch_cost "$new_rows")"
    open_ms+=("$ms"); open_blocks+=("$blocks")
    echo "$r $ms $blocks"
done
"${psql[@]}" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" >/dev/null

nm=$(printf '%s\n' "${none_ms[@]}" | median); om=$(printf '%s\n' "${open_ms[@]}" | median)
nb=$(printf '%s\n' "${none_blocks[@]}" | median); ob=$(printf '%s\n' "${open_blocks[@]}" | median)
echo "median with none open: $nm ms, $nb blocks; with a transaction open since before the first row after the restart: $om ms, $ob blocks"
echo "ratio open/none: time $(echo "scale=2; $om / $nm" | bc), blocks $(echo "scale=2; $ob / $nb" | bc)"
"${psql[@]}" -c "CALL stream.process_all_available('q')" >/dev/null
"${psql[@]}" -F ' ' -c "SELECT 'exactly once:', count(*) = count(DISTINCT id) AND count(*) = (SELECT count(*) FROM h) FROM h_out"
