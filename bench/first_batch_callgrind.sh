#!/usr/bin/env bash
# The first batch of a session against a warm one, by instructions: the
# data of bench/first_batch.sh (HISTORY 200k rows, NGROUPS 1000 groups,
# batches of NEW_ROWS 10k rows) in a private server whose postmaster runs
# under callgrind, counting only inside CALL (ExecuteCallStmt) and writing
# each CALL apart.  Each of ROUNDS (2) rounds measures a warm batch (the
# second of a session whose first batch had as many rows, so that both
# find the state and the target as such a batch leaves them), then the
# first batch of a new session; it prints their instructions and ratio.
# Then the functions whose inclusive instructions differ most between the
# last round's first and warm batches (TOP, 40), in millions: where the
# first batch's extra goes.  The instructions are the machine's own count
# and hardly move with other work; a run takes a few minutes.
#
#   bash bench/first_batch_callgrind.sh      # as root
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
need_packages
install_missing valgrind
build_and_install

rounds=${ROUNDS:-2}
history=${HISTORY:-200000}
new_rows=${NEW_ROWS:-10000}
groups=${NGROUPS:-1000}
top=${TOP:-40}
port=$((54378 + ${PGS_PORT_OFFSET:-0}))
dir=$(mktemp -d "${TMPDIR:-/tmp}/pg_streaming_callgrind.XXXXXX")
chmod 755 "$dir"
trap 'stop_server "$dir"; rm -rf "$dir"' EXIT
start_server "$dir" "$port" "shared_preload_libraries=pg_streaming" "shared_buffers=256MB" \
    "max_wal_size=4GB"
psql=(runuser -u postgres -- "$PG_BIN/psql" -h "$dir" -p "$port" -U postgres -X -q -A -t -v ON_ERROR_STOP=1)
"${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
CREATE TABLE big (k int, v float8, u int);
SELECT stream.create_stream('big');
INSERT INTO big SELECT g % $groups, g % 1000, g FROM generate_series(1, $history) g;
SELECT stream.start_query('agg', 'SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM big GROUP BY k',
                          'agg_out', output_mode => 'update', trigger => '1 hour');
CALL stream.process_all_available('agg');
VACUUM ANALYZE big;
SQL
stop_server "$dir"

# the same server, its postmaster (and so every backend) under callgrind,
# with the same settings
mkdir "$dir/cg"
chown postgres "$dir/cg"
runuser -u postgres -- valgrind --tool=callgrind --toggle-collect=ExecuteCallStmt \
    --dump-after=ExecuteCallStmt --callgrind-out-file="$dir/cg/cg.%p" \
    "$PG_BIN/postgres" -D "$dir/data" -c listen_addresses=127.0.0.1 -c port="$port" \
    -c unix_socket_directories="$dir" -c shared_preload_libraries=pg_streaming \
    -c shared_buffers=256MB -c max_wal_size=4GB >"$dir/valgrind.log" 2>&1 &
for _ in $(seq 1 120); do
    "${psql[@]}" -c "SELECT 1" >/dev/null 2>&1 && break
    sleep 1
done
# the scheduler's start: let it pass
sleep 5

new_big="INSERT INTO big SELECT g % $groups, g % 1000, g FROM generate_series(1, $new_rows) g"
# instructions of a backend's Nth CALL
calls() {
    awk '/^totals:/ { print $2 }' "$dir/cg/cg.$1.$2"
}
for r in $(seq 1 "$rounds"); do
    warm=$("${psql[@]}" -c "$new_big" -c "CALL stream.process_batch('agg')" -c "$new_big" \
        -c "CHECKPOINT" -c "SELECT pg_backend_pid()" -c "CALL stream.process_batch('agg')")
    "${psql[@]}" -c "$new_big" -c "CHECKPOINT"
    first=$("${psql[@]}" -c "SELECT pg_backend_pid()" -c "CALL stream.process_batch('agg')")
    sleep 1
    w=$(calls "$warm" 2)
    f=$(calls "$first" 1)
    echo "round $r: first in a session $f instructions, warm $w, first / warm $(awk -v a="$f" -v b="$w" 'BEGIN { printf "%.3f", a / b }')"
done

# the inclusive instructions of each function, first against warm
echo
echo "| function (inclusive) | first, millions | warm, millions | extra, millions |"
echo "| --- | ---: | ---: | ---: |"
python3 - "$dir/cg/cg.$first.1" "$dir/cg/cg.$warm.2" "$top" <<'PY'
import re, subprocess, sys

def inclusive(path):
    out = subprocess.run(['callgrind_annotate', '--inclusive=yes', '--threshold=100', path],
                         capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in out.splitlines():
        m = re.match(r'\s*([\d,]+) \(\s*[\d.]+%\)\s+(?!\*|<|>)(.*)$', line)
        if m is None or m.group(2).startswith('PROGRAM') or '=>' in m.group(2):
            continue
        # a function is listed by its file as built and as debugged
        name = re.sub(r' \[[^\]]*\]$', '', m.group(2))
        name = re.sub(r'^\?\?\?:|^(.*/)?src/', '', name)
        costs[name] = max(costs.get(name, 0), int(m.group(1).replace(',', '')))
    return costs

first, warm = inclusive(sys.argv[1]), inclusive(sys.argv[2])
names = sorted(set(first) | set(warm), key=lambda n: warm.get(n, 0) - first.get(n, 0))
shown = 0
for n in names:
    if n.startswith('0x') or '(below main)' in n or 'libc' in n or \
            n in ('main', 'PostmasterMain', 'PostgresMain', 'PortalRun', 'ProcessUtility',
                  'standard_ProcessUtility', 'pg_streaming.c:pgs_process_utility'):
        continue
    print('| %s | %.2f | %.2f | %.2f |' % (n, first.get(n, 0) / 1e6, warm.get(n, 0) / 1e6,
                                          (first.get(n, 0) - warm.get(n, 0)) / 1e6))
    shown += 1
    if shown >= int(sys.argv[3]):
        break
PY
