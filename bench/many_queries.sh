#!/usr/bin/env bash
# Many queries, few workers: 100 queries on a '1 s' trigger over 10 stream
# tables, pg_streaming.max_workers = 8, while a client inserts 200 rows/s.
# Reports whether every query keeps up (its lag, sampled during the run, and
# its target complete at the end), then the CPU the launcher, scheduler and
# workers spend while nothing is written (idle cost).
#
#   bash bench/many_queries.sh       # as root; QUERIES=100 STREAMS=10
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

queries=${QUERIES:-100}
streams=${STREAMS:-10}
secs=${SECONDS_PER_RUN:-30}
idle=${IDLE_SECONDS:-30}
bench_server many 54352 "shared_preload_libraries=pg_streaming" \
    "max_worker_processes=24" "pg_streaming.max_workers=8"

"${psql[@]}" >/dev/null <<SQL
CREATE EXTENSION pg_streaming;
CREATE SEQUENCE ids;
DO \$\$
BEGIN
    FOR s IN 1..$streams LOOP
        EXECUTE format('CREATE TABLE ev_%s (id bigint, v int)', s);
        PERFORM stream.create_stream(format('ev_%s', s)::regclass);
    END LOOP;
    FOR q IN 1..$queries LOOP
        PERFORM stream.start_query(format('q%s', q),
            format('SELECT id, v FROM ev_%s WHERE v >= 0', 1 + q % $streams),
            format('out_%s', q), trigger => '1 s');
    END LOOP;
END \$\$;
SQL
cat > "$dir/insert.sql" <<SQL
\set s random(1, $streams)
INSERT INTO ev_:s (id, v) VALUES (nextval('ids'), 1);
SQL
chmod 644 "$dir/insert.sql"

echo "== $queries queries on '1 s', $streams streams, max_workers 8, 200 rows/s for ${secs} s"
"${pgbench[@]}" -c 2 -j 2 -R 200 -T "$secs" -f "$dir/insert.sql" postgres >/dev/null &
bench_pid=$!
for i in 1 2 3; do
    sleep $((secs / 4))
    "${psql[@]}" -F ' ' -c "SELECT 'sample $i: max seconds since a query''s last batch',
        round(max(extract(epoch FROM now() - last_batch_at))::numeric, 2),
        'max pending rows', max(pending_rows) FROM stream.queries"
done
wait $bench_pid
sleep 3
"${psql[@]}" -F ' ' <<SQL
SELECT 'queries behind at the end (target missing rows):', count(*)
  FROM stream.queries q
 WHERE (SELECT count(*) FROM stream.progress p WHERE p.query = q.name) = 0
    OR q.pending_rows > 0;
SELECT 'batches run:', count(*), 'mean batch ms:', round(avg(duration_ms), 2) FROM stream.progress;
SQL

# idle cost: CPU of pg_streaming's processes while nothing is written
pids=$("${psql[@]}" -c "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE backend_type LIKE 'pg_streaming%'")
ticks() {
    local sum=0
    for p in $pids; do
        if [ -r /proc/$p/stat ]; then
            read -r -a f < /proc/$p/stat
            sum=$((sum + f[13] + f[14]))
        fi
    done
    echo $sum
}
t0=$(ticks)
sleep "$idle"
t1=$(ticks)
hz=$(getconf CLK_TCK)
echo "idle: $(echo "scale=2; ($t1 - $t0) * 100 / $hz / $idle" | bc)% of one core over ${idle} s (launcher, scheduler, workers: $(echo $pids | wc -w) processes)"
