#!/usr/bin/env bash
# Cost of batch events per batch: the same small batches (ROWS_PER_BATCH
# rows each, CALL stream.process_batch after each INSERT) with events off,
# with events on and nobody listening, and with events on and a listener
# (examples/wait_for_batch.py, psycopg, which checks that it received one
# event per batch).  Each round runs the three in a rotating order; reports
# each round's milliseconds per batch (INSERT and batch, timed on the server
# around the procedure that runs them) and the median ratios to "off".
#
#   bash bench/notify.sh        # as root; ROUNDS=5 BATCHES=500 ROWS_PER_BATCH=10
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-5}
batches=${BATCHES:-500}
rows=${ROWS_PER_BATCH:-10}
bench_server notify 54362

"${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
CREATE SEQUENCE ids;
CREATE TABLE ev (id bigint, v int);
SELECT stream.create_stream('ev');
SELECT stream.start_query('q', 'SELECT id, v * 2 AS v2 FROM ev', 'ev_out', trigger => '1 hour');
SQL

# the batches, run by a procedure so that the time is the server's
"${psql[@]}" >/dev/null <<SQL
CREATE PROCEDURE run_batches(n int) LANGUAGE plpgsql AS \$\$
BEGIN
    FOR i IN 1 .. n LOOP
        INSERT INTO ev SELECT nextval('ids'), g FROM generate_series(1, $rows) g;
        COMMIT;
        CALL stream.process_batch('q');
    END LOOP;
END
\$\$;
SQL

have_psycopg=1
/usr/bin/python3 -c 'import psycopg' 2>/dev/null || have_psycopg=0
[ "$have_psycopg" = 1 ] || echo "python3 with psycopg is missing: no listener runs (apt-get install python3-psycopg)"
example=$PWD/examples/wait_for_batch.py

# milliseconds per batch (its INSERT included), timed on the server
run_batches() {
    "${psql[@]}" <<SQL | tail -1
SELECT clock_timestamp() AS t0 \\gset
CALL run_batches($batches);
SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000 / $batches, 3);
SQL
}

run_mode() {
    local mode=$1 ms listener_out pid
    case $mode in
        off) "${psql[@]}" -c "SELECT stream.alter_query('q', events => false)" >/dev/null
             run_batches ;;
        quiet) "${psql[@]}" -c "SELECT stream.alter_query('q', events => true)" >/dev/null
             run_batches ;;
        listened)
            "${psql[@]}" -c "SELECT stream.alter_query('q', events => true)" >/dev/null
            listener_out="$dir/listener.out"
            : >"$listener_out"
            chmod 666 "$listener_out"
            runuser -u postgres -- /usr/bin/python3 "$example" "host=$dir port=$port dbname=postgres" q \
                --count "$batches" --timeout 600 >"$listener_out" 2>&1 &
            pid=$!
            until grep -q listening "$listener_out"; do sleep 0.1; done
            ms=$(run_batches)
            wait "$pid"
            received=$(grep -c '"status": "committed"' "$listener_out")
            if [ "$received" -ne "$batches" ]; then
                echo "the listener received $received events for $batches batches" >&2
                exit 1
            fi
            echo "$ms" ;;
    esac
}

modes=(off quiet)
[ "$have_psycopg" = 1 ] && modes+=(listened)
echo "== $batches batches of $rows rows each: ms per batch (INSERT + CALL stream.process_batch)"
echo "round ${modes[*]}"
declare -A times
quiet_ratios=()
listened_ratios=()
for r in $(seq 1 "$rounds"); do
    n=${#modes[@]}
    line="$r"
    for i in $(seq 0 $((n - 1))); do
        mode=${modes[$(( (i + r) % n ))]}
        times[$mode]=$(run_mode "$mode")
    done
    for mode in "${modes[@]}"; do line="$line ${times[$mode]}"; done
    echo "$line"
    quiet_ratios+=("$(echo "scale=3; ${times[quiet]} / ${times[off]}" | bc)")
    [ "$have_psycopg" = 1 ] && listened_ratios+=("$(echo "scale=3; ${times[listened]} / ${times[off]}" | bc)")
done
"${psql[@]}" -F ' ' -c "SELECT 'rows written', count(*), 'of', (SELECT count(*) FROM ev) FROM ev_out"
echo "median ratio events on, nobody listening / off: $(printf '%s\n' "${quiet_ratios[@]}" | median)"
[ "$have_psycopg" = 1 ] && echo "median ratio events on, one listener / off: $(printf '%s\n' "${listened_ratios[@]}" | median)"
exit 0
