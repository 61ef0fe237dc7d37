"""Rule preview benchmark: the sync's ``preview`` step on 100,000 leads, with draft rules.

Target (issue 16): the preview's extra planning stays small beside the sync. The step runs the
scoring again with the draft rules (bench/leads.py's 30 rules plus 3 drafts) and, as a Routing
rule is a draft too, the routing again for the leads without an owner; then it compares and
evaluates. Timed by step name with bench/against.py's step timer, the garbage collector paused
as plan_sync pauses it: a first sync (all 100,000 leads without an owner), a re-sync once the
first is applied (the leads the Daily capacities left without an owner are routed again), and
a first sync with no draft (the step only writes "no draft rule").
Run: PYTHONPATH=src:bench .venv/bin/python bench/preview.py [--leads 100000]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

from against import timed_steps
from leads import machine, require_data, snapshot
from peak import peak_mb
from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.bulk import gc_paused
from sheetcrm.engine.schema import ROUTING, SCORING
from sheetcrm.engine.table import Snapshot, Table

DRAFT_SCORING = [
    ["Draft: chat", "Source", "equals", "Olark Chat", "12", "", "draft"],
    ["Draft: many pages", "Page Views Per Visit", "at least", "4", "8", "", "draft"],
    ["Draft: no job", "What is your current occupation", "equals", "Unemployed", "-6", "", "draft"],
]  # fmt: skip
DRAFT_ROUTING = [["0", "Source", "equals", "Google", "Enterprise", "least loaded", "draft"]]


def with_drafts(snap: Snapshot) -> Snapshot:
    tabs = dict(snap.tabs)
    for spec, rows in ((SCORING, DRAFT_SCORING), (ROUTING, DRAFT_ROUTING)):
        table = tabs[spec.name]
        width = len(table.header)
        tabs[spec.name] = Table(table.header, [(r + [""] * width)[:width] for r in table.rows])
        tabs[spec.name].rows += rows
    return replace(snap, tabs=tabs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    args = parser.parse_args()
    require_data()
    plain = snapshot(args.leads)
    drafted = with_drafts(plain)
    with gc_paused():  # as plan_sync runs its steps
        first, plan = timed_steps(drafted)
    backend = MemoryBackend(drafted.tabs)
    apply(plan, backend, backend.read())
    with gc_paused():
        again, replan = timed_steps(backend.read())
        none, _ = timed_steps(plain)
    assert replan.preview is not None
    said = {r[0]: r[1] for r in replan.preview.rows if len(r) > 1 and r[0].endswith("change")}
    figures = {
        "bench": "preview",
        "leads": args.leads,
        "first_preview_s": round(first["preview"], 3),
        "first_sync_s": round(sum(first.values()), 3),
        "first_score_s": round(first["score"], 3),
        "first_route_s": round(first["route"], 3),
        "resync_preview_s": round(again["preview"], 3),
        "resync_route_s": round(again["route"], 3),
        "resync_sync_s": round(sum(again.values()), 3),
        "no_draft_preview_s": round(none["preview"], 3),
        "resync_counts": said,
        "machine": machine(),
    }
    first_sync, resync = sum(first.values()), sum(again.values())
    summary = [
        f"{args.leads:,} leads: preview {first['preview']:.3f} s",
        f"of a {first_sync:.2f} s first sync",
        f"(score {first['score']:.3f} s, route {first['route']:.3f} s);",
        f"{again['preview']:.3f} s of a {resync:.2f} s re-sync (route {again['route']:.3f} s);",
        f"{none['preview']:.4f} s without a draft",
    ]
    print(" ".join(summary))
    figures["memory"] = peak_mb()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
