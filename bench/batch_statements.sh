#!/usr/bin/env bash
# The statements a one-row batch runs, counted by pg_stat_statements
# (track = all: the extension's catalog statements, the batch's own, and
# PostgreSQL's foreign-key checks and cascades, which run as statements
# too), and the backend's CPU time per batch, for an append query and an
# update-mode aggregation.  One server with pg_streaming and
# pg_stat_statements preloaded; with BASELINE=<commit>, a second one runs
# that commit (bench/common.sh's paired_servers) and the rounds alternate.
# Every batch: one new row, committed, then CALL stream.process_batch, in
# one session (as a worker keeps one) after a warm-up.
#
#   bash bench/batch_statements.sh                   # BATCHES=200 ROUNDS=5
#   BASELINE=35ced44 bash bench/batch_statements.sh  # side by side
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

batches=${BATCHES:-200}
rounds=${ROUNDS:-5}
settings=("shared_preload_libraries=pg_streaming,pg_stat_statements" "pg_stat_statements.track=all"
          "pg_stat_statements.max=10000" "shared_buffers=256MB")

paired_servers batch_statements 54376 "${settings[@]}"

for s in "${servers[@]}"; do
    on "$s" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
CREATE EXTENSION pg_stat_statements;
CREATE TABLE ev (id bigint, ts timestamptz, v float8);
SELECT stream.create_stream('ev');
INSERT INTO ev SELECT g, now(), g % 100 FROM generate_series(1, 10000) g;
SELECT stream.start_query('app', 'SELECT id, ts, v * 2 AS v2 FROM ev WHERE v >= 10', 'app_out', trigger => '1 hour');
CREATE TABLE big (k int, v float8, u int);
SELECT stream.create_stream('big');
INSERT INTO big SELECT g % 1000, g % 1000, g FROM generate_series(1, 100000) g;
SELECT stream.start_query('agg', 'SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM big GROUP BY k',
                          'agg_out', output_mode => 'update', trigger => '1 hour');
CALL stream.process_all_available('app');
CALL stream.process_all_available('agg');
VACUUM ANALYZE ev, big;
SQL
done

# SERVER QUERY TABLE ROW: BATCHES one-row batches in one session after 20
# of warm-up; prints the median CPU microseconds per batch (the INSERT
# included)
cpu_round() {
    {
        echo "SET client_min_messages = warning;"
        for i in $(seq 1 20); do
            echo "INSERT INTO $3 VALUES ($4);"
            echo "CALL stream.process_batch('$2');"
        done
        echo "CREATE TEMP TABLE t (us float8);"
        for i in $(seq 1 "$batches"); do
            echo "SELECT $backend_cpu AS c0 \\gset"
            echo "INSERT INTO $3 VALUES ($4);"
            echo "CALL stream.process_batch('$2');"
            echo "INSERT INTO t SELECT ($backend_cpu - :c0) / 1000.0;"
        done
        echo "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)::numeric, 1) FROM t;"
    } | on "$1" | tail -1
}

# SERVER QUERY TABLE ROW: the statements of BATCHES batches, per batch
count_round() {
    on "$1" <<SQL
SET client_min_messages = warning;
SELECT format('INSERT INTO $3 VALUES ($4)'), 'CALL stream.process_batch(''$2'')'
  FROM generate_series(1, 5) \gexec
SELECT pg_stat_statements_reset() IS NULL;
SELECT format('INSERT INTO $3 VALUES ($4)'), 'CALL stream.process_batch(''$2'')'
  FROM generate_series(1, $batches) \gexec
SELECT format('%s %s %s', '$1 $2', round(calls::numeric / $batches, 2),
              regexp_replace(left(query, 110), '\s+', ' ', 'g'))
  FROM pg_stat_statements
 WHERE query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE 'INSERT INTO $3 VALUES%'
   AND query NOT LIKE 'CALL stream.process_batch%' AND query NOT LIKE 'SELECT format(%'
 ORDER BY calls DESC, query;
SELECT format('%s total %s', '$1 $2', round(sum(calls)::numeric / $batches, 2))
  FROM pg_stat_statements
 WHERE query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE 'INSERT INTO $3 VALUES%'
   AND query NOT LIKE 'CALL stream.process_batch%' AND query NOT LIKE 'SELECT format(%';
SQL
}

echo "statements per one-row batch (pg_stat_statements, track = all; the INSERT and the CALL left out)"
for s in "${servers[@]}"; do
    count_round "$s" app ev "1, now(), 50" | grep -v '^t$' || true
    count_round "$s" agg big "7, 3, 1" | grep -v '^t$' || true
done

echo "round server kind cpu_us_per_batch"
for r in $(seq 1 "$rounds"); do
    for kind in app agg; do
        if [ "$kind" = app ]; then tab=ev; row="1, now(), 50"; else tab=big; row="7, 3, 1"; fi
        if [ "${#servers[@]}" -eq 2 ]; then
            side_by_side "$r" "cpu_round current $kind $tab '$row'" "cpu_round baseline $kind $tab '$row'"
            echo "$r current $kind $a" | tee -a "$results"
            echo "$r baseline $kind $b" | tee -a "$results"
        else
            a=$(cpu_round current "$kind" "$tab" "$row")
            echo "$r current $kind $a" | tee -a "$results"
        fi
    done
done
echo "server kind median_of_round_medians_cpu_us"
for s in "${servers[@]}"; do
    for kind in app agg; do
        echo "$s $kind $(awk -v s="$s" -v k="$kind" '$2 == s && $3 == k { print $4 }' "$results" | median)"
    done
done
