#!/usr/bin/env bash
# A short pass of every benchmark script with tiny sizes, so that none of
# them rots: each must run to its end.  Timings are printed, not judged.
#
#   bash bench/smoke.sh   # as root
set -euo pipefail
cd "$(dirname "$0")/.."

failed=0
log=$(mktemp "${TMPDIR:-/tmp}/pg_streaming_bench_smoke.XXXXXX")
trap 'rm -f "$log"' EXIT
run() {
    local name=$1
    shift
    echo "=== bench smoke: $name"
    if env "$@" bash "bench/$name" >"$log" 2>&1; then
        tail -2 "$log"
    else
        echo "--- bench/$name failed:"
        tail -30 "$log"
        failed=$((failed + 1))
    fi
}
run ingest.sh ROWS=20000 ROUNDS=1 PGBENCH_ROUNDS=1 SECONDS_PER_RUN=1 INDEXES=1 PRELOAD=1 CPU_ROUNDS=1 CPU_INSERTS=200 CPU_SELECTS=2 CPU_SELECT_ROWS=1000
run batch.sh HISTORY=20000 NEW_ROWS=2000 ROUNDS=1
run latency.sh RATE=20 SECONDS_PER_RUN=1 TRIGGERS=continuous
run many_queries.sh QUERIES=4 STREAMS=2 SECONDS_PER_RUN=2 IDLE_SECONDS=1
run retention.sh DURATION=4 SAMPLE=2 RATE=200 KEEP='1 second' ROUNDS=1 SECONDS_PER_RUN=1
run floors.sh HISTORY=20000 NEW_ROWS=500 ROUNDS=1
run restart_floors.sh HISTORY=20000 NEW_ROWS=500 ROUNDS=1
run aggregation.sh HISTORY=20000 SMALL_HISTORY=2000 NEW_ROWS=1000 ROUNDS=1 STATE_GROUPS=200
run windows.sh ROUNDS=6 ROWS_PER_MINUTE=500 KEYS=5
# the profile only where perf can record (it needs linux-perf and the right to sample)
perf_ok=0
perf record -e cpu-clock -o /dev/null true >/dev/null 2>&1 && perf_ok=1
run costs.sh ROUNDS=1 COPY_ROWS=5000 SECONDS_PER_RUN=1 HISTORY=5000 NEW_ROWS=500 NGROUPS=50 FEW_GROUPS=5 \
    ROWS_PER_MINUTE=200 KEYS=5 MINUTES=1 ONE_ROW=3 ONE_ROW_HISTORY=1000 \
    PROFILE=$perf_ok PROFILE_BATCHES=2 PROFILE_ONE_ROW=3 PROFILE_LINES=3
run join_state.sh HISTORIES='2000 4000' NEW_ROWS=200 ROWS_PER_MINUTE=5 ADS=200 ROUNDS=2 NOIDX_ROUNDS=1 PGBENCH_SECONDS=1 PGBENCH_ROUNDS=1
run joins.sh PGS_BENCH_SMOKE=1
run chain.sh HISTORY=5000 NEW_ROWS=500 ROUNDS=1
run join_chain.sh PGS_BENCH_SMOKE=1
run agg_over_agg.sh HISTORY=5000 NEW_ROWS=500 ROUNDS=1
run merge.sh NEW_ROWS=1000 ROUNDS=1 BATCHES=2
run refactor.sh HISTORY=2000 AGG_HISTORY=5000 NEW_ROWS=500 NGROUPS=50 ROUNDS=1 ONE_ROW=2 AGG_BATCHES=1
run first_batch.sh HISTORY=5000 NEW_ROWS=500 NGROUPS=50 ROUNDS=2
run batch_statements.sh BATCHES=3 ROUNDS=1
run notify.sh ROUNDS=1 BATCHES=20
run view_cost.sh SMALL=1000 LARGE=20000 READS=3
run dead_letters.sh ROWS=2000 ROUNDS=1
run databases.sh DATABASES=2 CHURN_DBS=2 CHURN_WORKERS=1 CHURN_SECONDS=2
run files.sh ROUNDS=1 FILES=2 ROWS_PER_FILE=2000
run compare.sh PIPELINE_SECONDS=3 SUSTAIN_SECONDS=4 HISTORIES='10000 20000' NEW_ROWS=500 AGG_ROUNDS=1 AGG_HISTORY=10000 INGEST_ROUNDS=1 INGEST_ROWS=5000 INGEST_SECONDS=1 \
    PEERS_ROUNDS=2 PEERS_HISTORY=5000 PEERS_NEW_ROWS=500 PEERS_CONC_SECONDS=1 \
    CEILING_STEP_SECONDS=1 CEILING_PLAIN_SECONDS=1 CEILING_TX_ROWS=500 CEILING_STEPS='0.05 0.1' \
    RESULTS_DIR="${TMPDIR:-/tmp}"
[ "$failed" -eq 0 ]
