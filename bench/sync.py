"""Sync benchmark: plan_sync on 100,000 leads (first sync, then a re-sync with no change), and
the workbook end to end (read, plan, write) at 10,000 leads.

Targets (issue 2): first sync <= 10 s, validation and normalisation included; re-sync <= 3 s,
re-parsing only contacts whose text changed (the service keeps its Memo between syncs; the
re-sync without one is shown beside it). Issue 21: each figure carries the process's peak RSS
while it ran (``*_peak_mb``, inputs included) and the RSS it started from (``*_from_mb``).
Run: .venv/bin/python bench/sync.py
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
from pathlib import Path

from leads import NOW, machine, peaked, require_data, rss_mb, snapshot
from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.validation import Memo

PEAKS: dict[str, tuple[int, int]] = {}  # figure -> (RSS before it, peak RSS during it), MB


def timed(fn, name: str = ""):
    before = rss_mb()
    result, seconds, peak = peaked(fn)
    if name:
        PEAKS[name] = (before, peak)
    return result, seconds


def engine(rows: int) -> dict[str, float]:
    backend = MemoryBackend(snapshot(rows).tabs)
    memo = Memo()
    first_snapshot = backend.read()
    loaded = rss_mb()  # the process with the 100,000 leads read: what any sync starts from
    plan, first = timed(lambda: plan_sync(first_snapshot, NOW, memo), "first_sync")
    cells = plan.cell_count
    apply(plan, backend, first_snapshot)
    again = backend.read()
    plan2, resync = timed(lambda: plan_sync(again, NOW, memo), "resync")
    assert not plan2.writes, plan2.describe(5)
    _, cold = timed(lambda: plan_sync(again, NOW, Memo()), "resync_cold")
    # plan_sync pauses the cyclic garbage collector; the same re-sync with it running:
    _, collected = timed(
        lambda: plan_sync.__wrapped__(again, NOW, memo),  # type: ignore[attr-defined]
        "resync_gc_on",
    )
    print(
        f"plan_sync, {rows:,} leads: first sync {first:.2f} s ({cells:,} cells planned); "
        f"re-sync {resync:.2f} s with the service's memo, {cold:.2f} s without "
        f"({cold / resync:.1f}x), {collected:.2f} s with the memo and the garbage collector on"
    )
    print(
        "peak RSS (MB, from -> peak): "
        + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in PEAKS.items() if not k.startswith("wb"))
    )
    return {
        "rows": rows,
        "input_rss_mb": loaded,
        "first_sync_s": round(first, 2),
        "cells_planned": cells,
        "resync_s": round(resync, 2),
        "resync_cold_s": round(cold, 2),
        "memo_speedup": round(cold / resync, 1),
        "resync_gc_on_s": round(collected, 2),
        **{f"{k}_from_mb": a for k, (a, _) in PEAKS.items() if not k.startswith("wb")},
        **{f"{k}_peak_mb": b for k, (_, b) in PEAKS.items() if not k.startswith("wb")},
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

        cells, first = timed(sync, "wb_first_sync")
        again, resync = timed(sync, "wb_resync")
        assert again == 0
        _, read = timed(backend.read, "wb_read")
    print(
        f"workbook end to end, {rows:,} leads ({size / 1e6:.1f} MB): first sync {first:.1f} s "
        f"({cells:,} cells written), re-sync {resync:.1f} s (nothing written; read alone "
        f"{read:.1f} s); peak RSS {PEAKS['wb_first_sync'][1]} / {PEAKS['wb_resync'][1]} MB"
    )
    return {
        "rows": rows,
        "first_sync_s": round(first, 1),
        "cells_written": cells,
        "resync_s": round(resync, 1),
        "read_s": round(read, 1),
        "first_sync_peak_mb": PEAKS["wb_first_sync"][1],
        "resync_peak_mb": PEAKS["wb_resync"][1],
        "read_peak_mb": PEAKS["wb_read"][1],
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
