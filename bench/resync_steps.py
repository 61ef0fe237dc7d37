"""The 100,000-lead re-sync with the service's memo, step by step, on this tree and another
revision alternately (issue 21): each step's CPU time (``time.process_time``: on a shared
machine the wall time measures the other people's load more than the code), the best of
``--repeat`` re-syncs in one process, then the median over ``--rounds`` processes per tree.
``--steps`` names the steps whose sum is compared (default: the rows' area).

Run: cd bench && PYTHONPATH=../src ../.venv/bin/python resync_steps.py --rev main
"""

from __future__ import annotations

import argparse
import json
import statistics

from against import alternately
from leads import machine, require_data
from peak import peak_mb

ROWS_AREA = "begin,ids,validate,duplicates,cut,keys,activities,sequences,status"

# Runs inside either tree, in a fresh interpreter: rows, repeats.
PROBE = """
import gc, json, sys, time
from leads import NOW, snapshot
from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.sync import STEPS, begin, finish, plan_sync
from sheetcrm.engine.validation import Memo
rows, repeat = int(sys.argv[1]), int(sys.argv[2])
backend = MemoryBackend(snapshot(rows).tabs)
memo = Memo()
first = backend.read()
plan = plan_sync(first, NOW, memo)
apply(plan, backend, first)
again = backend.read()
del plan, first
gc.collect()
gc.disable()  # as plan_sync pauses it
best = {}
for _ in range(repeat):
    clock = time.process_time()
    state = begin(again, NOW, memo, True)
    spent = {"begin": time.process_time() - clock}
    for name, step in STEPS:
        if name == "diff":  # as plan_sync does
            state.frame = state.activities = state.touches = None
        clock = time.process_time()
        state = step(state)
        spent[name] = time.process_time() - clock
    assert not finish(state).writes, "a re-sync of an unchanged sheet plans writes"
    del state
    gc.collect()
    best = {k: min(best.get(k, v), v) for k, v in spent.items()}
print(json.dumps(best))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rev", required=True, help="the revision to compare against")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2, help="processes per tree")
    parser.add_argument("--repeat", type=int, default=3, help="re-syncs per process")
    parser.add_argument("--steps", default=ROWS_AREA, help="the steps summed, by name")
    args = parser.parse_args()
    require_data()
    chosen = args.steps.split(",")
    results = alternately(args.rev, args.rounds, PROBE, args.rows, args.repeat)
    figures: dict[str, object] = {"bench": "resync_steps", "rows": args.rows}
    sums = {}
    for tree, runs in results.items():
        per_step = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        sums[tree] = sum(per_step[k] for k in chosen)
        figures[f"{tree}_cpu_s"] = {k: round(v, 4) for k, v in per_step.items()}
        figures[f"{tree}_chosen_s"] = round(sums[tree], 3)
        figures[f"{tree}_all_s"] = round(sum(per_step.values()), 3)
    for k in chosen:
        this, other = figures["this_cpu_s"][k], figures[f"{args.rev}_cpu_s"][k]  # type: ignore[index]
        print(f"{k:>12}: this tree {this:.4f} s, {args.rev} {other:.4f} s")
    speedup = sums[args.rev] / sums["this"]
    print(
        f"steps {args.steps}: this tree {sums['this']:.3f} s CPU, {args.rev} "
        f"{sums[args.rev]:.3f} s ({speedup:.2f}x)"
    )
    figures["chosen_speedup"] = round(speedup, 2)
    figures["machine"] = machine()
    figures["memory"] = peak_mb()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
