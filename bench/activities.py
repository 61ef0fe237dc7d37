"""Activities benchmark: the sync's ``activities`` step on 100,000 leads with 1,000,000
Activities rows.

Target (issue 13): <= 1 s for the step (read the tab, resolve each row's lead by ID or
e-mail, check dates, types, outcomes and people, set Last contact, First touch at and Next
action date with their History rows). Timed twice: the first sync (every lead changes) and a
re-sync (nothing to change). Memory: the step's peak allocations (tracemalloc, in a separate
run, since tracing slows it) and the process's peak RSS. Side by side: a plain per-row
Python loop doing the same on a 10,000-row sample, checked to give the same Last contact,
First touch at and Next action date as the step. Figures: one JSON object, last line.
Run: .venv/bin/python bench/activities.py [--leads 100000 --activities 1000000]

With ``--rev REV``: this tree against revision REV in the same run instead, each in its own
fresh process, alternately, ``--rounds`` times (medians): the step on a first sync and on a
re-sync, timed as plan_sync runs it (cyclic collector paused), its peak allocations
(tracemalloc), the follow-up KPIs' read of the tab (engine/followup.py's read_touches: on this
tree from the frame the step kept, ``state.activities``), the process's peak RSS, and whether
both revisions plan the same History rows (a digest of them).

The data is synthetic and seeded (no data set needed): the b2b-en template's rule tabs and
Team; leads with IDs and e-mails; touches over 2026, 70 % naming the lead by ID and 30 % by
e-mail (in another case), a third of them with a Next action date, 1 % by someone not on the
Team tab and 0.1 % naming no known lead.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
import tracemalloc
from datetime import datetime

import numpy as np

from leads import machine
from sheetcrm.engine.activities import FRENCH_OUTCOMES, OUTCOMES, TYPE_WORDS
from sheetcrm.engine.schema import ACTIVITIES, LEADS
from sheetcrm.engine.sync import STEPS
from sheetcrm.engine.sync.begin import begin
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.files.templates import load_template

# touches only: an unsubscribe (issue 19) is no touch; by its word, which older trees lack
TOUCHES = tuple(t for t in TYPE_WORDS if t != "unsubscribe")

NOW = datetime(2026, 12, 31, 18, 0)
STEP = dict(STEPS)["activities"]


def data(leads: int, activities: int, seed: int = 13) -> dict[str, Table]:
    rng = np.random.default_rng(seed)
    tabs = load_template("b2b-en", NOW)
    team = [r[0] for r in tabs["Team"].rows]
    header = LEADS.headers
    at = {h: i for i, h in enumerate(header)}
    rows = []
    for i in range(leads):
        row = [""] * len(header)
        row[at["Lead ID"]] = f"L-{i + 1:06d}"
        row[at["Created at"]] = "2026-01-01 09:00"
        row[at["Email"]] = f"lead{i + 1}@acme{i % 97}.example"
        row[at["Stage"]] = "Prospecting"
        rows.append(row)
    tabs[LEADS.name] = Table(header, rows)
    who = rng.integers(0, leads, activities)
    minutes = rng.integers(0, 364 * 24 * 60, activities).astype("timedelta64[m]")
    stamps = np.datetime64("2026-01-01T00:00") + minutes
    at_text = np.char.replace(np.datetime_as_string(stamps, unit="m"), "T", " ")
    by_mail = rng.random(activities) < 0.3
    key = np.where(
        by_mail,
        np.char.add(
            np.char.add("LEAD", (who + 1).astype(str)), np.char.add("@ACME", (who % 97).astype(str))
        ),
        np.char.add("L-", np.char.zfill((who + 1).astype(str), 6)),
    )
    key = np.where(by_mail, np.char.add(key, ".example"), key)
    key[rng.random(activities) < 0.001] = "L-999999"
    next_days = rng.integers(1, 15, activities).astype("timedelta64[D]")
    nexts = np.datetime_as_string(stamps.astype("datetime64[D]") + next_days, unit="D")
    nexts = np.where(rng.random(activities) < 1 / 3, nexts, "")
    people = np.array([*team, "Someone Else"], dtype=object)
    by = people[
        np.where(rng.random(activities) < 0.01, len(team), rng.integers(0, len(team), activities))
    ]
    types = np.array(TOUCHES, dtype=object)[rng.integers(0, len(TOUCHES), activities)]
    outcomes = np.array([*OUTCOMES, ""], dtype=object)[
        rng.integers(0, len(OUTCOMES) + 1, activities)
    ]
    columns = [
        at_text.astype(object),
        key.astype(object),
        types,
        outcomes,
        by,
        np.full(activities, "", object),
        nexts.astype(object),
        np.full(activities, "", object),  # Submission ID: typed rows, none posted
    ]
    tabs[ACTIVITIES.name] = Table(ACTIVITIES.headers, [list(r) for r in zip(*columns, strict=True)])
    return tabs


def prepared(tabs: dict[str, Table]) -> SyncState:
    """The state the step sees: the rule tabs parsed, the leads laid out and given IDs."""
    state = begin(Snapshot(tabs, "bench"), NOW, None, False)
    return dict(STEPS)["ids"](state)


def timed(tabs: dict[str, Table]) -> tuple[SyncState, float]:
    state = prepared(tabs)
    start = time.perf_counter()
    state = STEP(state)
    return state, time.perf_counter() - start


def written(state: SyncState) -> dict[str, dict[str, str]]:
    """Lead ID -> column -> value, for what the step changed."""
    out: dict[str, dict[str, str]] = {}
    for _row, entry, _column in state.plan.history:
        out.setdefault(entry[1], {})[entry[2]] = entry[4]
    return out


def settled(tabs: dict[str, Table], state: SyncState) -> dict[str, Table]:
    """``tabs`` with what the step planned written in: the sheet a re-sync reads."""
    leads = tabs[LEADS.name]
    cols = {c: leads.col(c) for c in ("Last contact", "First touch at", "Next action date")}
    rows = [list(r) for r in leads.rows]
    history = [entry for _row, entry, _column in state.plan.history]
    for entry in history:
        rows[int(entry[1][2:]) - 1][cols[entry[2]]] = entry[4]
    return {
        **tabs,
        LEADS.name: Table(leads.header, rows),
        "History": Table(tabs["History"].header, history),
    }


def per_row(tabs: dict[str, Table]) -> tuple[dict[str, dict[str, str]], float]:
    """The same rules, one row at a time in plain Python (the baseline)."""
    start = time.perf_counter()
    leads = tabs[LEADS.name]
    id_col, mail_col = leads.col("Lead ID"), leads.col("Email")
    by_id = {r[id_col]: r[id_col] for r in leads.rows}
    by_mail: dict[str, str] = {}
    for r in leads.rows:
        by_mail.setdefault(r[mail_col].strip().casefold(), r[id_col])
    team = {r[0].strip().casefold() for r in tabs["Team"].rows}
    words = {*TOUCHES, *OUTCOMES, *FRENCH_OUTCOMES, ""}
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    follow: dict[str, tuple[datetime, str]] = {}
    problems = 0
    for at_text, key, kind, outcome, by, _notes, nxt, _posted in tabs[ACTIVITIES.name].rows:
        lead = by_id.get(key.strip()) or by_mail.get(key.strip().casefold())
        problems += kind not in words or outcome not in words or by.casefold() not in team
        if lead is None:
            problems += 1
            continue
        at = datetime.strptime(at_text, "%Y-%m-%d %H:%M")
        if lead not in first or at < first[lead]:
            first[lead] = at
        if lead not in last or at >= last[lead]:
            last[lead] = at
        if nxt and (lead not in follow or at >= follow[lead][0]):
            follow[lead] = (at, nxt)
    out: dict[str, dict[str, str]] = {}
    for lead, at in first.items():
        form = "%Y-%m-%d" if at.hour == at.minute == 0 else "%Y-%m-%d %H:%M"
        out.setdefault(lead, {})["First touch at"] = at.strftime(form)
        out[lead]["Last contact"] = last[lead].strftime("%Y-%m-%d")
        if lead in follow:
            out[lead]["Next action date"] = follow[lead][1]
    return out, time.perf_counter() - start


# Runs inside either tree (this one, or the revision exported beside it).
PROBE = """
import hashlib, json, resource, sys, time, tracemalloc
import activities as bench
from sheetcrm.engine.bulk import gc_paused
from sheetcrm.engine.followup import read_touches
from sheetcrm.engine.metric_data import read_deals

def step(tabs):
    state = bench.prepared(tabs)
    with gc_paused():  # as plan_sync runs every step
        start = time.perf_counter()
        state = bench.STEP(state)
        return state, time.perf_counter() - start

tabs = bench.data(int(sys.argv[1]), int(sys.argv[2]))
state, first = step(tabs)
history = json.dumps([entry for _r, entry, _c in state.plan.history]).encode()
again = bench.settled(tabs, state)
state2, resync = step(again)
settings = state2.config.settings
deals = read_deals(state2.data, state2.config.stages, settings.dayfirst, settings.zone)
emails = state2.data["Email"].to_numpy()
shared = getattr(state2, "activities", None)  # the frame the step kept, on trees that keep it
args = (tabs["Activities"], deals, emails, settings.dayfirst, settings.zone)
start = time.perf_counter()
touches = read_touches(*args, shared) if shared is not None else read_touches(*args)
kpis = time.perf_counter() - start
kpi_digest = hashlib.sha256(touches.lead.tobytes() + touches.at.tobytes()).hexdigest()[:12]
state3 = bench.prepared(tabs)
tracemalloc.start()
bench.STEP(state3)
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({
    "first_s": first, "resync_s": resync, "kpi_read_s": kpis,
    "step_peak_alloc_mb": peak / 1e6,
    "process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
    "history_rows": len(state.plan.history),
    "history_digest": hashlib.sha256(history).hexdigest()[:12], "kpi_digest": kpi_digest,
}))
"""


def against(rev: str, leads: int, activities: int, rounds: int) -> None:
    """This tree's step and KPI read against ``rev``'s, alternately, in fresh processes."""
    from against import alternately  # only this mode runs another tree

    results = alternately(rev, rounds, PROBE, leads, activities)
    figures: dict[str, object] = {
        "bench": "activities-against",
        "leads": leads,
        "activities": activities,
        "rounds": rounds,
    }
    for what in ("first_s", "resync_s", "kpi_read_s", "step_peak_alloc_mb"):
        medians = {n: statistics.median(r[what] for r in runs) for n, runs in results.items()}
        figures[what] = {n: round(v, 3) for n, v in medians.items()}
        figures[what + "_ratio"] = round(medians[rev] / medians["this"], 2)
        print(
            f"{what}: this tree {medians['this']:.3f}, {rev} {medians[rev]:.3f} "
            f"(median of {rounds}; {rev} / this {figures[what + '_ratio']})"
        )
    for what in ("process_peak_rss_mb", "history_rows", "history_digest", "kpi_digest"):
        figures[what] = {n: runs[0][what] for n, runs in results.items()}
    figures["same_history"] = len({r["history_digest"] for v in results.values() for r in v}) == 1
    figures["same_kpi_touches"] = len({r["kpi_digest"] for v in results.values() for r in v}) == 1
    figures["machine"] = machine()
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--rev", help="compare with this revision instead (see above)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.rev:
        against(args.rev, args.leads, args.activities, args.rounds)
        return
    tabs = data(args.leads, args.activities)
    state, first = timed(tabs)
    changes = len(state.plan.history)
    problems = len(state.activity_problems)
    again_tabs = settled(tabs, state)
    state2, resync = timed(again_tabs)
    assert not state2.plan.history and not state2.plan.writes, "a re-sync changed something"
    state3 = prepared(tabs)
    tracemalloc.start()
    STEP(state3)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # the baseline and the step on the same 10,000-row sample, checked against each other
    sample = {
        **tabs,
        ACTIVITIES.name: Table(ACTIVITIES.headers, tabs[ACTIVITIES.name].rows[: args.sample]),
    }
    loop_result, loop = per_row(sample)
    small, vector_small = timed(sample)
    same = written(small) == loop_result
    per_row_loop = loop / args.sample
    per_row_step = first / args.activities
    figures = {
        "leads": args.leads,
        "activities": args.activities,
        "step_first_sync_s": round(first, 3),
        "step_resync_s": round(resync, 3),
        "target_s": 1.0,
        "history_rows": changes,
        "problems_listed": problems,
        "step_peak_alloc_mb": round(peak / 1e6, 1),
        "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1),
        "sample_rows": args.sample,
        "sample_loop_s": round(loop, 4),
        "sample_step_s": round(vector_small, 4),
        "per_row_us_loop": round(per_row_loop * 1e6, 2),
        "per_row_us_step": round(per_row_step * 1e6, 3),
        "ratio_per_row": round(per_row_loop / per_row_step, 1),
        "same_results": same,
        "machine": machine(),
    }
    print(
        f"activities step, {args.leads:,} leads / {args.activities:,} rows: first sync "
        f"{first:.2f} s ({changes:,} History rows), re-sync {resync:.2f} s; peak "
        f"{peak / 1e6:.0f} MB allocated; per-row loop on {args.sample:,} rows {loop:.3f} s "
        f"({per_row_loop / per_row_step:.0f}x slower per row); same results: {same}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
