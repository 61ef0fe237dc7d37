"""Sync benchmark: plan_sync on 100,000 leads (first sync, then a re-sync with no change), and
the workbook end to end (read, plan, write) at 10,000 leads.

Targets (issue 2): first sync <= 10 s, validation and normalisation included; re-sync <= 3 s,
re-parsing only contacts whose text changed (the service keeps its Memo between syncs; the
re-sync without one is shown beside it). Run: .venv/bin/python bench/sync.py
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from leads import NOW, machine, require_data, snapshot
from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.validation import Memo


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def engine(rows: int) -> dict[str, float]:
    backend = MemoryBackend(snapshot(rows).tabs)
    memo = Memo()
    first_snapshot = backend.read()
    plan, first = timed(lambda: plan_sync(first_snapshot, NOW, memo))
    cells = plan.cell_count
    apply(plan, backend, first_snapshot)
    again = backend.read()
    plan2, resync = timed(lambda: plan_sync(again, NOW, memo))
    assert not plan2.writes, plan2.describe(5)
    _, cold = timed(lambda: plan_sync(again, NOW, Memo()))
    # plan_sync pauses the cyclic garbage collector; the same re-sync with it running:
    _, collected = timed(lambda: plan_sync.__wrapped__(again, NOW, memo))  # type: ignore[attr-defined]
    print(
        f"plan_sync, {rows:,} leads: first sync {first:.2f} s ({cells:,} cells planned); "
        f"re-sync {resync:.2f} s with the service's memo, {cold:.2f} s without "
        f"({cold / resync:.1f}x), {collected:.2f} s with the memo and the garbage collector on"
    )
    return {
        "rows": rows,
        "first_sync_s": round(first, 2),
        "cells_planned": cells,
        "resync_s": round(resync, 2),
        "resync_cold_s": round(cold, 2),
        "memo_speedup": round(cold / resync, 1),
        "resync_gc_on_s": round(collected, 2),
    }


def workbook(rows: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.xlsx"
        backend = WorkbookBackend(path)
        backend.provision(snapshot(rows).tabs)
        size = path.stat().st_size

        def sync() -> int:
            snap = backend.read()
            report = apply(plan_sync(snap, NOW), backend, snap)
            return report.cells

        cells, first = timed(sync)
        again, resync = timed(sync)
        assert again == 0
        _, read = timed(backend.read)
    print(
        f"workbook end to end, {rows:,} leads ({size / 1e6:.1f} MB): first sync {first:.1f} s "
        f"({cells:,} cells written), re-sync {resync:.1f} s (nothing written; read alone "
        f"{read:.1f} s)"
    )
    return {
        "rows": rows,
        "first_sync_s": round(first, 1),
        "cells_written": cells,
        "resync_s": round(resync, 1),
        "read_s": round(read, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--workbook-rows", type=int, default=10_000)
    args = parser.parse_args()
    require_data()
    figures = {
        "bench": "sync",
        "engine": engine(args.rows),
        "workbook": workbook(args.workbook_rows),
    }
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    figures["machine"] = machine()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
