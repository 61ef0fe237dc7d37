"""Workbook backend benchmark: where a sync's time and memory go on a local .xlsx.

At ``--rows`` leads (10,000): provisions them, reads the fresh workbook, writes the first
sync, then, alternately for ``--rounds`` rounds, a no-change re-sync (read and plan, nothing
written) through python-calamine, the backend's reader, and the same re-sync through the
openpyxl reader it replaced (xlsx_read_openpyxl.py): medians and their ratio; then the
calamine re-sync with the memo of parsed contacts the service and the CLI keep. At ``--big``
leads (50,000) the same end to end once: provision, first sync (read, plan, write), re-sync.
Beside every figure, the peak resident memory of the process during that step and how much
it grew over the step's start (sampled every 5 ms from /proc). ``--profile read`` or
``--profile write`` prints cProfile's top entries for that step instead of guessing.
Run: .venv/bin/python bench/workbook.py [--rows 10000] [--big 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from leads import NOW, machine, require_data, snapshot
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.backends.xlsx_read_openpyxl import read_tabs_openpyxl
from sheetcrm.engine.plan import resolve
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Snapshot
from sheetcrm.engine.validation import Memo

_PAGE_MB = 4096 / 1e6


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE_MB


class PeakRss:
    """The highest resident memory of this process while the block runs, sampled."""

    def __enter__(self) -> PeakRss:
        self.start = self.peak = rss_mb()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def timed(fn: Callable[[], Any], profile: bool = False) -> tuple[Any, dict[str, float]]:
    """``fn()``, and its seconds, peak RSS and RSS growth (MB)."""
    profiler = cProfile.Profile() if profile else None
    with PeakRss() as memory:
        start = time.perf_counter()
        result = profiler.runcall(fn) if profiler else fn()
        elapsed = time.perf_counter() - start
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return result, {
        "s": round(elapsed, 3),
        "peak_rss_mb": round(memory.peak),
        "rss_growth_mb": round(memory.peak - memory.start),
    }


def resync(backend: WorkbookBackend, memo: Memo | None = None) -> int:
    """A no-change re-sync through the backend: read, plan; the plan must write nothing.
    ``memo``: the contacts already parsed, as the service and the CLI keep them."""
    plan = plan_sync(backend.read(), NOW, memo)
    assert not plan.writes, plan.describe(5)
    return len(plan.writes)


def resync_openpyxl(backend: WorkbookBackend) -> int:
    """The same re-sync, the workbook read by openpyxl as before python-calamine."""
    version = backend.version()
    plan = plan_sync(Snapshot(read_tabs_openpyxl(backend.path), version), NOW)
    assert not plan.writes, plan.describe(5)
    return len(plan.writes)


def first_sync(backend: WorkbookBackend) -> int:
    fresh = backend.read()
    changes = resolve(plan_sync(fresh, NOW), fresh).changes
    backend.write(changes)
    return len(changes.cells) + sum(map(len, changes.appends.values()))


def median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=50_000, help="end to end once; 0: skip")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=["read", "write"])
    args = parser.parse_args()
    require_data()
    figures: dict[str, Any] = {"bench": "workbook", "rows": args.rows}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.xlsx"
        backend = WorkbookBackend(path)
        tabs = snapshot(args.rows).tabs
        _, figures["provision"] = timed(partial(backend.provision, tabs))
        del tabs
        _, figures["read_fresh"] = timed(backend.read)
        fresh = backend.read()
        changes = resolve(plan_sync(fresh, NOW), fresh).changes
        del fresh
        _, figures["first_sync_write"] = timed(
            partial(backend.write, changes), args.profile == "write"
        )
        figures["cells_written"] = len(changes.cells)
        figures["rows_appended"] = sum(map(len, changes.appends.values()))
        del changes
        _, figures["read_synced"] = timed(backend.read, args.profile == "read")
        _, figures["read_synced_openpyxl"] = timed(lambda: read_tabs_openpyxl(path))
        calamine, openpyxl = [], []
        for _ in range(args.rounds):  # alternately, so both see the same machine
            calamine.append(timed(lambda: resync(backend))[1])
            openpyxl.append(timed(lambda: resync_openpyxl(backend))[1])
        figures["resync"] = median(calamine)
        figures["resync_openpyxl"] = median(openpyxl)
        memo = Memo()
        resync(backend, memo)  # the service's first pass fills it
        figures["resync_with_memo"] = median(
            [timed(partial(resync, backend, memo))[1] for _ in range(args.rounds)]
        )
        figures["resync_speedup"] = round(
            figures["resync_openpyxl"]["s"] / figures["resync"]["s"], 2
        )
        figures["size_mb"] = round(path.stat().st_size / 1e6, 1)
    if args.big:
        with tempfile.TemporaryDirectory() as tmp:
            backend = WorkbookBackend(Path(tmp) / "big.xlsx")
            tabs = snapshot(args.big).tabs
            big: dict[str, Any] = {"rows": args.big}
            _, big["provision"] = timed(partial(backend.provision, tabs))
            del tabs
            big["cells_and_rows_written"], big["first_sync"] = timed(lambda: first_sync(backend))
            _, big["resync"] = timed(lambda: resync(backend))
            figures["big"] = big
    figures["target_resync_s"] = 1.5
    figures["machine"] = machine()
    r, o = figures["resync"], figures["resync_openpyxl"]
    print(
        f"workbook, {args.rows:,} leads ({figures['size_mb']} MB): no-change re-sync "
        f"{r['s']:.2f} s (peak {r['peak_rss_mb']} MB) through python-calamine, "
        f"{o['s']:.2f} s (peak {o['peak_rss_mb']} MB) through openpyxl: "
        f"{figures['resync_speedup']}x; with the service's memo "
        f"{figures['resync_with_memo']['s']:.2f} s; "
        f"read synced {figures['read_synced']['s']:.2f} s vs "
        f"{figures['read_synced_openpyxl']['s']:.2f} s; first sync's write "
        f"{figures['first_sync_write']['s']:.2f} s"
    )
    if args.big:
        big = figures["big"]
        print(
            f"{args.big:,} leads end to end: provision {big['provision']['s']:.1f} s, first sync "
            f"{big['first_sync']['s']:.1f} s (peak {big['first_sync']['peak_rss_mb']} MB), "
            f"re-sync {big['resync']['s']:.2f} s (peak {big['resync']['peak_rss_mb']} MB)"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
