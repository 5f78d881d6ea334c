#!/usr/bin/env bash
# The same aggregation kept up to date four ways, against a plain table's
# INSERT: what the writer pays, what the maintenance costs, and the total.
#
# Five tables of (k int, v float8), each with HISTORY (2M) rows over NGROUPS
# (1000) groups, each round adding the same NEW_ROWS (10k) rows to each in
# one INSERT, the aggregate being
#   SELECT k, count(*), sum(v), avg(v) FROM t GROUP BY k
#   - plain: a plain table and no aggregate (what an INSERT costs);
#   - pg_streaming: a stream table and an update-mode query; the writer pays
#     the INSERT, one batch (CALL stream.process_batch) does the rest later;
#   - pg_ivm: an IMMV (pgivm.create_immv), maintained by pg_ivm's triggers
#     inside the writer's statement;
#   - statement trigger: a summary table kept by a hand-written statement-
#     level AFTER INSERT trigger with a transition table (INSERT ... SELECT
#     ... GROUP BY ... ORDER BY k ON CONFLICT DO UPDATE SET n = n + excluded.n,
#     ...), as careful users write it today (in key order: no deadlocks);
#   - row trigger: the same summary kept by a row-level trigger (one upsert
#     per row).
# Each round runs in one session (warmed by a one-row INSERT into each and a
# one-row batch), the peers in a rotating order, a CHECKPOINT before each
# timed statement; times are the server's and the backend's CPU time, in
# ms, medians over ROUNDS.  Every summary is then checked against its own
# table's aggregate.
#
# Then CLIENTS (4) concurrent writers of CONC_ROWS-row (1,000) INSERTs into
# each table in turn for CONC_SECONDS (10), the groups drawn at random:
# rows/s, and the transactions pgbench had to retry (deadlocks, up to 10
# tries) or gave up on.  The stream's query runs on a '1 s' trigger
# meanwhile; the seconds it took to catch up once the writers stopped are
# shown.
#
#   bash bench/agg_peers.sh   # as root; ROUNDS=7 HISTORY=2000000 NEW_ROWS=10000 NGROUPS=1000
#                             # CLIENTS=4 CONC_ROWS=1000 CONC_SECONDS=10
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-7}
history=${HISTORY:-2000000}
new_rows=${NEW_ROWS:-10000}
groups=${NGROUPS:-1000}
ivm_server_settings
bench_server agg_peers 54370 "${ivm_settings[@]}" "shared_buffers=512MB" "max_wal_size=4GB"

rows() { # the rows an INSERT adds: $1 rows over the groups
    echo "SELECT g % $groups, g % 1000 FROM generate_series(1, $1) g"
}

echo "== setting up: ${history} rows of history in each table, ${groups} groups"
"${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
CREATE EXTENSION pg_ivm;
CREATE TABLE pl (k int, v float8);
CREATE TABLE st (k int, v float8);
CREATE TABLE iv (k int, v float8);
CREATE TABLE ts (k int, v float8);
CREATE TABLE tr (k int, v float8);
SELECT stream.create_stream('st');
INSERT INTO pl $(rows "$history");
INSERT INTO st $(rows "$history");
INSERT INTO iv $(rows "$history");
INSERT INTO ts $(rows "$history");
INSERT INTO tr $(rows "$history");
-- pg_streaming: started and stopped at once, so that only the batches
-- called here run
BEGIN;
SELECT stream.start_query('agg_st', 'SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM st GROUP BY k',
                          'st_agg', output_mode => 'update', trigger => '1 hour');
SELECT stream.stop_query('agg_st');
COMMIT;
CALL stream.process_all_available('agg_st');
-- pg_ivm
SELECT pgivm.create_immv('iv_mv', 'SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM iv GROUP BY k');
-- the hand-written summaries: count and sum kept, the average from them
CREATE TABLE ts_sum (k int PRIMARY KEY, n bigint NOT NULL, s float8, a float8);
INSERT INTO ts_sum SELECT k, count(*), sum(v), avg(v) FROM ts GROUP BY k;
CREATE FUNCTION ts_summarize() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    -- in key order, so that concurrent writers lock the groups in the same
    -- order and wait for each other rather than deadlock
    INSERT INTO ts_sum AS o (k, n, s, a)
    SELECT k, count(*), sum(v), avg(v) FROM new_rows GROUP BY k ORDER BY k
    ON CONFLICT (k) DO UPDATE
       SET n = o.n + excluded.n,
           s = o.s + excluded.s,
           a = (o.s + excluded.s) / (o.n + excluded.n);
    RETURN NULL;
END
\$\$;
CREATE TRIGGER ts_summarize AFTER INSERT ON ts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ts_summarize();
CREATE TABLE tr_sum (k int PRIMARY KEY, n bigint NOT NULL, s float8, a float8);
INSERT INTO tr_sum SELECT k, count(*), sum(v), avg(v) FROM tr GROUP BY k;
CREATE FUNCTION tr_summarize() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO tr_sum AS o (k, n, s, a) VALUES (NEW.k, 1, NEW.v, NEW.v)
    ON CONFLICT (k) DO UPDATE
       SET n = o.n + 1,
           s = o.s + excluded.s,
           a = (o.s + excluded.s) / (o.n + 1);
    RETURN NULL;
END
\$\$;
CREATE TRIGGER tr_summarize AFTER INSERT ON tr FOR EACH ROW EXECUTE FUNCTION tr_summarize();
VACUUM ANALYZE;
SQL

# timed STATEMENT NAME: the SQL that times one statement: :NAME its server
# milliseconds, :NAME_cpu the CPU milliseconds the backend spent on it
# (/proc/self/schedstat, nanoseconds: what other load on the machine does
# not change)
timed() {
    cat <<SQL
CHECKPOINT;
SELECT clock_timestamp() AS t0, split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint AS c0 \\gset
$1;
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 2) AS $2,
       round((split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint - :c0) / 1e6, 2) AS $2_cpu \\gset
SQL
}

# one round, in one session, the peers in the order given
round() {
    {
        cat <<SQL
INSERT INTO pl VALUES (0, 0);
INSERT INTO st VALUES (0, 0);
INSERT INTO iv VALUES (0, 0);
INSERT INTO ts VALUES (0, 0);
INSERT INTO tr VALUES (0, 0);
CALL stream.process_batch('agg_st');
SQL
        for p in "$@"; do
            case $p in
                plain) timed "INSERT INTO pl $(rows "$new_rows")" plain ;;
                stream)
                    timed "INSERT INTO st $(rows "$new_rows")" stream_w
                    timed "CALL stream.process_batch('agg_st')" stream_b ;;
                ivm) timed "INSERT INTO iv $(rows "$new_rows")" ivm ;;
                stmt) timed "INSERT INTO ts $(rows "$new_rows")" stmt ;;
                row) timed "INSERT INTO tr $(rows "$new_rows")" row ;;
            esac
        done
        echo "SELECT :plain, :stream_w, :stream_b, :ivm, :stmt, :row,"
        echo "       :plain_cpu, :stream_w_cpu, :stream_b_cpu, :ivm_cpu, :stmt_cpu, :row_cpu;"
    } | "${psql[@]}" -F ' ' | tail -1
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }
m() { printf '%s\n' "$@" | median; }
echo "== one INSERT of ${new_rows} rows over ${groups} groups, ${history}-row history (server ms; backend CPU ms)"
echo "round plain stream_insert stream_batch stream_total ivm statement_trigger row_trigger; the same in CPU ms"
peers=(plain stream ivm stmt row)
# per column: the rounds' server ms (w_*) and CPU ms (c_*); per-round ratios (r_*, rc_*)
declare -a w_pl w_sw w_sb w_st w_iv w_ts w_tr c_pl c_sw c_sb c_st c_iv c_ts c_tr
declare -a r_w r_ivm r_stmt r_row rc_w rc_ivm rc_stmt rc_row
for r in $(seq 1 "$rounds"); do
    # rotate the order from round to round
    k=$(( (r - 1) % ${#peers[@]} ))
    order=("${peers[@]:k}" "${peers[@]:0:k}")
    read -r pl sw sb iv ts tr cpl csw csb civ cts ctr <<<"$(round "${order[@]}")"
    st=$(add "$sw" "$sb")
    cst=$(add "$csw" "$csb")
    w_pl+=("$pl"); w_sw+=("$sw"); w_sb+=("$sb"); w_st+=("$st"); w_iv+=("$iv"); w_ts+=("$ts"); w_tr+=("$tr")
    c_pl+=("$cpl"); c_sw+=("$csw"); c_sb+=("$csb"); c_st+=("$cst"); c_iv+=("$civ"); c_ts+=("$cts"); c_tr+=("$ctr")
    r_w+=("$(ratio "$sw" "$pl")"); rc_w+=("$(ratio "$csw" "$cpl")")
    r_ivm+=("$(ratio "$iv" "$st")"); rc_ivm+=("$(ratio "$civ" "$cst")")
    r_stmt+=("$(ratio "$ts" "$st")"); rc_stmt+=("$(ratio "$cts" "$cst")")
    r_row+=("$(ratio "$tr" "$st")"); rc_row+=("$(ratio "$ctr" "$cst")")
    echo "$r $pl $sw $sb $st $iv $ts $tr; $cpl $csw $csb $cst $civ $cts $ctr (order: ${order[*]})"
done

check() { # 't' when summary $1 equals the aggregate of table $2
    "${psql[@]}" -c "SELECT count(*) = 0 FROM (
        (SELECT k, n, s, round(a::numeric, 6) FROM $1
         EXCEPT ALL SELECT k, count(*), sum(v), round(avg(v)::numeric, 6) FROM $2 GROUP BY k)
        UNION ALL
        (SELECT k, count(*), sum(v), round(avg(v)::numeric, 6) FROM $2 GROUP BY k
         EXCEPT ALL SELECT k, n, s, round(a::numeric, 6) FROM $1)) d"
}
echo "check: pg_streaming's target equals its stream's aggregate: $(check st_agg st)"
echo "check: pg_ivm's IMMV equals its table's aggregate: $(check iv_mv iv)"
echo "check: the statement trigger's summary equals its table's aggregate: $(check ts_sum ts)"
echo "check: the row trigger's summary equals its table's aggregate: $(check tr_sum tr)"

echo "== medians (ms per ${new_rows}-row INSERT; later: work done after the writer committed)"
echo "peer writer later total writer_cpu later_cpu total_cpu"
{
    echo "plain_INSERT $(m "${w_pl[@]}") 0 $(m "${w_pl[@]}") $(m "${c_pl[@]}") 0 $(m "${c_pl[@]}")"
    echo "pg_streaming $(m "${w_sw[@]}") $(m "${w_sb[@]}") $(m "${w_st[@]}") $(m "${c_sw[@]}") $(m "${c_sb[@]}") $(m "${c_st[@]}")"
    echo "pg_ivm $(m "${w_iv[@]}") 0 $(m "${w_iv[@]}") $(m "${c_iv[@]}") 0 $(m "${c_iv[@]}")"
    echo "statement_trigger $(m "${w_ts[@]}") 0 $(m "${w_ts[@]}") $(m "${c_ts[@]}") 0 $(m "${c_ts[@]}")"
    echo "row_trigger $(m "${w_tr[@]}") 0 $(m "${w_tr[@]}") $(m "${c_tr[@]}") 0 $(m "${c_tr[@]}")"
} | tee "${AGG_PEERS_DAT:-/dev/null}" | sed 's/^/median /'
echo "median ratio stream writer/plain INSERT: $(m "${r_w[@]}") server time, $(m "${rc_w[@]}") CPU (target at most 1.1)"
echo "median ratio pg_ivm total/pg_streaming total: $(m "${r_ivm[@]}") server time, $(m "${rc_ivm[@]}") CPU (target at least 4)"
echo "median ratio statement trigger total/pg_streaming total: $(m "${r_stmt[@]}") server time, $(m "${rc_stmt[@]}") CPU"
echo "median ratio row trigger total/pg_streaming total: $(m "${r_row[@]}") server time, $(m "${rc_row[@]}") CPU"

conc_secs=${CONC_SECONDS:-10}
conc_rows=${CONC_ROWS:-1000}
clients=${CLIENTS:-4}
work=$(mktemp -d "${TMPDIR:-/tmp}/pg_streaming_agg_peers.XXXXXX")
chmod 755 "$work"
trap 'stop_server "$dir"; rm -rf "$dir" "$work"' EXIT
echo "== ${clients} concurrent writers of ${conc_rows}-row INSERTs, ${conc_secs} s each, groups at random"
echo "peer rows_per_s retried failed caught_up_s"
for t in pl st iv ts tr; do
    echo "INSERT INTO $t SELECT (random() * $((groups - 1)))::int, g % 1000 FROM generate_series(1, $conc_rows) g;" \
        > "$work/$t.sql"
done
chmod 644 "$work"/*.sql
for p in plain_INSERT pg_streaming pg_ivm statement_trigger row_trigger; do
    case $p in
        plain_INSERT) t=pl ;; pg_streaming) t=st ;; pg_ivm) t=iv ;; statement_trigger) t=ts ;; row_trigger) t=tr ;;
    esac
    if [ "$t" = st ]; then
        live_x0=$("${psql[@]}" -c "SELECT pg_current_xact_id()")
        "${psql[@]}" -c "SELECT stream.start_query('agg_live', 'SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM st GROUP BY k',
                                                   'st_live', output_mode => 'update', trigger => '1 s', starting_from => 'latest')" >/dev/null
    fi
    "${psql[@]}" -c "CHECKPOINT"
    "${pgbench[@]}" -c "$clients" -j 2 -T "$conc_secs" --max-tries=10 -f "$work/$t.sql" postgres > "$work/out" 2>&1 || true
    caught=-
    if [ "$t" = st ]; then
        caught=$("${psql[@]}" <<'SQL' | tail -1
SELECT clock_timestamp() AS t0 \gset
CALL stream.process_all_available('agg_live');
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz), 2);
SQL
)
        "${psql[@]}" -c "SELECT stream.stop_query('agg_live')" >/dev/null
    fi
    awk -v p="$p" -v n="$conc_rows" -v c="$caught" '
        /^tps/ && !tps { tps = $3 }
        /number of transactions retried/ { retried = $5 }
        /number of failed transactions/ { failed = $5 }
        END { printf "%s %.0f %d %d %s\n", p, tps * n, retried, failed, c }' "$work/out"
done > "$work/conc.txt"
tee "${AGG_PEERS_CONC_DAT:-/dev/null}" < "$work/conc.txt" | sed 's/^/concurrent /'
echo "check: pg_streaming's '1 s' query's target equals the aggregate of the rows written meanwhile: $(check st_live \
    "(SELECT * FROM st WHERE _stream_xid > '$live_x0'::xid8) s")"
