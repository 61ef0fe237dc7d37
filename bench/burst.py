"""Issue 21's burst drain, side by side: bench/intake.py's 20 s burst on this tree and on
another revision, alternately, in the same run; for each, how long the background process
then takes to drain the outbox, and the intake's p99 during the burst.

Each tree runs its own bench/intake.py, its own gunicorn.conf.py and its own src/ (in a
fresh process, on its own Sheets stand-in), so that each is measured as that revision
would run in production. Target: drained in <= 30 s, p99 <= 50 ms.

    .venv/bin/python bench/burst.py --rev main [--rounds 2] [--seconds 20] [--sheet-leads 0]

The figures are printed as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from against import export
from intake import machine
from peak import peak_mb

ROOT = Path(__file__).resolve().parents[1]
# what bench/intake.py needs of a tree: its service, its gunicorn settings and test helpers
# what a burst runs: the service as app.yaml starts it, and tests/ for its helpers
PARTS = ("src", "bench", "sheet_templates", "tests", "gunicorn.conf.py", "app.yaml")


def burst(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One burst on ``tree``'s code: its bench/intake.py's figures for app.yaml's setting."""
    command = [
        sys.executable,
        "bench/intake.py",
        "--configs",
        args.config,
        "--seconds",
        f"{args.seconds:g}",
        "--sheet-leads",
        str(args.sheet_leads),
        # the append_row comparison is issue 4's, not this bench's: one short window
        "--window",
        "1",
        "--windows",
        "1",
    ]
    env = {"PYTHONPATH": str(tree / "src"), "PATH": "/usr/bin:/bin:/usr/local/bin"}
    out = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])["configs"][0]
    return {
        # intake.py waits 2 s after the load for requests still being answered, then times
        "drain_s": round(result["drain_seconds_after_load"] + 2, 1),
        "p99_ms": result["p99_ms"],
        "p50_ms": result["p50_ms"],
        "accepted_per_s": result["accepted_per_s"],
        "accepted": result["accepted"],
        "leads_in_sheet": result["leads_in_sheet"],
        "in_sheet_once": result["in_sheet_once"],
        "outbox_after_drain": result["outbox_after_drain"],
        "loadavg_before_after": result["loadavg_before_after"],
        # from a tree whose bench/intake.py reads the background process's log (else None)
        "flushes_during_burst": result.get("flushes_during_burst"),
        "flushes": result.get("flushes"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="main", help="the revision to compare against")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--config", default="2x8", help="gunicorn's WxT, as app.yaml's")
    parser.add_argument("--sheet-leads", type=int, default=0)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"this": [], args.rev: []}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this": ROOT, args.rev: export(args.rev, Path(tmp), PARTS)}
        for n in range(args.rounds):
            for name, tree in trees.items():
                got = burst(tree, args)
                runs[name].append(got)
                print(
                    f"round {n + 1}, {name}: {got['accepted']:,} accepted "
                    f"({got['accepted_per_s']:,}/s), p99 {got['p99_ms']} ms; drained in "
                    f"{got['drain_s']} s after the burst; {got['leads_in_sheet']:,} leads in "
                    f"the sheet, once each: {got['in_sheet_once']}; load "
                    f"{'-'.join(got['loadavg_before_after'])}",
                    flush=True,
                )
    medians = {
        name: {
            what: statistics.median(r[what] for r in got)
            for what in ("drain_s", "p99_ms", "accepted_per_s")
        }
        for name, got in runs.items()
    }
    print(
        json.dumps(
            {
                "bench": "burst",
                "memory": peak_mb(),
                "rev": args.rev,
                "seconds": args.seconds,
                "config": args.config,
                "sheet_leads_at_start": args.sheet_leads,
                "rounds": args.rounds,
                "median": medians,
                "runs": runs,
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
