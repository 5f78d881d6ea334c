#!/usr/bin/env bash
# The cost of a batch with one bad row: a batch of ROWS rows of which one
# does not cast (at BAD_AT, a fraction of the batch's rows in stream order)
# against the same batch without it, both through a query with
# on_error => 'dead_letter' (an append: cast, division, into a table with a
# primary key).  Each round inserts ROWS rows into both streams and times
# one batch of each (alternating which goes first), from stream.progress;
# prints every round, then the medians and the median of the per-round
# ratios bad / clean.  Last, it checks that each batch with a bad row set
# exactly that row aside and delivered the others.  BAD_AT=none puts no
# bad row in either stream, and CLEAN_ON_ERROR=fail gives the first query
# on_error => 'fail': the two together time a clean batch with dead
# letters against one without (the ratio: dead_letter / fail).
#
#   bash bench/dead_letters.sh   # as root; ROWS=100000 ROUNDS=5 BAD_AT=0.5
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-5}
rows=${ROWS:-100000}
bad_at=${BAD_AT:-0.5}
clean_on_error=${CLEAN_ON_ERROR:-dead_letter}
nbad=$rounds
[ "$bad_at" = none ] && nbad=0
bench_server dead_letters 54368 "shared_buffers=512MB" "max_wal_size=4GB"

"${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
CREATE TABLE clean (id bigint, amount text, qty int);
SELECT stream.create_stream('clean');
CREATE TABLE bad (id bigint, amount text, qty int);
SELECT stream.create_stream('bad');
CREATE TABLE clean_out (id bigint PRIMARY KEY, amount numeric, per numeric);
CREATE TABLE bad_out (id bigint PRIMARY KEY, amount numeric, per numeric);
SELECT stream.start_query('clean', 'SELECT id, amount::numeric AS amount, 100.0 / qty AS per FROM clean',
                          'clean_out', trigger => '1 hour', on_error => '$clean_on_error');
SELECT stream.start_query('bad', 'SELECT id, amount::numeric AS amount, 100.0 / qty AS per FROM bad',
                          'bad_out', trigger => '1 hour', on_error => 'dead_letter');
SQL

ms() {
    "${psql[@]}" -c "SELECT duration_ms FROM stream.progress WHERE query = '$1' ORDER BY batch_id DESC LIMIT 1"
}
printf '%6s %12s %12s %8s\n' round clean_ms bad_ms ratio
clean_all=() bad_all=() ratios=()
for r in $(seq 1 "$rounds"); do
    first=$(( (r - 1) * rows ))
    bad_id=0
    [ "$nbad" -gt 0 ] && bad_id=$(( first + 1 + $(awk "BEGIN { printf \"%d\", $rows * $bad_at }") ))
    "${psql[@]}" >/dev/null <<SQL
INSERT INTO clean SELECT g, (g % 1000)::text || '.5', 1 + g % 7 FROM generate_series($first + 1, $first + $rows) g;
INSERT INTO bad SELECT g, CASE WHEN g = $bad_id THEN '12,50' ELSE (g % 1000)::text || '.5' END, 1 + g % 7
  FROM generate_series($first + 1, $first + $rows) g;
VACUUM ANALYZE clean, bad;
SQL
    if [ $((r % 2)) -eq 1 ]; then order="clean bad"; else order="bad clean"; fi
    for q in $order; do
        "${psql[@]}" -c "CALL stream.process_batch('$q')" >/dev/null
    done
    c=$(ms clean); b=$(ms bad)
    ratio=$(awk "BEGIN { printf \"%.2f\", $b / $c }")
    printf '%6s %12s %12s %8s\n' "$r" "$c" "$b" "$ratio"
    clean_all+=("$c"); bad_all+=("$b"); ratios+=("$ratio")
done
echo "median clean_ms $(printf '%s\n' "${clean_all[@]}" | median)" \
     "bad_ms $(printf '%s\n' "${bad_all[@]}" | median)" \
     "ratio $(printf '%s\n' "${ratios[@]}" | median)"

check=$("${psql[@]}" -c "SELECT (SELECT count(*) FROM bad_out) = (SELECT count(*) FROM bad) - $nbad
                           AND (SELECT count(*) FROM stream.dead_letters WHERE query = 'bad') = $nbad
                           AND (SELECT count(*) FROM stream.dead_letters WHERE query = 'clean') = 0
                           AND (SELECT count(*) FROM clean_out) = (SELECT count(*) FROM clean)")
[ "$check" = t ] || { echo "the bad rows were not set aside exactly"; exit 1; }
echo "checked: $nbad rows set aside, every other row delivered"
