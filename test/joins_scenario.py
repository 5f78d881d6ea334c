#!/usr/bin/env python3
"""The expected output of the regression test `joins` (sql/joins.sql), from
the rules of docs/joins/surface.md section 2.

It models each of the test's six queries batch by batch (the late filter,
the symmetric join, eviction with Spark's tie margin, NULL rows, first-match
semi rows, both policies), checks every row it expects against
docs/joins/scenario_model.py (the specification's own model, written
separately), and then writes the expected file by running sql/joins.sql
with psql against a scratch server in which `stream` is a stand-in: plain
tables for the streams, stand-in functions that create the targets and, at
each CALL, insert the rows this model says the step writes, and tables for
the views.  psql prints the result exactly as pg_regress would, so the
expected file holds the model's rows and nothing typed by hand.

    python3 test/joins_scenario.py --check          # the model against the spec
    python3 test/joins_scenario.py --sql            # the stand-in, as SQL
    PSQL=.../psql PGHOST=... PGPORT=... \
      python3 test/joins_scenario.py --expected expected/joins.out

The server must not have pg_streaming in the database it is given (a fresh
database is created and dropped).

state_rows of a side: the rows the join keeps in its state table, i.e. the
live rows of a preserved side (outer, semi) that have not matched yet, and
the rows dropped as late that a read of the stream could still meet, until
that side's eviction bound passes them.  Before a query's first batch its
sides show no watermark, state_rows nor late_rows (NULL): stream.query_sides
reads them from the latest batch's progress.
"""

import importlib.util
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

STEPS = [
	(["1 10:00", "2 10:05", "3 10:10"], ["2 10:20", "4 10:30"]),
	(["4 10:25", "5 11:00", "8 08:00", "6 07:30"],
	 ["1 10:50", "2 10:45", "3 11:15", "7 07:20"]),
	(["10 12:00", "11 08:00"],
	 ["5 11:40", "9 12:30", "8 08:10", "11 08:30", "6 08:20"]),
	(["12 14:00", "14 10:30"], ["12 14:30", "15 11:30"]),
	([], ["10 12:50"]),
	(["13 20:00"], ["13 20:10"]),
]
IMP_DELAY, CLICK_DELAY, RANGE = 120, 180, 60

# query: (kind, policy)
QUERIES = [
	("j_inner", "inner", "min"),
	("j_left", "left", "min"),
	("j_right", "right", "min"),
	("j_full", "full", "min"),
	("j_semi", "semi", "min"),
	("j_left_max", "left", "max"),
	("s_in", "semi", "min"),
]


def minutes(hhmm):
	h, m = hhmm.split(":")
	return int(h) * 60 + int(m)


def ts(m):
	if m is None:
		return None
	return "2026-01-01 %02d:%02d:00+00" % divmod(m, 60)


def parse(spec):
	out = []
	for s in spec:
		k, t = s.split()
		out.append({"k": int(k), "t": minutes(t), "matched": False})
	return out


class Batch:
	def __init__(self, batch_id, step, nd, watermark):
		self.batch_id = batch_id
		self.step = step
		self.nd = nd
		self.watermark = watermark		# in force
		self.rows = []					# written
		self.side = [dict(input=0, late=0, tmin=None, tmax=None, wm=None)
					 for _ in range(2)]


def run(kind, policy):
	"""The batches of one query over the six steps, and the side state after each."""
	W = None
	wi = [None, None]				# per side watermark
	live = [[], []]					# not late, not evicted
	late_kept = [[], []]			# kind 'l'
	batches = []
	after = []						# per step: per side (watermark, state_rows, late_total)
	late_total = [0, 0]
	preserved = {"inner": (False, False), "left": (True, False),
				 "right": (False, True), "full": (True, True),
				 "semi": (True, False)}[kind]

	def out_pair(i, c):
		if kind == "semi":
			return (i["k"], ts(i["t"]))
		if kind == "right":
			return (c["k"], ts(i["t"]), ts(c["t"]))
		if kind == "full":
			return (i["k"], ts(i["t"]), c["k"], ts(c["t"]))
		return (i["k"], ts(i["t"]), ts(c["t"]))

	def out_null(side, r):
		if side == 0:
			return (r["k"], ts(r["t"]), None, None) if kind == "full" else (r["k"], ts(r["t"]), None)
		return (None, None, r["k"], ts(r["t"])) if kind == "full" else (r["k"], None, ts(r["t"]))

	def evicted(side, r, w):
		# impressions: imp_time < W - 1 hour; clicks: click_time < W (non-strict
		# bounds, Spark's 1 ms margin on whole minutes)
		if w is None:
			return False
		return r["t"] < (w - RANGE if side == 0 else w)

	def evict(batch, w):
		for side in (0, 1):
			keep = []
			for r in live[side]:
				if evicted(side, r, w):
					if preserved[side] and kind != "semi" and not r["matched"]:
						batch.rows.append(out_null(side, r))
				else:
					keep.append(r)
			live[side] = keep
			late_kept[side] = [r for r in late_kept[side] if not evicted(side, r, w)]

	def matches(i, c):
		return i["k"] == c["k"] and i["t"] <= c["t"] <= i["t"] + RANGE

	def pair(batch, i, c):
		if kind != "semi" or not i["matched"]:
			batch.rows.append(out_pair(i, c))
		i["matched"] = c["matched"] = True

	def state_rows(side):
		waiting = 0
		if preserved[side]:
			waiting = sum(1 for r in live[side] if not r["matched"])
		return waiting + len(late_kept[side])

	bid = 0
	for step, (imp_spec, click_spec) in enumerate(STEPS, 1):
		new = [parse(imp_spec), parse(click_spec)]
		bid += 1
		b = Batch(bid, step, False, W)
		batches.append(b)
		ok = [[], []]
		for side in (0, 1):
			for r in new[side]:
				s = b.side[side]
				s["input"] += 1
				s["tmin"] = r["t"] if s["tmin"] is None else min(s["tmin"], r["t"])
				s["tmax"] = r["t"] if s["tmax"] is None else max(s["tmax"], r["t"])
				if W is not None and r["t"] <= W:
					s["late"] += 1
					late_total[side] += 1
					late_kept[side].append(r)
				else:
					ok[side].append(r)
		# new impressions meet the live clicks, then new clicks meet every
		# live impression, the new ones included
		for i in ok[0]:
			for c in live[1]:
				if matches(i, c):
					pair(b, i, c)
			live[0].append(i)
		for c in ok[1]:
			for i in live[0]:
				if matches(i, c):
					pair(b, i, c)
			live[1].append(c)
		evict(b, W)
		delays = (IMP_DELAY, CLICK_DELAY)
		for side in (0, 1):
			if new[side]:
				m = max(r["t"] for r in new[side]) - delays[side]
				wi[side] = m if wi[side] is None else max(wi[side], m)
			b.side[side]["wm"] = wi[side]
		low = -10 ** 9
		cand = (min if policy == "min" else max)(
			wi[0] if wi[0] is not None else low, wi[1] if wi[1] is not None else low)
		if W is None or cand > W:
			W = cand
			bid += 1
			nd = Batch(bid, step, True, W)
			for side in (0, 1):
				nd.side[side]["wm"] = wi[side]
			batches.append(nd)
			evict(nd, W)
		after.append([(wi[side], state_rows(side), late_total[side]) for side in (0, 1)])
	return batches, after


def spec_model():
	path = os.path.join(ROOT, "docs", "joins", "scenario_model.py")
	spec = importlib.util.spec_from_file_location("scenario_model", path)
	mod = importlib.util.module_from_spec(spec)
	spec.loader.exec_module(mod)
	return mod


def check():
	"""Every row this model writes, per step and batch kind, against the
	specification's model (docs/joins/scenario_model.py)."""
	sm = spec_model()
	failures = 0
	for name, kind, policy in QUERIES:
		batches, _ = run(kind, policy)
		mine = [(b.step, "nd" if b.nd else "", r) for b in batches for r in b.rows]
		written, _ = sm.run(kind, policy)
		theirs = []
		for (step, nd, r) in written:
			if kind == "semi":
				row = (r[0], ts(minutes(r[1])))
			else:
				ik, it, ck, ct = r
				it = ts(minutes(it)) if it is not None else None
				ct = ts(minutes(ct)) if ct is not None else None
				if kind == "right":
					row = (ck, it, ct)
				elif kind == "full":
					row = (ik, it, ck, ct)
				else:
					row = (ik, it, ct)
			theirs.append((step, nd, row))
		theirs.sort(key=repr)
		mine.sort(key=repr)
		if mine != theirs:
			failures += 1
			print("%s differs from docs/joins/scenario_model.py:" % name)
			print("  here: ", mine)
			print("  spec: ", theirs)
		else:
			print("%s: %d rows, as docs/joins/scenario_model.py" % (name, len(mine)))
	# the side watermarks and late counts against the spec model's steps
	_, steps = sm.run("inner")
	_, after = run("inner", "min")
	for (s, late, w_imp, w_click, w, li, lc, si, sc, moved), a in zip(steps, after):
		if (ts(minutes(w_imp)), ts(minutes(w_click))) != (ts(a[0][0]), ts(a[1][0])):
			failures += 1
			print("step %d: side watermarks differ" % s)
	return failures


def sql_literal(v):
	if v is None:
		return "NULL"
	if isinstance(v, int):
		return str(v)
	return "'%s'" % v


def stand_in():
	"""The stand-in `stream` schema, and the model's rows for it."""
	out = ["""
CREATE SCHEMA stream;
GRANT USAGE ON SCHEMA stream TO PUBLIC;
CREATE TABLE stream.mock_queries (name text, stream regclass, streams regclass[],
    event_time name, watermark_delay interval, watermarks text[],
    watermark_policy text, status text, target text);
CREATE TABLE stream.mock_done (query text, step int, phase int);
CREATE TABLE stream.mock_rows (query text, step int, nd boolean, row text);
CREATE TABLE stream.mock_sides_after (query text, step int, side int,
    watermark timestamptz, state_rows bigint, late_rows bigint);
CREATE TABLE stream.mock_progress (query text, step int, nd boolean, batch_id bigint,
    input_rows bigint, late_rows bigint, watermark timestamptz, output_rows bigint);
CREATE TABLE stream.mock_progress_sides (query text, step int, nd boolean,
    batch_id bigint, side int, stream text, input_rows bigint, late_rows bigint,
    watermark timestamptz, event_time_min timestamptz, event_time_max timestamptz);
CREATE TABLE stream.query_sides (query text, side int, name text, stream regclass,
    event_time name, delay interval, watermark timestamptz, state_rows bigint,
    late_rows bigint);
CREATE TABLE stream.progress (query text, batch_id bigint, input_rows bigint,
    late_rows bigint, watermark timestamptz, output_rows bigint);
CREATE TABLE stream.progress_sides (query text, batch_id bigint, side int,
    stream regclass, input_rows bigint, late_rows bigint, watermark timestamptz,
    event_time_min timestamptz, event_time_max timestamptz);
GRANT ALL ON ALL TABLES IN SCHEMA stream TO PUBLIC;
CREATE VIEW stream.queries AS SELECT * FROM stream.mock_queries;
GRANT SELECT ON stream.queries TO PUBLIC;

CREATE FUNCTION stream.create_stream(relation regclass) RETURNS void
LANGUAGE sql AS $$SELECT$$;
CREATE FUNCTION stream.drop_stream(relation regclass, if_exists boolean DEFAULT false,
    cascade boolean DEFAULT false) RETURNS void LANGUAGE sql AS $$SELECT$$;
CREATE FUNCTION stream.start_query(name text, query text, target text DEFAULT NULL,
    output_mode text DEFAULT 'append', trigger text DEFAULT '500 ms',
    max_rows_per_batch integer DEFAULT NULL, watermarks text[] DEFAULT NULL,
    watermark_policy text DEFAULT 'min') RETURNS bigint LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE format('CREATE TABLE %I AS %s WITH NO DATA', target, query);
    INSERT INTO stream.mock_queries VALUES (name, 'impressions',
        ARRAY['impressions'::regclass, 'clicks'::regclass],
        NULL, NULL, watermarks, watermark_policy, 'active', target);
    INSERT INTO stream.query_sides VALUES
        (name, 1, 'i', 'impressions', 'imp_time', '2 hours', NULL, NULL, NULL),
        (name, 2, 'c', 'clicks', 'click_time', '3 hours', NULL, NULL, NULL);
    RETURN 1;
END
$f$;
CREATE FUNCTION stream.alter_query(name text, query text DEFAULT NULL,
    trigger text DEFAULT NULL, max_rows_per_batch integer DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$SELECT$$;
CREATE FUNCTION stream.stop_query(name text) RETURNS boolean LANGUAGE sql AS $$SELECT true$$;
CREATE FUNCTION stream.resume_query(name text) RETURNS boolean LANGUAGE sql AS $$SELECT true$$;
CREATE FUNCTION stream.drop_query(name text, if_exists boolean DEFAULT false)
RETURNS boolean LANGUAGE sql AS $$DELETE FROM stream.mock_queries WHERE name = $1 RETURNING true$$;

-- phase 1: the step's data batch done; phase 2: the whole step
CREATE PROCEDURE stream.mock_run(q text, upto int) LANGUAGE plpgsql AS $f$
DECLARE
    s int;
    p int;
    target text;
    r record;
BEGIN
    SELECT d.step, d.phase INTO s, p FROM stream.mock_done d WHERE d.query = q;
    IF NOT FOUND THEN
        s := 0; p := 2;
        INSERT INTO stream.mock_done VALUES (q, 0, 2);
    END IF;
    IF p = 2 THEN
        s := s + 1; p := 0;
    END IF;
    SELECT m.target INTO target FROM stream.mock_queries m WHERE m.name = q;
    FOR r IN SELECT * FROM stream.mock_rows m WHERE m.query = q AND m.step = s
               AND ((NOT m.nd AND p < 1) OR (m.nd AND upto = 2)) LOOP
        EXECUTE format('INSERT INTO %I VALUES %s', target, r.row);
    END LOOP;
    INSERT INTO stream.progress
    SELECT m.query, m.batch_id, m.input_rows, m.late_rows, m.watermark, m.output_rows
      FROM stream.mock_progress m WHERE m.query = q AND m.step = s
       AND ((NOT m.nd AND p < 1) OR (m.nd AND upto = 2));
    INSERT INTO stream.progress_sides
    SELECT m.query, m.batch_id, m.side, m.stream::regclass, m.input_rows, m.late_rows, m.watermark,
           m.event_time_min, m.event_time_max
      FROM stream.mock_progress_sides m WHERE m.query = q AND m.step = s
       AND ((NOT m.nd AND p < 1) OR (m.nd AND upto = 2));
    IF upto = 2 THEN
        UPDATE stream.query_sides x SET watermark = a.watermark, state_rows = a.state_rows,
               late_rows = a.late_rows
          FROM stream.mock_sides_after a
         WHERE a.query = q AND a.step = s AND x.query = q AND x.side = a.side;
    END IF;
    UPDATE stream.mock_done SET step = s, phase = upto WHERE query = q;
END
$f$;
CREATE PROCEDURE stream.process_batch(name text) LANGUAGE sql AS $$CALL stream.mock_run(name, 1)$$;
CREATE PROCEDURE stream.process_all_available(name text) LANGUAGE sql AS $$CALL stream.mock_run(name, 2)$$;
"""]
	for name, kind, policy in QUERIES:
		batches, after = run(kind, policy)
		for b in batches:
			for r in b.rows:
				values = ", ".join("NULL" if v is None else
								   (str(v) if isinstance(v, int) else "'%s'" % v) for v in r)
				out.append("INSERT INTO stream.mock_rows VALUES (%s, %d, %s, $r$(%s)$r$);" % (
					sql_literal(name), b.step, "true" if b.nd else "false", values))
			out.append("INSERT INTO stream.mock_progress VALUES (%s, %d, %s, %d, %d, %d, %s, %d);" % (
				sql_literal(name), b.step, "true" if b.nd else "false", b.batch_id,
				b.side[0]["input"] + b.side[1]["input"], b.side[0]["late"] + b.side[1]["late"],
				sql_literal(ts(b.watermark)), len(b.rows)))
			for side in (0, 1):
				s = b.side[side]
				out.append("INSERT INTO stream.mock_progress_sides VALUES "
						   "(%s, %d, %s, %d, %d, %s, %d, %d, %s, %s, %s);" % (
							   sql_literal(name), b.step, "true" if b.nd else "false",
							   b.batch_id, side + 1,
							   "'impressions'" if side == 0 else "'clicks'",
							   s["input"], s["late"], sql_literal(ts(s["wm"])),
							   sql_literal(ts(s["tmin"])), sql_literal(ts(s["tmax"]))))
		for step, sides in enumerate(after, 1):
			for side, (wm, state, late) in enumerate(sides):
				out.append("INSERT INTO stream.mock_sides_after VALUES (%s, %d, %d, %s, %d, %d);" % (
					sql_literal(name), step, side + 1, sql_literal(ts(wm)), state, late))
	return "\n".join(out) + "\n"


def expected(path):
	psql = os.environ.get("PSQL", "psql")
	db = "joins_scenario_stand_in"
	# the environment pg_regress gives psql
	env = dict(os.environ, PGTZ="PST8PDT", PGDATESTYLE="Postgres, MDY",
			   PGOPTIONS="-c intervalstyle=postgres_verbose")
	base = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres"]
	subprocess.run(base + ["-c", "DROP DATABASE IF EXISTS " + db], env=env, check=True)
	subprocess.run(base + ["-c", "CREATE DATABASE " + db], env=env, check=True)
	subprocess.run(base + ["-c", "DROP ROLE IF EXISTS regress_join_owner"], env=env, check=True)
	try:
		subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db],
					   input=stand_in(), text=True, env=env, check=True,
					   stdout=subprocess.DEVNULL)
		with open(os.path.join(ROOT, "sql", "joins.sql")) as f:
			text = f.read()
		ext = "CREATE EXTENSION IF NOT EXISTS pg_streaming;\n"
		assert ext in text
		text = text.replace(ext, "SELECT 'extension line' AS marker \\g /dev/null\n", 1)
		res = subprocess.run([psql, "-X", "-a", "-q", "-d", db], input=text, text=True,
							 env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
		out = res.stdout.replace(
			"SELECT 'extension line' AS marker \\g /dev/null\n",
			ext + 'NOTICE:  extension "pg_streaming" already exists, skipping\n', 1)
	finally:
		subprocess.run(base + ["-c", "DROP DATABASE IF EXISTS " + db], env=env, check=True)
		subprocess.run(base + ["-c", "DROP ROLE IF EXISTS regress_join_owner"], env=env)
	with open(path, "w") as f:
		f.write(out)


if __name__ == "__main__":
	if len(sys.argv) >= 2 and sys.argv[1] == "--sql":
		sys.stdout.write(stand_in())
	elif len(sys.argv) >= 3 and sys.argv[1] == "--expected":
		if check():
			sys.exit(1)
		expected(sys.argv[2])
	else:
		sys.exit(1 if check() else 0)
