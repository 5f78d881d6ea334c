# Shared by the benchmark scripts: build and install, then a private server
# for the run, removed at exit.  Sets $dir, and the arrays psql and pgbench
# that run the clients as postgres against it.
. scripts/common.sh
need_packages
build_and_install

# bench_server NAME PORT [settings...]; sets $port to the port it listens on
bench_server() {
    local name=$1
    port=$(($2 + ${PGS_PORT_OFFSET:-0}))
    shift 2
    dir=$(mktemp -d "${TMPDIR:-/tmp}/pg_streaming_$name.XXXXXX")
    chmod 755 "$dir"
    trap 'stop_server "$dir"; rm -rf "$dir"' EXIT
    start_server "$dir" "$port" "$@"
    psql=(runuser -u postgres -- "$PG_BIN/psql" -h "$dir" -p "$port" -U postgres -X -q -A -t -v ON_ERROR_STOP=1)
    pgbench=(runuser -u postgres -- "$PG_BIN/pgbench" -h "$dir" -p "$port" -U postgres -n)
}

# the median of the numbers on standard input, one a line
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# batch_cost NEW_ROWS: insert NEW_ROWS rows into stream h and run one batch
# of query q; prints the batch's server milliseconds and the stream blocks
# it read (shared buffers read or found)
batch_cost() {
    "${psql[@]}" -F ' ' <<SQL | tail -1
INSERT INTO h SELECT nextval('ids'), now(), repeat('p', 60) FROM generate_series(1, $1);
SELECT pg_stat_force_next_flush();
SELECT heap_blks_read + heap_blks_hit AS b0 FROM pg_statio_user_tables WHERE relname = 'h' \gset
SELECT clock_timestamp() AS t0 \gset
CALL stream.process_batch('q');
SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000, 1) AS ms \gset
SELECT pg_stat_force_next_flush();
SELECT pg_sleep(0.1);
SELECT :ms, (SELECT heap_blks_read + heap_blks_hit FROM pg_statio_user_tables WHERE relname = 'h') - :b0;
SQL
}

# ivm_server_settings: pg_ivm, a peer the aggregation benchmarks compare
# with, installed when missing (install_pg_ivm builds it from
# ../shared/vendor), and the array ivm_settings set to the server settings
# a run with it needs, pg_streaming preloaded beside it as production runs
# it:  ivm_server_settings; bench_server NAME PORT "${ivm_settings[@]}" ...
# then CREATE EXTENSION pg_ivm in the database.
ivm_server_settings() {
    if ! install_pg_ivm; then
        echo "pg_ivm is needed by this benchmark and could not be installed" >&2
        exit 1
    fi
    ivm_settings=("shared_preload_libraries=pg_streaming,pg_ivm")
}
