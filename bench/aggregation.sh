#!/usr/bin/env bash
# Streaming aggregations: what a batch costs, and what its state weighs.
#
# 1. History: two streams side by side, one holding HISTORY processed rows
#    (2M), the other SMALL_HISTORY (10k), both over the same NGROUPS (1000) groups,
#    each aggregated by the same update-mode query (count, sum, avg per
#    group).  Each round adds NEW_ROWS (10k) rows to both and times one
#    batch of each on the server: the ratio is what the history costs a
#    batch (target at most 1.5, aim 1.2).
# 2. Against REFRESH MATERIALIZED VIEW of the same aggregate over the big
#    stream, timed in the same round: the ratio refresh/batch (target at
#    least 50, aim 100); and against REFRESH ... CONCURRENTLY, which is what
#    keeps a view readable during its refresh, as a complete-mode target is.
#    Each round runs in one session, as a worker does, after a one-row batch
#    that prepares the queries' statements.
# 3. State size: bytes per group of the state table (heap, index and TOAST)
#    for avg, hll_add_agg and tdigest, over STATE_GROUPS groups.
#
#   bash bench/aggregation.sh   # as root; ROUNDS=7
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-7}
history=${HISTORY:-2000000}
small=${SMALL_HISTORY:-10000}
new_rows=${NEW_ROWS:-10000}
groups=${NGROUPS:-1000}
state_groups=${STATE_GROUPS:-10000}
bench_server aggregation 54356 "shared_buffers=512MB" "max_wal_size=4GB"

"${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
CREATE EXTENSION hll;
CREATE EXTENSION tdigest;
CREATE TABLE big (k int, v float8, u int);
CREATE TABLE small (k int, v float8, u int);
SELECT stream.create_stream('big');
SELECT stream.create_stream('small');
INSERT INTO big SELECT g % $groups, g % 1000, g FROM generate_series(1, $history) g;
INSERT INTO small SELECT g % $groups, g % 1000, g FROM generate_series(1, $small) g;
SELECT stream.start_query('agg_big', 'SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM big GROUP BY k',
                          'agg_big', output_mode => 'update');
SELECT stream.start_query('agg_small', 'SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM small GROUP BY k',
                          'agg_small', output_mode => 'update');
CALL stream.process_all_available('agg_big');
CALL stream.process_all_available('agg_small');
CREATE MATERIALIZED VIEW mv AS SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM big GROUP BY k;
CREATE MATERIALIZED VIEW mvc AS SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM big GROUP BY k;
CREATE UNIQUE INDEX ON mvc (k);
VACUUM ANALYZE big, small;
SQL

# one round, in one session as a worker keeps one: a one-row batch of each
# query first prepares its statements, then the timed work
round() {
    "${psql[@]}" -F ' ' <<SQL | tail -1
INSERT INTO big VALUES (0, 0, 0);
INSERT INTO small VALUES (0, 0, 0);
CALL stream.process_batch('agg_big');
CALL stream.process_batch('agg_small');
INSERT INTO big SELECT g % $groups, g % 1000, g FROM generate_series(1, $new_rows) g;
INSERT INTO small SELECT g % $groups, g % 1000, g FROM generate_series(1, $new_rows) g;
CHECKPOINT;
SELECT clock_timestamp() AS t0 \gset
CALL stream.process_batch('agg_big');
SELECT clock_timestamp() AS t1 \gset
CALL stream.process_batch('agg_small');
SELECT clock_timestamp() AS t2 \gset
REFRESH MATERIALIZED VIEW mv;
SELECT clock_timestamp() AS t3 \gset
REFRESH MATERIALIZED VIEW CONCURRENTLY mvc;
SELECT clock_timestamp() AS t4 \gset
SELECT round(extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz) * 1000, 2),
       round(extract(epoch FROM :'t2'::timestamptz - :'t1'::timestamptz) * 1000, 2),
       round(extract(epoch FROM :'t3'::timestamptz - :'t2'::timestamptz) * 1000, 2),
       round(extract(epoch FROM :'t4'::timestamptz - :'t3'::timestamptz) * 1000, 2);
SQL
}

echo "== one batch of ${new_rows} new rows, ${groups} groups: ${history}-row history against ${small} (ms)"
echo "round big small ratio refresh refresh/batch refresh_concurrently concurrently/batch"
hist=()
refr=()
conc=()
for r in $(seq 1 "$rounds"); do
    read -r b s m c <<<"$(round)"
    ratio=$(echo "scale=3; $b / $s" | bc)
    rr=$(echo "scale=1; $m / $b" | bc)
    rc=$(echo "scale=1; $c / $b" | bc)
    hist+=("$ratio")
    refr+=("$rr")
    conc+=("$rc")
    echo "$r $b $s $ratio $m $rr $c $rc"
done
echo "check: target equals the view: $("${psql[@]}" -c "SELECT count(*) = 0 FROM ((TABLE agg_big EXCEPT ALL TABLE mv) UNION ALL (TABLE mv EXCEPT ALL TABLE agg_big)) d")"
echo "median ratio ${history}-row/${small}-row history batch: $(printf '%s\n' "${hist[@]}" | median)"
echo "median ratio REFRESH MATERIALIZED VIEW/batch: $(printf '%s\n' "${refr[@]}" | median)"
echo "median ratio REFRESH MATERIALIZED VIEW CONCURRENTLY/batch: $(printf '%s\n' "${conc[@]}" | median)"

echo "== state size, ${state_groups} groups (bytes per group: heap + index + TOAST)"
"${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE TABLE sz (k int, v float8, u int);
SELECT stream.create_stream('sz');
INSERT INTO sz SELECT g % $state_groups, random() * 1000, g % 100000 FROM generate_series(1, $state_groups * 20) g;
SELECT stream.start_query('sz_avg', 'SELECT k, avg(v) AS a FROM sz GROUP BY k', 'sz_avg', output_mode => 'update');
SELECT stream.start_query('sz_hll', 'SELECT k, hll_add_agg(hll_hash_integer(u)) AS h FROM sz GROUP BY k', 'sz_hll', output_mode => 'update');
SELECT stream.start_query('sz_tdigest', 'SELECT k, tdigest(v, 100) AS t FROM sz GROUP BY k', 'sz_tdigest', output_mode => 'update');
CALL stream.process_all_available('sz_avg');
CALL stream.process_all_available('sz_hll');
CALL stream.process_all_available('sz_tdigest');
VACUUM stream_state.sz_avg, stream_state.sz_hll, stream_state.sz_tdigest;
SQL
echo "aggregate bytes_per_group state_value_bytes"
for q in avg hll tdigest; do
    "${psql[@]}" -F ' ' -c "SELECT '$q', round(pg_total_relation_size('stream_state.sz_$q') / count(*)::numeric, 1),
                                   round(avg(pg_column_size(agg_1)), 1) FROM stream_state.sz_$q"
done
