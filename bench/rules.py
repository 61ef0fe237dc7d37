"""Rules benchmark: 30 scoring and 10 routing rules over 100,000 leads, vectorised vs row by row.

Targets (issue 2): vectorised <= 2 s and <= 1 GB peak memory; >= 20x faster than evaluating
the same rules row by row in plain Python. Both give the same scores and routing choices
(checked on every row). Run: .venv/bin/python bench/rules.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from leads import NOW, machine, require_data, snapshot
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.dates import parse_date
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.routing import first_match
from sheetcrm.engine.scoring import explain, grade, points
from sheetcrm.engine.sync.begin import leads_frame
from sheetcrm.engine.values import BLANKS, parse_number


def row_by_row(records: list[dict[str, str]], scoring, routing, now: datetime, cap: float):
    """The same rules, the way a per-row loop evaluates them: one cell, one rule at a time."""

    def holds(c, row: dict[str, str]) -> bool:
        op, value = c.operator.name, c.value
        raw = row.get(c.field, "") if c.field != "Email domain" else ""
        text = raw.strip()
        folded = text.casefold()
        if op in ("equals", "not equals"):
            hit = folded == str(value).casefold()
            return hit if op == "equals" else not hit
        if op in ("in list", "not in list"):
            hit = folded in [v.casefold() for v in value]
            return hit if op == "in list" else not hit
        if op in ("contains", "not contains"):
            hit = str(value).casefold() in folded
            return hit if op == "contains" else not hit
        if op == "starts with":
            return folded.startswith(value.casefold())
        if op == "ends with":
            return folded.endswith(value.casefold())
        if op == "is empty":
            return folded in BLANKS
        if op == "is not empty":
            return folded not in BLANKS
        if op == "matches":
            return bool(value.search(text))
        if op == "email domain in list":
            domain = folded.rpartition("@")[2] if "@" in folded else ""
            return any(domain == d or domain.endswith("." + d) for d in value)
        if op in ("within last N days", "more than N days ago", "before", "after"):
            when = parse_date(text, False)
            if when is None:
                return False
            today = now.date()
            if op == "within last N days":
                return today - timedelta(days=value) <= when.date() <= today
            if op == "more than N days ago":
                return when.date() < today - timedelta(days=value)
            return when < value if op == "before" else when > value
        number = parse_number(text)
        if number is None:
            return False
        if op == "between":
            return value[0] <= number <= value[1]
        return {
            "greater than": number > value,
            "at least": number >= value,
            "less than": number < value,
            "at most": number <= value,
        }[op]

    scores, routes = [], []
    for row in records:
        total = sum(r.points for r in scoring if all(holds(c, row) for c in r.conditions))
        scores.append(min(total, cap))
        routes.append(
            next((j for j, r in enumerate(routing) if all(holds(c, row) for c in r.conditions)), -1)
        )
    return np.array(scores, dtype=float), np.array(routes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    require_data()
    snap = snapshot(args.rows)
    config = parse_config(snap)
    assert not config.problems, config.problems
    assert len(config.scoring) == 30 and len(config.routing) == 10
    data, _ = leads_frame(snap.table("Leads"))

    start = time.perf_counter()
    config = parse_config(snap)  # parse and type-check the rule tabs: part of the job
    frame = Frame(data, NOW, config.settings.dayfirst)
    result = points(frame, config.scoring, config.settings)
    routes = first_match(frame, config.routing)
    vectorised = time.perf_counter() - start
    reasons = explain(frame, config.scoring, result, config.settings)
    grades = grade(result.total, config.settings, frame.data.index)
    with_reasons = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    records = data.to_dict("records")
    start = time.perf_counter()
    slow_scores, slow_routes = row_by_row(
        records, config.scoring, config.routing, NOW, config.settings["Max score"]
    )
    per_row = time.perf_counter() - start
    same = bool(np.array_equal(result.total, slow_scores) and np.array_equal(routes, slow_routes))
    print(f"{args.rows:,} leads, 30 scoring + 10 routing rules")
    print(
        f"vectorised: scores and routing choices {vectorised:.3f} s; with reasons and grades "
        f"{with_reasons:.3f} s; peak RSS {peak_mb:.0f} MB"
    )
    print(
        f"row by row in plain Python (scores and routing choices): {per_row:.3f} s, "
        f"{per_row / vectorised:.1f}x slower; same results on every row: {same}"
    )
    print(
        f"grades: {pd.Series(grades).value_counts().to_dict()}; "
        f"{reasons.nunique()} distinct reason texts"
    )
    print(
        json.dumps(
            {
                "bench": "rules",
                "rows": args.rows,
                "vectorised_s": round(vectorised, 3),
                "vectorised_with_reasons_s": round(with_reasons, 3),
                "row_by_row_s": round(per_row, 3),
                "speedup": round(per_row / vectorised, 1),
                "peak_rss_mb": round(peak_mb),
                "same_results": same,
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
