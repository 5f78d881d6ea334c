#!/usr/bin/env bash
# What a touched group costs a streaming aggregation's batch: the merge of
# its partial state into the state table, its results, and its target row.
#
# Three update-mode queries (count, sum, avg per group, as
# bench/aggregation.sh) over three streams; each round adds NEW_ROWS (10k)
# rows to each and runs one batch of each, BATCHES times, in one session:
#   g1000  the rows over 1,000 groups (every group touched and changed)
#   g100   the same number of rows over 100 groups
#   same   max(v) over 1,000 groups whose rows never exceed the stored
#          maximum: every group touched, none changed (nothing to write)
# A batch's cost per touched group is (g1000 - g100) / 900: the rows read
# and aggregated are the same, the groups differ.  Reported per kind: the
# median batch in milliseconds (wall clock, on the server) and the median
# batch's backend CPU time (/proc/self/schedstat, in nanoseconds: steadier
# than the wall clock on a shared machine, and finer than the 10 ms ticks
# of /proc/self/stat that this script read before).
#
# With BASELINE=<commit>, that commit runs on a second server, side by side,
# the rounds alternating which goes first (as bench/refactor.sh does).
#
#   bash bench/merge.sh                       # as root; ROUNDS=5 BATCHES=10
#   BASELINE=4db51c5 bash bench/merge.sh      # this tree against the commit
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-5}
batches=${BATCHES:-10}
new_rows=${NEW_ROWS:-10000}
settings=("shared_preload_libraries=pg_streaming" "shared_buffers=512MB" "max_wal_size=4GB")

paired_servers merge 54359 "${settings[@]}"

for s in "${servers[@]}"; do
    on "$s" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
CREATE TABLE s1000 (k int, v float8);
CREATE TABLE s100 (k int, v float8);
CREATE TABLE ssame (k int, v float8);
SELECT stream.create_stream('s1000');
SELECT stream.create_stream('s100');
SELECT stream.create_stream('ssame');
SELECT stream.start_query('g1000', 'SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM s1000 GROUP BY k',
                          'g1000', output_mode => 'update', trigger => '1 hour');
SELECT stream.start_query('g100', 'SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM s100 GROUP BY k',
                          'g100', output_mode => 'update', trigger => '1 hour');
SELECT stream.start_query('same', 'SELECT k, max(v) AS m FROM ssame GROUP BY k',
                          'same', output_mode => 'update', trigger => '1 hour');
INSERT INTO s1000 SELECT g % 1000, g % 1000 FROM generate_series(1, $new_rows) g;
INSERT INTO s100 SELECT g % 100, g % 1000 FROM generate_series(1, $new_rows) g;
INSERT INTO ssame SELECT g % 1000, 1000000 FROM generate_series(1, $new_rows) g;
CALL stream.process_all_available('g1000');
CALL stream.process_all_available('g100');
CALL stream.process_all_available('same');
SQL
done

cpu="($backend_cpu)"

# KIND STREAM GROUPS VALUE: one batch of NEW_ROWS rows; prints
# "KIND ms cpu_ns"
timed() {
    cat <<SQL
INSERT INTO $2 SELECT g % $3, $4 FROM generate_series(1, $new_rows) g;
CHECKPOINT;
SELECT $cpu AS c0, clock_timestamp() AS t0 \gset
CALL stream.process_batch('$1');
SELECT '$1', round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 3), $cpu - :c0;
SQL
}

round_sql() {
    local i
    echo "INSERT INTO s1000 VALUES (0, 0); INSERT INTO s100 VALUES (0, 0); INSERT INTO ssame VALUES (0, 0);"
    echo "CALL stream.process_batch('g1000'); CALL stream.process_batch('g100'); CALL stream.process_batch('same');"
    for i in $(seq 1 "$batches"); do
        timed g1000 s1000 1000 "g % 1000"
        timed g100 s100 100 "g % 1000"
        timed same ssame 1000 "g % 1000"
    done
}

echo "round server kind batch_ms cpu_ns"
for r in $(seq 1 "$rounds"); do
    order=("${servers[@]}")
    if [ ${#servers[@]} -eq 2 ] && [ $((r % 2)) -eq 0 ]; then
        order=(baseline current)
    fi
    for s in "${order[@]}"; do
        round_sql | on "$s" -F ' ' | grep -E '^(g1000|g100|same) ' |
            sed "s/^/$r $s /" >>"$results"
        awk -v r="$r" -v s="$s" '$1 == r && $2 == s { n[$3]++; t[$3] += $5 }
            END { for (k in n) printf "%s %s %s cpu_ms_per_batch %.2f\n", r, s, k, t[k] / 1e6 / n[k] }' "$results"
    done
done

for s in "${servers[@]}"; do
    echo "check ($s): g1000 equals the query over all rows: $(on "$s" -c "SELECT count(*) = 0 FROM ((SELECT k, n, s FROM g1000 EXCEPT SELECT k, count(*), sum(v) FROM s1000 GROUP BY k) UNION ALL (SELECT k, count(*), sum(v) FROM s1000 GROUP BY k EXCEPT SELECT k, n, s FROM g1000)) d")"
    echo "check ($s): same equals the query over all rows: $(on "$s" -c "SELECT count(*) = 0 FROM ((TABLE same EXCEPT SELECT k, max(v) FROM ssame GROUP BY k) UNION ALL (SELECT k, max(v) FROM ssame GROUP BY k EXCEPT TABLE same)) d")"
done

echo "server kind batches median_batch_ms median_cpu_ms"
declare -A med cpums
for s in "${servers[@]}"; do
    for kind in g1000 g100 same; do
        sel="\$2 == \"$s\" && \$3 == \"$kind\""
        n=$(awk "$sel" "$results" | wc -l)
        med[$s.$kind]=$(awk "$sel { print \$4 }" "$results" | median)
        cpums[$s.$kind]=$(awk "$sel { printf \"%.4f\\n\", \$5 / 1e6 }" "$results" | median)
        echo "$s $kind $n ${med[$s.$kind]} ${cpums[$s.$kind]}"
    done
    echo "$s us per touched group (wall, (g1000 - g100) / 900): $(echo "scale=2; (${med[$s.g1000]} - ${med[$s.g100]}) * 1000 / 900" | bc)"
    echo "$s us per touched group (cpu, (g1000 - g100) / 900): $(echo "scale=2; (${cpums[$s.g1000]} - ${cpums[$s.g100]}) * 1000 / 900" | bc)"
    echo "$s us per unchanged group (cpu, (same - g100) / 900): $(echo "scale=2; (${cpums[$s.same]} - ${cpums[$s.g100]}) * 1000 / 900" | bc)"
done
