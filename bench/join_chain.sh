#!/usr/bin/env bash
# A join between streams then a windowed aggregation (a chain), against the
# join alone.
#
# Impressions and clicks as in bench/joins.sh (ad_id uniform over ADS (100k)
# ads, ROWS_PER_MINUTE (250) rows a minute per side, up to 5 minutes out of
# order, a click within an hour of its impression, watermarks of 2 and 3
# hours): j_left, the left outer join writing its rows, and j_hourly, the
# same join counted per hour of the impression (append mode, its hours
# closed by the join's output watermark, W - 1 hour - 1 ms).  The streams
# grow to HISTORY (500k) rows per side, CHUNK (100k) at a time, both queries
# processing each chunk; then ROUNDS (5) rounds, each adding NEW_ROWS (10k)
# rows per side and timing each query's batches (the data batch and the
# no-data batch after it), alternating which goes first.  At the end the
# hours j_hourly wrote must equal the hours counted from j_left's rows that
# the output watermark closed; the script fails otherwise.
#
# Prints each round's milliseconds, the medians and the ratio chain/join,
# and the state rows of each (the join's, and the chain's join and groups).
#
#   bash bench/join_chain.sh   # as root; HISTORY=500000 ROUNDS=5
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

if [ -n "${PGS_BENCH_SMOKE:-}" ]; then
    : "${HISTORY:=4000}" "${NEW_ROWS:=200}" "${ADS:=200}" "${ROWS_PER_MINUTE:=5}"
    : "${CHUNK:=2000}" "${ROUNDS:=1}"
fi
rounds=${ROUNDS:-5}
history=${HISTORY:-500000}
new_rows=${NEW_ROWS:-10000}
ads=${ADS:-100000}
per_minute=${ROWS_PER_MINUTE:-250}
chunk=${CHUNK:-100000}
bench_server join_chain 54366 "shared_buffers=${SHARED_BUFFERS:-512MB}" "max_wal_size=4GB" "jit=off"

match="c.ad_id = i.ad_id AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'"
"${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
CREATE FUNCTION gen_rows(first bigint, cnt int)
RETURNS TABLE (ad_id int, t timestamptz) LANGUAGE sql AS \$\$
    SELECT (random() * ($ads - 1))::int,
           timestamptz '2026-01-01 00:00:00+00'
             + (g * 60.0 / $per_minute) * interval '1 second'
             - random() * interval '5 minutes'
    FROM generate_series(first + 1, first + cnt) g
\$\$;
CREATE TABLE imp (ad_id int NOT NULL, imp_time timestamptz NOT NULL);
CREATE TABLE clk (ad_id int NOT NULL, click_time timestamptz NOT NULL);
SELECT stream.create_stream('imp');
SELECT stream.create_stream('clk');
CREATE INDEX ON imp (ad_id, imp_time);
CREATE INDEX ON clk (ad_id, click_time);
SELECT stream.start_query('j_left',
    \$q\$SELECT i.ad_id, i.imp_time, c.click_time FROM imp i LEFT JOIN clk c ON $match\$q\$,
    'j_left_out', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
SELECT stream.start_query('j_hourly',
    \$q\$SELECT stream.tumble(i.imp_time, '1 hour') AS hour, count(*) AS rows,
              count(c.click_time) AS clicks
         FROM imp i LEFT JOIN clk c ON $match GROUP BY 1\$q\$,
    'j_hourly_out', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
SQL

gen=0
while [ "$gen" -lt "$history" ]; do
    n=$((history - gen < chunk ? history - gen : chunk))
    "${psql[@]}" >/dev/null <<SQL
INSERT INTO imp SELECT * FROM gen_rows($gen, $n);
INSERT INTO clk SELECT * FROM gen_rows($gen, $n);
CALL stream.process_all_available('j_left');
CALL stream.process_all_available('j_hourly');
SQL
    gen=$((gen + n))
done
"${psql[@]}" -c "VACUUM ANALYZE imp, clk" >/dev/null

time_query() {
    "${psql[@]}" <<SQL
SELECT clock_timestamp() AS t0 \gset
CALL stream.process_all_available('$1');
SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000, 1);
SQL
}
join_ms=(); chain_ms=()
for r in $(seq 1 "$rounds"); do
    "${psql[@]}" >/dev/null <<SQL
INSERT INTO imp SELECT * FROM gen_rows($gen, $new_rows);
INSERT INTO clk SELECT * FROM gen_rows($gen, $new_rows);
SQL
    gen=$((gen + new_rows))
    if [ $((r % 2)) -eq 1 ]; then
        j=$(time_query j_left); c=$(time_query j_hourly)
    else
        c=$(time_query j_hourly); j=$(time_query j_left)
    fi
    join_ms+=("$j"); chain_ms+=("$c")
    echo "round $r: join ${j} ms, join then hourly count ${c} ms"
done
jm=$(printf '%s\n' "${join_ms[@]}" | median)
cm=$(printf '%s\n' "${chain_ms[@]}" | median)
echo "median of $rounds rounds of $new_rows rows per side at $history: join $jm ms, chain $cm ms, ratio $(awk -v a="$cm" -v b="$jm" 'BEGIN { printf "%.2f", a / b }')"
"${psql[@]}" <<'SQL'
SELECT format('state rows: join %s; chain %s (%s)', j.state_rows, c.state_rows,
              (SELECT string_agg(format('%s%s %s', operator, coalesce(' ' || side, ''), state_rows), ', ' ORDER BY ordinal)
                 FROM stream.progress_operators o
                WHERE o.query = 'j_hourly' AND o.batch_id = c.batch_id))
  FROM (SELECT state_rows FROM stream.progress WHERE query = 'j_left' ORDER BY batch_id DESC LIMIT 1) j,
       (SELECT state_rows, batch_id FROM stream.progress WHERE query = 'j_hourly' ORDER BY batch_id DESC LIMIT 1) c;
SQL
diff=$("${psql[@]}" <<'SQL'
WITH closed AS (
    SELECT stream.tumble(imp_time, '1 hour') AS hour, count(*) AS rows, count(click_time) AS clicks
      FROM j_left_out GROUP BY 1
    HAVING stream.tumble(imp_time, '1 hour') + interval '1 hour' <=
           (SELECT watermark FROM stream.queries WHERE name = 'j_hourly') - interval '1 hour 1 millisecond')
SELECT (SELECT count(*) FROM closed) || ' ' ||
       (SELECT count(*) FROM ((TABLE closed EXCEPT ALL TABLE j_hourly_out)
                              UNION ALL (TABLE j_hourly_out EXCEPT ALL TABLE closed)) d);
SQL
)
echo "closed hours, differences from the join's rows: $diff"
[ "${diff#* }" = "0" ] || { echo "the chain's hours differ from the join's rows" >&2; exit 1; }
