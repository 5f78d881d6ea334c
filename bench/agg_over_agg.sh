#!/usr/bin/env bash
# A windowed aggregation over a windowed aggregation: one chained query
# against the two-query form that the chain replaces.
#
# A stream v (event_id, page, t) with HISTORY rows already processed; every
# round inserts NEW_ROWS rows further on in event time (EVENTS_PER_SECOND
# a second, PAGES pages).  Both forms count views per hour, summed from views
# per 1-minute window and page, append mode, a watermark of 1 minute:
#   chain: one query over v, the minutes a subquery in FROM;
#   two:   the minutes into a stream table v_min (a query over v), and the
#          hours over v_min (two batches, one after the other: the second
#          reads what the first committed; its watermark of 1 minute is
#          over the minutes' starts).
# Each round times one batch of the chain and the two batches of the
# two-query form (alternating which form goes first), with the WAL each
# wrote; prints every round, then the medians and the median of the
# per-round ratios chain / two.  Last, after a watermark past every row,
# both targets are checked equal, and equal to the two aggregations over
# all rows.
#
#   bash bench/agg_over_agg.sh   # as root; HISTORY=200000 NEW_ROWS=20000 ROUNDS=5
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-5}
history=${HISTORY:-200000}
new_rows=${NEW_ROWS:-20000}
per_second=${EVENTS_PER_SECOND:-20}
pages=${PAGES:-100}
bench_server agg_over_agg 54367 "shared_buffers=512MB" "max_wal_size=4GB"
results=$(mktemp "${TMPDIR:-/tmp}/pg_streaming_agg_over_agg.XXXXXX")
trap 'stop_server "$dir"; rm -rf "$dir" "$results"' EXIT

"${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
CREATE FUNCTION gen(first bigint, cnt int)
RETURNS TABLE (event_id bigint, page int, t timestamptz) LANGUAGE sql AS \$\$
    SELECT g, (g * 7919 % $pages)::int,
           timestamptz '2026-01-01 00:00:00+00' + (g::float8 / $per_second) * interval '1 second'
    FROM generate_series(first + 1, first + cnt) g
\$\$;
CREATE TABLE v (event_id bigint, page int, t timestamptz);
SELECT stream.create_stream('v');
CREATE TABLE v_min (minute timestamptz, page int, views bigint);
SELECT stream.create_stream('v_min');
SELECT stream.start_query('chain',
    \$\$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views,
             count(*) AS minute_pages
        FROM (SELECT stream.tumble(t, '1 minute') AS minute, page, count(*) AS views
                FROM v GROUP BY 1, 2) m
       GROUP BY 1\$\$,
    'chain_out', output_mode => 'append', event_time => 't', watermark => '1 minute',
    trigger => '1 hour');
SELECT stream.start_query('minutes',
    \$\$SELECT stream.tumble(t, '1 minute') AS minute, page, count(*) AS views FROM v GROUP BY 1, 2\$\$,
    'v_min', output_mode => 'append', event_time => 't', watermark => '1 minute',
    trigger => '1 hour');
SELECT stream.start_query('two',
    \$\$SELECT stream.tumble(minute, '1 hour') AS hour, sum(views) AS views,
             count(*) AS minute_pages
        FROM v_min GROUP BY 1\$\$,
    'two_out', output_mode => 'append', event_time => 'minute', watermark => '1 minute',
    trigger => '1 hour');
INSERT INTO v SELECT * FROM gen(0, $history);
CALL stream.process_all_available('chain');
CALL stream.process_all_available('minutes');
CALL stream.process_all_available('two');
VACUUM ANALYZE v, v_min;
SQL

# FORM: one batch of the chain, or the two batches of the two-query form;
# prints "FORM ms wal_bytes"
timed() {
    local calls
    if [ "$1" = chain ]; then
        calls="CALL stream.process_batch('chain');"
    else
        calls="CALL stream.process_batch('minutes'); CALL stream.process_batch('two');"
    fi
    cat <<SQL
SELECT clock_timestamp() AS t0, pg_current_wal_insert_lsn() AS l0 \gset
$calls
SELECT '$1', round(extract(epoch FROM clock_timestamp() - :'t0') * 1000, 1),
       pg_wal_lsn_diff(pg_current_wal_insert_lsn(), :'l0');
SQL
}

# every round in one session, as a worker keeps one; round 0 (not counted)
# prepares each query's statements
round_sql() {
    local r gen_at=$history order f
    for r in $(seq 0 "$rounds"); do
        order=(chain two)
        [ $((r % 2)) -eq 0 ] && order=(two chain)
        echo "INSERT INTO v SELECT * FROM gen($gen_at, $new_rows);"
        echo "CHECKPOINT;"
        for f in "${order[@]}"; do
            timed "$f" | sed "s/^SELECT '$f'/SELECT '$r', '$f'/"
        done
        gen_at=$((gen_at + new_rows))
    done
}

echo "round form ms wal_bytes"
round_sql | "${psql[@]}" -F ' ' | grep -E '^[0-9]+ (chain|two) ' | grep -v '^0 ' | tee -a "$results"

echo "state rows after the last round (open minutes and hours): chain $("${psql[@]}" -c "SELECT state_rows FROM stream.progress WHERE query = 'chain' ORDER BY batch_id DESC LIMIT 1"), two-query form $("${psql[@]}" -c "SELECT sum(s) FROM (SELECT DISTINCT ON (query) state_rows AS s FROM stream.progress WHERE query IN ('minutes', 'two') ORDER BY query, batch_id DESC) x")"

# a last batch with a watermark past every row, then the checks
"${psql[@]}" >/dev/null <<SQL
INSERT INTO v VALUES (0, 0, timestamptz '2100-01-01');
CALL stream.process_all_available('chain');
CALL stream.process_all_available('minutes');
-- the minutes' stream has no row past its last closed minute: one closes
-- the hours of the two-query form (the chain's upper watermark is the
-- stream's)
INSERT INTO v_min VALUES (timestamptz '2100-01-01', 0, 0);
CALL stream.process_all_available('two');
SQL
echo "check: the chain's target equals the two-query form's: $("${psql[@]}" -c "SELECT count(*) = 0 FROM ((TABLE chain_out EXCEPT ALL TABLE two_out) UNION ALL (TABLE two_out EXCEPT ALL TABLE chain_out)) d")"
q="SELECT stream.tumble(minute, '1 hour') AS hour, sum(views) AS views, count(*) AS minute_pages
   FROM (SELECT stream.tumble(t, '1 minute') AS minute, page, count(*) AS views
           FROM v WHERE event_id > 0 GROUP BY 1, 2) m GROUP BY 1"
echo "check: and the two aggregations over all rows: $("${psql[@]}" -c "SELECT count(*) = 0 FROM ((TABLE chain_out EXCEPT ALL $q) UNION ALL ($q EXCEPT ALL TABLE chain_out)) d")"
echo "hours written: $("${psql[@]}" -c "SELECT count(*) FROM chain_out")"

echo "form batches median_ms median_wal_bytes"
for f in chain two; do
    echo "$f $(awk -v f=$f '$2 == f' "$results" | wc -l) $(awk -v f=$f '$2 == f { print $3 }' "$results" | median) $(awk -v f=$f '$2 == f { print $4 }' "$results" | median)"
done
echo "median ratio chain/two (ms, wal): $(awk '{ ms[$1 " " $2] = $3 } END { for (k in ms) { split(k, a, " "); if (a[2] == "chain") printf "%.3f\n", ms[k] / ms[a[1] " two"] } }' "$results" | median) $(awk '{ wal[$1 " " $2] = $4 } END { for (k in wal) { split(k, a, " "); if (a[2] == "chain") printf "%.3f\n", wal[k] / wal[a[1] " two"] } }' "$results" | median)"
