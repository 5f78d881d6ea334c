#!/usr/bin/env python3
"""The expected output of the regression test `joins_more` (sql/joins_more.sql).

The rows each batch must write are worked out below, query by query and
call by call, from the rules of docs/joins/surface.md section 2 (each with
the reason).  The script runs sql/joins_more.sql with psql against a scratch
server in which `stream` is a stand-in that writes exactly these rows, so
that the expected file is psql's own rendering of them (and PostgreSQL's own
errors where the test expects one, such as reading a table without the
grant).

    PSQL=.../psql PGHOST=... PGPORT=... PGUSER=postgres \
      python3 test/joins_more.py expected/joins_more.out
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DB = "joins_more_stand_in"
ROLES = ("regress_jm_owner", "regress_jm_other")


def t(hhmm):
	return "'2026-01-01 %s+00'" % hhmm


N = "NULL"

# rows written by each call of process_batch/process_all_available, per query
CALLS = {
	# stream-static: pairs within the hour, joined with the ordinary tables as
	# they are when the batch runs; click 3 is a bot's, whose country has no
	# row: no pair.  Step 2: the manager of campaign a is anna by then; the
	# click of 20:00 is ten hours after impression 1: no pair.
	"j_static": [
		[(1, "'alice'", t("10:10"), "'europe'"), (2, "'tess'", t("10:10"), "'europe'"),
		 (100, "'alice'", t("10:10"), "'europe'")],
		[(4, "'anna'", t("14:30"), "'europe'")],
	],
	# call 1, step 1's data batch: the pair of ad 1; impression 2 fails
	# i.campaign <> 'test', which reads only the preserved side: its NULL row
	# at once; impression 3's only click is a bot's: it waits; ad 100 is not
	# in the join (WHERE).  Call 2, the no-data batch (W 07:10): nothing.
	# Call 3, step 2: the pair of ad 4, then W = min(12:00, 17:00) = 12:00
	# evicts impressions before 11:00: impression 3's NULL row; impression 5
	# has no time: it can match nothing, its NULL row at once (2.5).
	"j_filtered": [
		[(1, t("10:00"), "'a'", t("10:10")), (2, t("10:00"), "'test'", N)],
		[],
		[(4, t("14:00"), "'a'", t("14:30")), (3, t("10:00"), "'a'", N),
		 (5, N, "'a'", N)],
	],
	# no watermark, no range: every pair of equal ads, whenever
	"j_unbounded": [
		[(1, t("10:00"), t("10:10")), (2, t("10:00"), t("10:10")),
		 (3, t("10:00"), t("10:10")), (100, t("10:00"), t("10:10"))],
		[(4, t("14:00"), t("14:30")), (1, t("10:00"), t("20:00")), (5, N, N)],
	],
	# the self-join (b.t > a.t, within 10 minutes; watermark 10 minutes on
	# both sides): step 1, W after 09:54; step 2, 09:50 is late, W after
	# 10:10; step 3, a = 10:09 is still kept (evicted once a.t < W - 10 min)
	"j_self": [
		[(1, "'home'", "'cart'", t("10:00"), t("10:04"))],
		[(1, "'home'", "'pay'", t("10:00"), t("10:09")),
		 (1, "'cart'", "'pay'", t("10:04"), t("10:09"))],
		[(2, "'home'", "'cart'", t("10:20"), t("10:25")),
		 (1, "'pay'", "'help'", t("10:09"), t("10:15"))],
	],
	# row-level security: the owner sees the clicks from fr only
	"j_rls": [
		[(1, t("10:00"), t("10:10"), "'fr'")],
		[(5, t("10:26"), t("10:31"), "'fr'")],
		[(6, t("10:35"), t("10:40"), "'fr'")],
	],
}

# stream.query_sides after each call: per side (watermark, state_rows, late_rows)
SIDES = {
	"j_static": [[(t("08:00"), 0, 0), (t("07:10"), 0, 0)],
				 [(t("12:00"), 0, 0), (t("17:00"), 0, 0)]],
	# after the data batch of step 1: impression 3 waits (1); impression 2
	# is not kept, ad 100 never entered
	"j_filtered": [[(t("08:00"), 1, 0), (t("07:10"), 0, 0)],
				   [(t("08:00"), 1, 0), (t("07:10"), 0, 0)],
				   [(t("12:00"), 0, 0), (t("17:00"), 0, 0)]],
	"j_unbounded": [[(N, 0, 0), (N, 0, 0)], [(N, 0, 0), (N, 0, 0)]],
	# a self-join's two sides are two watermarks over the same rows; the
	# late row is dropped on each
	"j_self": [[(t("09:54"), 0, 0), (t("09:54"), 0, 0)],
			   [(t("10:10"), 0, 1), (t("10:10"), 0, 1)],
			   [(t("10:15"), 0, 1), (t("10:15"), 0, 1)]],
	"j_rls": [[(t("08:00"), 0, 0), (t("07:31"), 0, 0)],
			  [(t("08:26"), 0, 0), (t("07:31"), 0, 0)],
			  [(t("08:35"), 0, 0), (t("07:40"), 0, 0)]],
}

STAND_IN = r"""
CREATE SCHEMA stream;
GRANT USAGE ON SCHEMA stream TO PUBLIC;
CREATE TABLE stream.mock_queries (name text, target text);
CREATE TABLE stream.mock_calls (name text PRIMARY KEY, n int);
CREATE TABLE stream.mock_rows (name text, call int, row text);
CREATE TABLE stream.mock_sides (name text, call int, side int, watermark timestamptz,
    state_rows bigint, late_rows bigint);
CREATE TABLE stream.query_sides (query text, side int, name text, stream regclass,
    event_time name, delay interval, watermark timestamptz, state_rows bigint,
    late_rows bigint);
GRANT ALL ON ALL TABLES IN SCHEMA stream TO PUBLIC;
CREATE VIEW stream.queries AS SELECT * FROM stream.mock_queries;
GRANT SELECT ON stream.queries TO PUBLIC;
CREATE FUNCTION stream.create_stream(relation regclass) RETURNS void
LANGUAGE sql AS $$SELECT$$;
CREATE FUNCTION stream.drop_stream(relation regclass) RETURNS void
LANGUAGE sql AS $$SELECT$$;
CREATE FUNCTION stream.drop_query(name text) RETURNS boolean
LANGUAGE sql AS $$DELETE FROM stream.mock_queries WHERE name = $1 RETURNING true$$;
CREATE FUNCTION stream.start_query(name text, query text, target text,
    trigger text DEFAULT '500 ms', event_time text DEFAULT NULL,
    watermark interval DEFAULT NULL, watermarks text[] DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $f$
BEGIN
    -- the owner must be able to read every table of the query
    EXECUTE format('SELECT FROM (%s) x LIMIT 0', query);
    EXECUTE format('CREATE TABLE %I AS %s WITH NO DATA', target, query);
    INSERT INTO stream.mock_queries VALUES (name, target);
    IF name = 'j_unbounded' THEN
        RAISE WARNING 'join state of side "i" of streaming query "j_unbounded" grows without bound'
            USING DETAIL = 'No watermark on side "c" bounds how long a row of side "i" can still match.',
                  HINT = 'Give both sides a watermark with watermarks => and bound the join with a time range, such as i.imp_time BETWEEN c.click_time AND c.click_time + interval ''1 hour''.';
        RAISE WARNING 'join state of side "c" of streaming query "j_unbounded" grows without bound'
            USING DETAIL = 'No watermark on side "i" bounds how long a row of side "c" can still match.',
                  HINT = 'Give both sides a watermark with watermarks => and bound the join with a time range, such as c.click_time BETWEEN i.imp_time AND i.imp_time + interval ''1 hour''.';
    END IF;
    IF name = 'j_self' THEN
        INSERT INTO stream.query_sides VALUES
            (name, 1, 'a', 'visits', 't', '10 minutes', NULL, 0, 0),
            (name, 2, 'b', 'visits', 't', '10 minutes', NULL, 0, 0);
    ELSIF name = 'j_rls' THEN
        INSERT INTO stream.query_sides VALUES
            (name, 1, 'i', 'own_impressions', 'imp_time', '2 hours', NULL, 0, 0),
            (name, 2, 'c', 'shared_clicks', 'click_time', '3 hours', NULL, 0, 0);
    ELSE
        INSERT INTO stream.query_sides VALUES
            (name, 1, 'i', 'impressions', CASE WHEN watermarks IS NOT NULL THEN 'imp_time' END,
             CASE WHEN watermarks IS NOT NULL THEN interval '2 hours' END, NULL, 0, 0),
            (name, 2, 'c', 'clicks', CASE WHEN watermarks IS NOT NULL THEN 'click_time' END,
             CASE WHEN watermarks IS NOT NULL THEN interval '3 hours' END, NULL, 0, 0);
    END IF;
    RETURN 1;
END
$f$;
CREATE PROCEDURE stream.mock_run(q text) LANGUAGE plpgsql AS $f$
DECLARE
    c int;
    r record;
BEGIN
    IF q = 'j_rls' AND NOT has_table_privilege('shared_clicks', 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for table shared_clicks' USING ERRCODE = '42501';
    END IF;
    INSERT INTO stream.mock_calls VALUES (q, 1)
        ON CONFLICT (name) DO UPDATE SET n = stream.mock_calls.n + 1 RETURNING n INTO c;
    FOR r IN SELECT * FROM stream.mock_rows m WHERE m.name = q AND m.call = c LOOP
        EXECUTE format('INSERT INTO %I VALUES %s', q, r.row);
    END LOOP;
    UPDATE stream.query_sides x SET watermark = m.watermark, state_rows = m.state_rows,
           late_rows = m.late_rows
      FROM stream.mock_sides m WHERE m.name = q AND m.call = c AND x.query = q AND x.side = m.side;
END
$f$;
CREATE PROCEDURE stream.process_batch(name text) LANGUAGE sql AS $$CALL stream.mock_run(name)$$;
CREATE PROCEDURE stream.process_all_available(name text) LANGUAGE sql AS $$CALL stream.mock_run(name)$$;
"""


def psql(args, **kw):
	env = dict(os.environ, PGTZ="PST8PDT", PGDATESTYLE="Postgres, MDY",
			   PGOPTIONS="-c intervalstyle=postgres_verbose")
	return subprocess.run([os.environ.get("PSQL", "psql"), "-X"] + args, env=env, text=True, **kw)


def main(path):
	data = []
	for q, calls in CALLS.items():
		for c, rows in enumerate(calls, 1):
			for row in rows:
				data.append("INSERT INTO stream.mock_rows VALUES ('%s', %d, $r$(%s)$r$);" % (
					q, c, ", ".join(str(v) for v in row)))
	for q, calls in SIDES.items():
		for c, sides in enumerate(calls, 1):
			for side, (w, state, late) in enumerate(sides, 1):
				data.append("INSERT INTO stream.mock_sides VALUES ('%s', %d, %d, %s, %d, %d);" % (
					q, c, side, w, state, late))
	psql(["-q", "-d", "postgres", "-c", "DROP DATABASE IF EXISTS " + DB], check=True)
	for role in ROLES:
		psql(["-q", "-d", "postgres", "-c", "DROP ROLE IF EXISTS " + role], check=True)
	psql(["-q", "-d", "postgres", "-c", "CREATE DATABASE " + DB], check=True)
	try:
		psql(["-q", "-v", "ON_ERROR_STOP=1", "-d", DB],
			 input=STAND_IN + "\n".join(data) + "\n", check=True, stdout=subprocess.DEVNULL)
		with open(os.path.join(ROOT, "sql", "joins_more.sql")) as f:
			text = f.read()
		ext = "CREATE EXTENSION IF NOT EXISTS pg_streaming;\n"
		assert ext in text
		text = text.replace(ext, "SELECT 'extension line' AS marker \\g /dev/null\n", 1)
		out = psql(["-a", "-q", "-v", "SHOW_CONTEXT=never", "-d", DB], input=text, stdout=subprocess.PIPE,
				   stderr=subprocess.STDOUT).stdout
		out = out.replace("SELECT 'extension line' AS marker \\g /dev/null\n",
						  ext + 'NOTICE:  extension "pg_streaming" already exists, skipping\n', 1)
	finally:
		psql(["-q", "-d", "postgres", "-c", "DROP DATABASE IF EXISTS " + DB])
		for role in ROLES:
			psql(["-q", "-d", "postgres", "-c", "DROP ROLE IF EXISTS " + role])
	with open(path, "w") as f:
		f.write(out)


if __name__ == "__main__":
	main(sys.argv[1])
