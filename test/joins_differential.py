#!/usr/bin/env python3
"""A check of the regression test `joins_differential` itself.

sql/joins_differential.sql compares each target, after every step, with a
closed form: the join recomputed over the rows that were not late, plus the
NULL rows of the rows the watermark has evicted without a match.  That the
closed form is what a batch-by-batch join writes follows from the rules of
docs/joins/surface.md section 2; this script checks it on the test's own
data.  It runs the test twice against a scratch server in which `stream`
is a stand-in:

1. with batches that do nothing, to get the rows the test generates (they
   depend only on the seed);
2. with batches that write, step by step, what a model of the rules
   (the late filter, the symmetric join, eviction after each batch with
   the watermark in force, NULL rows at eviction, first-match semi rows,
   a no-data batch when the watermark moved) says each step writes, and
   fill stream.query_sides from the same model.

The second run must print `ok` for every check: then the closed form and
the batch-by-batch model agree on these 300 steps, and the expected output
(written to the given file) is what the test prints when the extension
follows the rules.

    PSQL=.../psql PGHOST=... PGPORT=... PGUSER=postgres \
      python3 test/joins_differential.py expected/joins_differential.out
"""

import bisect
import os
import subprocess
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DB = "joins_differential_stand_in"
ROLE = "regress_jdiff_owner"
L_DELAY, R_DELAY = 30 * 60, 45 * 60		# seconds
LO, HI = 5 * 60, 20 * 60				# r.t BETWEEN l.t - LO AND l.t + HI
L_SLACK, R_SLACK = HI, LO				# l evicted when t < W - HI, r when t < W - LO
SELF_RANGE = 10 * 60					# the self-join: b.t > a.t AND b.t <= a.t + 10 min

STAND_IN = r"""
CREATE SCHEMA stream;
GRANT USAGE ON SCHEMA stream TO PUBLIC;
CREATE TABLE stream.mock_queries (name text, target text, pending_rows bigint DEFAULT 0);
CREATE TABLE stream.mock_calls (name text PRIMARY KEY, n int);
CREATE TABLE stream.mock_rows (name text, step int, l_id int, r_id int);
CREATE INDEX ON stream.mock_rows (name, step);
CREATE TABLE stream.mock_sides (name text, step int, side int, watermark timestamptz,
    state_rows bigint, late_rows bigint);
CREATE TABLE stream.query_sides (query text, side int, watermark timestamptz,
    state_rows bigint, late_rows bigint);
CREATE TABLE stream.progress (query text, batch_id bigint);
CREATE TABLE stream.progress_sides (query text, batch_id bigint, side int, late_rows bigint);
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
    trigger text DEFAULT '500 ms', watermarks text[] DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE format('CREATE TABLE %I AS %s WITH NO DATA', target, query);
    INSERT INTO stream.mock_queries VALUES (name, target);
    INSERT INTO stream.query_sides VALUES (name, 1, NULL, 0, 0), (name, 2, NULL, 0, 0);
    RETURN 1;
END
$f$;
CREATE PROCEDURE stream.process_all_available(q text) LANGUAGE plpgsql AS $f$
DECLARE
    s int;
    cols text;
BEGIN
    INSERT INTO stream.mock_calls VALUES (q, 1)
        ON CONFLICT (name) DO UPDATE SET n = stream.mock_calls.n + 1 RETURNING n INTO s;
    IF q = 'd_semi' THEN
        INSERT INTO d_semi SELECT m.l_id, l.t FROM stream.mock_rows m JOIN l ON l.id = m.l_id
         WHERE m.name = q AND m.step = s;
    ELSIF q = 'd_self' THEN
        INSERT INTO d_self SELECT m.l_id, m.r_id, a.t, b.t FROM stream.mock_rows m
          JOIN l a ON a.id = m.l_id JOIN l b ON b.id = m.r_id
         WHERE m.name = q AND m.step = s;
    ELSIF q = 'd_all' THEN
        INSERT INTO d_all SELECT m.l_id, m.r_id FROM stream.mock_rows m
         WHERE m.name = q AND m.step = s;
    ELSE
        EXECUTE format('INSERT INTO %I SELECT m.l_id, m.r_id, l.t, r.t FROM stream.mock_rows m'
                       ' LEFT JOIN l ON l.id = m.l_id LEFT JOIN r ON r.id = m.r_id'
                       ' WHERE m.name = %L AND m.step = %s', q, q, s);
    END IF;
    UPDATE stream.query_sides x SET watermark = m.watermark, state_rows = m.state_rows
      FROM stream.mock_sides m WHERE m.name = q AND m.step = s AND x.query = q AND x.side = m.side;
    -- one batch per step will do: the test sums the step's batches
    INSERT INTO stream.progress VALUES (q, s);
    INSERT INTO stream.progress_sides
    SELECT q, s, m.side, m.late_rows FROM stream.mock_sides m WHERE m.name = q AND m.step = s;
END
$f$;
"""


def psql(args, **kw):
	env = dict(os.environ, PGTZ="PST8PDT", PGDATESTYLE="Postgres, MDY",
			   PGOPTIONS="-c intervalstyle=postgres_verbose")
	return subprocess.run([os.environ.get("PSQL", "psql"), "-X"] + args, env=env, text=True, **kw)


def fresh():
	psql(["-q", "-d", "postgres", "-c", "DROP DATABASE IF EXISTS " + DB], check=True)
	psql(["-q", "-d", "postgres", "-c", "DROP ROLE IF EXISTS " + ROLE], check=True)
	psql(["-q", "-d", "postgres", "-c", "CREATE DATABASE " + DB], check=True)
	psql(["-q", "-v", "ON_ERROR_STOP=1", "-d", DB], input=STAND_IN, check=True,
		 stdout=subprocess.DEVNULL)


def test_text(keep):
	"""The test file; with keep, its objects stay (its last lines drop them)."""
	with open(os.path.join(ROOT, "sql", "joins_differential.sql")) as f:
		text = f.read()
	ext = "CREATE EXTENSION IF NOT EXISTS pg_streaming;\n"
	assert ext in text
	text = text.replace(ext, "SELECT 'extension line' AS marker \\g /dev/null\n", 1)
	if keep:
		text = text[:text.index("SELECT stream.drop_query(name) FROM d_queries")]
	return text


def run_test(keep):
	res = psql(["-a", "-q", "-d", DB], input=test_text(keep), stdout=subprocess.PIPE,
			   stderr=subprocess.STDOUT)
	return res.stdout.replace(
		"SELECT 'extension line' AS marker \\g /dev/null\n",
		"CREATE EXTENSION IF NOT EXISTS pg_streaming;\n"
		'NOTICE:  extension "pg_streaming" already exists, skipping\n', 1)


def load_rows():
	out = psql(["-At", "-F", " ", "-d", DB, "-c",
				"SELECT 'l', id, k, g, extract(epoch FROM t)::bigint, step FROM l UNION ALL "
				"SELECT 'r', id, k, g, extract(epoch FROM t)::bigint, step FROM r ORDER BY 6, 2"],
			   stdout=subprocess.PIPE, check=True).stdout
	steps = defaultdict(lambda: ([], []))
	for line in out.split("\n"):
		if not line:
			continue
		side, i, k, g, t, s = line.split()
		steps[int(s)][0 if side == "l" else 1].append(
			{"id": int(i), "k": int(k), "g": int(g), "t": int(t), "matched": False})
	return steps


def model(kind, steps, nsteps):
	"""What each step writes (rows of (l_id, r_id)) and the sides after it."""
	W = None
	wi = [None, None]
	live = [[], []]
	late_kept = [[], []]
	late_total = [0, 0]
	written = []
	sides = []
	preserved = {"d_inner": (False, False), "d_left": (True, False),
				 "d_full": (True, True), "d_semi": (True, False),
				 "d_all": (False, False), "d_self": (False, False)}[kind]
	delays = (L_DELAY, L_DELAY) if kind == "d_self" else (L_DELAY, R_DELAY)
	bounded = kind != "d_all"

	def match(a, b):
		if kind == "d_self":
			return a["k"] == b["k"] and a["t"] < b["t"] <= a["t"] + SELF_RANGE
		if kind == "d_all":
			return a["g"] == b["g"]
		return a["k"] == b["k"] and a["t"] - LO <= b["t"] <= a["t"] + HI

	def gone(side, r, w):
		if w is None or not bounded:
			return False
		if kind == "d_self":
			# a: b.t <= a.t + 10 min (not strict); b: b.t > a.t (strict)
			return r["t"] < w - SELF_RANGE if side == 0 else r["t"] <= w
		return r["t"] < w - (L_SLACK if side == 0 else R_SLACK)

	def evict(w, out):
		for side in (0, 1):
			keep = []
			for r in live[side]:
				if gone(side, r, w):
					if preserved[side] and kind != "d_semi" and not r["matched"]:
						out.append((r["id"], None) if side == 0 else (None, r["id"]))
				else:
					keep.append(r)
			live[side] = keep
			late_kept[side] = [r for r in late_kept[side] if not gone(side, r, w)]

	def pair(a, b, out):
		if kind != "d_semi" or not a["matched"]:
			out.append((a["id"], b["id"]) if kind != "d_semi" else (a["id"], None))
		a["matched"] = b["matched"] = True

	for s in range(1, nsteps + 1):
		other = 0 if kind == "d_self" else 1
		new = [[dict(x, matched=False) for x in steps[s][0]],
			   [dict(x, matched=False) for x in steps[s][other]]]
		out = []
		ok = [[], []]
		for side in (0, 1):
			for x in new[side]:
				if bounded and W is not None and x["t"] <= W:
					late_total[side] += 1
					late_kept[side].append(x)
				else:
					ok[side].append(x)
		for a in ok[0]:
			for b in live[1]:
				if match(a, b):
					pair(a, b, out)
			live[0].append(a)
		for b in ok[1]:
			for a in live[0]:
				if match(a, b):
					pair(a, b, out)
			live[1].append(b)
		evict(W, out)
		if bounded:
			for side, d in ((0, delays[0]), (1, delays[1])):
				if new[side]:
					m = max(x["t"] for x in new[side]) - d
					wi[side] = m if wi[side] is None else max(wi[side], m)
			if wi[0] is not None and wi[1] is not None:
				cand = min(wi)
				if W is None or cand > W:
					W = cand
					evict(W, out)
		written.append(out)
		state = []
		for side in (0, 1):
			waiting = sum(1 for x in live[side] if not x["matched"]) if preserved[side] else 0
			state.append((wi[side], waiting + len(late_kept[side]), late_total[side]))
		sides.append(state)
	return written, sides


def ts(epoch):
	return "NULL" if epoch is None else "to_timestamp(%d)" % epoch


def main(path):
	fresh()
	try:
		first = run_test(keep=True)
		if "ERROR" in first:
			sys.stderr.write(first)
			sys.exit("the test's first run failed")
		steps = load_rows()
		nsteps = 300
		sql = ["BEGIN;"]
		for kind in ("d_inner", "d_left", "d_full", "d_semi", "d_all", "d_self"):
			written, sides = model(kind, steps, nsteps)
			for s, out in enumerate(written, 1):
				for (a, b) in out:
					sql.append("INSERT INTO stream.mock_rows VALUES ('%s', %d, %s, %s);" % (
						kind, s, "NULL" if a is None else a, "NULL" if b is None else b))
			before = [0, 0]
			for s, st in enumerate(sides, 1):
				for side, (w, state, late) in enumerate(st, 1):
					# the rows this step dropped as late
					sql.append("INSERT INTO stream.mock_sides VALUES ('%s', %d, %d, %s, %d, %d);" % (
						kind, s, side, ts(w), state, late - before[side - 1]))
					before[side - 1] = late
			print("%s: %d rows written, largest state %s" % (
				kind, sum(len(o) for o in written),
				max(max(x[1] for x in st) for st in sides)))
		sql.append("COMMIT;")
		fresh()
		psql(["-q", "-v", "ON_ERROR_STOP=1", "-d", DB], input="\n".join(sql) + "\n",
			 check=True, stdout=subprocess.DEVNULL)
		out = run_test(keep=False)
	finally:
		psql(["-q", "-d", "postgres", "-c", "DROP DATABASE IF EXISTS " + DB])
		psql(["-q", "-d", "postgres", "-c", "DROP ROLE IF EXISTS " + ROLE])
	with open(path, "w") as f:
		f.write(out)
	bad = [l for l in out.split("\n") if l.endswith(" differ") or "ERROR" in l or l.endswith("| f")]
	if bad:
		sys.exit("the model and the closed form differ:\n" + "\n".join(bad))


if __name__ == "__main__":
	main(sys.argv[1])
