#!/usr/bin/python3
"""Wait for a streaming query's next batch, and print its event.

A query sends a NOTIFY per committed or failed batch once its owner turned
events on:

    SELECT stream.alter_query('my_query', events => true);

The channel is random and shown in stream.queries to the members of the
query's owner only: this program reads it there, LISTENs to it, and waits
for the next notification.  Notifications are delivered at the commit of
the batch's transaction (or of the transaction that records its failure),
so an event always describes a batch that committed, or an error that was
recorded.  A batch that commits while nobody listens is not told to anyone
later: read stream.progress for the history.

Usage: wait_for_batch.py DSN QUERY [--timeout SECONDS] [--count N]
Prints each event's JSON on a line of its own; exits 0 when every event
received was a committed batch, 1 when one was a failure, 2 on a timeout.
"""
import argparse
import json
import select
import sys
import time

import psycopg
from psycopg import sql


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("query")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--count", type=int, default=1,
                        help="how many batches to wait for")
    args = parser.parse_args()

    with psycopg.connect(args.dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT events_channel FROM stream.queries WHERE name = %s",
            (args.query,)).fetchone()
        if row is None:
            sys.exit(f"no streaming query {args.query!r} that this role may see")
        if row[0] is None:
            sys.exit(f"streaming query {args.query!r} sends no events: "
                     f"SELECT stream.alter_query('{args.query}', events => true)")
        received = []
        conn.add_notify_handler(lambda n: received.append(n.payload))
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(row[0])))
        print("listening", flush=True)

        deadline = time.monotonic() + args.timeout
        failed = False
        shown = 0
        while shown < args.count:
            while shown < len(received) and shown < args.count:
                event = json.loads(received[shown])
                print(json.dumps(event, sort_keys=True), flush=True)
                failed = failed or event["status"] != "committed"
                shown += 1
            if shown >= args.count:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                print("timeout", flush=True)
                return 2
            # wait for the server to send something, then let psycopg read
            # it: the notifications reach the handler
            select.select([conn.fileno()], [], [], remaining)
            conn.execute("SELECT")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
