"""Workbook backend benchmark: where a sync's time goes on a local .xlsx at 10,000 leads.

Provisions the leads, then times a read of the fresh workbook, the first sync's write, a read
of the synced workbook and a no-change re-sync (read and plan, nothing written). ``--profile
read`` or ``--profile write`` prints cProfile's top entries for that step instead of guessing.
Run: .venv/bin/python bench/workbook.py [--rows 10000] [--profile read|write]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import tempfile
import time
from pathlib import Path

from leads import NOW, machine, require_data, snapshot
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.engine.plan import resolve
from sheetcrm.engine.sync import plan_sync


def timed(fn, profile: bool = False):
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    result = profiler.runcall(fn) if profiler else fn()
    elapsed = time.perf_counter() - start
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return result, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--profile", choices=["read", "write"])
    args = parser.parse_args()
    require_data()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.xlsx"
        backend = WorkbookBackend(path)
        _, provision = timed(lambda: backend.provision(snapshot(args.rows).tabs))
        fresh, read_fresh = timed(backend.read)
        changes = resolve(plan_sync(fresh, NOW), fresh).changes
        _, write = timed(lambda: backend.write(changes), args.profile == "write")
        _, read_synced = timed(backend.read, args.profile == "read")
        plan, resync = timed(lambda: plan_sync(backend.read(), NOW))
        assert not plan.writes, plan.describe(5)
        size = path.stat().st_size
    print(
        f"workbook, {args.rows:,} leads ({size / 1e6:.1f} MB synced): provision {provision:.1f} s; "
        f"read {read_fresh:.1f} s fresh, {read_synced:.1f} s synced; first sync's write "
        f"{write:.1f} s ({len(changes.cells):,} cells, "
        f"{sum(map(len, changes.appends.values())):,} rows appended); "
        f"no-change re-sync {resync:.1f} s"
    )
    print(
        json.dumps(
            {
                "bench": "workbook",
                "rows": args.rows,
                "provision_s": round(provision, 2),
                "read_fresh_s": round(read_fresh, 2),
                "write_s": round(write, 2),
                "read_synced_s": round(read_synced, 2),
                "resync_s": round(resync, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
