#!/usr/bin/env bash
# Against what users run today: one command that runs the comparisons side
# by side and writes bench/RESULTS.md with PNG plots (gnuplot).
#
#  1. A pipeline under 4 concurrent writers whose transactions commit out of
#     order: every row of a source table copied into a target by
#       - pg_streaming (a 'continuous' query, the background worker),
#       - the hand-written pipeline: INSERT ... SELECT ... WHERE id > last_id
#         over a "last id" table, in a tight loop and every 100 ms,
#       - PgQ (postgresql-15-pgq3): a trigger queues each row, a consumer
#         copies each batch of events and ticks the queue itself.
#     All read the same source at once; rows lost and duplicated are counted.
#  2. Batch cost against history size, with and without a transaction open
#     elsewhere since before the history (plot).
#  3. Insert-to-target latency distributions per trigger (plot).
#  4. Lag over a sustained run at a fixed ingest rate with several queries
#     (plot).
#  5. The aggregation benchmark (REFRESH MATERIALIZED VIEW) and the ingest
#     benchmark (plain table), as their own scripts report them.
#  6. The same aggregation kept by pg_ivm, by a hand-written statement-level
#     trigger and by a row-level one, against an update-mode query and a
#     plain INSERT: the writer's cost, the later cost, the total
#     (bench/agg_peers.sh; plot); and the writers' rows/s with 4 of them at once.
#  7. The throughput ceiling: the highest ingest rate at which a continuous
#     filter keeps its p99 latency under 100 ms and a '1 s' aggregation its
#     lag under 1 s, against a plain table's (bench/ceiling.sh; plot).
#
#   bash bench/compare.sh        # as root; about 15 minutes
#   PIPELINE_SECONDS=20 SUSTAIN_SECONDS=300 HISTORIES="100000 500000 1000000 2000000"
#   PEERS_ROUNDS=7 PEERS_HISTORY=2000000 PEERS_NEW_ROWS=10000 PEERS_CONC_SECONDS=10
#   CEILING_STEP_SECONDS=5 CEILING_PLAIN_SECONDS=10 CEILING_TX_ROWS=5000 CEILING_STEPS="0.2 0.3 ..."
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

need_tools() {
    local missing=()
    for p in postgresql-15-pgq3 gnuplot-nox; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}
need_tools

pipeline_secs=${PIPELINE_SECONDS:-20}
sustain_secs=${SUSTAIN_SECONDS:-300}
histories=${HISTORIES:-"100000 500000 1000000 2000000"}
new_rows=${NEW_ROWS:-10000}
out=${RESULTS_DIR:-bench}
work=$(mktemp -d "${TMPDIR:-/tmp}/pg_streaming_compare.XXXXXX")
chmod 755 "$work"
bench_server compare 54358 "shared_preload_libraries=pg_streaming" \
    "track_commit_timestamp=on" "max_worker_processes=24" "pg_streaming.max_workers=8" \
    "shared_buffers=512MB" "max_wal_size=4GB"
trap 'stop_server "$dir"; rm -rf "$dir" "$work"' EXIT

# ---------------------------------------------------------------------------
# 1. the pipeline
# ---------------------------------------------------------------------------
echo "== 1. pipeline: 4 writers for ${pipeline_secs} s, four consumers of the same rows"
"${psql[@]}" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
CREATE EXTENSION pgq;
CREATE TABLE src (id bigserial, v int);
SELECT stream.create_stream('src');
SELECT pgq.create_queue('src_q');
CREATE TRIGGER src_q AFTER INSERT ON src FOR EACH ROW EXECUTE FUNCTION pgq.logutriga('src_q');
SELECT pgq.register_consumer('src_q', 'copier');
CREATE TABLE stream_out (id bigint, v int);
SELECT stream.start_query('copy', 'SELECT id, v FROM src', 'stream_out', trigger => 'continuous');
CREATE TABLE hand_tight_out (id bigint, v int);
CREATE TABLE hand_100ms_out (id bigint, v int);
CREATE TABLE pgq_out (id bigint, v int);
CREATE TABLE last_id (pipeline text PRIMARY KEY, id bigint NOT NULL);
INSERT INTO last_id VALUES ('tight', 0), ('100ms', 0);
CREATE TABLE stop_flag (stop boolean);
INSERT INTO stop_flag VALUES (false);
-- the hand-written pipeline, as users write it: the rows past the last id
CREATE PROCEDURE hand_pipeline(name text, target regclass, pause float8) LANGUAGE plpgsql AS $$
DECLARE
    done boolean := false;
    hi bigint;
BEGIN
    LOOP
        EXECUTE format('WITH n AS (INSERT INTO %s SELECT id, v FROM src
                                    WHERE id > (SELECT id FROM last_id WHERE pipeline = %L)
                                    RETURNING id)
                        SELECT max(id) FROM n', target, name) INTO hi;
        IF hi IS NOT NULL THEN
            UPDATE last_id SET id = hi WHERE pipeline = name;
        END IF;
        COMMIT;
        EXIT WHEN done;
        done := (SELECT stop FROM stop_flag);
        PERFORM pg_sleep(pause);
    END LOOP;
END
$$;
-- a PgQ consumer: ticks the queue, copies each batch of events
CREATE PROCEDURE pgq_consumer() LANGUAGE plpgsql AS $$
DECLARE
    b bigint;
    n bigint;
    idle int := 0;
BEGIN
    LOOP
        PERFORM pgq.ticker();
        COMMIT;
        b := pgq.next_batch('src_q', 'copier');
        n := 0;
        IF b IS NOT NULL THEN
            INSERT INTO pgq_out
            SELECT (r->>'id')::bigint, (r->>'v')::int
              FROM pgq.get_batch_events(b) e,
                   LATERAL (SELECT jsonb_object_agg(split_part(kv, '=', 1), split_part(kv, '=', 2)) AS r
                              FROM unnest(string_to_array(e.ev_data, '&')) kv) x;
            GET DIAGNOSTICS n = ROW_COUNT;
            PERFORM pgq.finish_batch(b);
            COMMIT;
        END IF;
        IF n > 0 THEN
            idle := 0;
            CONTINUE;
        END IF;
        -- once the writers stopped, force ticks until a while brings nothing
        IF (SELECT stop FROM stop_flag) THEN
            EXIT WHEN idle > 20;
            PERFORM pgq.force_tick('src_q');
        END IF;
        idle := idle + 1;
        COMMIT;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SQL
cat > "$work/writer.sql" <<'SQL'
BEGIN;
INSERT INTO src (v) VALUES (1);
SELECT pg_sleep(random() * 0.004);
COMMIT;
SQL
chmod 644 "$work/writer.sql"
"${psql[@]}" -c "CALL hand_pipeline('tight', 'hand_tight_out', 0)" >/dev/null &
tight_pid=$!
"${psql[@]}" -c "CALL hand_pipeline('100ms', 'hand_100ms_out', 0.1)" >/dev/null &
slow_pid=$!
"${psql[@]}" -c "CALL pgq_consumer()" >/dev/null &
pgq_pid=$!
tps=$("${pgbench[@]}" -c 4 -j 2 -T "$pipeline_secs" -f "$work/writer.sql" postgres 2>/dev/null \
      | awk '/^tps/ {printf "%.0f", $3; exit}')
"${psql[@]}" -c "UPDATE stop_flag SET stop = true" >/dev/null
wait "$tight_pid" "$slow_pid" "$pgq_pid"
"${psql[@]}" -c "CALL stream.process_all_available('copy')" >/dev/null
"${psql[@]}" -F '|' > "$work/pipeline.txt" <<'SQL'
WITH s AS (SELECT count(*) AS n FROM src)
SELECT name, delivered, distinct_ids, s.n - matched AS lost, delivered - distinct_ids AS duplicated,
       round(100.0 * (s.n - matched) / s.n, 3) AS lost_pct
  FROM s, LATERAL (VALUES
    ('pg_streaming (continuous)', (SELECT count(*) FROM stream_out), (SELECT count(DISTINCT id) FROM stream_out),
       (SELECT count(*) FROM src WHERE id IN (SELECT id FROM stream_out))),
    ('hand-written, tight loop', (SELECT count(*) FROM hand_tight_out), (SELECT count(DISTINCT id) FROM hand_tight_out),
       (SELECT count(*) FROM src WHERE id IN (SELECT id FROM hand_tight_out))),
    ('hand-written, every 100 ms', (SELECT count(*) FROM hand_100ms_out), (SELECT count(DISTINCT id) FROM hand_100ms_out),
       (SELECT count(*) FROM src WHERE id IN (SELECT id FROM hand_100ms_out))),
    ('PgQ consumer', (SELECT count(*) FROM pgq_out), (SELECT count(DISTINCT id) FROM pgq_out),
       (SELECT count(*) FROM src WHERE id IN (SELECT id FROM pgq_out)))) v(name, delivered, distinct_ids, matched);
SQL
src_rows=$("${psql[@]}" -c "SELECT count(*) FROM src")
echo "writers: ${tps} transactions/s, ${src_rows} rows"
cat "$work/pipeline.txt"

# ---------------------------------------------------------------------------
# 2. batch cost against history size, with and without a transaction open
# ---------------------------------------------------------------------------
echo "== 2. batch of ${new_rows} rows against history size, with and without an unrelated transaction open"
"${psql[@]}" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE TABLE hist (id bigint, v float8);
SELECT stream.create_stream('hist');
CREATE TABLE elsewhere (id int);
BEGIN;
SELECT stream.start_query('hist_q', 'SELECT id, v * 2 AS v2 FROM hist', 'hist_out', trigger => '1 hour');
SELECT stream.stop_query('hist_q');
COMMIT;
SQL
: > "$work/history.dat"
loaded=0
for h in $histories; do
    "${psql[@]}" -c "INSERT INTO hist SELECT g, g FROM generate_series($loaded + 1, $h) g" >/dev/null
    "${psql[@]}" -c "CALL stream.process_all_available('hist_q')" >/dev/null
    loaded=$h
    # with a transaction open elsewhere since before the batch's rows
    ( echo "BEGIN; INSERT INTO elsewhere VALUES (1); SELECT pg_sleep(30); COMMIT;" \
        | "${psql[@]}" >/dev/null 2>&1 ) &
    holder=$!
    sleep 1
    "${psql[@]}" -c "INSERT INTO hist SELECT g, g FROM generate_series(1, $new_rows) g" >/dev/null
    with=$("${psql[@]}" <<'SQL' | tail -1
SELECT clock_timestamp() AS t0 \gset
CALL stream.process_batch('hist_q');
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 2);
SQL
)
    kill "$holder" 2>/dev/null || true
    wait "$holder" 2>/dev/null || true
    "${psql[@]}" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()" >/dev/null
    "${psql[@]}" -c "INSERT INTO hist SELECT g, g FROM generate_series(1, $new_rows) g" >/dev/null
    without=$("${psql[@]}" <<'SQL' | tail -1
SELECT clock_timestamp() AS t0 \gset
CALL stream.process_batch('hist_q');
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 2);
SQL
)
    echo "$h $without $with" | tee -a "$work/history.dat"
done

# ---------------------------------------------------------------------------
# 3. insert-to-target latency per trigger
# ---------------------------------------------------------------------------
echo "== 3. insert-to-target latency per trigger, 50 rows/s"
: > "$work/latency.dat"
"${psql[@]}" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE TABLE lat (id bigserial, payload text);
SELECT stream.create_stream('lat');
SQL
echo "INSERT INTO lat (payload) VALUES ('x');" > "$work/lat.sql"
chmod 644 "$work/lat.sql"
for trig in "continuous" "100 ms" "500 ms" "1 s"; do
    name="lat_$(echo "$trig" | tr -dc 'a-z0-9')"
    "${psql[@]}" -c "SELECT stream.start_query('$name', 'SELECT id FROM lat', '$name', trigger => '$trig',
                                                starting_from => 'latest')" >/dev/null
    sleep 1
    "${pgbench[@]}" -c 1 -R 50 -T 10 -f "$work/lat.sql" postgres >/dev/null 2>&1
    sleep 2
    "${psql[@]}" -c "SELECT stream.stop_query('$name')" >/dev/null
    # a row's latency: its batch's commit time minus its own commit time
    "${psql[@]}" -F ' ' -c "
        SELECT '$trig', round(extract(epoch FROM pg_xact_commit_timestamp(o.xmin) - pg_xact_commit_timestamp(l.xmin)) * 1000, 2)
          FROM $name o JOIN lat l USING (id) ORDER BY 2" >> "$work/latency.dat"
    "${psql[@]}" -c "SELECT stream.drop_query('$name')" >/dev/null
    "${psql[@]}" -c "TRUNCATE $name" >/dev/null 2>&1 || true
done

# ---------------------------------------------------------------------------
# 4. lag over a sustained run with several queries
# ---------------------------------------------------------------------------
echo "== 4. lag over ${sustain_secs} s at 200 rows/s, 20 queries on '1 s' triggers"
"${psql[@]}" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE TABLE sus (id bigserial, v int);
SELECT stream.create_stream('sus');
SELECT stream.start_query('sus_' || g, 'SELECT id, v FROM sus WHERE v % 20 = ' || (g - 1), 'sus_out_' || g,
                          trigger => '1 s')
  FROM generate_series(1, 20) g;
SQL
echo "INSERT INTO sus (v) VALUES ((random() * 1000)::int);" > "$work/sus.sql"
chmod 644 "$work/sus.sql"
: > "$work/lag.dat"
"${pgbench[@]}" -c 2 -R 200 -T "$sustain_secs" -f "$work/sus.sql" postgres >/dev/null 2>&1 &
bench=$!
t=0
while kill -0 "$bench" 2>/dev/null && [ "$t" -lt "$sustain_secs" ]; do
    sleep 1
    t=$((t + 1))
    # the age of the oldest committed row some query has not processed
    "${psql[@]}" -F ' ' -c "
        SELECT $t, coalesce(round(extract(epoch FROM max(clock_timestamp() - last_batch_at)) * 1000), 0)
          FROM stream.queries WHERE name LIKE 'sus\_%'" >> "$work/lag.dat"
done
wait "$bench" 2>/dev/null || true

# ---------------------------------------------------------------------------
# 5. the aggregation and ingest benchmarks
# ---------------------------------------------------------------------------
stop_server "$dir"
echo "== 5. aggregation against REFRESH MATERIALIZED VIEW, ingest against a plain table"
env NGROUPS=100 ROUNDS=${AGG_ROUNDS:-5} NEW_ROWS=10000 HISTORY=${AGG_HISTORY:-2000000} \
    SMALL_HISTORY=10000 STATE_GROUPS=1000 bash bench/aggregation.sh > "$work/aggregation.txt" 2>&1
env ROWS=${INGEST_ROWS:-1000000} ROUNDS=${INGEST_ROUNDS:-3} PGBENCH_ROUNDS=${INGEST_ROUNDS:-3} \
    SECONDS_PER_RUN=${INGEST_SECONDS:-10} bash bench/ingest.sh > "$work/ingest.txt" 2>&1
tail -12 "$work/aggregation.txt"
tail -6 "$work/ingest.txt"

# ---------------------------------------------------------------------------
# 6. the aggregation's peers: pg_ivm and trigger-maintained summaries
# ---------------------------------------------------------------------------
peers_rows=${PEERS_NEW_ROWS:-10000}
echo "== 6. the same aggregation kept by pg_ivm and by triggers, per ${peers_rows}-row INSERT"
env ROUNDS=${PEERS_ROUNDS:-7} HISTORY=${PEERS_HISTORY:-2000000} NEW_ROWS=$peers_rows NGROUPS=1000 \
    CONC_SECONDS=${PEERS_CONC_SECONDS:-10} AGG_PEERS_DAT="$work/peers.dat" AGG_PEERS_CONC_DAT="$work/peers_conc.dat" \
    bash bench/agg_peers.sh > "$work/peers.txt" 2>&1
grep -E "^median|^check|^concurrent" "$work/peers.txt"

# ---------------------------------------------------------------------------
# 7. the throughput ceiling
# ---------------------------------------------------------------------------
echo "== 7. the throughput ceiling: a continuous filter and a '1 s' aggregation, against a plain table"
: > "$work/ceiling.dat"
env STEP_SECONDS=${CEILING_STEP_SECONDS:-5} PLAIN_SECONDS=${CEILING_PLAIN_SECONDS:-10} \
    TX_ROWS=${CEILING_TX_ROWS:-5000} ${CEILING_STEPS:+STEPS="$CEILING_STEPS"} \
    CEILING_DAT="$work/ceiling.dat" bash bench/ceiling.sh > "$work/ceiling.txt" 2>&1
grep -E "^ceiling|^check|^first|^no step" "$work/ceiling.txt"

# ---------------------------------------------------------------------------
# the plots and RESULTS.md
# ---------------------------------------------------------------------------
gnuplot <<GP
set terminal pngcairo size 800,480
set output '$out/history.png'
set title 'A batch of ${new_rows} new rows against the history'
set xlabel 'rows in the stream (history)'
set ylabel 'batch (ms)'
set key left top
set yrange [0:*]
plot '$work/history.dat' using 1:2 with linespoints title 'nothing else open', \
     '' using 1:3 with linespoints title 'a transaction open elsewhere since before the rows'
GP
for trig in "continuous" "100 ms" "500 ms" "1 s"; do
    f="$work/lat_$(echo "$trig" | tr -dc 'a-z0-9').dat"
    awk -v t="$trig" '{ v = $NF; $NF = ""; sub(/ +$/, ""); if ($0 == t) print v }' "$work/latency.dat" \
        | sort -g | awk '{ a[NR] = $1 } END { for (i = 1; i <= NR; i++) print a[i], i / NR }' > "$f"
done
gnuplot <<GP
set terminal pngcairo size 800,480
set output '$out/latency.png'
set title 'Insert-to-target latency, 50 rows/s (cumulative)'
set xlabel 'latency (ms)'
set ylabel 'fraction of rows'
set logscale x
set key right bottom
plot '$work/lat_continuous.dat' using 1:2 with lines title 'continuous', \
     '$work/lat_100ms.dat' using 1:2 with lines title '100 ms', \
     '$work/lat_500ms.dat' using 1:2 with lines title '500 ms', \
     '$work/lat_1s.dat' using 1:2 with lines title '1 s'
GP
gnuplot <<GP
set terminal pngcairo size 800,480
set output '$out/lag.png'
set title 'Lag of 20 queries on 1 s triggers, 200 rows/s'
set xlabel 'seconds into the run'
set ylabel 'time since the oldest query last committed (ms)'
set yrange [0:*]
plot '$work/lag.dat' using 1:2 with lines title 'worst of the 20 queries'
GP

gnuplot <<GP
set terminal pngcairo size 900,480
set output '$out/peers.png'
set title 'The same aggregation (1,000 groups, ${PEERS_HISTORY:-2000000}-row history) kept up to date, per ${peers_rows}-row INSERT'
set ylabel 'ms (median)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key outside bottom center horizontal
set yrange [0:*]
set xtics noenhanced
plot '$work/peers.dat' using 2:xtic(1) title "the writer's statement", \
     '' using 4 title 'total (writer + later batch)', \
     '' using 5 title "the writer's statement, backend CPU", \
     '' using 7 title 'total, backend CPU'
GP
ceiling_plain=$(awk '/^ceiling plain table:/ { print $4 }' "$work/ceiling.txt")
ceiling_xmax=$(awk -v p="${ceiling_plain:-0}" '$3 > p { p = $3 } END { printf "%.0f", p * 1.1 + 1 }' "$work/ceiling.dat")
ceiling_y1=$(awk 'BEGIN { m = 100 } $5 > m { m = $5 } END { printf "%.0f", m * 1.15 }' "$work/ceiling.dat")
ceiling_y2=$(awk 'BEGIN { m = 1000 } $6 > m { m = $6 } END { printf "%.0f", m * 1.15 }' "$work/ceiling.dat")
gnuplot <<GP
set terminal pngcairo size 800,520
set output '$out/ceiling.png'
set title 'Ingest steps into a stream with a continuous filter and a 1 s aggregation'
set xlabel 'rows/s the writers reached'
set ylabel 'filter p99 latency (ms)'
set y2label 'aggregation lag beyond its 1 s trigger (ms)'
set ytics nomirror
set y2tics
set xrange [0:${ceiling_xmax}]
set format x '%.1s%c'
set yrange [0:${ceiling_y1}]
set y2range [0:${ceiling_y2}]
set key outside bottom center horizontal
set arrow from ${ceiling_plain:-0}, graph 0 to ${ceiling_plain:-0}, graph 1 nohead dashtype 2
set label 'plain table, unthrottled' at ${ceiling_plain:-0}, graph 0.95 right offset -1,0
set arrow from graph 0, first 100 to graph 1, first 100 nohead dashtype 3 linecolor 1
set arrow from graph 0, second 1000 to graph 1, second 1000 nohead dashtype 3 linecolor 2
plot '$work/ceiling.dat' using 3:5 with linespoints title 'filter p99 (limit 100 ms)', \
     '' using 3:6 axes x1y2 with linespoints title 'aggregation lag (limit 1000 ms)'
GP

pct() { # percentile of the latencies of one trigger
    awk -v q="$2" '{ a[NR] = $1 } END { i = int(q * NR); if (i < 1) i = 1; print a[i] }' \
        "$work/lat_$(echo "$1" | tr -dc 'a-z0-9').dat"
}
{
    echo "# Results: pg_streaming against what users run today"
    echo
    echo "Written by \`bash bench/compare.sh\` on $(date -u +%Y-%m-%d), PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), $(nproc) cores; the machine is shared, so single numbers are noisy."
    echo
    echo "## 1. A pipeline under concurrent writers"
    echo
    echo "4 pgbench clients for ${pipeline_secs} s, each transaction inserting one row and committing after a random pause of up to 4 ms, so that commits come out of id order (${tps} transactions/s, ${src_rows} rows). Four consumers copied the same rows at the same time; after the writers stopped each caught up."
    echo
    echo "| pipeline | rows delivered | distinct | lost | duplicated | lost % |"
    echo "| --- | --- | --- | --- | --- | --- |"
    awk -F'|' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$work/pipeline.txt"
    echo
    echo "The hand-written pipeline loses the rows whose transaction commits after a later id was already copied: its \"last id\" has passed them; the faster it loops, the more it loses. PgQ's batches are ranges between snapshots (ticks), so it loses nothing either, at the price of a trigger that writes every row a second time, into its queue, and of a ticker."
    echo
    echo "## 2. Batch cost against history size"
    echo
    echo "![batch cost against history](history.png)"
    echo
    echo "The transaction is open from before the batch's rows were written until after the batch (an unrelated report or an idle session); the library is preloaded, so it holds no floor back."
    echo
    echo "| history rows | batch, nothing else open (ms) | with a transaction open elsewhere (ms) |"
    echo "| --- | --- | --- |"
    awk '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$work/history.dat"
    echo
    echo "## 3. Insert-to-target latency per trigger"
    echo
    echo "![latency](latency.png)"
    echo
    echo "| trigger | p50 (ms) | p90 (ms) | p99 (ms) |"
    echo "| --- | --- | --- | --- |"
    for trig in "continuous" "100 ms" "500 ms" "1 s"; do
        echo "| $trig | $(pct "$trig" 0.5) | $(pct "$trig" 0.9) | $(pct "$trig" 0.99) |"
    done
    echo
    echo "## 4. Lag over a sustained run"
    echo
    echo "![lag](lag.png)"
    echo
    echo "20 queries on '1 s' triggers over one stream, 200 rows/s for ${sustain_secs} s; sampled every second: the time since the query that committed least recently last committed. Median $(awk '{print $2}' "$work/lag.dat" | median) ms, worst $(awk '{print $2}' "$work/lag.dat" | sort -g | tail -1) ms."
    echo
    echo "## 5. Aggregation against REFRESH MATERIALIZED VIEW, ingest against a plain table"
    echo
    echo '```'
    grep -E "^median|^check" "$work/aggregation.txt" || true
    grep -E "median|ratio" "$work/ingest.txt" || true
    echo '```'
    echo
    echo "## 6. The same aggregation kept by pg_ivm and by triggers"
    echo
    echo "![aggregation peers](peers.png)"
    echo
    echo "\`SELECT k, count(*), sum(v), avg(v) FROM t GROUP BY k\` over 1,000 groups and a $(grep -oE '[0-9]+-row history' "$work/peers.txt" | head -1) per table, each round one INSERT of ${peers_rows} rows into each table, in one session, the order rotating from round to round; server milliseconds and, in parentheses, the CPU milliseconds the backend spent (\`/proc/self/schedstat\`: what the other load on this shared machine changes least; it leaves out the waits for the WAL flush at commit), medians of $(grep -cE '^[0-9]+ .*\(order' "$work/peers.txt") rounds. pg_ivm (an IMMV) and the triggers do all their work inside the writer's statement; pg_streaming's writer only inserts, and the update-mode query's batch (\`CALL stream.process_batch\`) does the rest later, off the writer's path."
    echo
    echo "| peer | the writer's statement: ms (CPU ms) | later: ms (CPU ms) | total: ms (CPU ms) | writer / plain INSERT: time (CPU) | total / pg_streaming's total: time (CPU) |"
    echo "| --- | --- | --- | --- | --- | --- |"
    awk 'NR == 1 { p = $2; pc = $5 } $1 == "pg_streaming" { s = $4; sc = $7 } { for (j = 1; j <= 7; j++) f[NR, j] = $j }
         END { for (i = 1; i <= NR; i++) { name = f[i, 1]; if (name ~ /trigger/) gsub(/_/, " ", name)
               printf "| %s | %s (%s) | %s (%s) | %s (%s) | %.2fx (%.2fx) | %.2fx (%.2fx) |\n", name, f[i, 2], f[i, 5],
                      f[i, 3], f[i, 6], f[i, 4], f[i, 7], f[i, 2] / p, f[i, 5] / pc, f[i, 4] / s, f[i, 7] / sc } }' "$work/peers.dat"
    echo
    echo "Medians of the per-round ratios (each round's peers ran back to back):"
    echo
    echo '```'
    grep -E "^median ratio|^check" "$work/peers.txt" || true
    echo '```'
    echo
    echo "With concurrent writers ($(grep -oE '[0-9]+ concurrent writers of [0-9]+-row INSERTs, [0-9]+ s each' "$work/peers.txt" | head -1), the groups drawn at random, each peer in turn; pgbench retries a transaction that failed on a deadlock up to 10 times): a summary row is locked by the writer that changes it until that writer commits, so the writers of pg_ivm and of the triggers wait for each other (the statement trigger upserts in key order, or they would deadlock; the row trigger cannot); pg_streaming's writers share nothing, and its query (on a \`'1 s'\` trigger meanwhile) writes the groups once a second."
    echo
    echo "| peer | rows/s | transactions retried | failed | pg_streaming's query: seconds to catch up after the writers stopped |"
    echo "| --- | --- | --- | --- | --- |"
    awk '{ name = $1; if (name ~ /trigger/) gsub(/_/, " ", name); printf "| %s | %s | %s | %s | %s |\n", name, $2, $3, $4, $5 }' "$work/peers_conc.dat"
    echo
    echo "## 7. The throughput ceiling"
    echo
    echo "![throughput ceiling](ceiling.png)"
    echo
    echo "$(grep -oE '[0-9]+ writers of [0-9]+-row transactions' "$work/ceiling.txt" | head -1), \`synchronous_commit = off\`, the library preloaded. A plain table's ceiling: the writers unthrottled (before and after the steps). The stream's: steps of increasing rate (pgbench \`--rate\`), read by a \`'continuous'\` filter (1% of the rows) and an update-mode aggregation (1,000 groups) on a \`'1 s'\` trigger; a step passes when the writers reach 95% of the rate asked, the filter's p99 latency (a row's commit to its target row's commit) is under 100 ms and the aggregation's lag beyond its trigger (per batch: its commit minus the start of the batch before, less 1 s) is under 1 s. A step that fails is run once more; the first step that fails both times ends the run, and the table shows each step's last run."
    echo
    echo "| asked rows/s | reached rows/s | filter p50 (ms) | filter p99 (ms) | aggregation lag (ms) | pg_streaming's processes: CPU ms per 100,000 rows | passed |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    awk '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $8, $7 }' "$work/ceiling.dat"
    echo
    echo '```'
    grep -E "^ceiling|^check|^first|^no step" "$work/ceiling.txt" || true
    echo '```'
    echo
    echo "See bench/README.md for what each of these measures and for the other benchmarks."
} > "$out/RESULTS.md"
echo "wrote $out/RESULTS.md, $out/history.png, $out/latency.png, $out/lag.png, $out/peers.png, $out/ceiling.png"
