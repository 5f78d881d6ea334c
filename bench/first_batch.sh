#!/usr/bin/env bash
# The first batch of a session against a warm one: an update-mode
# aggregation (count, sum, avg per group) over a stream of HISTORY (200k)
# processed rows and NGROUPS (1000) groups, one batch of NEW_ROWS (10k) new
# rows, as the first statement of a new session (a cron-style CALL) and in
# a session that ran a batch of the query before.  Measured as the CPU time
# the backend used for the CALL (/proc/self/schedstat, read in the session
# before and after), which other work on a shared machine moves far less
# than the clock, with the minor page faults the backend took meanwhile
# (/proc/self/stat): a new backend's first touches of memory fault, of its
# own and of shared buffers.  ROUNDS (12) rounds, each one of each kind,
# alternating which goes first.
#
# With BASELINE=<commit>, that commit's build runs a second server with the
# same data, and each round measures both servers, alternating which goes
# first: the ratio first/warm of each build, side by side.
#
#   bash bench/first_batch.sh                    # as root; ROUNDS=12
#   BASELINE=35ced44 bash bench/first_batch.sh   # this tree against the commit
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-12}
history=${HISTORY:-200000}
new_rows=${NEW_ROWS:-10000}
groups=${NGROUPS:-1000}
settings=("shared_preload_libraries=pg_streaming" "shared_buffers=256MB" "max_wal_size=4GB")

paired_servers first_batch 54374 "${settings[@]}"

for s in "${servers[@]}"; do
    on "$s" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
CREATE TABLE big (k int, v float8, u int);
SELECT stream.create_stream('big');
INSERT INTO big SELECT g % $groups, g % 1000, g FROM generate_series(1, $history) g;
SELECT stream.start_query('agg', 'SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM big GROUP BY k',
                          'agg_out', output_mode => 'update', trigger => '1 hour');
CALL stream.process_all_available('agg');
VACUUM ANALYZE big;
SQL
done
# the scheduler runs each query's first batch on sight: let it pass
sleep 2

new_big="INSERT INTO big SELECT g % $groups, g % 1000, g FROM generate_series(1, $new_rows) g"

minflt="split_part(pg_read_file('/proc/self/stat'), ' ', 10)::bigint"

# first SERVER: the CPU milliseconds of the batch, first in a new session,
# and its minor faults
first_ms() {
    on "$1" -c "$new_big" -c "CHECKPOINT" >/dev/null
    on "$1" <<SQL
SELECT $backend_cpu AS c0, $minflt AS f0 \gset
CALL stream.process_batch('agg');
SELECT round(($backend_cpu - :c0) / 1e6, 3) || ' ' || ($minflt - :f0);
SQL
}
# warm SERVER: the same after a batch of the query in the same session
warm_ms() {
    on "$1" <<SQL
INSERT INTO big VALUES (0, 0, 0);
CALL stream.process_batch('agg');
$new_big;
CHECKPOINT;
SELECT $backend_cpu AS c0, $minflt AS f0 \gset
CALL stream.process_batch('agg');
SELECT round(($backend_cpu - :c0) / 1e6, 3) || ' ' || ($minflt - :f0);
SQL
}

for r in $(seq 1 "$rounds"); do
    order=("${servers[@]}")
    [ $((r % 2)) -eq 0 ] && order=($(printf '%s\n' "${servers[@]}" | tac))
    line="round $r:"
    for s in "${order[@]}"; do
        if [ $((r % 2)) -eq 1 ]; then
            f=$(first_ms "$s")
            w=$(warm_ms "$s")
        else
            w=$(warm_ms "$s")
            f=$(first_ms "$s")
        fi
        # SERVER CPU-first CPU-warm faults-first faults-warm
        echo "$s ${f% *} ${w% *} ${f#* } ${w#* }" >>"$results"
        line="$line  $s first ${f% *} ms ${f#* } faults, warm ${w% *} ms ${w#* } faults"
    done
    echo "$line"
done

echo
echo "| build | first in a session, median CPU | warm session, median CPU | first / warm (medians) | median of the rounds' first / warm | minor faults, first / warm (medians) |"
echo "| --- | --- | --- | --- | --- | --- |"
for s in "${servers[@]}"; do
    f=$(awk -v s="$s" '$1 == s { print $2 }' "$results" | median)
    w=$(awk -v s="$s" '$1 == s { print $3 }' "$results" | median)
    q=$(awk -v s="$s" '$1 == s { print $2 / $3 }' "$results" | median)
    ff=$(awk -v s="$s" '$1 == s { print $4 }' "$results" | median)
    fw=$(awk -v s="$s" '$1 == s { print $5 }' "$results" | median)
    name=$s
    [ "$s" = baseline ] && name="baseline $BASELINE"
    printf '| %s | %.2f ms | %.2f ms | %.3fx | %.3fx | %s / %s |\n' "$name" "$f" "$w" \
        "$(awk -v a="$f" -v b="$w" 'BEGIN { print a / b }')" "$q" "$ff" "$fw"
done
