"""Metrics benchmark: every metric of the tabs for 100,000 deals with 500,000 History rows.

Target (issue 5): <= 2 s for the metrics step of a sync (type the Leads columns and the
History log, compute every table, lay out the six tabs). Side by side, in the same run: a
plain-Python version of the core figures, one deal and one History row at a time, checked
to give the same numbers. Run: .venv/bin/python bench/metrics.py [--deals 100000]

``--enrolled 20000`` puts that many leads through 20 nurture sequences of 5 steps for the
Nurture tab: their History rows replace as many of the oldest (History keeps its size), and
each e-mail sent is an Activities row.

The pipeline is synthetic and seeded (no data set needed): the b2b-en template's seven
stages, deals created over two years, each moving through some open stages then possibly
won or lost, with one History entry per stage it entered (about five per deal).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from collections import defaultdict
from datetime import datetime
from itertools import pairwise

import numpy as np
import pandas as pd

from leads import peaked, rss_mb  # its dataset-free helpers: this bench needs no data
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.followup import read_touches
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.metric_data import read_deals
from sheetcrm.engine.metric_tabs import render
from sheetcrm.engine.metrics import compute, period_window
from sheetcrm.engine.nurture_log import read_nurture
from sheetcrm.engine.nurture_metrics import nurture
from sheetcrm.engine.schema import ACTIVITIES, HISTORY
from sheetcrm.engine.stage_log import read_log
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.files.templates import load_template

NOW = datetime(2026, 11, 23, 10, 0)
OWNERS = [f"Owner {i:02d}" for i in range(30)]
SOURCES = ["Website", "Referral", "Webinar", "Trade show", "Demo request", "Partner", ""]


def stamp(values: np.ndarray) -> np.ndarray:
    text = np.datetime_as_string(values.astype("datetime64[m]"), unit="m")
    return np.where(np.isnat(values), "", np.char.replace(text, "T", " ")).astype(object)


def pipeline(n: int, seed: int = 5) -> tuple[pd.DataFrame, Table, list]:
    rng = np.random.default_rng(seed)
    stages = parse_config(Snapshot(load_template(now=NOW))).stages
    opens = [s.name for s in stages if s.type == "open"]
    start = np.datetime64("2024-11-23T00:00")
    created = start + rng.integers(0, 730 * 24 * 60, n).astype("timedelta64[m]")
    depth = rng.choice(np.arange(1, len(opens) + 1), n, p=[0.1, 0.1, 0.2, 0.25, 0.35])
    end = rng.choice(["open", "Won", "Lost"], n, p=[0.3, 0.35, 0.35])
    steps = rng.integers(1, 20 * 24 * 60, (n, len(opens) + 1)).astype("timedelta64[m]")
    times = created[:, None] + np.cumsum(steps, axis=1) - steps[:, :1]
    ids = np.array([f"L-{i:06d}" for i in range(1, n + 1)], dtype=object)
    hist_ids, hist_to, hist_at, hist_why = [], [], [], []
    for k, name in enumerate(opens):
        entered = depth > k
        hist_ids.append(ids[entered])
        hist_to.append(np.full(entered.sum(), name, dtype=object))
        hist_at.append(times[entered, k])
        hist_why.append(np.full(entered.sum(), "new lead" if k == 0 else "stage changed", object))
    closed = end != "open"
    closed_at = np.where(closed, times[np.arange(n), depth], np.datetime64("NaT"))
    hist_ids.append(ids[closed])
    hist_to.append(end[closed].astype(object))
    hist_at.append(closed_at[closed])
    hist_why.append(np.full(closed.sum(), "stage changed", dtype=object))
    hist_ids.append(ids)  # routing leaves an Owner entry per lead: the metrics must skip it
    hist_to.append(rng.choice(OWNERS, n).astype(object))
    hist_at.append(created)
    hist_why.append(np.full(n, "Routing rule 1", dtype=object))
    fields = np.concatenate(
        [np.full(len(i), "Stage", object) for i in hist_ids[:-1]] + [np.full(n, "Owner", object)]
    )
    at = stamp(np.concatenate(hist_at))
    log_rows = [
        [a, i, f, "", t, "sheetcrm", w]
        for a, i, f, t, w in zip(
            at,
            np.concatenate(hist_ids),
            fields,
            np.concatenate(hist_to),
            np.concatenate(hist_why),
            strict=True,
        )
    ]
    order = np.argsort(np.concatenate(hist_at), kind="stable")  # History is chronological
    history = Table(HISTORY.headers, [log_rows[i] for i in order[: 5 * n]])  # 5 rows a deal
    stage = np.where(closed, end, np.array(opens, dtype=object)[depth - 1])
    data = pd.DataFrame(
        {
            "Lead ID": ids,
            "Created at": stamp(created),
            "Stage": stage.astype(object),
            "Amount": rng.integers(1, 200, n).astype(str).astype(object) + "00",
            "Owner": rng.choice(OWNERS, n).astype(object),
            "Source": rng.choice(SOURCES, n).astype(object),
            "Closed at": stamp(closed_at),
            "Grade": rng.choice(["A", "B", "C", "D"], n).astype(object),
        },
        dtype=object,
    )
    return data, history, stages


def nurtured(history: Table, ids: np.ndarray, enrolled: int, seed: int = 19) -> tuple[Table, Table]:
    """``enrolled`` leads put through 20 sequences of 5 steps: their History rows (an
    enrolment, the steps planned, an exit for some) take the place of as many of the oldest
    rows, so History keeps its size; an Activities row per step sent (nine in ten)."""
    rng = np.random.default_rng(seed)
    leads = rng.choice(ids, enrolled, replace=False)
    sequence = np.array([f"Nurture {k:02d}" for k in range(20)], dtype=object)
    names = sequence[rng.integers(0, 20, enrolled)]
    depth = rng.integers(1, 6, enrolled)
    ends = ["done", "stopped: replied", "stopped: unsubscribed", "stopped: meeting booked"]
    end = rng.choice(ends, enrolled, p=[0.7, 0.1, 0.1, 0.1])
    rows, sent = [], []
    for lead, name, k, why in zip(leads, names, depth, end, strict=True):
        rows.append(["2026-10-01 09:00", lead, "Sequence", "", name, name, "enrolled"])
        for step in range(1, k + 1):
            rows.append(["2026-10-02 09:00", lead, "Sequence step", "", str(step), name, ""])
            if rng.random() < 0.9:
                by = f"sequence {name}"
                sent.append(["2026-10-02 10:00", lead, "email", "sent", by, "", "", ""])
        rows.append(["2026-10-20 09:00", lead, "Sequence step", str(k), why, name, ""])
    kept = history.rows[len(rows) :]
    return Table(history.header, [*kept, *rows]), Table(ACTIVITIES.headers, sent)


def vectorised(
    data: pd.DataFrame, history: Table, stages: list, activities: Table | None = None
) -> tuple[float, object, dict]:
    phases = {}
    t = time.perf_counter()
    deals = read_deals(data, stages, dayfirst=False)
    phases["type_leads_s"] = time.perf_counter() - t
    # as a sync does: History as columns (each read once, its stamps parsed once per run of
    # equal ones), shared by every reader, here the two logs
    logged = HistoryFrame(history, dayfirst=False)
    log = read_log(logged, stages)
    phases["type_history_s"] = time.perf_counter() - t - sum(phases.values())
    window = period_window(parse_config(Snapshot({})).settings["Metrics period"], NOW)
    metrics = compute(deals, log, stages, window, NOW, 24, 5_000_000)
    phases["compute_s"] = time.perf_counter() - t - sum(phases.values())
    emails = np.full(len(deals), "", dtype=object)
    touches = read_touches(activities, deals, emails, dayfirst=False)
    # in a sync the follow-up KPIs read the Activities rows already: not the Nurture tab's cost
    phases["read_activities_s"] = time.perf_counter() - t - sum(phases.values())
    metrics.nurture = nurture(read_nurture(logged, stages), touches, deals, 0.02, ".")
    phases["nurture_s"] = time.perf_counter() - t - sum(phases.values())
    render(metrics, "2026-11-23 10:00", "USD")
    phases["lay_out_tabs_s"] = time.perf_counter() - t - sum(phases.values())
    return time.perf_counter() - t, metrics, {k: round(v, 3) for k, v in phases.items()}


def naive(data: pd.DataFrame, history: Table, stages: list) -> tuple[float, dict]:
    """The core figures one record at a time, the way a loop over rows computes them."""
    t = time.perf_counter()
    kind = {s.name: s.type for s in stages}
    order = {s.name: s.order for s in stages}
    path = [s.name for s in stages if s.type == "open"] + [
        s.name for s in stages if s.type == "won"
    ]
    place = {name: i for i, name in enumerate(path)}
    records = data.to_dict("records")
    won = lost = 0
    per_owner: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    cycles = []
    for r in records:
        k = kind.get(r["Stage"], "unknown")
        if k in ("won", "lost"):
            won += k == "won"
            lost += k == "lost"
            per_owner[r["Owner"]][0 if k == "won" else 1] += 1
        if k == "won" and r["Closed at"] and r["Created at"]:
            a = datetime.fromisoformat(r["Created at"])
            b = datetime.fromisoformat(r["Closed at"])
            cycles.append((b - a).total_seconds() / 86400)
    reached: dict[str, set[str]] = defaultdict(set)
    entries: dict[str, list[tuple[datetime, str, bool]]] = defaultdict(list)
    for row in history.rows:
        if row[2] == "Stage":
            reached[row[1]].add(row[4])
            seen = not row[6].startswith("first seen")
            entries[row[1]].append((datetime.fromisoformat(row[0]), row[4], seen))
    for r in records:
        reached[r["Lead ID"]].add(r["Stage"])
    moved = {s.name: [0, 0] for s in stages}
    for r in records:
        got = reached[r["Lead ID"]]
        furthest = max((place[s] for s in got if s in place), default=-1)
        for s in got:
            if s in moved:
                moved[s][0] += 1
                moved[s][1] += kind[s] == "open" and furthest > place[s]
    stays: dict[str, list[float]] = defaultdict(list)
    for seq in entries.values():
        for (at, to, seen), (after, _, _) in pairwise(seq):
            if seen and to in order:
                stays[to].append((after - at).total_seconds() / 86400)
    elapsed = time.perf_counter() - t
    return elapsed, {
        "win_rate": won / (won + lost),
        "owner_rates": {o: w / (w + x) for o, (w, x) in per_owner.items()},
        "median_cycle": statistics.median(cycles),
        "reached": {s: v[0] for s, v in moved.items()},
        "moved_on": {s: v[1] for s, v in moved.items()},
        "mean_stay": {s: statistics.mean(v) for s, v in stays.items()},
    }


def same(metrics, expect: dict) -> bool:
    figures = {f.name: f.all_time for f in metrics.figures}
    funnel = metrics.funnel.set_index("Stage")
    owners = metrics.owners.set_index("Owner")
    checks = [
        abs(figures["Win rate"] - expect["win_rate"]) < 1e-12,
        abs(figures["Sales cycle, median"] - expect["median_cycle"]) < 1e-9,
        all(
            abs(owners.loc[o, "Win rate (all time)"] - r) < 1e-12
            for o, r in expect["owner_rates"].items()
        ),
        all(funnel.loc[s, "Reached (all time)"] == n for s, n in expect["reached"].items()),
        all(
            funnel.loc[s, "Moved on (all time)"] in (n, None) for s, n in expect["moved_on"].items()
        ),
        all(
            abs(funnel.loc[s, "Mean days in stage"] - m) < 1e-9
            for s, m in expect["mean_stay"].items()
        ),
    ]
    return all(checks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument(
        "--enrolled", type=int, default=0, help="leads in nurture sequences (Nurture tab)"
    )
    args = parser.parse_args()
    data, history, stages = pipeline(args.deals)
    activities = None
    if args.enrolled:
        history, activities = nurtured(history, data["Lead ID"].to_numpy(), args.enrolled)
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))

    loaded = rss_mb()
    (fast, metrics, _), _, first_peak = peaked(
        lambda: vectorised(data, history, stages, activities)
    )
    (fast_again, _, phases), _, peak = peaked(lambda: vectorised(data, history, stages, activities))
    slow, expect = naive(data, history, stages)
    result = {
        "deals": len(data),
        "history_rows": len(history.rows),
        "enrolled": args.enrolled,
        "metrics_s": round(min(fast, fast_again), 3),
        "metrics_first_run_s": round(fast, 3),
        "naive_core_figures_s": round(slow, 3),
        "speedup": round(slow / min(fast, fast_again), 1),
        "same_results": same(metrics, expect),
        "phases_of_second_run": phases,
        "input_rss_mb": loaded,  # the process with the deals and History built
        "metrics_peak_mb": peak,  # peak RSS during the timed run (inputs included)
        "metrics_first_run_peak_mb": first_peak,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "target_s": 2.0,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
