#!/usr/bin/env bash
# File ingest through a file source against COPY FROM of the same files by
# hand, side by side (alternating which goes first), ROUNDS times:
#  1. FILES CSV files of ROWS_PER_FILE rows each (with a header), loaded
#     into a fresh stream table by hand (COPY FROM each file, one
#     transaction) and by stream.load_file_source (one batch, the same
#     transaction shape, plus the files' records); rows/s of each, and the
#     ratio source/COPY of rows/s, whose median should be at least 0.9;
#  2. the same files with one bad line in each (a value numeric refuses),
#     loaded by a source that sets bad lines aside (on_error =>
#     'dead_letter'), against the clean files by the same kind of source:
#     the time ratio, whose median should be at most 2.
#
#   bash bench/files.sh   # as root; ROUNDS=5 FILES=10 ROWS_PER_FILE=100000
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-5}
files=${FILES:-10}
per_file=${ROWS_PER_FILE:-100000}
rows=$((files * per_file))
bench_server files 54380 "shared_buffers=512MB" "max_wal_size=4GB"

mkdir -p "$dir/clean" "$dir/bad"
chown postgres "$dir/clean" "$dir/bad"
"${psql[@]}" <<SQL
CREATE EXTENSION pg_streaming;
SQL
for f in $(seq 1 "$files"); do
    "${psql[@]}" <<SQL
COPY (SELECT g AS id, timestamptz '2026-01-01' + g * interval '1 second' AS ts,
             'region ' || g % 17 AS region, round((g % 1000) / 7.0, 2) AS amount
        FROM generate_series(($f - 1) * $per_file + 1, $f * $per_file) g)
  TO '$dir/clean/f$f.csv' WITH (FORMAT csv, HEADER);
SQL
    # the same file, with one line in the middle whose amount is refused
    awk -v bad=$((per_file / 2)) 'NR == bad + 1 { sub(/,[^,]*$/, ",12;50") } { print }' \
        "$dir/clean/f$f.csv" > "$dir/bad/f$f.csv"
done
chown postgres "$dir"/clean/* "$dir"/bad/*

# a fresh stream table t
fresh() {
    "${psql[@]}" >/dev/null 2>&1 <<SQL
SELECT stream.drop_file_source(name, true) FROM stream.file_sources;
DROP TABLE IF EXISTS t;
CREATE TABLE t (id bigint, ts timestamptz, region text, amount numeric);
SELECT stream.create_stream('t');
DELETE FROM stream.dead_letter_log;
CHECKPOINT;
SQL
}

# milliseconds the server spent on COPY FROM of every clean file, one transaction
copy_ms() {
    fresh
    {
        echo "SELECT clock_timestamp() AS start \gset"
        echo "BEGIN;"
        for f in $(seq 1 "$files"); do
            echo "COPY t (id, ts, region, amount) FROM '$dir/clean/f$f.csv' WITH (FORMAT csv, HEADER);"
        done
        echo "COMMIT;"
        echo "SELECT round(extract(epoch FROM clock_timestamp() - :'start') * 1000, 1);"
    } | "${psql[@]}" | tail -1
}

# milliseconds of one load_file_source batch over directory $1, on_error $2
source_ms() {
    fresh
    "${psql[@]}" >/dev/null <<SQL
SELECT stream.create_file_source('bench', '$dir/$1', 't', header => true, settle => '0',
                                 on_error => '$2', trigger => 'manual');
SQL
    "${psql[@]}" <<SQL | tail -1
SELECT clock_timestamp() AS start \gset
SELECT stream.load_file_source('bench') AS loaded \gset
SELECT round(extract(epoch FROM clock_timestamp() - :'start') * 1000, 1);
SQL
}

echo "== $files files of $per_file rows: COPY FROM by hand against a file source (server ms)"
echo "round copy_ms source_ms copy_rows_s source_rows_s ratio"
ratios=()
for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then
        c=$(copy_ms); s=$(source_ms clean fail)
    else
        s=$(source_ms clean fail); c=$(copy_ms)
    fi
    loaded=$("${psql[@]}" -c "SELECT count(*) FROM t")
    [ "$loaded" = "$rows" ] || { echo "the source loaded $loaded rows, not $rows"; exit 1; }
    ratio=$(echo "scale=3; $c / $s" | bc)
    ratios+=("$ratio")
    echo "$r $c $s $(echo "$rows * 1000 / $c" | bc) $(echo "$rows * 1000 / $s" | bc) $ratio"
done
echo "median rows/s ratio source/COPY: $(printf '%s\n' "${ratios[@]}" | median) (target >= 0.9)"

# source_ms over the files with bad lines, checking what it loaded and set aside
bad_ms() {
    local ms check
    ms=$(source_ms bad dead_letter)
    check=$("${psql[@]}" -c "SELECT count(*) || ' ' || (SELECT count(*) FROM stream.dead_letters) FROM t")
    [ "$check" = "$((rows - files)) $files" ] || { echo "the bad files loaded: $check" >&2; exit 1; }
    echo "$ms"
}

echo "== one bad line per file, set aside, against the clean files (server ms)"
echo "round clean_ms bad_ms ratio"
ratios=()
for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then
        c=$(source_ms clean dead_letter); b=$(bad_ms)
    else
        b=$(bad_ms); c=$(source_ms clean dead_letter)
    fi
    ratio=$(echo "scale=3; $b / $c" | bc)
    ratios+=("$ratio")
    echo "$r $c $b $ratio"
done
echo "median time ratio bad/clean: $(printf '%s\n' "${ratios[@]}" | median) (target <= 2)"
