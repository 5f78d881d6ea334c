#!/usr/bin/env bash
# What N databases with queries cost in background-worker slots, and how
# soon each is served after a restart.  For each N in DATABASES: N
# databases, each with pg_streaming and one active query on a '1 s'
# trigger; counts the pg_streaming processes in pg_stat_activity (the
# launcher, schedulers, workers) while the queries run and after they
# have all been stopped; then restarts the server with a row pending in
# every database and reports the time from the server's start to each
# database's first batch (median and max).  Last, churn: CHURN_DBS
# databases sharing CHURN_WORKERS workers, each with a '100 ms' query fed
# by a writer, for CHURN_SECONDS: worker processes started per minute.
#
#   bash bench/databases.sh       # as root; DATABASES='1 8 32'
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

databases=${DATABASES:-1 8 32}
churn_dbs=${CHURN_DBS:-5}
churn_workers=${CHURN_WORKERS:-4}
churn_secs=${CHURN_SECONDS:-30}
idle_timeout=${IDLE_TIMEOUT:-2s}

# counts of pg_streaming's processes by kind, "launcher schedulers workers"
slot_counts() {
    "${psql[@]}" -d postgres -F ' ' -c "SELECT
        count(*) FILTER (WHERE backend_type = 'pg_streaming launcher'),
        count(*) FILTER (WHERE backend_type = 'pg_streaming scheduler'),
        count(*) FILTER (WHERE backend_type = 'pg_streaming worker')
      FROM pg_stat_activity"
}

make_database() {
    local db=$1 trigger=$2
    [ "$db" = postgres ] || "${psql[@]}" -d postgres -c "CREATE DATABASE $db"
    "${psql[@]}" -d "$db" >/dev/null <<SQL
CREATE EXTENSION pg_streaming;
CREATE TABLE ev (id bigint, at timestamptz DEFAULT clock_timestamp());
SELECT stream.create_stream('ev');
SELECT stream.start_query('q', 'SELECT id, at FROM ev', 'q_out', trigger => '$trigger');
INSERT INTO ev (id) VALUES (1);
SQL
}

for n in $databases; do
    bench_server databases 54356 "shared_preload_libraries=pg_streaming" \
        "max_worker_processes=$((n + 16))" "pg_streaming.max_workers=4" \
        "pg_streaming.worker_idle_timeout=$idle_timeout" \
        "pg_streaming.launcher_naptime=1s"
    dbs=()
    for i in $(seq 1 "$n"); do
        dbs+=("db$i")
        make_database "db$i" '1 s'
    done
    for db in "${dbs[@]}"; do
        until [ "$("${psql[@]}" -d "$db" -c 'SELECT count(*) FROM q_out')" -ge 1 ]; do sleep 0.2; done
    done
    # running: the workers come and go with the batches, sample a while
    samples=()
    for s in 1 2 3 4 5; do
        samples+=("$(slot_counts)")
        sleep 1
    done
    sched=$(printf '%s\n' "${samples[@]}" | awk '{ print $2 }' | median)
    work=$(printf '%s\n' "${samples[@]}" | awk '{ print $3 }' | median)
    workmax=$(printf '%s\n' "${samples[@]}" | awk '{ print $3 }' | sort -n | tail -1)
    echo "== $n databases, each with one active '1 s' query (max_workers 4)"
    echo "slots while running: launcher 1, schedulers $sched, workers median $work max $workmax (sampled 5 times)"

    # first batch after a restart, with a row pending in each database
    for db in "${dbs[@]}"; do
        "${psql[@]}" -d "$db" -c "INSERT INTO ev (id) VALUES (2)"
    done
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w restart >/dev/null
    for db in "${dbs[@]}"; do
        until [ "$("${psql[@]}" -d "$db" -c 'SELECT count(*) FROM q_out')" -ge 2 ]; do sleep 0.1; done
    done
    firsts=$(for db in "${dbs[@]}"; do
        "${psql[@]}" -d "$db" -c "SELECT round(extract(epoch FROM
            (SELECT max(committed_at) FROM stream.checkpoint_commits) - pg_postmaster_start_time())::numeric, 3)"
    done)
    echo "first batch after a restart, seconds from the server's start: median $(echo "$firsts" | median) max $(echo "$firsts" | sort -g | tail -1)"

    # nothing to run: schedulers give their slots back
    for db in "${dbs[@]}"; do
        "${psql[@]}" -d "$db" -c "SELECT stream.stop_query('q')" >/dev/null
    done
    sleep 4
    echo "slots with every query stopped ($idle_timeout later): $(slot_counts | awk '{ print "launcher " $1 ", schedulers " $2 ", workers " $3 }')"
    stop_server "$dir"
    rm -rf "$dir"
    trap - EXIT
done

# churn: databases sharing fewer workers, each with a busy query
bench_server churn 54357 "shared_preload_libraries=pg_streaming" \
    "max_worker_processes=24" "pg_streaming.max_workers=$churn_workers" \
    "log_min_messages=debug1"
writers=()
for i in $(seq 1 "$churn_dbs"); do
    make_database "c$i" '100 ms'
done
cat > "$dir/insert.sql" <<SQL
INSERT INTO ev (id) VALUES (1);
SQL
chmod 644 "$dir/insert.sql"
before=$(grep -c 'starting background worker process "pg_streaming worker"' "$dir/server.log" || true)
for i in $(seq 1 "$churn_dbs"); do
    "${pgbench[@]}" -c 1 -R 20 -T "$churn_secs" -f "$dir/insert.sql" "c$i" >/dev/null &
    writers+=($!)
done
lags=()
for s in $(seq 1 $((churn_secs / 5))); do
    sleep 5
    for i in $(seq 1 "$churn_dbs"); do
        lags+=("$("${psql[@]}" -d "c$i" -c "SELECT coalesce(max(lag_seconds), 0) FROM stream.queries")")
    done
done
wait "${writers[@]}"
after=$(grep -c 'starting background worker process "pg_streaming worker"' "$dir/server.log" || true)
starts=$((after - before))
sleep 3
behind=0
for i in $(seq 1 "$churn_dbs"); do
    pending=$("${psql[@]}" -d "c$i" -c "SELECT coalesce(sum(pending_rows), 0) > 0 FROM stream.queries")
    [ "$pending" = t ] && behind=$((behind + 1))
done
echo "== churn: $churn_dbs databases, max_workers $churn_workers, a '100 ms' query each fed 20 rows/s, ${churn_secs} s"
echo "worker processes started: $starts ($(awk -v s="$starts" -v t="$churn_secs" 'BEGIN { printf "%.1f", s * 60 / t }') per minute)"
if [ "${#lags[@]}" -gt 0 ]; then
    echo "lag_seconds sampled every 5 s in each database: median $(printf '%s\n' "${lags[@]}" | median) max $(printf '%s\n' "${lags[@]}" | sort -g | tail -1)"
fi
echo "databases with rows still pending 3 s after the writers stopped: $behind"
