"""Pipeline metrics from the Leads rows, History and the Stages config. Pure: ``now`` comes in.

Every figure is computed for the period Settings names (this month, this quarter or the last
N days, up to now) and for all time. A ratio with nothing to divide by is NaN, which the
metric tabs show as "no data", never as 0 % nor as an error. What each metric means, with
its formula, is in docs/metrics.md; the tables here are named by the headers they show.

History is read honestly: a lead "reached" a stage when History saw it enter that stage or
it is in that stage now. A lead imported straight into Won reached Won, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from sheetcrm.engine.metric_data import AT, DAY, Deals, Window, median, ratio
from sheetcrm.engine.settings import MetricsPeriod
from sheetcrm.engine.stage_log import StageLog
from sheetcrm.engine.stages_tab import Stage

AGING = ((0, 2, "0–1 days"), (2, 8, "2–7 days"), (8, 31, "8–30 days"), (31, None, "30+ days"))
"""Open leads by whole days since Created at: [from, to) and the label shown."""
NONE = "(none)"
OVERDUE, UNDATED = np.iinfo(np.int64).min, np.iinfo(np.int64).max  # forecast's month keys


def period_window(period: MetricsPeriod, now: datetime) -> Window:
    """The period's window, from its first moment up to ``now``."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period.unit == "month":
        start, label = midnight.replace(day=1), "this month"
    elif period.unit == "quarter":
        first = 3 * ((now.month - 1) // 3) + 1
        start, label = midnight.replace(month=first, day=1), "this quarter"
    else:
        start, label = now - timedelta(days=period.days), f"last {period.days} days"
    return Window(f"{label}, from {start:%Y-%m-%d}", np.datetime64(start, "ns"), np.datetime64(now))


@dataclass
class Figure:
    name: str
    period: float | None
    all_time: float | None
    format: str  # leads, deals (counts of), percent, money, days, hours, ratio


@dataclass
class Metrics:
    window: Window
    figures: list[Figure] = field(default_factory=list)  # this period and all time
    now: list[Figure] = field(default_factory=list)  # one value: ``all_time``
    funnel: pd.DataFrame = field(default_factory=pd.DataFrame)
    aging: pd.DataFrame = field(default_factory=pd.DataFrame)
    grades: pd.DataFrame = field(default_factory=pd.DataFrame)
    owners: pd.DataFrame = field(default_factory=pd.DataFrame)
    by: dict[str, pd.DataFrame] = field(default_factory=dict)  # Source, Industry, Country
    pipeline: pd.DataFrame = field(default_factory=pd.DataFrame)  # by stage
    forecast: pd.DataFrame = field(default_factory=pd.DataFrame)  # by expected close month
    won_by_month: pd.DataFrame = field(default_factory=pd.DataFrame)
    # from the Activities and Targets tabs (followup.py, attainment.py); metric_tabs fills them
    followup: pd.DataFrame | None = None  # by person; None: no Activities tab
    attainment: dict[str, pd.DataFrame] = field(default_factory=dict)  # by span label
    attained: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # whole team
    nurture: pd.DataFrame | None = None  # by sequence and step (nurture_metrics.py)


def compute(
    deals: Deals,
    log: StageLog,
    stages: Sequence[Stage],
    window: Window,
    now: datetime,
    sla_hours: float,
    target: float | None = None,
) -> Metrics:
    """Every metric of the tabs, for ``window`` and for all time. ``now``: the sheet's wall
    time, aware in its zone (naive: UTC)."""
    out = Metrics(window)
    when = np.datetime64(now.replace(tzinfo=None), "ns")  # days and months: on the wall
    closed_in = window.holds(deals.closed)
    created_in = window.holds(deals.created)
    # the headline figures' columns, one per deal, live in _headline alone: gone before the
    # tables below make theirs (4 MB at 100,000 deals, at the metrics step's peak)
    typical_cycle = _headline(out, deals, now, sla_hours, target, closed_in, created_in)
    out.aging = aging(deals, when)
    out.funnel = funnel(deals, log, stages, created_in)
    out.grades = _grouped(deals, "Grade", created_in, closed_in, sort=False)
    out.owners = owners(deals, closed_in)
    out.by = {
        name: _grouped(deals, name, created_in, closed_in)
        for name in ("Source", "Industry", "Country")
    }
    out.pipeline = pipeline(deals, stages)
    out.forecast = forecast(deals, when, typical_cycle)
    out.won_by_month = won_by_month(deals, when)
    return out


def _headline(
    out: Metrics,
    deals: Deals,
    now: datetime,
    sla_hours: float,
    target: float | None,
    closed_in: np.ndarray,
    created_in: np.ndarray,
) -> float:
    """``out.figures`` and ``out.now``; returns the won deals' median cycle in days (what
    the forecast dates a deal without an Expected close by)."""
    instant = np.datetime64(now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now, "ns")
    won, lost, is_open = deals.won, deals.lost, deals.is_open
    cycle = (deals.closed - deals.created) / DAY
    cycle[~won | np.isnan(cycle)] = np.nan
    started = deals.started  # gathered once, and the hours clipped in place: this is the
    # re-sync's metrics peak (100,000 deals)
    touch = (deals.first_touch - started) / np.timedelta64(1, "h")
    np.clip(touch, 0, None, out=touch)
    due = started + np.timedelta64(int(sla_hours * 3600), "s")
    del started
    touched = ~np.isnan(touch)
    in_sla = touched & (touch <= sla_hours)
    # a deal past the first stage was touched, at a time nobody recorded (an import): unknown
    judged = touched | (deals.waiting & ~np.isnat(due) & (due <= instant))

    everything = np.ones(len(deals), dtype=bool)

    def both(
        name: str, fmt: str, measure: Callable[[np.ndarray], float], basis: np.ndarray = closed_in
    ) -> tuple[float, float]:
        figure = Figure(name, measure(basis), measure(everything), fmt)
        out.figures.append(figure)
        return measure(basis), measure(everything)

    both("New leads", "leads", lambda m: float(m.sum()), created_in)
    both("Won deals", "deals", lambda m: float((won & m).sum()))
    both("Lost deals", "deals", lambda m: float((lost & m).sum()))
    rates = both("Win rate", "percent", lambda m: ratio((won & m).sum(), ((won | lost) & m).sum()))
    both("Won value", "money", lambda m: float(np.nansum(deals.amount[won & m])))
    sizes = both("Average won deal", "money", lambda m: _mean(deals.amount[won & m]))
    both("Sales cycle, median", "days", lambda m: median(cycle[m]))
    cycles = both("Sales cycle, mean", "days", lambda m: _mean(cycle[m]))
    both("Speed to first touch, median", "hours", lambda m: median(touch[m]), created_in)
    both(
        "First-touch SLA met",
        "percent",
        lambda m: ratio((in_sla & m).sum(), (judged & m).sum()),
        created_in,
    )
    open_count = float(is_open.sum())
    velocity = [
        _velocity(open_count, rate, size, days)
        for rate, size, days in zip(rates, sizes, cycles, strict=True)
    ]
    out.figures.append(Figure("Sales velocity, per day", velocity[0], velocity[1], "money"))

    amounts = deals.amounts(is_open)  # the open deals' only
    value = float(np.nansum(amounts))
    weighted = float(np.nansum(amounts * deals.chances(is_open)))
    out.now = [
        Figure("Open deals", None, open_count, "deals"),
        Figure("Pipeline value", None, value, "money"),
        Figure("Weighted forecast", None, weighted, "money"),
        Figure("Pipeline target", None, target, "money"),
        Figure("Pipeline coverage", None, ratio(value, target or 0), "ratio"),
        Figure("Stale deals", None, float((deals.stale & is_open).sum()), "deals"),
        Figure("Overdue follow-ups and first touches", None, float(deals.overdue.sum()), "leads"),
    ]
    return median(cycle)


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def _velocity(open_count: float, rate: float, size: float, days: float) -> float:
    """Open deals x win rate x average won deal / average cycle days (NaN when unknown)."""
    if np.isnan(rate) or np.isnan(size) or np.isnan(days) or days <= 0:
        return float("nan")
    return open_count * rate * size / days


def aging(deals: Deals, now: np.datetime64) -> pd.DataFrame:
    days = np.floor((deals.created - now) / -DAY)
    is_open = deals.is_open
    rows = []
    for low, high, label in AGING:
        hit = is_open & (days >= low) & (days < high if high is not None else True)
        rows.append([label, int(hit.sum())])
    unknown = is_open & np.isnan(days)
    if unknown.any():
        rows.append(["no Created at", int(unknown.sum())])
    return pd.DataFrame(rows, columns=["Age", "Open leads"])


def funnel(
    deals: Deals, log: StageLog, stages: Sequence[Stage], cohort: np.ndarray
) -> pd.DataFrame:
    """Per stage: leads in it now; of the cohort that reached it, how many moved further
    along the path (open stages in order, then won); and the days spent in it."""
    reached = log.reached(deals, len(stages))
    path = [s for s in stages if s.type == "open"] + [s for s in stages if s.type == "won"]
    # a byte per (deal, stage), not 8: 5 MB less at the metrics' peak at 100,000 deals
    place = np.full(len(stages), -1, dtype=np.int8 if len(stages) < 128 else np.int64)
    for i, s in enumerate(path):
        place[s.order] = i
    furthest = np.where(reached, place[None, :], place.dtype.type(-1)).max(axis=1, initial=-1)
    days = log.days_in_stage(len(stages))
    rows = []
    for s in stages:
        here = reached[:, s.order]
        on = here & (furthest > place[s.order]) if s.type == "open" else None
        row: list[object] = [s.name, s.type, int((deals.order == s.order).sum())]
        for basis in (cohort, np.ones(len(cohort), dtype=bool)):
            n = int((here & basis).sum())
            moved = None if on is None else int((on & basis).sum())
            row += [n, moved, None if moved is None else ratio(moved, n)]
        stays = days.get(s.order, np.array([]))
        row += [_mean(stays), median(stays), len(stays)]
        rows.append(row)
    for label, mask in (("(no stage)", deals.blank), ("(unknown stage)", deals.kind == "unknown")):
        if mask.any():
            rows.append([label, "", int(mask.sum()), *[None] * 6, None, None, 0])
    columns = ["Stage", "Type", "Leads now", "Reached", "Moved on", "Conversion"]
    columns += [f"{c}{AT}" for c in columns[3:]]
    columns += ["Mean days in stage", "Median days in stage", "Stays measured"]
    return pd.DataFrame(rows, columns=columns, dtype=object)  # None: does not apply


def _counts(codes: np.ndarray, n: int, mask: np.ndarray, weights: np.ndarray | None = None):
    if weights is None:
        return np.bincount(codes[mask], minlength=n)
    return np.bincount(codes[mask], weights=np.nan_to_num(weights[mask]), minlength=n)


def _rates(won: np.ndarray, lost: np.ndarray) -> list[float]:
    return [ratio(w, w + x) for w, x in zip(won, lost, strict=True)]


def _grouped(
    deals: Deals,
    name: str,
    created_in: np.ndarray,
    closed_in: np.ndarray,
    sort: bool = True,
) -> pd.DataFrame:
    """Leads, won, lost, win rate and won value per value of column ``name``, period and
    all time."""
    codes, names = deals.groups(name, NONE)
    n, everything = len(names), np.ones(len(deals), dtype=bool)
    won, lost = deals.won, deals.lost
    table = pd.DataFrame({name: names})
    for suffix, leads_in, closes_in in (("", created_in, closed_in), (AT, everything, everything)):
        w, x = _counts(codes, n, won & closes_in), _counts(codes, n, lost & closes_in)
        table[f"Leads{suffix}"] = _counts(codes, n, leads_in)
        table[f"Won{suffix}"] = w
        table[f"Lost{suffix}"] = x
        table[f"Win rate{suffix}"] = _rates(w, x)
        table[f"Won value{suffix}"] = _counts(codes, n, won & closes_in, deals.amount)
    if sort:
        table = table.sort_values([f"Leads{AT}", name], ascending=[False, True], kind="stable")
    else:
        table = table.sort_values(name, key=lambda s: s.map(lambda v: (v == NONE, v)))
    return table.reset_index(drop=True)


def owners(deals: Deals, closed_in: np.ndarray) -> pd.DataFrame:
    """Open, overdue, stale, then won, lost, win rate and won value: period and all time."""
    codes, names = deals.groups("Owner", NONE)
    n, everything = len(names), np.ones(len(codes), dtype=bool)
    won, lost, is_open = deals.won, deals.lost, deals.is_open
    table = pd.DataFrame({"Owner": names})
    table["Open"] = _counts(codes, n, is_open)
    table["Overdue"] = _counts(codes, n, deals.overdue)
    table["Stale"] = _counts(codes, n, deals.stale & is_open)
    for suffix, closes_in in (("", closed_in), (AT, everything)):
        w, x = _counts(codes, n, won & closes_in), _counts(codes, n, lost & closes_in)
        table[f"Won{suffix}"] = w
        table[f"Lost{suffix}"] = x
        table[f"Win rate{suffix}"] = _rates(w, x)
        table[f"Won value{suffix}"] = _counts(codes, n, won & closes_in, deals.amount)
    table = table.sort_values("Owner", key=lambda s: s.map(lambda v: (v == NONE, v)))
    return table.reset_index(drop=True)


def pipeline(deals: Deals, stages: Sequence[Stage]) -> pd.DataFrame:
    """Open deals per open stage: how many, their value, and value x stage probability."""
    rows = []
    for s in stages:
        if s.type != "open":
            continue
        here = deals.is_open & (deals.order == s.order)
        amounts = deals.amount[here]
        value = float(np.nansum(amounts))
        chance = (s.probability or 0.0) / 100
        rows.append([s.name, chance, int(here.sum()), value, value * chance])
    waiting = deals.is_open & deals.blank
    if waiting.any():
        value = float(np.nansum(deals.amount[waiting]))
        weighted = float(np.nansum(deals.amount[waiting] * deals.probability[waiting]))
        rows.append(["(no stage)", None, int(waiting.sum()), value, weighted])
    columns = ["Stage", "Probability", "Open deals", "Pipeline value", "Weighted forecast"]
    return pd.DataFrame(rows, columns=columns, dtype=object)


def forecast(deals: Deals, now: np.datetime64, typical_cycle: float) -> pd.DataFrame:
    """Open deals by expected close month, weighted by their stage's probability. A deal
    without an Expected close date is dated Created at + the median won cycle (or now, if
    that is past); one with neither is counted as undated. Lost deals never count."""
    is_open = deals.is_open
    key, estimated = _close_months(deals, is_open, now, typical_cycle)
    # each column summed on its own by the month's group (no frame of them all, whose
    # consolidation and grouping copy every column: 5 MB at 100,000 open deals, the
    # re-sync's metrics peak); the amounts by pandas' own sum, as a frame's would be
    group, keys = pd.factorize(key, sort=True)
    n, amount = len(keys), deals.amounts(is_open)

    def summed(values: np.ndarray) -> np.ndarray:
        return pd.Series(values).groupby(group, sort=True).sum().to_numpy()

    table = pd.DataFrame(
        {
            "Month": keys,
            "Open deals": np.bincount(group, minlength=n).astype(np.int64),
            "Pipeline value": summed(np.nan_to_num(amount)),
            "Weighted forecast": summed(np.nan_to_num(amount * deals.chances(is_open))),
            "Dates estimated": np.bincount(group[estimated], minlength=n).astype(np.int64),
        }
    )
    dated = (keys != OVERDUE) & (keys != UNDATED)
    labels = np.where(keys == OVERDUE, "overdue", "undated").astype(object)
    labels[dated] = keys[dated].astype("datetime64[M]").astype(str)
    table["Month"] = labels
    return table


def _close_months(
    deals: Deals, is_open: np.ndarray, now: np.datetime64, typical_cycle: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per open deal, the month it is expected to close in as a group key (months since
    1970; OVERDUE, UNDATED), and whether its date is estimated. Its own function: the dates
    it goes through are gone before the groups are summed (the re-sync's metrics peak)."""
    # the open deals' columns only: each step below makes a column of the deals it reads
    # (100,000 deals: 8 MB at the metrics' peak for every deal)
    expected = deals.expected_at(is_open)
    estimated = np.isnat(expected)
    if not np.isnan(typical_cycle):
        guess = deals.created_at(is_open) + np.timedelta64(round(typical_cycle * 86400), "s")
        guess = np.where(~np.isnat(guess) & (guess < now), now, guess)
        expected = np.where(estimated, guess, expected)
    # months grouped as numbers (months since 1970), in the order shown: overdue first, the
    # months in order, undated last; only the groups' labels are written out
    this_month = now.astype("datetime64[M]")
    month = expected.astype("datetime64[M]")
    undated = np.isnat(month)
    key = np.where(undated, UNDATED, month.view(np.int64))
    key[~undated & (month < this_month)] = OVERDUE
    return key, estimated


def won_by_month(deals: Deals, now: np.datetime64, months: int = 12) -> pd.DataFrame:
    """Won value by the month deals closed in: the last ``months`` months up to this one,
    or, when nothing was won in them, up to the month of the latest win."""
    won = deals.won & ~np.isnat(deals.closed)
    closed = deals.closed[won].astype("datetime64[M]")
    end = now.astype("datetime64[M]")
    if len(closed) and not (closed > end - months).any():
        end = closed.max()
    first = end - months + 1
    offset = (closed - first).astype(int)
    inside = (offset >= 0) & (offset < months)
    amounts = np.nan_to_num(deals.amount[won])
    return pd.DataFrame(
        {
            "Month": np.arange(first, end + 1).astype(str),
            "Won value": np.bincount(offset[inside], amounts[inside], minlength=months),
            "Won deals": np.bincount(offset[inside], minlength=months),
        }
    )
