# Shared by the benchmark scripts: build and install, then a private server
# for the run, removed at exit.  Sets $dir, and the arrays psql and pgbench
# that run the clients as postgres against it.
. scripts/common.sh
need_packages
build_and_install

# bench_server NAME PORT [settings...]
bench_server() {
    local name=$1 port=$(($2 + ${PGS_PORT_OFFSET:-0}))
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
