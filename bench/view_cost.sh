#!/usr/bin/env bash
# What reading stream.queries costs as a query's backlog grows, against the
# exact count (stream.pending_rows): one query on a 1-hour trigger, its
# stream filled to SMALL and then LARGE unprocessed rows; at each size the
# view and the exact count are each read READS times, medians in ms, and the
# view's estimate is compared with the exact count.
#
#   bash bench/view_cost.sh   # as root; SMALL=10000 LARGE=1000000 READS=15
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

small=${SMALL:-10000}
large=${LARGE:-1000000}
reads=${READS:-15}
bench_server view_cost 54361

"${psql[@]}" <<'SQL'
CREATE EXTENSION pg_streaming;
CREATE TABLE ev (id int, v text);
SELECT stream.create_stream('ev');
SELECT stream.start_query('q', 'SELECT id, v FROM ev', 'q_out', trigger => '1 hour');
CREATE TABLE reads (backlog bigint, view_ms float8, exact_ms float8);
CREATE FUNCTION measure(n bigint, reads int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    s timestamptz;
    v float8;
BEGIN
    FOR i IN 1..reads LOOP
        s := clock_timestamp();
        PERFORM * FROM stream.queries;
        v := extract(epoch FROM clock_timestamp() - s) * 1000;
        s := clock_timestamp();
        PERFORM stream.pending_rows('q');
        INSERT INTO reads VALUES (n, v, extract(epoch FROM clock_timestamp() - s) * 1000);
    END LOOP;
END $$;
SQL
"${psql[@]}" -c "INSERT INTO ev SELECT g, 'x' FROM generate_series(1, $small) g"
"${psql[@]}" -c "SELECT measure($small, $reads)" >/dev/null
"${psql[@]}" -c "INSERT INTO ev SELECT g, 'x' FROM generate_series($small + 1, $large) g"
"${psql[@]}" -c "SELECT measure($large, $reads)" >/dev/null

echo "backlog view_ms exact_ms (medians of $reads reads)"
"${psql[@]}" -F ' ' -c "SELECT backlog, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY view_ms)::numeric, 2),
                               round(percentile_cont(0.5) WITHIN GROUP (ORDER BY exact_ms)::numeric, 2)
                          FROM reads GROUP BY backlog ORDER BY backlog"
"${psql[@]}" -F ' ' -c "SELECT 'estimate', pending_rows, 'exact', stream.pending_rows('q'),
                               'error', round(abs(pending_rows - stream.pending_rows('q'))::numeric
                                              / stream.pending_rows('q'), 3)
                          FROM stream.queries"
"${psql[@]}" -F ' ' -c "SELECT 'view cost ratio large/small backlog:',
                               round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY view_ms) FROM reads WHERE backlog = $large)::numeric
                                   / (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY view_ms) FROM reads WHERE backlog = $small)::numeric, 2)"
