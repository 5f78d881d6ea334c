#!/usr/bin/env bash
# Issue 22's table of costs, every row measured side by side in one run on
# one private server (pg_streaming and pg_ivm preloaded, as production
# would run them), ROUNDS rounds, each row's two sides alternating which
# goes first; then a markdown table of the medians and the targets.
#
#  copy      COPY of COPY_ROWS (1M) narrow rows into a fresh stream against
#            a fresh plain table, no index, fsync off (server time);
#  insert    CLIENTS (4) pgbench clients of single-row INSERT transactions,
#            SECONDS_PER_RUN (10) s, no index, fsync off: plain tps over
#            stream tps;
#  agg       an update-mode aggregation (count, sum, avg per group) over a
#            stream of HISTORY (2M) processed rows, NGROUPS (1000) groups:
#            one batch of NEW_ROWS (10k) new rows in a warm session, against
#            REFRESH MATERIALIZED VIEW of the same aggregate;
#  agg_few   the same over FEW_GROUPS (100) groups (the same stream);
#  ivm       the same 1,000-group aggregate kept by pg_ivm (an IMMV over a
#            plain table of the same history): the INSERT of the NEW_ROWS
#            rows into its base table, which maintains the view, against the
#            INSERT of the same rows into the stream plus the batch;
#  hand      the same 1,000-group batch against the same aggregation kept
#            by hand, as a cron job would: the rows past a last id in a
#            plain table of the same history (a primary key on the id)
#            upserted into a summary table, the last id moved, in one
#            statement (no baseline of the issue's: what one keyed write per
#            group and no state costs, beside the batch's two);
#  hand_few  the same for the 100-group batch (by j);
#  writers   the INSERT of the NEW_ROWS rows into the stream against the
#            same INSERT into a plain table (and pg_ivm's INSERT over it);
#  cold      the aggregation's batch as the first statement of a new
#            session (a cron-style CALL) against the same batch in a warm
#            session;
#  cold_hand the same for the aggregation kept by hand (its statement first
#            in a new session against the same in a warm one): what a new
#            backend costs the same work written in SQL;
#  windows   a windowed round: MINUTES (3) minutes of event time, each
#            ROWS_PER_MINUTE (10k) rows over KEYS (100) keys, processed by
#            tumble(t, '1 minute'), k, count(*), avg(v) in append mode with
#            a 2-minute watermark (process_all_available: the batch of the
#            rows and the one that closes the minute) against the same
#            aggregation without windows in update mode;
#  one_app   ONE_ROW (100) times per round: one committed row, then one
#            batch of an append query, against the hand-written
#            INSERT ... SELECT ... WHERE id > last id that updates its last
#            id in the same statement (a plain table with a primary key);
#  one_agg   the same one-row loop for an update-mode aggregation, against
#            the hand-written upsert over the rows past the last id.
# Batches and statements are timed on the server (clock_timestamp around
# them in one psql session), COPY likewise, INSERT clients by pgbench's tps;
# beside each time, the CPU its session's backend used meanwhile (from
# /proc/<pid>/schedstat), which other work on the machine inflates far less
# (REFRESH's is left out: it may run parallel workers).  Targets are judged
# on the ratios of the server times, as the issue states them, and beside
# them on the ratios of the CPU times.  Without pg_ivm (install_pg_ivm
# finds neither it nor its source) its rows are left out, with a warning.
# Every round prints its figures; the checks at the end compare each target
# with its baseline (the views, pg_ivm's view, the hand-written tables).
#
# With PROFILE=1, the aggregation's 10k-row batches (PROFILE_BATCHES) and
# the one-row batches (PROFILE_ONE_ROW of each kind) run once more in a
# session of their own, whose backend `perf record --call-graph dwarf`
# samples (the rows are written by another session, so that only the
# batches are sampled); printed for each: the top symbols by their own time
# (perf report --no-children), the libraries, and the functions by the time
# spent in them and their callees (--children), which says which step of
# the batch the time belongs to.
#
#   bash bench/costs.sh           # as root; ROUNDS=5 (about 6 minutes)
#   PROFILE=1 bash bench/costs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

rounds=${ROUNDS:-5}
copy_rows=${COPY_ROWS:-1000000}
secs=${SECONDS_PER_RUN:-10}
clients=${CLIENTS:-4}
history=${HISTORY:-2000000}
new_rows=${NEW_ROWS:-10000}
groups=${NGROUPS:-1000}
few=${FEW_GROUPS:-100}
per_minute=${ROWS_PER_MINUTE:-10000}
keys=${KEYS:-100}
minutes=${MINUTES:-3}
one_row=${ONE_ROW:-100}
one_history=${ONE_ROW_HISTORY:-100000}
profile=${PROFILE:-0}
profile_batches=${PROFILE_BATCHES:-40}
profile_one_row=${PROFILE_ONE_ROW:-300}

ivm=1
if ! install_pg_ivm; then
    ivm=0
    echo "WARNING: pg_ivm is not available: the row against pg_ivm is left out" >&2
fi
if [ "$profile" = 1 ] && ! perf record -e cpu-clock -o /dev/null true >/dev/null 2>&1; then
    echo "PROFILE=1 needs perf (linux-perf) able to record here" >&2
    exit 1
fi
preload=pg_streaming
[ "$ivm" = 1 ] && preload=pg_streaming,pg_ivm
bench_server costs 54359 "shared_preload_libraries=$preload" "shared_buffers=512MB" "max_wal_size=4GB"
results=$dir/results.txt
: >"$results"

agg_sql="count(*) AS n, sum(v) AS s, avg(v) AS a"
"${psql[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
$( [ "$ivm" = 1 ] && echo "CREATE EXTENSION pg_ivm;" )
COPY (SELECT g, now() + g * interval '1 ms', g % 100 FROM generate_series(1, $copy_rows) g)
  TO '$dir/rows.copy';

-- the aggregations: one stream, two queries (groups by k and by j)
CREATE TABLE big (k int, j int, v float8, u int);
SELECT stream.create_stream('big');
INSERT INTO big SELECT g % $groups, g % $few, g % 1000, g FROM generate_series(1, $history) g;
SELECT stream.start_query('agg', 'SELECT k, $agg_sql FROM big GROUP BY k', 'agg',
                          output_mode => 'update', trigger => '1 hour');
SELECT stream.start_query('agg_few', 'SELECT j, $agg_sql FROM big GROUP BY j', 'agg_few',
                          output_mode => 'update', trigger => '1 hour');
CALL stream.process_all_available('agg');
CALL stream.process_all_available('agg_few');
CREATE MATERIALIZED VIEW mv AS SELECT k, $agg_sql FROM big GROUP BY k;
CREATE MATERIALIZED VIEW mv_few AS SELECT j, $agg_sql FROM big GROUP BY j;
CREATE TABLE plain_w (k int, j int, v float8, u int);
CREATE TABLE hand_big (id bigint PRIMARY KEY, k int, j int, v float8, u int);
INSERT INTO hand_big SELECT row_number() OVER (), k, j, v, u FROM big;
CREATE SEQUENCE hand_big_ids START $((history + 1));
CREATE TABLE hand_big_agg (k int PRIMARY KEY, n bigint, s float8, a float8);
INSERT INTO hand_big_agg SELECT k, $agg_sql FROM hand_big GROUP BY k;
CREATE TABLE hand_big_few (j int PRIMARY KEY, n bigint, s float8, a float8);
INSERT INTO hand_big_few SELECT j, $agg_sql FROM hand_big GROUP BY j;
CREATE TABLE ivm_base (k int, j int, v float8, u int);
INSERT INTO ivm_base SELECT k, j, v, u FROM big;
$( [ "$ivm" = 1 ] && echo "SELECT pgivm.create_immv('ivm_agg', 'SELECT k, $agg_sql FROM ivm_base GROUP BY k');" )

-- the windows: one stream, the windowed query and the same without windows
CREATE TABLE wev (k int, v float8, t timestamptz);
SELECT stream.create_stream('wev');
SELECT stream.start_query('windowed',
    \$\$SELECT stream.tumble(t, '1 minute') AS minute, k, count(*) AS n, avg(v) AS a
        FROM wev GROUP BY 1, 2\$\$, 'windowed', output_mode => 'append',
    event_time => 't', watermark => '2 minutes', trigger => '1 hour');
SELECT stream.start_query('unwindowed', 'SELECT k, count(*) AS n, avg(v) AS a FROM wev GROUP BY k',
    'unwindowed', output_mode => 'update', trigger => '1 hour');

-- the one-row batches: a stream read by an append query and an aggregation,
-- and the same rows in a plain table read by hand past a last id
CREATE TABLE ev (id bigint, k int, v float8);
SELECT stream.create_stream('ev');
INSERT INTO ev SELECT g, g % $groups, g % 100 FROM generate_series(1, $one_history) g;
SELECT stream.start_query('app', 'SELECT id, k, v * 2 AS v2 FROM ev', 'app_out', trigger => '1 hour');
SELECT stream.start_query('one_agg', 'SELECT k, $agg_sql FROM ev GROUP BY k', 'one_agg_out',
                          output_mode => 'update', trigger => '1 hour');
CALL stream.process_all_available('app');
CALL stream.process_all_available('one_agg');
CREATE TABLE src (id bigint PRIMARY KEY, k int, v float8);
INSERT INTO src SELECT id, k, v FROM ev;
CREATE TABLE hand_out (id bigint, k int, v2 float8);
INSERT INTO hand_out SELECT id, k, v * 2 FROM src;
CREATE TABLE hand_agg (k int PRIMARY KEY, n bigint, s float8, a float8);
INSERT INTO hand_agg SELECT k, $agg_sql FROM src GROUP BY k;
CREATE TABLE last_id (pipeline text PRIMARY KEY, id bigint NOT NULL);
INSERT INTO last_id VALUES ('app', $one_history), ('agg', $one_history), ('big', $history), ('big_few', $history);
CREATE SEQUENCE one_ids START $((one_history + 1));
VACUUM ANALYZE big, hand_big, hand_big_agg, hand_big_few, plain_w, ivm_base, wev, ev, src, hand_agg, last_id;
SQL
# the scheduler runs each query's first batch on sight: let it pass
sleep 2

# the windows' stream starts with three minutes processed: the state is
# then as it stays (three open minutes)
minute=0
# window_minute: psql input inserting the next minute of event time
window_minute() {
    echo "INSERT INTO wev SELECT g % $keys, g % 1000,
       '2026-01-01 00:00'::timestamptz + $minute * interval '1 minute'
       + (g * 60.0 / $per_minute) * interval '1 second'
  FROM generate_series(0, $per_minute - 1) g;"
    minute=$((minute + 1))
}
{
    for _ in 1 2 3; do window_minute; done
    echo "CALL stream.process_all_available('windowed'); CALL stream.process_all_available('unwindowed');"
} | "${psql[@]}" >/dev/null
minute=3

# the hand-written statements of the one-row rows: the rows past the last
# id, and the last id moved, in one statement and one transaction
hand_app="WITH n AS (INSERT INTO hand_out SELECT id, k, v * 2 FROM src
                      WHERE id > (SELECT id FROM last_id WHERE pipeline = 'app') RETURNING id)
UPDATE last_id SET id = coalesce((SELECT max(id) FROM n), last_id.id) WHERE pipeline = 'app';"
hand_agg="WITH r AS (SELECT id, k, v FROM src WHERE id > (SELECT id FROM last_id WHERE pipeline = 'agg')),
     m AS (INSERT INTO hand_agg AS h SELECT k, count(*), sum(v), avg(v) FROM r GROUP BY k
           ON CONFLICT (k) DO UPDATE SET n = h.n + excluded.n, s = h.s + excluded.s,
                                         a = (h.s + excluded.s) / (h.n + excluded.n))
UPDATE last_id SET id = coalesce((SELECT max(id) FROM r), last_id.id) WHERE pipeline = 'agg';"
hand_big="WITH r AS (SELECT id, k, v FROM hand_big WHERE id > (SELECT id FROM last_id WHERE pipeline = 'big')),
     m AS (INSERT INTO hand_big_agg AS h SELECT k, count(*), sum(v), avg(v) FROM r GROUP BY k
           ON CONFLICT (k) DO UPDATE SET n = h.n + excluded.n, s = h.s + excluded.s,
                                         a = (h.s + excluded.s) / (h.n + excluded.n))
UPDATE last_id SET id = coalesce((SELECT max(id) FROM r), last_id.id) WHERE pipeline = 'big';"
hand_few="WITH r AS (SELECT id, j, v FROM hand_big WHERE id > (SELECT id FROM last_id WHERE pipeline = 'big_few')),
     m AS (INSERT INTO hand_big_few AS h SELECT j, count(*), sum(v), avg(v) FROM r GROUP BY j
           ON CONFLICT (j) DO UPDATE SET n = h.n + excluded.n, s = h.s + excluded.s,
                                         a = (h.s + excluded.s) / (h.n + excluded.n))
UPDATE last_id SET id = coalesce((SELECT max(id) FROM r), last_id.id) WHERE pipeline = 'big_few';"
new_big="SELECT g % $groups, g % $few, g % 1000, g FROM generate_series(1, $new_rows) g"

# ratio A B: A / B to three places ("-" when either is)
ratio() {
    if [ "$1" = - ] || [ "$2" = - ]; then echo -; return; fi
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b > 0 ? a / b : 0) }'
}
# pair ROUND KEY STREAMING BASELINE HOW: records one row's figures of a
# round: STREAMING and BASELINE are "ms cpu_ms" ("-" for a CPU time not
# measured), HOW is s/b or b/s, which side over which is the ratio
pair() {
    local r=$1 key=$2 s b q cq
    read -r -a s <<<"$3"
    read -r -a b <<<"$4"
    if [ "$5" = s/b ]; then
        q=$(ratio "${s[0]}" "${b[0]}") cq=$(ratio "${s[1]}" "${b[1]}")
    else
        q=$(ratio "${b[0]}" "${s[0]}") cq=$(ratio "${b[1]}" "${s[1]}")
    fi
    echo "$r $key ${s[0]} ${s[1]} ${b[0]} ${b[1]} $q $cq" >>"$results"
    printf '  %-11s pg_streaming %10.2f (cpu %8s)  baseline %10.2f (cpu %8s)  ratio %s (cpu %s)\n' \
        "$key" "${s[0]}" "${s[1]}" "${b[0]}" "${b[1]}" "$q" "$cq"
}
# fig LABEL [median]: from a round's output in $out, the sum (or the
# median) of the figures labelled LABEL: "ms cpu_ms"
fig() {
    if [ "${2:-sum}" = sum ]; then
        awk -v l="$1" '$1 == l { w += $2; c += $3 } END { printf "%.3f %.3f\n", w, c }' <<<"$out"
    else
        echo "$(awk -v l="$1" '$1 == l { print $2 }' <<<"$out" | median)" \
             "$(awk -v l="$1" '$1 == l { print $3 }' <<<"$out" | median)"
    fi
}
# add A B: the sum of two figures "ms cpu_ms"
add() {
    awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
                                     printf "%.3f %.3f\n", x[1] + y[1], x[2] + y[2] }'
}

# the aggregation rows' round, in one session as a worker keeps one: a
# batch of each query first prepares its statements, then the timed work
agg_round() {
    local r=$1 parts
    parts=("$(timed_sql ins_stream "INSERT INTO big $new_big;")
CHECKPOINT;
$(timed_sql agg "CALL stream.process_batch('agg');")
$(timed_sql agg_few "CALL stream.process_batch('agg_few');")"
           "$(timed_sql ins_plain "INSERT INTO plain_w $new_big;")"
           "INSERT INTO hand_big SELECT nextval('hand_big_ids'), n.* FROM ($new_big) n;
CHECKPOINT;
$(timed_sql hand_big "$hand_big")
$(timed_sql hand_few "$hand_few")"
           "$(timed_sql refresh "REFRESH MATERIALIZED VIEW mv;")
$(timed_sql refresh_few "REFRESH MATERIALIZED VIEW mv_few;")")
    [ "$ivm" = 1 ] && parts+=("$(timed_sql ins_ivm "INSERT INTO ivm_base $new_big;")")
    {
        echo "INSERT INTO big VALUES (0, 0, 0, 0); INSERT INTO ivm_base VALUES (0, 0, 0, 0);"
        echo "CALL stream.process_all_available('agg'); CALL stream.process_all_available('agg_few');"
        echo "INSERT INTO hand_big VALUES (nextval('hand_big_ids'), 0, 0, 0, 0); $hand_big $hand_few"
        echo "CHECKPOINT;"
        local i n=${#parts[@]}
        for i in $(seq 0 $((n - 1))); do
            # odd rounds in order, even rounds in reverse
            if [ $((r % 2)) -eq 1 ]; then echo "${parts[$i]}"; else echo "${parts[$((n - 1 - i))]}"; fi
            echo "CHECKPOINT;"
        done
    } | "${psql[@]}" -F ' '
}

# cold: the aggregation's batch, first in a new session; warm: the same
# after a batch in the same session
cold_ms() {
    "${psql[@]}" -c "INSERT INTO big $new_big" -c "CHECKPOINT" >/dev/null
    timed_sql cold "CALL stream.process_batch('agg');" | "${psql[@]}" -F ' ' | awk '{ print $2, $3 }'
}
cold_hand_ms() {
    "${psql[@]}" -c "INSERT INTO hand_big SELECT nextval('hand_big_ids'), n.* FROM ($new_big) n" \
        -c "CHECKPOINT" >/dev/null
    timed_sql cold "$hand_big" | "${psql[@]}" -F ' ' | awk '{ print $2, $3 }'
}
warm_hand_ms() {
    {
        echo "INSERT INTO hand_big VALUES (nextval('hand_big_ids'), 0, 0, 0, 0); $hand_big"
        echo "INSERT INTO hand_big SELECT nextval('hand_big_ids'), n.* FROM ($new_big) n; CHECKPOINT;"
        timed_sql warm "$hand_big"
    } | "${psql[@]}" -F ' ' | awk '$1 == "warm" { print $2, $3 }'
}
warm_ms() {
    {
        echo "INSERT INTO big VALUES (0, 0, 0, 0); CALL stream.process_batch('agg');"
        echo "INSERT INTO big $new_big; CHECKPOINT;"
        timed_sql warm "CALL stream.process_batch('agg');"
    } | "${psql[@]}" -F ' ' | awk '$1 == "warm" { print $2, $3 }'
}

# the windows' round: a row to prepare each query's statements, then each
# minute's rows and both queries' batches, alternating which goes first
windows_round() {
    local r=$1 m
    {
        echo "INSERT INTO wev VALUES (0, 0, '2026-01-01 00:00'::timestamptz + $minute * interval '1 minute');"
        echo "CALL stream.process_all_available('windowed'); CALL stream.process_all_available('unwindowed');"
        for m in $(seq 1 "$minutes"); do
            window_minute
            echo "CHECKPOINT;"
            if [ $(((r + m) % 2)) -eq 0 ]; then
                timed_sql win "CALL stream.process_all_available('windowed');"
                timed_sql unwin "CALL stream.process_all_available('unwindowed');"
            else
                timed_sql unwin "CALL stream.process_all_available('unwindowed');"
                timed_sql win "CALL stream.process_all_available('windowed');"
            fi
        done
    } | "${psql[@]}" -F ' '
}

# the one-row round: ONE_ROW times a row committed into the stream and the
# plain table, then each batch and its hand-written statement
one_row_round() {
    local r=$1 i
    {
        echo "SELECT nextval('one_ids') AS id \\gset"
        echo "INSERT INTO ev VALUES (:id, :id % $groups, :id % 100); INSERT INTO src VALUES (:id, :id % $groups, :id % 100);"
        echo "CALL stream.process_batch('app'); CALL stream.process_batch('one_agg');"
        echo "$hand_app"
        echo "$hand_agg"
        for i in $(seq 1 "$one_row"); do
            echo "SELECT nextval('one_ids') AS id \\gset"
            echo "INSERT INTO ev VALUES (:id, :id % $groups, :id % 100); INSERT INTO src VALUES (:id, :id % $groups, :id % 100);"
            if [ $(((r + i) % 2)) -eq 0 ]; then
                timed_sql app "CALL stream.process_batch('app');"
                timed_sql hand_app "$hand_app"
                timed_sql one_agg "CALL stream.process_batch('one_agg');"
                timed_sql hand_agg "$hand_agg"
            else
                timed_sql hand_agg "$hand_agg"
                timed_sql one_agg "CALL stream.process_batch('one_agg');"
                timed_sql hand_app "$hand_app"
                timed_sql app "CALL stream.process_batch('app');"
            fi
        done
    } | "${psql[@]}" -F ' '
}

set_fsync() {
    "${psql[@]}" -c "ALTER SYSTEM SET fsync = $1" -c "SELECT pg_reload_conf()" >/dev/null
}

for r in $(seq 1 "$rounds"); do
    echo "== round $r"
    set_fsync off
    side_by_side "$r" 'fresh_copy_ms stream "$dir/rows.copy"' 'fresh_copy_ms plain "$dir/rows.copy"'
    pair "$r" copy "$a" "$b" s/b
    side_by_side "$r" 'insert_tps stream "$clients" "$secs"' 'insert_tps plain "$clients" "$secs"'
    pair "$r" insert "$a -" "$b -" b/s
    "${psql[@]}" -c "DROP TABLE t_copy, t_ins" >/dev/null
    set_fsync on

    # REFRESH may run parallel workers, whose CPU its backend does not see
    out=$(agg_round "$r")
    pair "$r" agg "$(fig agg)" "$(fig refresh | cut -d' ' -f1) -" b/s
    pair "$r" agg_few "$(fig agg_few)" "$(fig refresh_few | cut -d' ' -f1) -" b/s
    if [ "$ivm" = 1 ]; then
        pair "$r" ivm "$(add "$(fig ins_stream)" "$(fig agg)")" "$(fig ins_ivm)" b/s
        pair "$r" ivm_writers "$(fig ins_stream)" "$(fig ins_ivm)" b/s
    fi
    pair "$r" hand "$(fig agg)" "$(fig hand_big)" s/b
    pair "$r" hand_few "$(fig agg_few)" "$(fig hand_few)" s/b
    pair "$r" writers "$(fig ins_stream)" "$(fig ins_plain)" s/b

    side_by_side "$r" cold_ms warm_ms
    pair "$r" cold "$a" "$b" s/b
    side_by_side "$r" cold_hand_ms warm_hand_ms
    pair "$r" cold_hand "$a" "$b" s/b

    out=$(windows_round "$r")
    pair "$r" windows "$(fig win)" "$(fig unwin)" s/b

    out=$(one_row_round "$r")
    pair "$r" one_app "$(fig app median)" "$(fig hand_app median)" s/b
    pair "$r" one_agg "$(fig one_agg median)" "$(fig hand_agg median)" s/b
done

# every target equals its baseline's
echo "== checks"
"${psql[@]}" >/dev/null <<SQL
CALL stream.process_all_available('agg');
CALL stream.process_all_available('agg_few');
REFRESH MATERIALIZED VIEW mv;
REFRESH MATERIALIZED VIEW mv_few;
$hand_big
$hand_few
SQL
check() {
    local what=$1 sql=$2 ok
    ok=$("${psql[@]}" -c "$sql")
    echo "check: $what: $ok"
    [ "$ok" = t ] || failed_checks=$((failed_checks + 1))
}
failed_checks=0
check "the 1,000-group target equals the view" \
    "SELECT count(*) = 0 FROM ((SELECT k, n, s FROM agg EXCEPT ALL SELECT k, n, s FROM mv) UNION ALL (SELECT k, n, s FROM mv EXCEPT ALL SELECT k, n, s FROM agg)) d"
check "the 100-group target equals the view" \
    "SELECT count(*) = 0 FROM ((SELECT j, n, s FROM agg_few EXCEPT ALL SELECT j, n, s FROM mv_few) UNION ALL (SELECT j, n, s FROM mv_few EXCEPT ALL SELECT j, n, s FROM agg_few)) d"
check "the 1,000-group summary kept by hand equals its table's aggregate" \
    "SELECT count(*) = 0 FROM ((SELECT k, n, s FROM hand_big_agg EXCEPT ALL SELECT k, count(*), sum(v) FROM hand_big GROUP BY k) UNION ALL (SELECT k, count(*), sum(v) FROM hand_big GROUP BY k EXCEPT ALL SELECT k, n, s FROM hand_big_agg)) d"
check "the 100-group summary kept by hand equals its table's aggregate" \
    "SELECT count(*) = 0 FROM ((SELECT j, n, s FROM hand_big_few EXCEPT ALL SELECT j, count(*), sum(v) FROM hand_big GROUP BY j) UNION ALL (SELECT j, count(*), sum(v) FROM hand_big GROUP BY j EXCEPT ALL SELECT j, n, s FROM hand_big_few)) d"
[ "$ivm" = 1 ] && check "pg_ivm's view equals its base table's aggregate" \
    "SELECT count(*) = 0 FROM ((SELECT k, n, s FROM ivm_agg EXCEPT ALL SELECT k, count(*), sum(v) FROM ivm_base GROUP BY k) UNION ALL (SELECT k, count(*), sum(v) FROM ivm_base GROUP BY k EXCEPT ALL SELECT k, n, s FROM ivm_agg)) d"
check "the append target has every row once" \
    "SELECT count(*) = 0 FROM ((SELECT id, v2 FROM app_out EXCEPT ALL SELECT id, v * 2 FROM ev) UNION ALL (SELECT id, v * 2 FROM ev EXCEPT ALL SELECT id, v2 FROM app_out)) d"
check "the one-row aggregation equals the hand-written one" \
    "SELECT count(*) = 0 FROM ((SELECT k, n, s FROM one_agg_out EXCEPT SELECT k, n, s FROM hand_agg) UNION ALL (SELECT k, n, s FROM hand_agg EXCEPT SELECT k, n, s FROM one_agg_out)) d"
check "every closed window written once, equal to the aggregate" \
    "$(closed_windows_equal_sql wev)"

# the table: per row, the medians of the rounds and the median ratio
echo "== issue 22's table, $rounds rounds (medians; ratios taken within each round)"
echo
echo "| work | pg_streaming | baseline | median ratio | median ratio of backend CPU | target | met? |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
# col KEY FIELD: the median of a field of row KEY's rounds ("-" if none)
col() {
    local v
    v=$(awk -v k="$1" -v f="$2" '$2 == k && $f != "-" { print $f }' "$results")
    if [ -n "$v" ]; then median <<<"$v"; else echo -; fi
}
# cell FIGURE CPU UNIT: a side's medians as a cell
cell() {
    if [ "$3" = tps ]; then
        printf '%.0f tps' "$1"
    elif [ "$2" = - ]; then
        printf '%.2f ms' "$1"
    else
        printf '%.2f ms (CPU %.2f ms)' "$1" "$2"
    fi
}
# judge RATIO OP TARGET: yes or no
judge() {
    awk -v q="$1" -v op="$2" -v t="$3" 'BEGIN { print ((op == "<=" ? q <= t : q >= t) ? "yes" : "no") }'
}
# row KEY WORK WHAT BASE UNIT OP TARGET: one line of the table; the target
# is judged on the median ratio of the server times, and beside it on that
# of the backend's CPU
row() {
    local key=$1 work=$2 what=$3 base=$4 unit=$5 op=$6 target=$7 q cq met
    grep -q "^[0-9]* $key " "$results" || return 0
    q=$(col "$key" 7)
    cq=$(col "$key" 8)
    met=-
    if [ "$op" != - ]; then
        met=$(judge "$q" "$op" "$target")
        [ "$cq" != - ] && met="$met (CPU: $(judge "$cq" "$op" "$target"))"
    fi
    [ "$cq" != - ] && cq=$(printf '%.3fx' "$cq")
    printf '| %s | %s %s | %s %s | %.3fx | %s | %s | %s |\n' "$work" \
        "$what" "$(cell "$(col "$key" 3)" "$(col "$key" 4)" "$unit")" \
        "$base" "$(cell "$(col "$key" 5)" "$(col "$key" 6)" "$unit")" \
        "$q" "$cq" "$( [ "$op" = - ] && echo - || echo "$op ${target}x")" "$met"
}
row copy "COPY of $copy_rows rows, no index, fsync off" "stream" "plain table" ms "<=" 1.05
row insert "$clients clients of single-row INSERTs, no index, fsync off (plain tps / stream tps)" "stream" "plain table" tps "<=" 1.08
row agg "update-mode aggregation, $new_rows new rows, $groups groups, $history-row history, warm session (REFRESH / batch)" "batch" "REFRESH MATERIALIZED VIEW" ms ">=" 30
row agg_few "the same, $few groups (REFRESH / batch)" "batch" "REFRESH MATERIALIZED VIEW" ms ">=" 80
row ivm "the same, $groups groups, against pg_ivm (its INSERT / stream INSERT + batch)" "INSERT + batch" "pg_ivm IMMV's INSERT" ms ">=" 4
row ivm_writers "the same, writers: pg_ivm's INSERT / the stream's" "INSERT" "pg_ivm IMMV's INSERT" ms - -
row hand "the same, $groups groups, against the aggregation kept by hand past a last id (batch / hand-written upsert)" "batch" "hand-written" ms - -
row hand_few "the same, $few groups, against the aggregation kept by hand (batch / hand-written upsert)" "batch" "hand-written" ms - -
row writers "the same, writers: the stream's INSERT / a plain table's" "INSERT" "plain table's INSERT" ms "<=" 1.1
row cold "the same batch, first in a new session (cold / warm)" "first in a session" "warm session" ms "<=" 1.2
row cold_hand "the aggregation kept by hand, its statement first in a new session (cold / warm)" "first in a session" "warm session" ms - -
row windows "windowed append round ($minutes minutes of $per_minute rows, $keys keys) / the same aggregation without windows" "windowed" "without windows" ms "<=" 1.5
row one_app "fixed cost of a one-row batch, append / hand-written INSERT ... SELECT past a last id" "batch" "hand-written" ms "<=" 1.3
row one_agg "fixed cost of a one-row batch, aggregation / hand-written upsert past a last id" "batch" "hand-written" ms "<=" 2
echo

# ---------------------------------------------------------------------------
# the profile: the batches alone, in a session whose backend perf samples
# ---------------------------------------------------------------------------
# session_open: a psql session reading from a pipe, its backend's pid in
# $session_pid; session_run SQL: runs SQL in it and waits for the end
session_open() {
    rm -f "$dir/in" "$dir/out"
    mkfifo "$dir/in" "$dir/out"
    chmod 666 "$dir/in" "$dir/out"
    "${psql[@]}" -F ' ' <"$dir/in" >"$dir/out" 2>&1 &
    exec {sin}>"$dir/in"
    exec {sout}<"$dir/out"
    session_pid=$(session_run "SELECT pg_backend_pid();")
}
session_run() {
    local line
    printf '%s\n\\echo __done__\n' "$1" >&"$sin"
    while IFS= read -r -u "$sout" line; do
        [ "$line" = __done__ ] && return 0
        [ -n "$line" ] && echo "$line"
    done
    echo "the profiled session ended early" >&2
    return 1
}
session_close() {
    exec {sin}>&-
    wait "$perf_pid" || true
    exec {sout}<&-
}
# report DATA LINES OPTIONS...: the first LINES lines of perf's report of
# DATA with OPTIONS; the frames every sample passes through, and static
# functions of the stripped server (bare addresses), say nothing: left out
report() {
    local data=$1 lines=$2
    shift 2
    perf report -i "$data" --stdio -g none "$@" >"$data.txt" 2>/dev/null || true
    grep -v -E '^#|^$|0x[0-9a-f]{8,}|\] (main|_start|PostmasterMain|PostgresMain|BackendRun|BackendStartup|ServerLoop|exec_simple_query|PortalRun|PortalRunUtility|PortalRunMulti|ProcessUtility|standard_ProcessUtility|pgs_process_utility|ExecuteCallStmt|__libc_start[a-z_]*|entry_SYSCALL[a-z_0-9]*|do_syscall_64)( |$)' \
        "$data.txt" | head -"$lines" || true
}
# profile NAME N WRITE BATCH: N times WRITE in a session of its own, then
# BATCH in the profiled one; prints the top symbols
profile() {
    local name=$1 n=$2 write=$3 batch=$4 i
    session_open
    # one batch first, so that the profile shows the warm session's batches
    "${psql[@]}" -c "$write" >/dev/null
    session_run "$batch"
    # perf must not hold the session's pipe open: the session ends at its
    # end.  PostgreSQL is built without frame pointers: the call chains
    # come from the stack (DWARF unwinding, which a stripped binary's
    # .eh_frame allows)
    perf record -e cpu-clock --call-graph dwarf -p "$session_pid" -o "$dir/$name.perf" \
        >"$dir/$name.perf.log" 2>&1 {sin}>&- {sout}<&- &
    perf_pid=$!
    sleep 1
    for i in $(seq 1 "$n"); do
        "${psql[@]}" -c "$write" >/dev/null
        session_run "$batch"
    done
    session_close
    local lines=${PROFILE_LINES:-30} data=$dir/$name.perf
    echo "== profile: $name, $n batches (perf record --call-graph dwarf, cpu-clock)"
    echo "-- self time, top symbols (perf report --no-children)"
    report "$data" "$lines" --no-children --percent-limit 0.5 -F overhead,dso,sym
    echo "-- self time by library"
    report "$data" 6 --no-children --sort dso
    echo "-- time including callees (perf report --children): where the batch spends it"
    report "$data" "$((lines + 10))" --children --percent-limit 2 -F overhead_children,overhead,dso,sym
}
if [ "$profile" = 1 ]; then
    profile "aggregation_${new_rows}_rows" "$profile_batches" "INSERT INTO big $new_big; CHECKPOINT;" \
        "CALL stream.process_batch('agg');"
    profile one_row_append "$profile_one_row" \
        "INSERT INTO ev SELECT nextval('one_ids'), 0, 0" "CALL stream.process_batch('app');"
    profile one_row_aggregation "$profile_one_row" \
        "INSERT INTO ev SELECT nextval('one_ids'), 0, 0" "CALL stream.process_batch('one_agg');"
fi
[ "$failed_checks" -eq 0 ]
