#!/usr/bin/env bash
# Streams distributed with Citus, measured on this machine side by side with
# a single server (the same settings as test/perl/PgsCitus.pm, every node a
# server of its own on 127.0.0.1):
#  1. ingest: rows/s of multi-row INSERTs (ROWS_PER_TXN rows a transaction,
#     CLIENTS clients, synchronous_commit off) into a stream on a single
#     server, through the coordinator of a cluster with 1 worker and of one
#     with 2 workers, and through the workers themselves (the clients spread
#     over them: Citus 11+ routes a worker's INSERT into a distributed table
#     as the coordinator would); ROUNDS rounds, the order rotating;
#  2. latency of an append query on a TRIGGER trigger, from the commit of a
#     row (single-row INSERTs at RATE rows/s for LATENCY_SECONDS seconds) to
#     the commit of its row in the target (track_commit_timestamp), p50 and
#     p99, single server against each cluster, with the CPU seconds of the
#     coordinator and of the workers over the run;
#  3. the coordinator's own cost: its CPU while rows are written on the
#     workers and the shards run batches; the mean time of one read of
#     stream.queries, of a round trip to every worker (the floor of any
#     fan-out), of stream.process_all_available (a shard's on its node, the
#     distributed query's on the coordinator) and of a reconciler pass.
#
# The coordinator starts the distributed query (stream.start_query, then
# stream._reconcile_distributed).  With an older build it is done as the
# coordinator would: stream._start_shard_query on each shard's node, or
# without that, each shard registered as a stream on its node and read by a
# query of its own into the co-located target shard (the workers then run
# with citus.enable_manual_changes_to_shards on).  MODE=hand starts them on
# the nodes even where the coordinator could.  Not in bench/smoke.sh: six servers and two clusters take
# about 50 s at the smallest sizes.
#
#   bash bench/citus.sh   # as root; ROUNDS=3 SECONDS_PER_RUN=10 CLIENTS=4 ROWS_PER_TXN=5000
#                         # SHARDS=32 RATE=50 LATENCY_SECONDS=20 TRIGGER='100 ms' LATENCY_ROUNDS=2 READS=50
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
install_citus

rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-10}
clients=${CLIENTS:-4}
rows_per_txn=${ROWS_PER_TXN:-5000}
shards=${SHARDS:-32}
rate=${RATE:-50}
lat_secs=${LATENCY_SECONDS:-20}
lat_rounds=${LATENCY_ROUNDS:-2}
trigger=${TRIGGER:-100 ms}
reads=${READS:-50}
base=$((54390 + ${PGS_PORT_OFFSET:-0}))

root=$(mktemp -d "${TMPDIR:-/tmp}/pg_streaming_citus.XXXXXX")
chmod 755 "$root"
servers=()
cleanup() {
    local d
    for d in "${servers[@]}"; do stop_server "$d"; done
    rm -rf "$root"
}
trap cleanup EXIT

# the settings of test/perl/PgsCitus.pm, and those of the measurements;
# but more connections and prepared transactions: a COPY through the
# coordinator opens a connection to each shard it writes and prepares a
# transaction on each (4 clients over 32 shards: up to 64 a worker), and
# fails at PgsCitus.pm's 20
node_settings=("shared_preload_libraries=citus,pg_streaming" "citus.node_conninfo=sslmode=disable"
    "max_connections=300" "max_prepared_transactions=200" "wal_level=logical"
    "max_worker_processes=24" "max_wal_senders=10" "max_replication_slots=10"
    "pg_streaming.launcher_naptime=500ms" "track_commit_timestamp=on"
    "synchronous_commit=off" "shared_buffers=256MB" "max_wal_size=4GB"
    "citus.shard_count=$shards")

# node NAME PORT [settings...]: a server of its own under $root/NAME
node() {
    local name=$1 port=$2
    shift 2
    start_server "$root/$name" "$port" "${node_settings[@]}" "$@"
    servers+=("$root/$name")
}

# sql PORT [psql arguments...]: psql as postgres against the node on PORT
sql() {
    local port=$1
    shift
    runuser -u postgres -- env PGOPTIONS="-c client_min_messages=warning" \
        "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -X -q -A -t \
        -v ON_ERROR_STOP=1 "$@" postgres
}

# cluster COORD_PORT WORKER_PORT...: a coordinator and its workers, started
# and joined as PgsCitus.pm does
cluster() {
    local coord=$1 w
    shift
    node "c$coord" "$coord"
    for w in "$@"; do
        node "w$w" "$w" "${worker_settings[@]}"
        sql "$w" -c "CREATE EXTENSION citus" >/dev/null
    done
    sql "$coord" >/dev/null <<SQL
CREATE EXTENSION citus;
CREATE EXTENSION pg_streaming;
SELECT citus_set_coordinator_host('127.0.0.1', $coord);
SQL
    for w in "$@"; do
        sql "$coord" -c "SELECT citus_add_node('127.0.0.1', $w)" >/dev/null
    done
}

# node_cpu PORT: CPU seconds used so far by the server on PORT: its
# postmaster, every live process under it, and those that exited (the
# postmaster's children's time)
node_cpu() {
    local pid c t total
    pid=$(head -1 "$(sql "$1" -c 'SHOW data_directory')/postmaster.pid")
    total=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat")
    for c in $(ps -o pid= --ppid "$pid"); do
        t=$({ awk '{ print $14 + $15 }' "/proc/$c/stat"; } 2>/dev/null) || continue
        total=$((total + ${t:-0}))
    done
    echo "scale=2; $total / $(getconf CLK_TCK)" | bc
}

single=$base
c1=$((base + 1)); c1w=($((base + 2)))
c2=$((base + 3)); c2w=($((base + 4)) $((base + 5)))
node single "$single" "shared_preload_libraries=pg_streaming"
sql "$single" -c "CREATE EXTENSION pg_streaming" >/dev/null
# does a node start a shard's query itself (stream._start_shard_query, which
# lets its batches write the target shard)?  If not, the shards are made
# streams and their queries started by hand, and the workers let every
# session write shards
node_side=$(sql "$single" -c "SELECT to_regprocedure('stream._start_shard_query(text, text, text, text, regclass, regclass, jsonb, jsonb)') IS NOT NULL")
worker_settings=()
[ "$node_side" = t ] || worker_settings=("citus.enable_manual_changes_to_shards=on")
cluster "$c1" "${c1w[@]}"
cluster "$c2" "${c2w[@]}"

# Citus creates pg_streaming on a worker in a prepared transaction
# (citus_add_node), whose commit does not tell the worker's launcher: the
# first shard query there waits for a later look (about 5 s).  Restart the
# workers once, so that no run measures that wait.
for w in "${c1w[@]}" "${c2w[@]}"; do
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$root/w$w/data" -m fast -w restart >/dev/null
done

# can the coordinator start a distributed query itself?
distributed=$(sql "$c2" -c "SELECT to_regprocedure('stream._reconcile_distributed(text)') IS NOT NULL")
if [ "${MODE:-}" = hand ]; then distributed=f; fi
if [ "$distributed" = t ]; then
    echo "shard queries started by the coordinator (a distributed query)"
elif [ "$node_side" = t ]; then
    echo "shard queries started on the workers with stream._start_shard_query, as the coordinator would"
else
    echo "shard queries started by hand on the workers (shards registered as streams), as the coordinator would"
fi
echo "shards per distributed table: $shards; clients: $clients; settings as test/perl/PgsCitus.pm (but 300 connections, 200 prepared transactions), synchronous_commit off"

# workers COORD: the worker ports of the cluster whose coordinator is COORD
workers() {
    if [ "$1" = "$c1" ]; then echo "${c1w[@]}"; else echo "${c2w[@]}"; fi
}

# fresh_stream PORT [plain]: a new stream ev (a plain table with "plain"),
# distributed when PORT is a coordinator; no query yet
fresh_stream() {
    local port=$1 w
    sql "$port" -c "SELECT stream.drop_query(name) FROM stream.queries" >/dev/null
    if [ "$port" != "$single" ] && [ "$distributed" = t ]; then
        sql "$port" -c "SELECT stream.drop_query(name) FROM stream.distributed_queries WHERE desired_status <> 'dropped'" >/dev/null
        # the shard queries go at the reconciler's next pass, and the
        # query's row once they are gone: make the passes now
        for _ in $(seq 1 20); do
            sql "$port" -c "SELECT stream._reconcile_distributed()" >/dev/null
            [ "$(sql "$port" -c "SELECT count(*) FROM stream.distributed_queries")" = 0 ] && break
            sleep 0.5
        done
    elif [ "$port" != "$single" ]; then
        for w in $(workers "$port"); do
            sql "$w" -c "SELECT stream.drop_query(name) FROM stream.query_defs" >/dev/null
        done
    fi
    sql "$port" >/dev/null <<SQL
DROP TABLE IF EXISTS ev, ev_out CASCADE;
CREATE TABLE ev (tenant int, id bigserial, payload text);
SQL
    if [ "${2:-}" != plain ]; then
        sql "$port" -c "SELECT stream.create_stream('ev')" >/dev/null
    fi
    if [ "$port" != "$single" ]; then
        sql "$port" -c "SELECT create_distributed_table('ev', 'tenant')" >/dev/null
    fi
    sql "$port" -c "CHECKPOINT" >/dev/null
    if [ "$port" != "$single" ]; then
        for w in $(workers "$port"); do sql "$w" -c "CHECKPOINT" >/dev/null; done
    fi
}

# one transaction of the ingest: ROWS_PER_TXN rows in one multi-row INSERT,
# tenants spread over the shards
awk -v n="$rows_per_txn" 'BEGIN {
    printf "INSERT INTO ev (tenant, id, payload) VALUES ";
    for (i = 1; i <= n; i++)
        printf "%s(%d, %d, %s)", (i > 1 ? ", " : ""), (i * 7919) % 100003, i, "'"'"'payload of a row of forty characters...'"'"'";
    print ";" }' >"$root/ingest.sql"
# the same rows for COPY, read by the server from a file
awk -v n="$rows_per_txn" 'BEGIN {
    for (i = 1; i <= n; i++)
        printf "%d,%d,payload of a row of forty characters...\n", (i * 7919) % 100003, i }' >"$root/rows.csv"
echo "COPY ev (tenant, id, payload) FROM '$root/rows.csv' WITH (FORMAT csv);" >"$root/copy.sql"
chmod 644 "$root/ingest.sql" "$root/rows.csv" "$root/copy.sql"

# tps PORT CLIENTS [FILE]: transactions per second of the ingest file (or
# FILE) against PORT; a run with an error fails the script, loudly
tps() {
    local out
    out=$(runuser -u postgres -- "$PG_BIN/pgbench" -h 127.0.0.1 -p "$1" -U postgres -n -c "$2" \
        -j "$(( $2 < 2 ? 1 : 2 ))" -T "$secs" -f "${3:-$root/ingest.sql}" postgres 2>&1) || {
        echo "pgbench failed against port $1:" >&2
        echo "$out" | grep -v '^WARNING\|^HINT' | tail -5 >&2
        return 1
    }
    echo "$out" | awk '/^tps = / { print $3; exit }'
}

# ingest KIND: rows/s of the ingest for one configuration, and the CPU
# seconds per million rows of the server the clients reach (single server
# or coordinator) and of the workers together:
# single | c1 | c2 (through the coordinator) | c1w | c2w (through the
# workers) | single_plain | c2_plain (a plain table, not a stream: what
# Citus costs without pg_streaming) | single_copy | c2_copy (COPY of the
# same rows from a file instead of the INSERT)
ingest() {
    local kind=$1 port ws=() n per w t total=0 c0 c1_ w0=0 w1=0 mrows
    case $kind in
        single*) port=$single ;;
        c1|c1w) port=$c1 ;;
        c2*) port=$c2 ;;
    esac
    fresh_stream "$port" "${kind#*_}"
    [ "$port" = "$single" ] || ws=($(workers "$port"))
    c0=$(node_cpu "$port")
    for w in "${ws[@]}"; do w0=$(echo "$w0 + $(node_cpu "$w")" | bc); done
    case $kind in
        *_copy)
            t=$(tps "$port" "$clients" "$root/copy.sql")
            total=$(echo "$t * $rows_per_txn" | bc) ;;
        single*|c1|c2|c2_plain)
            t=$(tps "$port" "$clients")
            total=$(echo "$t * $rows_per_txn" | bc) ;;
        *)
            n=${#ws[@]}
            per=$(( (clients + n - 1) / n ))
            for w in "${ws[@]}"; do tps "$w" "$per" >"$root/tps.$w" & done
            wait
            for w in "${ws[@]}"; do total=$(echo "$total + $(cat "$root/tps.$w") * $rows_per_txn" | bc); done ;;
    esac
    c1_=$(node_cpu "$port")
    for w in "${ws[@]}"; do w1=$(echo "$w1 + $(node_cpu "$w")" | bc); done
    mrows=$(echo "scale=6; $total * $secs / 1000000" | bc)
    printf '%.0f %.2f %.2f\n' "$total" "$(echo "scale=4; ($c1_ - $c0) / $mrows" | bc)" \
        "$(echo "scale=4; ($w1 - $w0) / $mrows" | bc)"
}

kinds=(single c1 c2 c1w c2w single_plain c2_plain single_copy c2_copy)
echo "== ingest: rows/s, $clients clients, $rows_per_txn rows a transaction, ${secs} s a run"
echo "round ${kinds[*]}"
for k in "${kinds[@]}"; do : >"$root/ingest.$k"; : >"$root/ccpu.$k"; : >"$root/wcpu.$k"; done
for r in $(seq 1 "$rounds"); do
    declare -A got=()
    # the order rotates by one each round
    for i in $(seq 0 $((${#kinds[@]} - 1))); do
        k=${kinds[$(( (i + r - 1) % ${#kinds[@]} ))]}
        out=$(ingest "$k")
        read -r got[$k] cc wc <<<"$out"
        echo "${got[$k]}" >>"$root/ingest.$k"
        echo "$cc" >>"$root/ccpu.$k"
        echo "$wc" >>"$root/wcpu.$k"
    done
    line="$r"
    for k in "${kinds[@]}"; do line="$line ${got[$k]}"; done
    echo "$line"
done
line="median"
for k in "${kinds[@]}"; do line="$line $(median <"$root/ingest.$k")"; done
echo "$line"
echo "CPU seconds per million rows (medians): kind, server the clients reach (single server or coordinator), workers together"
for k in "${kinds[@]}"; do echo "  $k $(median <"$root/ccpu.$k") $(median <"$root/wcpu.$k")"; done
for k in c1 c2 c1w c2w single_plain; do
    echo "median $k / single: $(echo "scale=3; $(median <"$root/ingest.$k") / $(median <"$root/ingest.single")" | bc)"
done
echo "median c2_copy / single_copy: $(echo "scale=3; $(median <"$root/ingest.c2_copy") / $(median <"$root/ingest.single_copy")" | bc)"
echo "median c2 / c2_plain: $(echo "scale=3; $(median <"$root/ingest.c2") / $(median <"$root/ingest.c2_plain")" | bc)"

# shard_pairs COORD: "port source_shard target_shard" for every shard of ev
shard_pairs() {
    sql "$1" -F ' ' <<SQL
SELECT n.nodeport, shard_name('ev'::regclass, s.shardid), shard_name('ev_out'::regclass, t.shardid)
  FROM pg_dist_shard s
  JOIN pg_dist_shard t ON t.logicalrelid = 'ev_out'::regclass AND t.shardminvalue = s.shardminvalue
  JOIN pg_dist_placement p ON p.shardid = s.shardid
  JOIN pg_dist_node n ON n.groupid = p.groupid
 WHERE s.logicalrelid = 'ev'::regclass
 ORDER BY 1, 2;
SQL
}

# start_latency_query PORT: the append query lat over ev into ev_out, on a
# single server, or distributed (by the coordinator, or by hand: one shard
# query a shard, on the shard's node, into the co-located target shard)
start_latency_query() {
    local port=$1 w src tgt
    if [ "$port" = "$single" ] || [ "$distributed" = t ]; then
        sql "$port" -c "SELECT stream.start_query('lat', 'SELECT tenant, id FROM ev', 'ev_out', trigger => '$trigger')" >/dev/null
        [ "$port" = "$single" ] || sql "$port" -c "SELECT stream._reconcile_distributed('lat')" >/dev/null
        return
    fi
    sql "$port" >/dev/null <<SQL
CREATE TABLE ev_out (tenant int, id bigint);
SELECT create_distributed_table('ev_out', 'tenant', colocate_with => 'ev');
SQL
    while read -r w src tgt; do
        if [ "$node_side" = t ]; then
            sql "$w" >/dev/null <<SQL
SELECT stream._start_shard_query('lat', 'lat_s${src##*_}', 'SELECT tenant, id FROM ev', 'public',
                                 'public.$src', 'public.$tgt', '{"public.ev": "public.$src"}',
                                 '{"trigger": "$trigger"}');
SQL
        else
            sql "$w" >/dev/null <<SQL
INSERT INTO stream.streams (relid) VALUES ('public.$src');
SELECT stream.start_query('lat_s${src##*_}', 'SELECT tenant, id FROM public.$src', 'public.$tgt',
                          trigger => '$trigger');
SQL
        fi
    done < <(shard_pairs "$port")
}

# latency_ms PORT: every delivered row's milliseconds from its commit to its
# target row's commit, one a line (the nodes share one clock)
latency_ms() {
    local port=$1 w src tgt
    if [ "$port" = "$single" ]; then
        sql "$port" -c "SELECT extract(epoch FROM pg_xact_commit_timestamp(o.xmin) - pg_xact_commit_timestamp(e.xmin)) * 1000 FROM ev e JOIN ev_out o USING (id)"
        return
    fi
    while read -r w src tgt; do
        sql "$w" -c "SELECT extract(epoch FROM pg_xact_commit_timestamp(o.xmin) - pg_xact_commit_timestamp(e.xmin)) * 1000 FROM public.$src e JOIN public.$tgt o USING (id)"
    done < <(shard_pairs "$port")
}

# percentile P: the P-th percentile (nearest rank) of the numbers on stdin
percentile() {
    sort -g | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; printf "%.1f\n", v[i] }'
}

# ids from the table's sequence: Citus gives each node a range of its own
echo "INSERT INTO ev (tenant, payload) VALUES ((random() * 100003)::int, 'x');" >"$root/row.sql"
chmod 644 "$root/row.sql"

# latency PORT: one latency run; prints "p50 p99 delivered/inserted
# coordinator_cpu workers_cpu" (CPU seconds over the run; the server itself
# for a single server)
latency() {
    local port=$1 w ws c0 w0=0 c1_ w1=0 rows
    fresh_stream "$port"
    start_latency_query "$port"
    sleep 2
    ws=()
    [ "$port" = "$single" ] || ws=($(workers "$port"))
    c0=$(node_cpu "$port")
    for w in "${ws[@]}"; do w0=$(echo "$w0 + $(node_cpu "$w")" | bc); done
    runuser -u postgres -- "$PG_BIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -c 1 \
        -R "$rate" -T "$lat_secs" -f "$root/row.sql" postgres >/dev/null 2>&1
    c1_=$(node_cpu "$port")
    for w in "${ws[@]}"; do w1=$(echo "$w1 + $(node_cpu "$w")" | bc); done
    # the last rows' batches
    sleep 2
    latency_ms "$port" >"$root/lat.ms"
    rows=$(sql "$port" -c "SELECT (SELECT count(*) FROM ev_out) || '/' || (SELECT count(*) FROM ev)")
    echo "$(percentile 50 <"$root/lat.ms") $(percentile 99 <"$root/lat.ms") $rows" \
        "$(echo "$c1_ - $c0" | bc) $(echo "$w1 - $w0" | bc)"
}

lkinds=(single c1 c2)
echo "== latency: commit of a row -> commit of its target row (ms), append query on a '$trigger' trigger, $rate rows/s for ${lat_secs} s"
echo "run kind p50 p99 delivered/inserted coordinator_cpu_s workers_cpu_s"
for k in "${lkinds[@]}"; do : >"$root/p50.$k"; : >"$root/p99.$k"; done
for r in $(seq 1 "$lat_rounds"); do
    for i in 0 1 2; do
        k=${lkinds[$(( (i + r - 1) % 3 ))]}
        case $k in single) port=$single ;; c1) port=$c1 ;; c2) port=$c2 ;; esac
        out=$(latency "$port")
        echo "$r $k $out"
        echo "$out" | awk '{ print $1 }' >>"$root/p50.$k"
        echo "$out" | awk '{ print $2 }' >>"$root/p99.$k"
    done
done
for k in "${lkinds[@]}"; do
    echo "median $k: p50 $(median <"$root/p50.$k") ms, p99 $(median <"$root/p99.$k") ms"
done

# mean_ms PORT SQL: the mean milliseconds of one run of SQL, READS runs, or
# the error that stopped them
mean_ms() {
    local out
    echo "$2" >"$root/read.sql"
    chmod 644 "$root/read.sql"
    if out=$(runuser -u postgres -- "$PG_BIN/pgbench" -h 127.0.0.1 -p "$1" -U postgres -n -c 1 \
        -t "$reads" -f "$root/read.sql" postgres 2>&1); then
        echo "$out" | awk '/^latency average/ { print $4; exit }'
    else
        echo "failed: $(echo "$out" | grep -m1 'ERROR')"
    fi
}

echo "== the coordinator's part, cluster of 2 workers, the append query running"
fresh_stream "$c2"
start_latency_query "$c2"
fresh_stream "$single"
start_latency_query "$single"
sleep 2
# rows written on the workers themselves, as an ingest that scales would:
# the coordinator has no client then, and what it spends is its own
c0=$(node_cpu "$c2"); w0=0
for w in "${c2w[@]}"; do w0=$(echo "$w0 + $(node_cpu "$w")" | bc); done
for w in "${c2w[@]}"; do
    runuser -u postgres -- "$PG_BIN/pgbench" -h 127.0.0.1 -p "$w" -U postgres -n -c 1 \
        -R "$(( rate / ${#c2w[@]} ))" -T "$lat_secs" -f "$root/row.sql" postgres >/dev/null 2>&1 &
done
wait
c1_=$(node_cpu "$c2"); w1=0
for w in "${c2w[@]}"; do w1=$(echo "$w1 + $(node_cpu "$w")" | bc); done
sleep 2
# the shard queries' batches: their last batch ids, summed
batches=0
for w in "${c2w[@]}"; do
    b=$(sql "$w" -c "SELECT coalesce(sum(m), 0) FROM (SELECT max(batch_id) AS m FROM stream.checkpoint_commits JOIN stream.query_defs USING (query_id) WHERE name LIKE 'lat_s%' GROUP BY query_id) b")
    batches=$((batches + b))
done
echo "rows written on the workers at $rate rows/s for ${lat_secs} s: $(sql "$c2" -c "SELECT count(*) FROM ev_out")/$(sql "$c2" -c "SELECT count(*) FROM ev") delivered"
echo "CPU over the run: coordinator $(echo "$c1_ - $c0" | bc) s, workers $(echo "$w1 - $w0" | bc) s; shard batches: $batches"
echo "one read (mean ms of $reads):"
echo "  stream.queries on the single server: $(mean_ms "$single" "SELECT count(*) FROM stream.queries;")"
echo "  stream.queries on the coordinator: $(mean_ms "$c2" "SELECT count(*) FROM stream.queries;")"
echo "  stream.queries on a worker ($(sql "${c2w[0]}" -c "SELECT count(*) FROM stream.query_defs") shard queries): $(mean_ms "${c2w[0]}" "SELECT count(*) FROM stream.queries;")"
echo "  a round trip to every worker (run_command_on_workers): $(mean_ms "$c2" "SELECT count(*) FROM run_command_on_workers('SELECT 1');")"
echo "  process_all_available with nothing new, single server: $(mean_ms "$single" "CALL stream.process_all_available('lat');")"
one=$(sql "${c2w[0]}" -c "SELECT name FROM stream.query_defs ORDER BY name LIMIT 1")
echo "  process_all_available with nothing new, one shard query on its worker: $(mean_ms "${c2w[0]}" "CALL stream.process_all_available('$one');")"
if [ "$distributed" = t ]; then
    echo "  process_all_available with nothing new, the distributed query on the coordinator: $(mean_ms "$c2" "CALL stream.process_all_available('lat');")"
    echo "  a reconciler pass with nothing to do, on the coordinator: $(mean_ms "$c2" "SELECT stream._reconcile_distributed();")"
fi
