"""Attainment against the Targets tab: won value, won deals and activities of each person
or team for this month and this quarter, and the team's won value vs target by month.

A person's figures are the deals they own (Owner) won in the span (Closed at) and the
activities they logged (By); a team's are the sums over its people on the Team tab. A target
for a span is the sum of its months' targets (a quarter: its three months). Formulas:
docs/metrics.md, "Targets".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from sheetcrm.engine.followup import Touches
from sheetcrm.engine.metric_data import Deals, ratio
from sheetcrm.engine.targets_tab import Target
from sheetcrm.engine.team_tab import Member

COLUMNS = ("Won value", "Won deals", "Activities")


def spans(now: datetime) -> dict[str, list[str]]:
    """The months (YYYY-MM) of this month and of this quarter."""
    first = 3 * ((now.month - 1) // 3) + 1
    return {
        f"this month, {now:%Y-%m}": [f"{now:%Y-%m}"],
        f"this quarter, {now.year} Q{(now.month + 2) // 3}": [
            f"{now.year}-{m:02d}" for m in range(first, first + 3)
        ],
    }


def _people(target: Target, team: Sequence[Member]) -> set[str]:
    if not target.team:
        return {target.who}
    return {m.name for m in team if m.team == target.who}


def _actuals(
    deals: Deals, touches: Touches | None, people: set[str], months: list[str]
) -> tuple[float, float, float]:
    # months compared as numbers, not as YYYY-MM texts: no date is written out (NaT is in none)
    spanned = np.array(months, dtype="datetime64[M]")
    mine = deals.won & np.isin(deals.closed.astype("datetime64[M]"), spanned)
    # whose: tested once per distinct Owner text, not per row (13 calls a sync)
    codes, names = deals.groups("Owner", "")
    mine &= np.isin(names, list(people))[codes]
    activities = float("nan")
    if touches is not None:
        logged = np.isin(touches.wall.astype("datetime64[M]"), spanned)
        activities = float((np.isin(touches.by, list(people)) & logged).sum())
    return float(np.nansum(deals.amount[mine])), float(mine.sum()), activities


def _sum(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def attainment(
    deals: Deals,
    touches: Touches | None,
    targets: Sequence[Target],
    team: Sequence[Member],
    months: list[str],
) -> pd.DataFrame:
    """Per person or team with a target in ``months``: actual, target, actual / target."""
    rows = []
    chosen = [t for t in targets if t.month in months]
    for who in dict.fromkeys(t.who for t in chosen):
        mine = [t for t in chosen if t.who == who]
        wanted = [_sum([_goal(t, i) for t in mine]) for i in range(3)]
        actual = _actuals(deals, touches, _people(mine[0], team), months)
        row: list[object] = [who + (" (team)" if mine[0].team else "")]
        for got, goal in zip(actual, wanted, strict=True):
            row += [got, goal, ratio(got, goal) if goal is not None else float("nan")]
        rows.append(row)
    columns = ["Owner or team"]
    for c in COLUMNS:
        columns += [c, f"{c} target", f"{c} attained"]
    return pd.DataFrame(rows, columns=columns, dtype=object)


def _goal(target: Target, i: int) -> float | None:
    return (target.won_value, target.won_deals, target.activities)[i]


def company_target(
    targets: Sequence[Target], team: Sequence[Member], month: str, i: int = 0
) -> float | None:
    """The whole team's target for ``month`` (i: 0 won value, 1 won deals, 2 activities):
    each team's target, plus those of people whose team has none that month, so that a
    person is never counted twice."""
    mine = [t for t in targets if t.month == month and _goal(t, i) is not None]
    teams = {t.who for t in mine if t.team}
    covered = {m.name for m in team if m.team in teams}
    return _sum([_goal(t, i) for t in mine if t.team or t.who not in covered])


def headline(
    deals: Deals,
    touches: Touches | None,
    targets: Sequence[Target],
    team: Sequence[Member],
    months: list[str],
) -> list[tuple[str, float]]:
    """The whole team's attainment over ``months``: won value, won deals, activities."""
    people = {m.name for m in team} | set(deals.owner) - {""}
    actual = _actuals(deals, touches, people, months)
    rows = []
    for i, name in enumerate(COLUMNS):
        goal = _sum([company_target(targets, team, month, i) for month in months])
        rows.append((f"{name} vs target", ratio(actual[i], goal) if goal else float("nan")))
    return rows


def with_targets(
    won_by_month: pd.DataFrame, targets: Sequence[Target], team: Sequence[Member]
) -> pd.DataFrame:
    """The Won value by month table with the whole team's target beside each month."""
    table = won_by_month.copy()
    goals = [company_target(targets, team, m) for m in table["Month"]]
    table["Won value target"] = [0.0 if g is None else g for g in goals]
    return table
