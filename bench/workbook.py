"""Workbook backend benchmark: where a sync's time and memory go on a local .xlsx.

At ``--rows`` leads (10,000): provisions them, reads the fresh workbook, writes the first
sync, then, alternately for ``--rounds`` rounds, a no-change re-sync (read and plan, nothing
written) through python-calamine, the backend's reader, and the same re-sync through the
openpyxl reader it replaced (xlsx_read_openpyxl.py): medians and their ratio; then the
calamine re-sync with the memo of parsed contacts the service and the CLI keep. At ``--big``
leads (50,000) the same end to end once: provision, first sync (read, plan, write), re-sync.
Writes, in place (xlsx_edit.py: only the parts a change touches) and through openpyxl (load
and save whole), side by side on two copies of one workbook, alternately: a write of ~100
cells into the synced ``--rows`` workbook (medians of ``--rounds``), and at ``--big`` the
first sync and the ~100 cells; each says which path it took (a change the editor cannot make
in place, metric tabs rewritten by a first sync among them, goes through openpyxl).
Beside every figure, the peak resident memory of the process during that step and how much
it grew over the step's start (sampled every 5 ms from /proc). ``--profile read`` or
``--profile write`` prints cProfile's top entries for that step instead of guessing.
Run: .venv/bin/python bench/workbook.py [--rows 10000] [--big 50000] [--rounds 3]
Whole syncs against another revision (one lead edited, figures change; the 50,000-lead first
sync): bench/workbook_sync.py.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import shutil
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
from sheetcrm.engine.changes import CellUpdate, Changes
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


def cell_changes(backend: WorkbookBackend, n: int = 100, seed: int = 21) -> Changes:
    """``n`` cells of Leads (scores, statuses, notes, amounts) given new values, as a sync
    that changes a few leads writes them: cells only, no metric tab rewritten."""
    snapshot = backend.read()
    leads = snapshot.tabs["Leads"]
    columns = [leads.header.index(h) for h in ("Score", "Status", "Notes", "Amount")]
    rng = random.Random(seed)
    return Changes(
        snapshot.version,
        cells=[
            CellUpdate("Leads", rng.randrange(len(leads.rows)), rng.choice(columns), str(v))
            for v in rng.sample(range(1, 10_000), n)
        ],
    )


def side_by_side(
    path: Path,
    step: Callable[[WorkbookBackend], Any] | None = None,
    rounds: int = 1,
    prepare: Callable[[WorkbookBackend], Changes] | None = None,
) -> dict[str, Any]:
    """On two copies of the workbook at ``path``, one writing in place and one through
    openpyxl, alternately ``rounds`` times (in place first): ``step`` timed, or the write
    of what ``prepare`` (not timed) returns. Medians, and the path each write took."""
    copy = path.with_name("openpyxl-" + path.name)
    shutil.copy2(path, copy)
    direct, through = WorkbookBackend(path), WorkbookBackend(copy)
    through.in_place = False
    runs: dict[str, list[dict[str, float]]] = {"in_place": [], "openpyxl": []}
    for _ in range(rounds):
        for name, backend in (("in_place", direct), ("openpyxl", through)):
            if prepare is not None:
                changes = prepare(backend)
                runs[name].append(timed(partial(backend.write, changes))[1])
                del changes
            else:
                assert step is not None
                runs[name].append(timed(partial(step, backend))[1])
    figures: dict[str, Any] = {name: median(r) for name, r in runs.items()}
    figures["in_place"]["took"] = direct.last_write
    figures["speedup"] = round(figures["openpyxl"]["s"] / figures["in_place"]["s"], 2)
    figures["size_mb"] = round(path.stat().st_size / 1e6, 1)
    copy.unlink()
    return figures


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
        figures["write_100_cells"] = side_by_side(path, rounds=args.rounds, prepare=cell_changes)
    if args.big:
        with tempfile.TemporaryDirectory() as tmp:
            backend = WorkbookBackend(Path(tmp) / "big.xlsx")
            tabs = snapshot(args.big).tabs
            big: dict[str, Any] = {"rows": args.big}
            _, big["provision"] = timed(partial(backend.provision, tabs))
            del tabs
            big["first_sync"] = side_by_side(backend.path, first_sync)
            _, big["resync"] = timed(lambda: resync(backend))
            big["write_100_cells"] = side_by_side(backend.path, prepare=cell_changes)
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
    print(_versus(f"{args.rows:,} leads, ~100 cells written", figures["write_100_cells"]))
    if args.big:
        big = figures["big"]
        print(
            f"{args.big:,} leads end to end: provision {big['provision']['s']:.1f} s, "
            f"re-sync {big['resync']['s']:.2f} s (peak {big['resync']['peak_rss_mb']} MB)"
        )
        print(_versus(f"{args.big:,} leads, first sync", big["first_sync"]))
        print(_versus(f"{args.big:,} leads, ~100 cells written", big["write_100_cells"]))
    print(json.dumps(figures))


def _versus(what: str, figures: dict[str, Any]) -> str:
    d, o = figures["in_place"], figures["openpyxl"]
    return (
        f"{what}: in place {d['s']:.2f} s (peak {d['peak_rss_mb']} MB; {d['took']}), "
        f"openpyxl {o['s']:.2f} s (peak {o['peak_rss_mb']} MB): {figures['speedup']}x"
    )


if __name__ == "__main__":
    main()
