#!/usr/bin/env bash
# What a batch costs regardless of its rows, and a mid-sized aggregation
# batch, each against the same work written by hand: the figures to compare
# between two builds (before and after a restructuring of the sources).
#
# One server with the library preloaded.  Two streams: ev (HISTORY rows,
# read by an append query into a table) and big (AGG_HISTORY rows over
# NGROUPS groups, read by an update-mode aggregation: count, sum, avg per
# group).  Every round is one session, as a worker keeps one: a one-row
# batch of each query first prepares its statements, then
#   1. ONE_ROW times: one new row into ev, CALL stream.process_batch, then
#      the hand-written INSERT ... SELECT of the same rows (the batch's
#      offsets, read from stream.checkpoint_offsets, as literals);
#   2. ONE_ROW times: one new row into big, one batch of the aggregation,
#      then the hand-written INSERT ... ON CONFLICT DO UPDATE that merges
#      the same rows into a plain table of the same groups;
#   3. AGG_BATCHES times: NEW_ROWS rows into big, CHECKPOINT, one batch of
#      the aggregation, then the hand-written upsert of the same rows.
# Times are taken on the server, by the clock and as the backend's CPU time
# (/proc/self/schedstat, steadier when other work shares the machine).
# Prints every batch, then per kind the median of the batches, the median
# of the hand-written statements and the median of the per-pair ratios, by
# the clock and by CPU time: the ratio is the figure that survives the
# noise of a shared machine between two runs.
#
# With BASELINE=<commit>, that commit is built too and installed into a
# private copy of the same PostgreSQL, a second server runs it, and the
# rounds alternate between the two servers (which goes first alternates
# too): the summary then also gives, per kind, the ratio of this tree's
# median batch to the baseline's, and the ratio of their ratios to the
# hand-written statements, which holds steady when other work shares the
# machine (the first does not).
#
#   bash bench/refactor.sh                    # as root; ROUNDS=7 ONE_ROW=30 AGG_BATCHES=5 (about 30 s)
#   BASELINE=ee6ccaa bash bench/refactor.sh   # this tree against the commit, side by side
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-7}
one_row=${ONE_ROW:-30}
agg_batches=${AGG_BATCHES:-5}
history=${HISTORY:-100000}
agg_history=${AGG_HISTORY:-1000000}
new_rows=${NEW_ROWS:-10000}
groups=${NGROUPS:-1000}
baseline=${BASELINE:-}
settings=("shared_preload_libraries=pg_streaming" "shared_buffers=512MB" "max_wal_size=4GB")

paired_servers refactor 54358 "${settings[@]}"

for s in "${servers[@]}"; do
    on "$s" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
CREATE TABLE ev (id bigint, ts timestamptz, v float8);
SELECT stream.create_stream('ev');
INSERT INTO ev SELECT g, now(), g % 100 FROM generate_series(1, $history) g;
SELECT stream.start_query('app', 'SELECT id, ts, v * 2 AS v2 FROM ev WHERE v >= 10', 'app_out', trigger => '1 hour');
CREATE TABLE big (k int, v float8, u int);
SELECT stream.create_stream('big');
INSERT INTO big SELECT g % $groups, g % 1000, g FROM generate_series(1, $agg_history) g;
SELECT stream.start_query('agg', 'SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM big GROUP BY k',
                          'agg_out', output_mode => 'update', trigger => '1 hour');
CALL stream.process_all_available('app');
CALL stream.process_all_available('agg');
CREATE TABLE manual_out (id bigint, ts timestamptz, v2 float8);
CREATE TABLE manual_agg (k int PRIMARY KEY, n bigint, s float8, a float8);
INSERT INTO manual_agg SELECT k, count(*), sum(v), avg(v) FROM big GROUP BY k;
INSERT INTO manual_out SELECT id, ts, v * 2 FROM ev WHERE v >= 10;
VACUUM ANALYZE ev, big, manual_agg;
SQL
done

# the latest batch's offsets of query \$1 as psql variables b, lo, hi,
# snap, b_xids: the batch's predicate, written out by hand
offsets() {
    cat <<SQL
SELECT o.scan_from_block AS b, pg_snapshot_xmax(o.start_snapshot) AS lo,
       pg_snapshot_xmax(o.end_snapshot) AS hi, o.end_snapshot AS snap,
       coalesce((SELECT array_agg(x) FROM pg_snapshot_xip(o.start_snapshot) x
                  WHERE NOT pg_visible_in_snapshot(x, o.start_snapshot)
                    AND pg_visible_in_snapshot(x, o.end_snapshot)), '{}') AS b_xids
  FROM stream.checkpoint_offsets o JOIN stream.query_defs d USING (query_id)
 WHERE d.name = '$1' ORDER BY o.batch_id DESC LIMIT 1 \gset
SQL
}
predicate="ctid >= format('(%s,0)', :'b')::tid
   AND ((_stream_xid >= :'lo' AND _stream_xid < :'hi'
         AND pg_visible_in_snapshot(_stream_xid, :'snap'))
        OR _stream_xid = ANY (:'b_xids'::xid8[]))"
manual_append="INSERT INTO manual_out SELECT id, ts, v * 2 FROM ONLY ev WHERE $predicate AND v >= 10;"
manual_agg="INSERT INTO manual_agg AS m SELECT k, count(*), sum(v), avg(v) FROM ONLY big WHERE $predicate GROUP BY k
 ON CONFLICT (k) DO UPDATE SET n = m.n + excluded.n, s = m.s + excluded.s, a = (m.s + excluded.s) / (m.n + excluded.n);"

# the backend's CPU time so far, in nanoseconds (Linux: /proc/self/schedstat),
# steadier than the clock on a shared machine
cpu="split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint"

# KIND QUERY MANUAL: times one batch of QUERY, then MANUAL, the
# hand-written statement that does the same; prints "KIND batch_ms
# manual_ms batch_cpu_ms manual_cpu_ms"
timed_pair() {
    cat <<SQL
SELECT clock_timestamp() AS t0, $cpu AS c0 \gset
CALL stream.process_batch('$2');
SELECT clock_timestamp() AS t1, $cpu AS c1 \gset
$(offsets "$2")
SELECT clock_timestamp() AS t2, $cpu AS c2 \gset
$3
SELECT clock_timestamp() AS t3, $cpu AS c3 \gset
SELECT '$1', round(extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz) * 1000, 3),
       round(extract(epoch FROM :'t3'::timestamptz - :'t2'::timestamptz) * 1000, 3),
       round((:c1 - :c0) / 1e6, 3), round((:c3 - :c2) / 1e6, 3);
SQL
}

# one round's statements, in one session
round_sql() {
    local i
    echo "INSERT INTO ev VALUES (0, now(), 50); INSERT INTO big VALUES (0, 0, 0);"
    echo "CALL stream.process_batch('app'); CALL stream.process_batch('agg');"
    offsets agg
    echo "$manual_agg"
    offsets app
    echo "$manual_append"
    for i in $(seq 1 "$one_row"); do
        echo "INSERT INTO ev VALUES ($i, now(), 50);"
        timed_pair append app "$manual_append"
    done
    for i in $(seq 1 "$one_row"); do
        echo "INSERT INTO big VALUES ($i % $groups, $i % 1000, $i);"
        timed_pair one_row_agg agg "$manual_agg"
    done
    for i in $(seq 1 "$agg_batches"); do
        echo "INSERT INTO big SELECT g % $groups, g % 1000, g FROM generate_series(1, $new_rows) g;"
        echo "CHECKPOINT;"
        timed_pair "agg_${new_rows}" agg "$manual_agg"
    done
}

echo "round server kind batch_ms hand_written_ms batch_cpu_ms hand_written_cpu_ms"
for r in $(seq 1 "$rounds"); do
    order=("${servers[@]}")
    if [ ${#servers[@]} -eq 2 ] && [ $((r % 2)) -eq 0 ]; then
        order=(baseline current)
    fi
    for s in "${order[@]}"; do
        round_sql | on "$s" -F ' ' | grep -E '^(append|one_row_agg|agg_[0-9]+) ' |
            sed "s/^/$r $s /" | tee -a "$results"
    done
done

# every row delivered once, every group equal to the hand-written one
for s in "${servers[@]}"; do
    echo "check ($s): append target equals the hand-written table: $(on "$s" -c "SELECT count(*) = 0 FROM ((SELECT id, v2 FROM app_out EXCEPT ALL SELECT id, v2 FROM manual_out) UNION ALL (SELECT id, v2 FROM manual_out EXCEPT ALL SELECT id, v2 FROM app_out)) d")"
    echo "check ($s): aggregation target equals the hand-written table: $(on "$s" -c "SELECT count(*) = 0 FROM ((SELECT k, n, s FROM agg_out EXCEPT SELECT k, n, s FROM manual_agg) UNION ALL (SELECT k, n, s FROM manual_agg EXCEPT SELECT k, n, s FROM agg_out)) d")"
done

echo "server kind batches median_batch_ms median_hand_written_ms median_ratio median_batch_cpu_ms median_hand_written_cpu_ms median_cpu_ratio"
declare -A med rat cmed crat
for s in "${servers[@]}"; do
    for kind in append one_row_agg "agg_${new_rows}"; do
        sel="\$2 == \"$s\" && \$3 == \"$kind\""
        n=$(awk "$sel" "$results" | wc -l)
        mb=$(awk "$sel { print \$4 }" "$results" | median)
        mm=$(awk "$sel { print \$5 }" "$results" | median)
        mr=$(awk "$sel && \$5 > 0 { printf \"%.3f\\n\", \$4 / \$5 }" "$results" | median)
        cb=$(awk "$sel { print \$6 }" "$results" | median)
        cm=$(awk "$sel { print \$7 }" "$results" | median)
        cr=$(awk "$sel && \$7 > 0 { printf \"%.3f\\n\", \$6 / \$7 }" "$results" | median)
        med[$s.$kind]=$mb
        rat[$s.$kind]=$mr
        cmed[$s.$kind]=$cb
        crat[$s.$kind]=$cr
        echo "$s $kind $n $mb $mm $mr $cb $cm $cr"
    done
done
if [ -n "$baseline" ]; then
    # the second figure is the one to judge by on a busy machine: each
    # server's batches against its own hand-written statements
    echo "kind current/baseline_median_batch current/baseline_ratio_to_hand_written current/baseline_median_batch_cpu current/baseline_cpu_ratio_to_hand_written"
    for kind in append one_row_agg "agg_${new_rows}"; do
        echo "$kind $(awk -v a="${med[current.$kind]}" -v b="${med[baseline.$kind]}" \
                         -v c="${rat[current.$kind]}" -v d="${rat[baseline.$kind]}" \
                         -v e="${cmed[current.$kind]}" -v f="${cmed[baseline.$kind]}" \
                         -v g="${crat[current.$kind]}" -v h="${crat[baseline.$kind]}" \
                         'BEGIN { printf "%.3f %.3f %.3f %.3f\n", a / b, c / d, e / f, g / h }')"
    done
fi
