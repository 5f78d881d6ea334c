#!/usr/bin/env bash
# Deduplication then aggregation: one chained query against the two-query
# form that the chain replaces.
#
# A stream v (event_id, page, t, payload) with HISTORY rows already
# processed; every round inserts NEW_ROWS rows of which DUP_PERCENT are
# copies of events sent shortly before (in the same batch or the previous
# one, within the watermark).  An event's page and time follow from its id
# (EVENTS_PER_SECOND ids a second of event time), so a copy is the same
# event.  Both forms count views per 1-minute window and page, append mode,
# a watermark of 1 minute, deduplicating by event_id:
#   chain: one query over v with deduplicate => '{event_id}';
#   two:   a deduplicating query from v into a stream table v_once, and the
#          aggregation over v_once (two batches, one after the other: the
#          second reads what the first committed).
# Each round times one batch of the chain and the two batches of the
# two-query form (alternating which form goes first), with the WAL each
# wrote; prints every round, then the medians and the median of the
# per-round ratios chain / two.  Last, both targets are checked equal, and
# equal to the aggregation over all rows without duplicates.
#
#   bash bench/chain.sh   # as root; HISTORY=1000000 NEW_ROWS=10000 DUP_PERCENT=10 ROUNDS=3
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-3}
history=${HISTORY:-1000000}
new_rows=${NEW_ROWS:-10000}
dup_percent=${DUP_PERCENT:-10}
per_second=${EVENTS_PER_SECOND:-1000}
pages=${PAGES:-100}
bench_server chain 54364 "shared_buffers=512MB" "max_wal_size=4GB"
results=$(mktemp "${TMPDIR:-/tmp}/pg_streaming_chain.XXXXXX")
trap 'stop_server "$dir"; rm -rf "$dir" "$results"' EXIT

"${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
-- the rows first+1 .. first+cnt sent: every (100 / DUP_PERCENT)th one a copy
-- of an event sent up to 5000 rows before
CREATE FUNCTION gen(first bigint, cnt int)
RETURNS TABLE (event_id bigint, page int, t timestamptz, payload text) LANGUAGE sql AS \$\$
    SELECT e, (e % $pages)::int,
           timestamptz '2026-01-01 00:00:00+00' + (e::float8 / $per_second) * interval '1 second',
           md5(e::text)
    FROM generate_series(first + 1, first + cnt) g,
         LATERAL (SELECT CASE WHEN $dup_percent > 0 AND g % (100 / $dup_percent) = 0 AND g > 5000
                              THEN g - 1 - (g * 7919) % 5000 ELSE g END AS e) x
\$\$;
CREATE TABLE v (event_id bigint, page int, t timestamptz, payload text);
SELECT stream.create_stream('v');
CREATE TABLE v_once (event_id bigint, page int, t timestamptz);
SELECT stream.create_stream('v_once');
SELECT stream.start_query('chain',
    \$\$SELECT stream.tumble(t, '1 minute') AS w, page, count(*) AS n FROM v GROUP BY 1, 2\$\$,
    'chain_out', output_mode => 'append', event_time => 't', watermark => '1 minute',
    deduplicate => '{event_id}', trigger => '1 hour');
SELECT stream.start_query('dd', \$\$SELECT event_id, page, t FROM v\$\$, 'v_once',
    event_time => 't', watermark => '1 minute', deduplicate => '{event_id}', trigger => '1 hour');
SELECT stream.start_query('two',
    \$\$SELECT stream.tumble(t, '1 minute') AS w, page, count(*) AS n FROM v_once GROUP BY 1, 2\$\$,
    'two_out', output_mode => 'append', event_time => 't', watermark => '1 minute',
    trigger => '1 hour');
INSERT INTO v SELECT * FROM gen(0, $history);
CALL stream.process_all_available('chain');
CALL stream.process_all_available('dd');
CALL stream.process_all_available('two');
VACUUM ANALYZE v, v_once;
SQL

# FORM: one batch of the chain, or the two batches of the two-query form;
# prints "FORM ms wal_bytes"
timed() {
    local calls
    if [ "$1" = chain ]; then
        calls="CALL stream.process_batch('chain');"
    else
        calls="CALL stream.process_batch('dd'); CALL stream.process_batch('two');"
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

echo "state rows after the last round (keys and open windows): chain $("${psql[@]}" -c "SELECT state_rows FROM stream.progress WHERE query = 'chain' ORDER BY batch_id DESC LIMIT 1"), two-query form $("${psql[@]}" -c "SELECT sum(s) FROM (SELECT DISTINCT ON (query) state_rows AS s FROM stream.progress WHERE query IN ('dd', 'two') ORDER BY query, batch_id DESC) x")"

# a last batch with a watermark past every row, then the checks
"${psql[@]}" >/dev/null <<SQL
INSERT INTO v VALUES (0, 0, timestamptz '2100-01-01', 'end');
CALL stream.process_all_available('chain');
CALL stream.process_all_available('dd');
CALL stream.process_all_available('two');
SQL
echo "check: the chain's target equals the two-query form's: $("${psql[@]}" -c "SELECT count(*) = 0 FROM ((TABLE chain_out EXCEPT ALL TABLE two_out) UNION ALL (TABLE two_out EXCEPT ALL TABLE chain_out)) d")"
q="SELECT stream.tumble(t, '1 minute') AS w, page, count(*) AS n
   FROM (SELECT DISTINCT ON (event_id) * FROM v WHERE event_id > 0 ORDER BY event_id, t) d GROUP BY 1, 2"
echo "check: and the aggregation over all rows without duplicates: $("${psql[@]}" -c "SELECT count(*) = 0 FROM ((TABLE chain_out EXCEPT ALL $q) UNION ALL ($q EXCEPT ALL TABLE chain_out)) d")"

echo "form batches median_ms median_wal_bytes"
for f in chain two; do
    echo "$f $(awk -v f=$f '$2 == f' "$results" | wc -l) $(awk -v f=$f '$2 == f { print $3 }' "$results" | median) $(awk -v f=$f '$2 == f { print $4 }' "$results" | median)"
done
echo "median ratio chain/two (ms, wal): $(awk '{ ms[$1 " " $2] = $3; wal[$1 " " $2] = $4 } END { for (k in ms) { split(k, a, " "); if (a[2] == "chain") printf "%.3f\n", ms[k] / ms[a[1] " two"] } }' "$results" | median) $(awk '{ wal[$1 " " $2] = $4 } END { for (k in wal) { split(k, a, " "); if (a[2] == "chain") printf "%.3f\n", wal[k] / wal[a[1] " two"] } }' "$results" | median)"
