#!/usr/bin/python3
"""Write each batch of a foreach_batch query to a file, exactly once, across
this program's own crashes.

The database side (see the README): a streaming query with
foreach_batch => 'to_outbox', whose procedure copies each batch's rows into
an outbox table with the batch id.  That copy commits with the batch's
checkpoint, so the outbox holds every row once.  This consumer then moves
the outbox into a file:

  - each batch is appended as its rows followed by a "commit <batch id>"
    line, and the file is flushed to disk;
  - on start, anything after the last commit line (a batch cut short by a
    crash) is cut off, and batches up to the last committed one are skipped:
    the batch id is the idempotency key;
  - batches in the file are then deleted from the outbox.

Usage: foreach_batch_consumer.py DSN FILE [--outbox TABLE] [--idle SECONDS]
       [--crash-after-rows N | --crash-after-commit]
The crash options stop the process abruptly, for tests.
"""
import argparse
import os
import sys
import time

import psycopg
from psycopg import sql


def recover(path):
    """The last committed batch id in the file, after cutting off a batch
    that a crash left without its commit line."""
    last = 0
    keep = 0
    if not os.path.exists(path):
        return last
    with open(path, "rb") as f:
        data = f.read()
    offset = 0
    for line in data.splitlines(keepends=True):
        offset += len(line)
        if not line.endswith(b"\n"):
            break
        fields = line.rstrip(b"\n").split(b"\t")
        if fields[0] == b"commit":
            last = int(fields[1])
            keep = offset
    if keep != len(data):
        with open(path, "r+b") as f:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
    return last


def write_batch(out, batch_id, rows, crash_after_rows):
    written = 0
    for row in rows:
        out.write("row\t%d\t%s\n" % (batch_id, "\t".join(
            "" if v is None else str(v) for v in row)))
        written += 1
        if crash_after_rows is not None and written >= crash_after_rows:
            out.flush()
            os.fsync(out.fileno())
            os._exit(3)
    out.write("commit\t%d\n" % batch_id)
    out.flush()
    os.fsync(out.fileno())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dsn")
    parser.add_argument("file")
    parser.add_argument("--outbox", default="outbox")
    parser.add_argument("--idle", type=float, default=1.0,
                        help="stop after this many seconds without a batch")
    parser.add_argument("--crash-after-rows", type=int)
    parser.add_argument("--crash-after-commit", action="store_true")
    args = parser.parse_args()

    last = recover(args.file)
    outbox = sql.Identifier(*args.outbox.split("."))
    idle_since = time.monotonic()
    with psycopg.connect(args.dsn, autocommit=True) as conn, \
            open(args.file, "a") as out:
        # what an earlier run wrote but did not acknowledge
        conn.execute(sql.SQL("DELETE FROM {} WHERE batch_id <= %s").format(outbox),
                     (last,))
        while True:
            row = conn.execute(
                sql.SQL("SELECT min(batch_id) FROM {} WHERE batch_id > %s").format(outbox),
                (last,)).fetchone()
            batch_id = row[0]
            if batch_id is None:
                if time.monotonic() - idle_since > args.idle:
                    break
                time.sleep(0.05)
                continue
            rows = conn.execute(
                sql.SQL("SELECT id, payload FROM {} WHERE batch_id = %s ORDER BY id")
                .format(outbox), (batch_id,)).fetchall()
            write_batch(out, batch_id, rows, args.crash_after_rows)
            if args.crash_after_commit:
                os._exit(4)
            conn.execute(sql.SQL("DELETE FROM {} WHERE batch_id <= %s").format(outbox),
                         (batch_id,))
            last = batch_id
            idle_since = time.monotonic()
    print("last batch written: %d" % last)
    return 0


if __name__ == "__main__":
    sys.exit(main())
