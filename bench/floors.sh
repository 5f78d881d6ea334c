#!/usr/bin/env bash
# A batch's cost with a transaction open elsewhere: 10,000 new rows over a
# 2,000,000-row history, processed by CALL stream.process_batch, ROUNDS
# times while a transaction that never touches the stream has been open
# since before the history was written, then ROUNDS times after it ended,
# then ROUNDS times while a writer of the stream itself is open (it wrote
# its rows before the history); then the batch after that writer commits.
# Reports each batch's server time and the stream blocks it read, their
# medians, and the ratios of the medians.
#
#   bash bench/floors.sh   # as root; ROUNDS=5 HISTORY=2000000 NEW_ROWS=10000
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-5}
history=${HISTORY:-2000000}
new_rows=${NEW_ROWS:-10000}
bench_server floors 54357 "shared_preload_libraries=pg_streaming" \
    "shared_buffers=512MB" "max_wal_size=4GB" "track_io_timing=off"

"${psql[@]}" >/dev/null <<SQL
CREATE EXTENSION pg_streaming;
CREATE TABLE h (id bigint, ts timestamptz, payload text);
SELECT stream.create_stream('h');
SELECT stream.start_query('q', 'SELECT id, ts FROM h', 'h_out', trigger => '1 hour');
CREATE TABLE elsewhere (id int);
CREATE SEQUENCE ids;
SQL
sleep 1

# a transaction with an xid, open until the end of the first part
runuser -u postgres -- "$PG_BIN/psql" -h "$dir" -p "$port" -U postgres -X -q \
    -c "BEGIN; INSERT INTO elsewhere VALUES (1); SELECT pg_sleep(3600);" >/dev/null 2>&1 &
sleep 1
# a writer of the stream, open until the end of the third part: it waits
# for a lock that a session holds until then
runuser -u postgres -- "$PG_BIN/psql" -h "$dir" -p "$port" -U postgres -X -q \
    -c "SELECT pg_advisory_lock(77); SELECT pg_sleep(3600);" >/dev/null 2>&1 &
sleep 1
runuser -u postgres -- "$PG_BIN/psql" -h "$dir" -p "$port" -U postgres -X -q \
    -c "BEGIN; INSERT INTO h SELECT nextval('ids'), now(), 'open writer' FROM generate_series(1, 100); SELECT pg_advisory_lock(77); COMMIT;" >/dev/null 2>&1 &
sleep 1

"${psql[@]}" >/dev/null <<SQL
INSERT INTO h SELECT nextval('ids'), now(), repeat('p', 60) FROM generate_series(1, $history);
CALL stream.process_all_available('q');
SQL

echo "round open_ms open_blocks"
open_ms=(); open_blocks=()
for r in $(seq 1 "$rounds"); do
    read -r ms blocks <<<"$(batch_cost "$new_rows")"
    open_ms+=("$ms"); open_blocks+=("$blocks")
    echo "$r $ms $blocks"
done

"${psql[@]}" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE '%elsewhere%'" >/dev/null
sleep 1
echo "round closed_ms closed_blocks"
closed_ms=(); closed_blocks=()
for r in $(seq 1 "$rounds"); do
    read -r ms blocks <<<"$(batch_cost "$new_rows")"
    closed_ms+=("$ms"); closed_blocks+=("$blocks")
    echo "$r $ms $blocks"
done

echo "round writer_open_ms writer_open_blocks"
writer_ms=(); writer_blocks=()
for r in $(seq 1 "$rounds"); do
    read -r ms blocks <<<"$(batch_cost "$new_rows")"
    writer_ms+=("$ms"); writer_blocks+=("$blocks")
    echo "$r $ms $blocks"
done
# the writer commits: the session holding its lock goes
"${psql[@]}" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" >/dev/null
sleep 1
read -r ms blocks <<<"$(batch_cost "$new_rows")"
echo "the batch after the writer ended: $ms ms, $blocks blocks"

om=$(printf '%s\n' "${open_ms[@]}" | median); cm=$(printf '%s\n' "${closed_ms[@]}" | median)
ob=$(printf '%s\n' "${open_blocks[@]}" | median); cb=$(printf '%s\n' "${closed_blocks[@]}" | median)
wm=$(printf '%s\n' "${writer_ms[@]}" | median); wb=$(printf '%s\n' "${writer_blocks[@]}" | median)
echo "median with an unrelated transaction open: $om ms, $ob blocks; after it ended: $cm ms, $cb blocks; with a writer open: $wm ms, $wb blocks"
echo "ratio unrelated-open/closed: $(echo "scale=2; $om / $cm" | bc); writer-open/closed: $(echo "scale=2; $wm / $cm" | bc)"
"${psql[@]}" -F ' ' -c "SELECT 'exactly once:', count(*) = count(DISTINCT id) AND count(*) = (SELECT count(*) FROM h) FROM h_out"
"${psql[@]}" -F ' ' -c "SELECT 'the writer''s rows delivered:', count(*) FROM h_out JOIN h USING (id) WHERE h.payload = 'open writer'"
