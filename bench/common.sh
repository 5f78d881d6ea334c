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

# side_by_side ROUND A B: runs the commands A and B (each prints one value),
# A first in odd rounds and B first in even ones, so that neither always
# has the machine to itself; sets $a and $b to what they printed
side_by_side() {
    if [ $(($1 % 2)) -eq 1 ]; then
        a=$(eval "$2")
        b=$(eval "$3")
    else
        b=$(eval "$3")
        a=$(eval "$2")
    fi
}

# backend_cpu: SQL for the CPU time the session's backend has used so far,
# in nanoseconds (the kernel's /proc/<pid>/schedstat): what a statement
# cost, whatever else runs on the machine (a superuser's session)
backend_cpu="split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint"

# fresh_copy_ms KIND FILE [ID_CONSTRAINT [INDEX_SQL]]: milliseconds the server
# spent on one COPY of FILE into a fresh table t_copy (id, ts, v), a plain
# table or (KIND stream) a stream, then the milliseconds of CPU its backend
# used; ID_CONSTRAINT follows the id column and INDEX_SQL runs after the
# table is created
fresh_copy_ms() {
    "${psql[@]}" >/dev/null 2>&1 <<SQL
DROP TABLE IF EXISTS t_copy;
CREATE TABLE t_copy (id int ${3:-}, ts timestamptz, v float8);
${4:-}
$( [ "$1" = stream ] && echo "SELECT stream.create_stream('t_copy');" )
CHECKPOINT;
SQL
    "${psql[@]}" <<SQL | tail -1
SELECT clock_timestamp() AS start, $backend_cpu AS cpu \gset
COPY t_copy (id, ts, v) FROM '$2';
SELECT format('%s %s', round(extract(epoch FROM clock_timestamp() - :'start') * 1000, 1),
              round(($backend_cpu - :cpu) / 1e6, 1));
SQL
}

# insert_tps KIND CLIENTS SECONDS [ID_TYPE [INDEX_SQL]]: pgbench's tps for
# CLIENTS clients of single-row INSERT transactions for SECONDS seconds into
# a fresh table t_ins (id, ts, v), plain or (KIND stream) a stream
insert_tps() {
    echo "INSERT INTO t_ins (ts, v) VALUES (now(), 1);" > "$dir/insert.sql"
    chmod 644 "$dir/insert.sql"
    "${psql[@]}" >/dev/null 2>&1 <<SQL
DROP TABLE IF EXISTS t_ins;
CREATE TABLE t_ins (id ${4:-bigint}, ts timestamptz, v float8);
${5:-}
$( [ "$1" = stream ] && echo "SELECT stream.create_stream('t_ins');" )
CHECKPOINT;
SQL
    "${pgbench[@]}" -c "$2" -j 2 -T "$3" -f "$dir/insert.sql" postgres 2>/dev/null |
        awk '/^tps = / { print $3; exit }'
}

# timed_sql LABEL STATEMENTS: psql input that runs STATEMENTS and prints
# "LABEL ms cpu_ms", the milliseconds they took on the server and the
# milliseconds of CPU the session's backend used meanwhile
timed_sql() {
    cat <<SQL
SELECT clock_timestamp() AS t0, $backend_cpu AS c0 \gset
$2
SELECT '$1', round(extract(epoch FROM clock_timestamp() - :'t0') * 1000, 3), round(($backend_cpu - :c0) / 1e6, 3);
SQL
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

# paired_servers NAME PORT SETTINGS...: the server of this tree (bench_server)
# and, with BASELINE=<commit>, a second one on PORT + 1 running that
# commit's build, installed into a copy of this PostgreSQL (its binaries find
# their libraries and share files relative to themselves).  Sets servers
# (current, then baseline), client[server] (a psql command line) and
# results (a file removed at exit with the servers); "on SERVER ARGS..."
# runs psql against one.
paired_servers() {
    local name=$1 p=$2
    shift 2
    bench_server "$name" "$p" "$@"
    results=$(mktemp "${TMPDIR:-/tmp}/pg_streaming_$name.XXXXXX")
    trap 'stop_server "$dir"; rm -rf "$dir" "$results"' EXIT
    servers=(current)
    declare -gA client
    client[current]="${psql[*]}"
    [ -n "${BASELINE:-}" ] || return 0
    base=$(mktemp -d "${TMPDIR:-/tmp}/pg_streaming_baseline.XXXXXX")
    chmod 755 "$base"
    trap 'stop_server "$dir"; stop_server "$base"; rm -rf "$dir" "$base" "$results"' EXIT
    mkdir "$base/src" "$base/pg"
    git archive "$BASELINE" | tar -x -C "$base/src"
    for d in "$("$PG_CONFIG" --bindir)" "$("$PG_CONFIG" --pkglibdir)" "$("$PG_CONFIG" --sharedir)"; do
        mkdir -p "$base/pg$(dirname "$d")"
        cp -a "$d" "$base/pg$d"
    done
    make -s -C "$base/src" PG_CONFIG="$PG_CONFIG" with_llvm=no >/dev/null
    make -s -C "$base/src" PG_CONFIG="$PG_CONFIG" with_llvm=no DESTDIR="$base/pg" install >/dev/null
    local base_bin=$base/pg$("$PG_CONFIG" --bindir)
    local saved_bin=$PG_BIN
    PG_BIN=$base_bin
    start_server "$base" "$((port + 1))" "$@"
    PG_BIN=$saved_bin
    servers=(current baseline)
    client[baseline]="runuser -u postgres -- $base_bin/psql -h $base -p $((port + 1)) -U postgres -X -q -A -t -v ON_ERROR_STOP=1"
}

# on SERVER ARGS...: psql against one of paired_servers' servers
on() {
    local s=$1
    shift
    ${client[$s]} "$@"
}

# closed_windows_equal_sql STREAM: a query that is true when the target
# "windowed" holds every window of STREAM's rows (tumble(t, '1 minute'), k,
# count(*), avg(v)) that the query "windowed"'s watermark closed, once
closed_windows_equal_sql() {
    local closed="SELECT stream.tumble(t, '1 minute'), k, count(*), avg(v) FROM $1
         WHERE stream.tumble(t, '1 minute') + interval '1 minute'
               <= (SELECT watermark FROM stream.queries WHERE name = 'windowed')
         GROUP BY 1, 2"
    echo "SELECT count(*) = 0 FROM ((TABLE windowed EXCEPT ALL $closed)
      UNION ALL ($closed EXCEPT ALL TABLE windowed)) d"
}
