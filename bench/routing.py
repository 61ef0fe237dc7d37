"""The sync's ``route`` step against another revision's, in the same run (issue 23): 10,000
bench leads, two thirds of them without an owner, routed by the bench's 10 rules, with a
History already holding ``--turns`` routing rows of the last 60 days (what a team's rotation
reads its turns from) among as many stage changes.

Each revision runs in its own fresh process, alternately, ``--rounds`` times; the figure is
the median per revision. Run: .venv/bin/python bench/routing.py --rev 2b806f4
"""

from __future__ import annotations

import argparse
import json
import statistics

from against import alternately
from leads import machine, require_data
from peak import peak_mb

PROBE = """
import json, sys, time
from datetime import timedelta
from leads import NOW, snapshot
from sheetcrm.engine.sync import STEPS, begin

rows, turns = int(sys.argv[1]), int(sys.argv[2])
snap = snapshot(rows)
teams = {
    "Americas": ["Jordan Lee", "Maya Patel"],
    "EMEA": ["Sofia Marin", "Lukas Becker"],
    "Enterprise": ["Avery Chen"],
}
strategies = {"Americas": "round robin", "EMEA": "round robin", "Enterprise": "weighted"}
history = snap.tabs["History"].rows
for i in range(turns):
    at = (NOW - timedelta(days=60) + timedelta(minutes=15 * (i // 50))).strftime("%Y-%m-%d %H:%M")
    team = list(teams)[i % 3]
    name = teams[team][i % len(teams[team])]
    why = f"Routing rule {i % 3 + 1} (Country is India) → {team} by {strategies[team]}: {name}"
    lead = f"L-{900000 + i:06d}"
    history.append([at, lead, "Owner", "", name, "sheetcrm", why])
    history.append([at, lead, "Stage", "Prospecting", "Qualified", "sheet", "stage moved"])
state = begin(snap, NOW, None, True)
for name, step in STEPS:
    if name == "route":
        start = time.perf_counter()
        state = step(state)
        route_s = time.perf_counter() - start
        break
    state = step(state)
print(json.dumps({"route_s": route_s, "routed": state.plan.summary.routed}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rev", required=True, help="the revision to compare against")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    require_data()
    results = alternately(args.rev, args.rounds, PROBE, args.rows, args.turns)
    figures: dict[str, object] = {
        "bench": "routing",
        "rows": args.rows,
        "turns": args.turns,
        "rounds": args.rounds,
        "route_s": {
            n: round(statistics.median(r["route_s"] for r in runs), 3)
            for n, runs in results.items()
        },
        "routed": {n: runs[0]["routed"] for n, runs in results.items()},
    }
    for name, seconds in figures["route_s"].items():  # type: ignore[attr-defined]
        print(
            f"route step, {args.rows:,} leads, {args.turns:,} turns in History: {name} {seconds} s"
        )
    figures["machine"] = machine()
    figures["memory"] = peak_mb()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
