#!/usr/bin/env python3
"""A model of the rules of surface.md section 2, run on the scenario of 3.2.

It prints what 3.3-3.6 state by hand: each step's watermarks, late rows,
state rows per side, and the rows each join type writes (with "nd" for the
no-data batch), for the min and the max policy, and the hours of the chained
aggregation.  It is a check of the specification, not of the extension: if a
rule of section 2 or a row of 3.2 changes, run it again and update the
tables.  Times are minutes after midnight; 1 ms is Spark's tie margin (2.6).
"""

MS = 0.001 / 60

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


def minutes(hhmm):
	h, m = hhmm.split(":")
	return int(h) * 60 + int(m)


def show(x):
	if x is None:
		return "NULL"
	whole = int(round(x / MS)) * MS
	h, m = divmod(whole, 60)
	sec = (m - int(m)) * 60
	return "%02d:%02d" % (h, int(m)) + ("" if abs(sec) < 1e-6 else ":%06.3f" % sec)


def rows(spec):
	out = []
	for s in spec:
		k, t = s.split()
		out.append({"k": int(k), "t": minutes(t), "matched": False})
	return out


def matches(i, c):
	# c.ad_id = i.ad_id AND c.click_time BETWEEN i.imp_time AND i.imp_time + 1 hour
	return i["k"] == c["k"] and i["t"] <= c["t"] <= i["t"] + RANGE


def run(kind, policy="min"):
	W = w_imp = w_click = None
	imps, clicks, written, steps = [], [], [], []

	def evict(step, nd):
		nonlocal imps, clicks
		if W is None:
			return
		keep = []
		for i in imps:
			# SW_impressions = W - 1 h, non-strict: evict imp_time <= SW - 1 ms
			if i["t"] <= W - RANGE - MS:
				if kind in ("left", "full") and not i["matched"]:
					written.append((step, nd, (i["k"], show(i["t"]), None, None)))
			else:
				keep.append(i)
		imps = keep
		keep = []
		for c in clicks:
			# SW_clicks = W, non-strict: evict click_time <= W - 1 ms
			if c["t"] <= W - MS:
				if kind in ("right", "full") and not c["matched"]:
					written.append((step, nd, (None, None, c["k"], show(c["t"]))))
			else:
				keep.append(c)
		clicks = keep

	def pair(step, i, c):
		if kind == "semi":
			if not i["matched"]:
				written.append((step, "", (i["k"], show(i["t"]))))
		else:
			written.append((step, "", (i["k"], show(i["t"]), c["k"], show(c["t"]))))
		i["matched"] = c["matched"] = True

	for step, (imp_spec, click_spec) in enumerate(STEPS, 1):
		late = W
		new_i, new_c = rows(imp_spec), rows(click_spec)
		late_i = [r for r in new_i if late is not None and r["t"] <= late]
		late_c = [r for r in new_c if late is not None and r["t"] <= late]
		# new impressions meet the kept clicks, then new clicks meet every
		# kept impression, the new ones included
		for i in new_i:
			if i in late_i:
				continue
			for c in clicks:
				if matches(i, c):
					pair(step, i, c)
			imps.append(i)
		for c in new_c:
			if c in late_c:
				continue
			for i in imps:
				if matches(i, c):
					pair(step, i, c)
			clicks.append(c)
		evict(step, "")
		# watermarks from every row of the batch, late ones included
		if new_i:
			w_imp = max([w for w in [w_imp] if w is not None] + [r["t"] - IMP_DELAY for r in new_i])
		if new_c:
			w_click = max([w for w in [w_click] if w is not None] + [r["t"] - CLICK_DELAY for r in new_c])
		low = -10 ** 9
		cand = (min if policy == "min" else max)(
			w_imp if w_imp is not None else low, w_click if w_click is not None else low)
		moved = W is None or cand > W
		if moved:
			W = cand
			evict(step, "nd")
		kept_imps = [i for i in imps if not (kind == "semi" and i["matched"])]
		steps.append((step, show(late) if late is not None else "none", show(w_imp),
					  show(w_click), show(W), len(late_i), len(late_c),
					  len(kept_imps), len(clicks), "yes" if moved else "no"))
	return written, steps


def hourly():
	"""j_hourly: the left join's rows by hour of imp_time, closed by W - 1 h - 1 ms."""
	written, steps = run("left")
	out = []
	closed = set()
	for (step, late, wi, wc, w, li, lc, si, sc, moved) in steps:
		h, m = w.split(":")[:2]
		wmin = int(h) * 60 + int(m)
		out_wm = wmin - RANGE - MS
		hours = {}
		for (s, nd, r) in written:
			if s <= step:
				hour = minutes(r[1]) // 60 * 60
				n, clicks = hours.get(hour, (0, 0))
				hours[hour] = (n + 1, clicks + (1 if r[3] is not None else 0))
		for hour in sorted(hours):
			if hour not in closed and hour + 60 <= out_wm:
				closed.add(hour)
				out.append((step, show(hour), hours[hour][0], hours[hour][1]))
	return out


if __name__ == "__main__":
	for kind in ("inner", "left", "right", "full", "semi"):
		written, steps = run(kind)
		print("%s: %d rows" % (kind, len(written)))
		for w in written:
			print("  step %d %-2s %s" % w)
	print("step, late threshold, W_imp, W_click, W, late imp, late click, "
		  "state imp (inner/outer), state click, no-data batch")
	for s in run("inner")[1]:
		print("  ", s)
	print("semi impression state rows:", [s[7] for s in run("semi")[1]])
	written, steps = run("left", "max")
	print("left, max policy: %d rows" % len(written))
	for w in written:
		print("  step %d %-2s %s" % w)
	for s in steps:
		print("  ", s)
	print("j_hourly:", hourly())
