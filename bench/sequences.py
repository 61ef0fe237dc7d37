"""Nurture sequences benchmark: the sync's ``sequences`` step on 100,000 leads and 20
sequences of 5 steps.

Target (issue 19): <= 0.3 s for the step: unsubscribed addresses, exits (Stop, won/lost,
consent, stage and activity exit rows), enrolment by the Enrolment rows, and the steps due
planned (send window, per-sender cap, spacing, rendering, Leads cells and History rows).
Timed on a sync inside the send window, after the steps it follows (ids, activities), as
plan_sync runs it (cyclic collector paused); then again on the sheet that sync leaves
(a re-sync: nothing new is planned, which is checked). Figures: one JSON object, last line.
Run: .venv/bin/python bench/sequences.py [--leads 100000 --rounds 5]

The data is synthetic and seeded: the b2b-en template's rule tabs and Team; each sequence
enrols the leads of one Source; 60 % of the leads are in a sequence at steps 1-4, 8 % of
them due now, 1 % typed Stop, 3 % won or lost; 20 % are not in one yet and match; 50,000
Activities rows, 1 % of them a reply.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime

import numpy as np

from peak import peak_mb
from sheetcrm.engine.bulk import gc_paused
from sheetcrm.engine.schema import ACTIVITIES, ENROLMENT, LEADS, SEQUENCES
from sheetcrm.engine.sync import STEPS
from sheetcrm.engine.sync.begin import begin
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.files.templates import load_template

NOW = datetime(2026, 12, 1, 10, 0)  # a Tuesday, inside Mon-Fri 09:00-17:00
STEP = dict(STEPS)["sequences"]
SEQUENCES_COUNT, STEPS_EACH = 20, 5


def data(leads: int, seed: int = 19) -> dict[str, Table]:
    rng = np.random.default_rng(seed)
    tabs = load_template("b2b-en", NOW)
    team = [r[0] for r in tabs["Team"].rows]
    names = [f"Nurture {k}" for k in range(SEQUENCES_COUNT)]
    tabs[SEQUENCES.name] = Table(
        SEQUENCES.headers,
        [
            [
                name,
                str(s),
                "2 business days" if s > 1 else "0",
                "",
                "Hi {{First name}}",
                "Hello {{First name}} of {{Company}},\n{{Owner}}\n{{Owner email}}",
                "active",
            ]
            for name in names
            for s in range(1, STEPS_EACH + 1)
        ],
    )
    tabs[ENROLMENT.name] = Table(
        ENROLMENT.headers,
        [
            row
            for k, name in enumerate(names)
            for row in (
                [name, "enrol if", "Source", "equals", f"Source {k}"],
                [name, "exit if", "Activity outcome", "in list", "replied, meeting booked"],
                [name, "exit if", "Stage", "equals", "Meeting"],
            )
        ],
    )
    settings = tabs["Settings"]
    for row in settings.rows:
        if row[0] == "Sequence consent":
            row[1] = "legitimate interest"
    header = LEADS.headers
    at = {h: i for i, h in enumerate(header)}
    source = rng.integers(0, SEQUENCES_COUNT, leads)
    state = rng.random(leads)
    step = rng.integers(1, STEPS_EACH, leads)
    stage = np.where(rng.random(leads) < 0.03, "Won", "Prospecting")
    owner = np.array(team, dtype=object)[rng.integers(0, len(team), leads)]
    rows = []
    for i in range(leads):
        row = [""] * len(header)
        row[at["Lead ID"]] = f"L-{i + 1:06d}"
        row[at["Created at"]] = "2026-01-01 09:00"
        row[at["First name"]] = f"Ana{i}"
        row[at["Company"]] = f"Client {i % 997}"
        row[at["Email"]] = f"lead{i + 1}@acme{i % 97}.example"
        row[at["Source"]] = f"Source {source[i]}"
        row[at["Stage"]] = str(stage[i])
        row[at["Owner"]] = owner[i]
        row[at["Consent"]] = "legitimate interest"
        if state[i] < 0.6:  # in a sequence: due now for 8 % of them
            row[at["Sequence"]] = names[source[i]]
            row[at["Sequence step"]] = str(step[i])
            due = "2026-11-30 10:00" if state[i] < 0.048 else "2026-12-08 10:00"
            row[at["Next send at"]] = due
        elif state[i] < 0.61:
            row[at["Sequence"]] = "Stop"
        elif state[i] < 0.8:
            row[at["Source"]] = "Website"  # matches no sequence
        rows.append(row)
    tabs[LEADS.name] = Table(header, rows)
    count = leads // 2
    who = rng.integers(0, leads, count)
    outcomes = np.where(rng.random(count) < 0.01, "replied", "reached")
    tabs[ACTIVITIES.name] = Table(
        ACTIVITIES.headers,
        [
            ["2026-11-30 12:00", f"L-{w + 1:06d}", "email", o, team[0], "", "", ""]
            for w, o in zip(who.tolist(), outcomes.tolist(), strict=True)
        ],
    )
    return tabs


def prepared(tabs: dict[str, Table]) -> SyncState:
    """The state the step sees: the steps before it that it reads (ids, activities)."""
    state = begin(Snapshot(tabs, "bench"), NOW, None, False)
    for name in ("ids", "activities"):
        state = dict(STEPS)[name](state)
    return state


def timed(tabs: dict[str, Table]) -> tuple[SyncState, float]:
    state = prepared(tabs)
    with gc_paused():
        start = time.perf_counter()
        state = STEP(state)
        return state, time.perf_counter() - start


def settled(tabs: dict[str, Table], state: SyncState) -> dict[str, Table]:
    """``tabs`` with the step's cells and History rows written in."""
    leads = tabs[LEADS.name]
    columns = ("Sequence", "Sequence step", "Next send at", "Unsubscribed at")
    cols = {c: leads.col(c) for c in columns}
    rows = [list(r) for r in leads.rows]
    for c in columns:
        values = state.data[c].to_numpy(dtype=object)
        for i, value in enumerate(values.tolist()):
            rows[int(state.positions[i])][cols[c]] = value
    history = [entry for _row, entry, _column in state.plan.history]
    return {
        **tabs,
        LEADS.name: Table(leads.header, rows),
        "History": Table(tabs["History"].header, history),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tabs = data(args.leads)
    firsts, resyncs = [], []
    for _ in range(args.rounds):
        state, seconds = timed(tabs)
        firsts.append(seconds)
    again = settled(tabs, state)
    for _ in range(args.rounds):
        state2, seconds = timed(again)
        resyncs.append(seconds)
    planned = [n for n in state.plan.notifications if n.event == "sequence"]
    steps = [e for _r, e, _c in state.plan.history if e[2] == "Sequence step"]
    figures = {
        "bench": "sequences",
        "leads": args.leads,
        "sequences": SEQUENCES_COUNT,
        "steps_each": STEPS_EACH,
        "step_seconds": round(statistics.median(firsts), 3),
        "resync_seconds": round(statistics.median(resyncs), 3),
        "target_seconds": 0.3,
        "planned": len(planned),
        "enrolled": sum(1 for _r, e, _c in state.plan.history if e[2] == "Sequence"),
        "stopped": sum(1 for e in steps if e[4].startswith("stopped")),
        "previews": len(state.plan.previews),
        "resync_planned": sum(1 for n in state2.plan.notifications if n.event == "sequence"),
    }
    assert figures["resync_planned"] == 0, "a re-sync planned e-mails again"
    figures["memory"] = peak_mb()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
