"""plan_sync of this tree against another revision's, in the same run: issue 11's check that
restructuring the sync costs no speed (target: no slower than 5 %), and the time of each named
step of this tree's sync. With ``--google``, a whole sync on the Sheets API stand-in instead
(bench/sheets_api.py's, 100 ms a request), and the requests it made.

Each revision runs in its own fresh process with its own bench/leads.py, alternately, ``--rounds``
times; the figure is the median per revision, and the ratio is this tree's over the other's.
Run: .venv/bin/python bench/against.py --rev 02b4009 [--rows 100000 --rounds 5] [--google]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from leads import NOW, SHARED, machine, require_data, reset_peak, rss_mb, snapshot
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.table import Snapshot

ROOT = Path(__file__).resolve().parents[1]
ALLOCATOR = ("MALLOC_", "GLIBC_TUNABLES", "PYTHONMALLOC")  # what a probe's environment keeps

# A probe's memory figures, as text: each probe runs inside either tree, whose bench/ may
# not have them.
MEMORY_PROBE = """
def mb(key):  # the RSS now (VmRSS), or its peak since the last reset (VmHWM), in MB
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) // 1024 for l in status if l.startswith(key + ":"))
def reset():
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
"""

# Runs inside either tree: the imports are the only thing that moved.
PROBE = (
    """
import json, sys, time
from leads import NOW, snapshot
from sheetcrm.backends.memory import MemoryBackend
try:
    from sheetcrm.engine.sync import plan_sync
    from sheetcrm.engine.validation import Memo
    from sheetcrm.backends.apply import apply
except ImportError:
    from sheetcrm.sync import apply, plan_sync
    from sheetcrm.validation import Memo
"""
    + MEMORY_PROBE
    + """def digest(plan):  # every cell, row, problem and tab the plan holds, as one hash
    import hashlib
    h = hashlib.sha256()
    for line in plan.describe(10**9):
        h.update(line.encode() + b"\\n")
    for p in plan.problems:
        h.update(repr(p).encode())
    for name, t in sorted(plan.replace.items()):
        h.update(repr((name, t.header, t.rows)).encode())
    h.update(plan.summary.line().encode())
    return h.hexdigest()[:16]
backend = MemoryBackend(snapshot(int(sys.argv[1])).tabs)
memo = Memo()
first = backend.read()
input_mb = mb("VmRSS")
reset()
start = time.perf_counter()
plan = plan_sync(first, NOW, memo)
first_s = time.perf_counter() - start
first_peak = mb("VmHWM")
plans = {"plan": digest(plan)} if sys.argv[2:] == ["digest"] else {}
apply(plan, backend, first)
del plan
again = backend.read()
resync_from = mb("VmRSS")
reset()
start = time.perf_counter()
plan = plan_sync(again, NOW, memo)
resync_s = time.perf_counter() - start
resync_peak = mb("VmHWM")
if plans:
    plans["resync_plan"] = digest(plan)
print(json.dumps({
    "first_s": first_s, "resync_s": resync_s, "input_mb": input_mb, "first_peak_mb": first_peak,
    "resync_from_mb": resync_from, "resync_peak_mb": resync_peak, **plans,
}))
"""
)

GOOGLE_PROBE = """
import json, sys
import sheets_api
from sheetcrm.emulator import Emulator
with Emulator(latency_ms=sheets_api.LATENCY_MS, quota_per_minute=None) as emu:
    sheets_api.HOST = emu.host
    got = sheets_api.ours(emu, int(sys.argv[1]))
print(json.dumps({
    "first_s": got["seconds"], "resync_s": got["resync_seconds"],
    "requests": got["requests"], "resync_requests": got["resync_requests"],
}))
"""


def export(
    rev: str, folder: Path, parts: tuple[str, ...] = ("src", "bench", "sheet_templates")
) -> Path:
    """The files of ``rev`` (``parts`` of the repository) in a folder of their own, with the
    shared datasets beside it as they are beside this repository."""
    into = folder / "tree"
    (folder / "shared").symlink_to(SHARED)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, *parts],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def probe(tree: Path, code: str, *args: object) -> dict[str, float]:
    """Run ``code`` on ``tree``'s sources, in a fresh interpreter, with ``args``: the figures
    it prints as JSON on its last line."""
    env = {"PYTHONPATH": f"{tree / 'src'}:{tree / 'bench'}", "PATH": "/usr/bin:/bin"}
    # the allocator's settings given to the bench (app.yaml's MALLOC_MMAP_THRESHOLD_) reach
    # the probe: they were left out, and a figure said to be measured with app.yaml's
    # setting was measured without it (issue 21, session 5)
    env.update({k: v for k, v in os.environ.items() if k.startswith(ALLOCATOR)})
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tree,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def alternately(rev: str, rounds: int, code: str, *args: object) -> dict[str, list[dict]]:
    """``code`` (a probe) run ``rounds`` times on this tree and on ``rev``'s, alternately, each
    in a fresh interpreter: each tree's figures, by "this" and ``rev``."""
    results: dict[str, list[dict]] = {"this": [], rev: []}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this": ROOT, rev: export(rev, Path(tmp))}
        for _ in range(rounds):
            for name, tree in trees.items():
                results[name].append(probe(tree, code, *args))
    return results


def steps(rows: int) -> dict[str, float]:
    """This tree's sync, timed step by step (first sync, no memo)."""
    times, _plan = timed_steps(snapshot(rows))
    return {k: round(v, 3) for k, v in times.items()}


def timed_steps(snap: Snapshot) -> tuple[dict[str, float], Plan]:
    """This tree's first sync of ``snap`` (no memo), step by step: seconds per step by name
    (with ``begin`` and ``finish``), and the plan."""
    from sheetcrm.engine.sync import STEPS, begin, finish

    times: dict[str, float] = {}
    reset_peak()
    start = time.perf_counter()
    state = begin(snap, NOW, None, True)
    times["begin"] = time.perf_counter() - start
    MEMORY["begin"] = rss_mb()
    for name, step in STEPS:
        start = time.perf_counter()
        state = step(state)
        times[name] = time.perf_counter() - start
        MEMORY[name] = rss_mb()
    start = time.perf_counter()
    plan = finish(state)
    times["finish"] = time.perf_counter() - start
    MEMORY["finish"] = rss_mb()
    MEMORY["peak"] = rss_mb("VmHWM")
    return times, plan


MEMORY: dict[str, int] = {}
"""The process's RSS (MB) after each step of the last :func:`timed_steps`, and its peak."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rev", required=True, help="the revision to compare against")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--google", action="store_true", help="a whole sync on the stand-in")
    parser.add_argument(
        "--same-plan", action="store_true", help="check both trees plan the same cells and rows"
    )
    args = parser.parse_args()
    require_data()
    code = GOOGLE_PROBE if args.google else PROBE
    results = alternately(args.rev, args.rounds, code, args.rows)
    bench = "against-google" if args.google else "against"
    figures: dict[str, object] = {"bench": bench, "rows": args.rows, "rounds": args.rounds}
    for what in ("first_s", "resync_s"):
        medians = {n: statistics.median(r[what] for r in runs) for n, runs in results.items()}
        figures[what] = {n: round(v, 3) for n, v in medians.items()}
        figures[what + "_ratio"] = round(medians["this"] / medians[args.rev], 3)
        print(
            f"{what}: this tree {medians['this']:.3f} s, {args.rev} {medians[args.rev]:.3f} s "
            f"(median of {args.rounds}; ratio {figures[what + '_ratio']})"
        )
    if not args.google:  # peak RSS of each figure (inputs included), the largest of the rounds
        for what in ("input_mb", "first_peak_mb", "resync_from_mb", "resync_peak_mb"):
            figures[what] = {n: max(r[what] for r in runs) for n, runs in results.items()}
            print(f"{what}: " + ", ".join(f"{n} {v}" for n, v in figures[what].items()))
        if args.same_plan:  # one more run of each, with the plans hashed: the same plans?
            with tempfile.TemporaryDirectory() as tmp:
                trees = {"this": ROOT, args.rev: export(args.rev, Path(tmp))}
                hashed = {n: probe(t, code, args.rows, "digest") for n, t in trees.items()}
            figures["same_plan"] = all(
                hashed["this"][k] == hashed[args.rev][k] for k in ("plan", "resync_plan")
            )
            print(f"same plans (first sync and re-sync): {figures['same_plan']}")
    if args.google:
        for what in ("requests", "resync_requests"):
            figures[what] = {n: runs[0][what] for n, runs in results.items()}
            print(f"{what}: " + ", ".join(f"{n} {v}" for n, v in figures[what].items()))
    else:
        figures["steps_s"] = steps(args.rows)
        figures["steps_rss_mb"] = dict(MEMORY)
        print("steps:", ", ".join(f"{k} {v:.3f} s" for k, v in figures["steps_s"].items()))
        print("RSS after each step (MB):", ", ".join(f"{k} {v}" for k, v in MEMORY.items()))
    figures["machine"] = machine()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
