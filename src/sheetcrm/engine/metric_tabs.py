"""The metric tabs: metrics laid out as grids of cells, with number formats and charts.

Pure. A :class:`MetricTab` is a :class:`Table` (its first row is the title row) that also
says how each number is formatted and which charts sit on it; backends that can format and
draw do (openpyxl, the Sheets API), the memory backend keeps the text. Numbers are written
as canonical numbers, so a chart can plot them and a read gives back what was written.

Idempotence: the tabs carry the sync time they are "as of", which changes on every sync.
They are rewritten only when a figure changes: a digest of their content, stamp left out, is
kept on the hidden state tab and compared (content read back is not: Google returns numbers
as the sheet formats them, "63.15%").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from sheetcrm.engine.activity_tab import ActivityFrame
from sheetcrm.engine.attainment import attainment, headline, spans, with_targets
from sheetcrm.engine.config import Config
from sheetcrm.engine.followup import followup, read_touches
from sheetcrm.engine.metric_data import AT, Deals, read_deals, read_log
from sheetcrm.engine.metrics import Figure, Metrics, compute, period_window
from sheetcrm.engine.schema import (
    ACTIVITIES,
    AS_OF,
    BY_OWNER,
    BY_SOURCE,
    DASHBOARD,
    FORECAST,
    FUNNEL,
    METRIC_TABS,
    NO_DATA,
    NOT_COMPUTED,
)
from sheetcrm.engine.tab_headers import canonical_table
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.engine.values import format_datetime, format_number

FORMATS = {
    "Win rate": "percent",
    "Conversion": "percent",
    "Probability": "percent",
    "Won value": "money",
    "Pipeline value": "money",
    "Weighted forecast": "money",
    "Mean days in stage": "days",
    "Median days in stage": "days",
    "Leads now": "leads",
    "Open deals": "deals",
    "Won deals": "deals",
    "Won value target": "money",
    "Won value attained": "percent",
    "Won deals attained": "percent",
    "Activities attained": "percent",
    "Activities per week": "weekly",
    "Calls reached": "percent",
}
"""Number format of a table column, by header (the "(all time)" twin shares it); other
number columns are counts, which their header names."""
PRECISION = {
    "percent": 6,
    "money": 2,
    "days": 2,
    "hours": 2,
    "ratio": 4,
    "weekly": 2,
    "touches": 2,
    "activities": 0,
    "meetings": 0,
    "count": 0,
    "leads": 0,
    "deals": 0,
}
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "¥"}
CHART_COLUMN = 5  # charts sit right of the Dashboard's figures, from column F


def pattern(kind: str, currency: str = "USD") -> str:
    """The spreadsheet number format of a kind of figure (Excel and Google read the same).
    Every kind a figure on its own can have shows its unit: "451.9 hours", "1 lead"."""
    if kind == "money":
        symbol = SYMBOLS.get(currency.upper())
        return f'"{symbol}"#,##0' if symbol else f'#,##0 "{currency}"'
    if kind in ("leads", "deals", "meetings"):
        return f'[=1]0" {kind[:-1]}";#,##0" {kind}"'
    if kind == "activities":
        return '[=1]0" activity";#,##0" activities"'
    return {
        "percent": "0.00%",
        "days": '0.0" days"',
        "hours": '0.0" hours"',
        "ratio": '0.00"×"',
        "count": "#,##0",
        "weekly": '0.0" a week"',
        "touches": '0.0" touches"',
        "datetime": "yyyy-mm-dd hh:mm",
    }.get(kind, "General")


@dataclass(frozen=True)
class Chart:
    """A chart of a block of the tab: labels in one column, series in others (each headed
    by its name in ``header_row``). Rows and columns are 0-based grid positions."""

    title: str
    kind: str  # column or line
    header_row: int
    last_row: int
    label_column: int
    series: tuple[int, ...]
    anchor: tuple[int, int]


@dataclass
class MetricTab(Table):
    formats: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col) -> kind
    charts: list[Chart] = field(default_factory=list)
    currency: str = "USD"


class _Grid:
    def __init__(self, title: str, stamp: str, period: str) -> None:
        self.rows: list[list[str]] = [[title, AS_OF, stamp, "Period", period]]
        self.formats: dict[tuple[int, int], str] = {(0, 2): "datetime"}

    def line(self, *cells: object, kinds: Sequence[str] = ()) -> int:
        row = len(self.rows)
        texts = []
        for col, value in enumerate(cells):
            kind = kinds[col] if col < len(kinds) else ""
            texts.append(_text(value, kind))
            if kind and texts[-1] not in ("", NO_DATA, OUT_OF_RANGE):
                self.formats[(row, col)] = kind
        self.rows.append(texts)
        return row

    def block(self, title: str, table: pd.DataFrame) -> tuple[int, int]:
        """A titled table; returns the rows of its header and of its last line."""
        self.line()
        self.line(title)
        header = self.line(*table.columns)
        kinds = [_kind(c, table[c]) for c in table.columns]
        for values in table.itertuples(index=False):
            self.line(*values, kinds=kinds)
        return header, len(self.rows) - 1

    def tab(self, currency: str, charts: Sequence[Chart] = ()) -> MetricTab:
        width = max(len(r) for r in self.rows)
        rows = [r + [""] * (width - len(r)) for r in self.rows]
        return MetricTab(rows[0], rows[1:], dict(self.formats), list(charts), currency)


Grid = _Grid  # for the tabs laid out elsewhere (scoring_check.py)


def _kind(column: str, values: pd.Series) -> str:
    base = column.removesuffix(AT)
    if base in FORMATS:
        return FORMATS[base]
    numbers = [isinstance(v, int | float | np.number) for v in values if v is not None]
    return "count" if numbers and all(numbers) else ""


OUT_OF_RANGE = "out of range"
"""A figure past what a float holds (amounts near 1e308 summed): said, never shown as inf."""


def _text(value: object, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float | int | np.integer | np.floating):
        # The one edge every figure passes: whatever the amounts, no cell says inf or nan.
        number = float(value)
        if np.isnan(number):
            return NO_DATA
        if np.isinf(number):
            return OUT_OF_RANGE
        if kind:
            return format_number(round(number, PRECISION.get(kind, 6)) + 0.0)
    return str(value)


def render(metrics: Metrics, stamp: str, currency: str) -> dict[str, MetricTab]:
    """The five metric tabs, by name."""
    period = metrics.window.label
    tabs = {}

    dash = _Grid(DASHBOARD.name, stamp, period)
    dash.line()
    dash.line("Metric", "This period", "All time")
    for f in metrics.figures:
        dash.line(f.name, f.period, f.all_time, kinds=("", f.format, f.format))
    dash.line()
    dash.line("Now", "Value")
    _figures(dash, metrics.now)
    for age, count in metrics.aging.itertuples(index=False):
        dash.line(f"Open leads aged {age}", count, kinds=("", "leads"))
    if metrics.attained:
        dash.line()
        dash.line("Targets: the whole team", *metrics.attained)
        names = [name for name, _ in next(iter(metrics.attained.values()))]
        for i, name in enumerate(names):
            values = [rows[i][1] for rows in metrics.attained.values()]
            dash.line(name, *values, kinds=("", *["percent"] * len(values)))
    funnel = metrics.funnel[["Stage", "Leads now"]]
    f_head, f_last = dash.block("Leads per stage now", funnel)
    by_month = metrics.won_by_month
    by_month = by_month[[c for c in ("Month", "Won value", "Won value target") if c in by_month]]
    m_head, m_last = dash.block("Won value vs target by month", by_month)
    pipe = metrics.pipeline[["Stage", "Pipeline value", "Weighted forecast"]]
    p_head, p_last = dash.block("Pipeline by stage", pipe)
    charts = [
        Chart("Funnel: leads per stage now", "column", f_head, f_last, 0, (1,), (2, CHART_COLUMN)),
        Chart(
            "Won value vs target by month",
            "column",
            m_head,
            m_last,
            0,
            tuple(range(1, len(by_month.columns))),
            (20, CHART_COLUMN),
        ),
        Chart("Pipeline by stage", "column", p_head, p_last, 0, (1, 2), (38, CHART_COLUMN)),
    ]
    tabs[DASHBOARD.name] = dash.tab(currency, charts)

    grid = _Grid(FUNNEL.name, stamp, period)
    grid.block("Funnel: leads created this period (cohort), then all time", metrics.funnel)
    grid.block("Lead aging: open leads by days since Created at", metrics.aging)
    grid.block("Score calibration: by grade", metrics.grades)
    tabs[FUNNEL.name] = grid.tab(currency)

    grid = _Grid(BY_OWNER.name, stamp, period)
    owners = metrics.owners
    if metrics.followup is None:
        grid.line()
        grid.line("Follow-up", f"{NO_DATA}: no Activities tab")
    elif len(metrics.followup):
        owners = owners.merge(metrics.followup, on="Owner", how="outer", sort=False)
        numbers = [c for c in owners.columns if c != "Owner" and "rate" not in c]
        owners[numbers] = owners[numbers].fillna(0)
    grid.block("By owner", owners)
    for label, table in metrics.attainment.items():
        if len(table):
            grid.block(f"Targets, {label}", table)
        else:
            grid.line()
            grid.line(f"Targets, {label}", "no target (Targets tab)")
    tabs[BY_OWNER.name] = grid.tab(currency)

    grid = _Grid(BY_SOURCE.name, stamp, period)
    for name, table in metrics.by.items():
        grid.block(f"By {name.lower()}", table)
    tabs[BY_SOURCE.name] = grid.tab(currency)

    grid = _Grid(FORECAST.name, stamp, period)
    grid.line()
    _figures(grid, metrics.now[1:5])
    grid.block("Pipeline by stage", metrics.pipeline)
    grid.block("Weighted forecast by expected close month", metrics.forecast)
    tabs[FORECAST.name] = grid.tab(currency)
    return tabs


def _figures(grid: _Grid, figures: Sequence[Figure]) -> None:
    for f in figures:
        if f.name == "Pipeline target" and f.all_time is None:
            grid.line(f.name, "not set (Settings: Pipeline target)")
        elif f.name == "Pipeline coverage" and f.all_time is not None and np.isnan(f.all_time):
            grid.line(f.name, f"{NO_DATA}: set a Pipeline target in Settings")
        else:
            grid.line(f.name, f.all_time, kinds=("", f.format))


def not_computed(stamp: str, why: str) -> dict[str, MetricTab]:
    """What the tabs say when their figures would be wrong (a rule tab they need is broken)."""
    tabs = {}
    for spec in METRIC_TABS:
        grid = _Grid(spec.name, stamp, "")
        grid.line()
        grid.line(f"{NOT_COMPUTED}: {why}", "")
        tabs[spec.name] = grid.tab("")
    return tabs


def digest(tabs: dict[str, MetricTab]) -> str:
    """What the tabs show, the sync time left out: equal digests, nothing to rewrite."""
    h = hashlib.sha256()
    for name, tab in tabs.items():
        h.update(name.encode())
        for r, row in enumerate([tab.header, *tab.rows]):
            cells = [c if (r, c_i) != (0, 2) else "" for c_i, c in enumerate(row)]
            h.update("\x1f".join(cells).encode() + b"\x1e")
        h.update(repr(sorted(tab.formats.items())).encode())
        h.update(repr(tab.charts).encode() + tab.currency.encode())
    return h.hexdigest()[:32]


Flags = list[tuple[np.ndarray, str, list[str], str]]
STALE_COLUMNS = ("Stage",)  # where stages.track files its flags: stale deals ...
OVERDUE_COLUMNS = ("Last contact", "Next action date")  # ... and overdue touches, follow-ups


def _flagged(n: int, flags: Flags, columns: Sequence[str]) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for rows, column, _messages, _hint in flags:
        if column in columns:
            mask[rows] = True
    return mask


def metric_tabs(
    snapshot: Snapshot,
    data: pd.DataFrame,
    config: Config,
    now: datetime,
    new_history: Sequence[Sequence[str]] = (),
    flags: Flags | None = None,
    frozen: set[str] | frozenset[str] = frozenset(),
    activities: ActivityFrame | None = None,
) -> dict[str, MetricTab]:
    """Step 7 of a sync: the metric tabs for the Leads rows ``data`` (as this sync leaves
    them) and History with ``new_history`` appended; ``activities``: the Activities tab as the
    sync's ``activities`` step read it (None: read here). ``now``: the sheet's local time, aware
    (its zone the sheet's) or naive."""
    stamp = format_datetime(now)
    if "stages" in frozen or not config.stages:
        return not_computed(stamp, "the Stages tab has a problem (see Problems)")
    if "metrics" in frozen:
        return not_computed(stamp, "a setting they need has a problem (see Problems)")
    settings, stages = config.settings, config.stages
    deals: Deals = read_deals(
        data,
        stages,
        settings.dayfirst,
        settings.zone,
        stale=_flagged(len(data), flags or [], STALE_COLUMNS),
        overdue=_flagged(len(data), flags or [], OVERDUE_COLUMNS),
        decimal=settings.decimal,
        largest=settings["Largest amount"],
    )
    log = read_log(snapshot.table("History"), stages, new_history, settings.dayfirst, settings.zone)
    window = period_window(settings["Metrics period"], now.replace(tzinfo=None))
    # Amounts near the float limit (a Largest amount set that high lets them in) may sum
    # past it: the figure is then inf or nan, which render says as OUT_OF_RANGE or NO_DATA.
    with np.errstate(over="ignore", invalid="ignore"):
        metrics = compute(
            deals,
            log,
            stages,
            window,
            now,
            settings["First-touch SLA hours"],
            settings["Pipeline target"],
        )
        _follow_up(metrics, snapshot, data, deals, config, now, activities)
    return render(metrics, stamp, settings["Currency"])


def _follow_up(
    metrics: Metrics,
    snapshot: Snapshot,
    data: pd.DataFrame,
    deals: Deals,
    config: Config,
    now: datetime,
    activities: ActivityFrame | None,
) -> None:
    """The follow-up KPIs (Activities tab) and attainment (Targets tab), into ``metrics``."""
    settings = config.settings
    emails = data["Email"].to_numpy() if "Email" in data.columns else np.full(len(data), "")
    table = snapshot.get(ACTIVITIES.name)
    if table is not None:  # its headers in another language ("Type", "Résultat") read as English
        table = canonical_table(table, ACTIVITIES)
    frame = activities if table is not None else None
    touches = read_touches(table, deals, emails, settings.dayfirst, settings.zone, frame)
    follow = followup(
        deals,
        touches,
        metrics.window,
        now,
        settings["First-touch SLA hours"],
        settings["No touch days"],
    )
    metrics.figures += [Figure(n, p, a, f) for n, p, a, f in follow.period]
    metrics.now += [Figure(n, None, v, f) for n, v, f in follow.now]
    metrics.followup = follow.owners if touches is not None else None
    for label, months in spans(now).items():
        metrics.attainment[label] = attainment(deals, touches, config.targets, config.team, months)
        metrics.attained[label] = headline(deals, touches, config.targets, config.team, months)
    metrics.won_by_month = with_targets(metrics.won_by_month, config.targets, config.team)
