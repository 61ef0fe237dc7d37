"""Syncs on a local .xlsx end to end, this tree against another revision's, in the same run.

Two figures, each from a fresh interpreter per revision (bench/against.py's probes), the two
revisions alternately:
- ``--rows`` leads (10,000), one lead edited (its Stage, so the funnel's figures change):
  the re-sync end to end (read, plan, write), medians of ``--rounds``; the workbook is first
  provisioned, synced and synced again (so the edit's re-sync writes only what it causes),
  none of which is timed. The sync keeps the memo of parsed contacts the service keeps.
- ``--big`` leads (50,000): the first sync end to end, once per revision.
Beside each: the CPU seconds of the process (the machine is shared: less inflated by the
load than the wall time), the process's peak RSS during the step (VmHWM, reset before it),
the path the write took (``WorkbookBackend.last_write``), what it wrote, and the seconds of
its read, plan and write.
Run: cd bench && PYTHONPATH=../src ../.venv/bin/python workbook_sync.py --rev main
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from against import MEMORY_PROBE, alternately
from leads import machine, require_data

# Runs inside either tree.
PROBE = (
    """
import json, sys, tempfile, time
from pathlib import Path
from leads import NOW, snapshot
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.engine.changes import CellUpdate, Changes
from sheetcrm.engine.plan import resolve
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.validation import Memo
"""
    + MEMORY_PROBE
    + """def sync(backend, memo):
    t0 = time.perf_counter()
    snap = backend.read()
    t1 = time.perf_counter()
    changes = resolve(plan_sync(snap, NOW, memo), snap).changes
    t2 = time.perf_counter()
    backend.write(changes)
    t3 = time.perf_counter()
    return {"cells": len(changes.cells), "rows": sum(map(len, changes.appends.values())),
            "tabs": len(changes.replace),
            "read_s": round(t1 - t0, 3), "plan_s": round(t2 - t1, 3), "write_s": round(t3 - t2, 3)}
rows, mode = int(sys.argv[1]), sys.argv[2]
with tempfile.TemporaryDirectory() as tmp:
    backend = WorkbookBackend(Path(tmp) / "crm.xlsx")
    backend.provision(snapshot(rows).tabs)
    memo = Memo()
    if mode == "edit":
        sync(backend, memo)
        sync(backend, memo)  # settled: what the edit causes is all the next sync writes
        snap = backend.read()
        leads = snap.tabs["Leads"]
        col = leads.header.index("Stage")
        stage = "Won" if leads.rows[0][col] != "Won" else "Qualified"
        backend.write(Changes(snap.version, cells=[CellUpdate("Leads", 0, col, stage)]))
    reset()
    start, cpu = time.perf_counter(), time.process_time()
    wrote = sync(backend, memo)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    size = backend.path.stat().st_size / 1e6
print(json.dumps({"s": round(seconds, 3), "cpu_s": round(cpu, 3), "peak_rss_mb": mb("VmHWM"),
                  "took": backend.last_write, "wrote": wrote, "size_mb": round(size, 1)}))
"""
)


def side_by_side(rev: str, rounds: int, rows: int, mode: str) -> dict[str, Any]:
    runs = alternately(rev, rounds, PROBE, rows, mode)
    figures: dict[str, Any] = {}
    for name, results in runs.items():
        figures[name] = {
            "s": statistics.median(r["s"] for r in results),
            "cpu_s": statistics.median(r["cpu_s"] for r in results),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in results),
            "runs_s": [r["s"] for r in results],
            "took": results[-1]["took"],
            "wrote": results[-1]["wrote"],
            "size_mb": results[-1]["size_mb"],
        }
    figures["speedup"] = round(figures[rev]["s"] / figures["this"]["s"], 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rev", default="main", help="the revision to compare against")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=50_000, help="first sync at this size; 0: skip")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    require_data()
    figures: dict[str, Any] = {"bench": "workbook_sync", "rev": args.rev}
    figures["edit_resync"] = side_by_side(args.rev, args.rounds, args.rows, "edit")
    _say(f"{args.rows:,} leads, one lead edited, figures change: re-sync", figures, args.rev)
    if args.big:
        figures["big_first_sync"] = side_by_side(args.rev, 1, args.big, "first")
        _say(f"{args.big:,} leads, first sync", figures, args.rev, "big_first_sync")
    figures["target_edit_resync_s"] = 1.5
    figures["machine"] = machine()
    print(json.dumps(figures))


def _say(what: str, figures: dict[str, Any], rev: str, key: str = "edit_resync") -> None:
    this, other = figures[key]["this"], figures[key][rev]
    print(
        f"{what}: this tree {this['s']:.2f} s ({this['cpu_s']:.2f} s CPU, peak "
        f"{this['peak_rss_mb']} MB; {this['took']}), {rev} {other['s']:.2f} s "
        f"({other['cpu_s']:.2f} s CPU, peak {other['peak_rss_mb']} MB; {other['took']}): "
        f"{figures[key]['speedup']}x",
        flush=True,
    )


if __name__ == "__main__":
    main()
