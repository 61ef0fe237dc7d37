"""The web-form intake's insert on PostgreSQL: one group commit's submissions stored by the
multi-VALUES INSERT it uses (``OutboxDB.insert_new``) and by the array INSERT a notification
hold uses (``OutboxDB.store_new``), alternately, per group-commit size: whether the intake
would gain from the arrays too (docs/benchmarks.md, "Alerts"). Each figure: the mean time of
one transaction (insert + commit) over at least 20, the median of ``--rounds``.
Run: .venv/bin/python bench/outbox_insert.py [--sizes 1 2 4 8 16 64 --rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from typing import Any

from alerts import postgres
from peak import peak_mb
from sheetcrm.intake.outbox_db import OutboxDB, submissions


def batch(size: int) -> list[dict[str, Any]]:
    """A group commit's new submissions, in key order as Outbox._insert sends them."""
    rows = [
        {
            "key": uuid.uuid4().hex,
            "source": "generic",
            "body": json.dumps(
                {"email": "ana@firm.example", "name": "Ana Lima", "note": "x" * 120}
            ),
            "digest": uuid.uuid4().hex * 2,
            "state": "pending",
            "received_at": time.time(),
            "attempts": 0,
            "next_try_at": time.time(),
        }
        for _ in range(size)
    ]
    return sorted(rows, key=lambda row: row["key"])


def per_commit_ms(db: OutboxDB, how: str, size: int) -> float:
    batches = [batch(size) for _ in range(max(20, 400 // size))]
    values = db.insert_new(submissions)
    start = time.perf_counter()
    for rows in batches:
        with db.begin() as conn:
            if how == "values":
                stored = list(conn.execute(values, rows).scalars())
            else:
                stored = db.store_new(conn, submissions, rows)
            assert len(stored) == size
    return (time.perf_counter() - start) / len(batches) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16, 64])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    figures: dict[str, Any] = {"bench": "outbox_insert", "rounds": args.rounds}
    with postgres() as url:
        if url is None:
            sys.exit("needs PostgreSQL's server binaries (tests/pgcluster.py)")
        db = OutboxDB(url)
        for size in args.sizes:
            times: dict[str, list[float]] = {"values": [], "arrays": []}
            for _ in range(args.rounds):
                for how, got in times.items():
                    got.append(per_commit_ms(db, how, size))
            ms = {how: round(statistics.median(got), 3) for how, got in times.items()}
            figures[str(size)] = {**ms, "ratio": round(ms["arrays"] / ms["values"], 2)}
            print(f"{size} rows per commit: {figures[str(size)]}", flush=True)
        db.close()
    figures["memory"] = peak_mb()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
