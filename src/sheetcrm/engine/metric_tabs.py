"""The metric tabs: metrics laid out as grids of cells, with number formats and charts.

Pure. A :class:`MetricTab` (metric_grid.py) is a :class:`Table` (its first row is the title
row) that also says how each number is formatted and which charts sit on it; backends that
can format and draw do (openpyxl, the Sheets API), the memory backend keeps the text.

Idempotence: the tabs carry the sync time they are "as of", which changes on every sync.
They are rewritten only when a figure changes: a digest of their content, stamp left out, is
kept on the hidden state tab and compared (content read back is not: Google returns numbers
as the sheet formats them, "63.15%").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from sheetcrm.engine.activity_tab import ActivityFrame
from sheetcrm.engine.attainment import attainment, headline, spans, with_targets
from sheetcrm.engine.config import Config
from sheetcrm.engine.followup import Touches, followup, read_touches
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.metric_data import Deals, read_deals
from sheetcrm.engine.metric_grid import Chart, Grid, MetricTab
from sheetcrm.engine.metrics import Figure, Metrics, compute, period_window
from sheetcrm.engine.nurture_log import read_nurture
from sheetcrm.engine.nurture_metrics import nurture
from sheetcrm.engine.plan_rows import PlannedHistory
from sheetcrm.engine.schema import (
    ACTIVITIES,
    BY_OWNER,
    BY_SOURCE,
    DASHBOARD,
    FORECAST,
    FUNNEL,
    HISTORY,
    METRIC_TABS,
    NO_DATA,
    NOT_COMPUTED,
    NURTURE,
)
from sheetcrm.engine.stage_log import read_log
from sheetcrm.engine.tab_headers import canonical_table
from sheetcrm.engine.table import Snapshot
from sheetcrm.engine.values import format_datetime

CHART_COLUMN = 5  # charts sit right of the Dashboard's figures, from column F


def render(metrics: Metrics, stamp: str, currency: str) -> dict[str, MetricTab]:
    """The six metric tabs, by name."""
    period = metrics.window.label
    tabs = {}

    dash = Grid(DASHBOARD.name, stamp, period)
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

    grid = Grid(FUNNEL.name, stamp, period)
    grid.block("Funnel: leads created this period (cohort), then all time", metrics.funnel)
    grid.block("Lead aging: open leads by days since Created at", metrics.aging)
    grid.block("Score calibration: by grade", metrics.grades)
    tabs[FUNNEL.name] = grid.tab(currency)

    grid = Grid(BY_OWNER.name, stamp, period)
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

    grid = Grid(BY_SOURCE.name, stamp, period)
    for name, table in metrics.by.items():
        grid.block(f"By {name.lower()}", table)
    tabs[BY_SOURCE.name] = grid.tab(currency)

    grid = Grid(FORECAST.name, stamp, period)
    grid.line()
    _figures(grid, metrics.now[1:5])
    grid.block("Pipeline by stage", metrics.pipeline)
    grid.block("Weighted forecast by expected close month", metrics.forecast)
    tabs[FORECAST.name] = grid.tab(currency)

    grid = Grid(NURTURE.name, stamp, "all time")
    if metrics.nurture is not None and len(metrics.nurture):
        grid.block("By sequence and step (docs/metrics.md: Nurture)", metrics.nurture)
    else:
        grid.line()
        grid.line("Sequences", f"{NO_DATA}: no lead enrolled in a sequence yet (Sequences tab)")
    tabs[NURTURE.name] = grid.tab(currency)
    return tabs


def _figures(grid: Grid, figures: Sequence[Figure]) -> None:
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
        grid = Grid(spec.name, stamp, "")
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
    new_history: Sequence[Sequence[str]] | PlannedHistory = (),
    flags: Flags | None = None,
    frozen: set[str] | frozenset[str] = frozenset(),
    activities: ActivityFrame | None = None,
    history: HistoryFrame | None = None,
    leads: Frame | None = None,
) -> dict[str, MetricTab]:
    """Step 7 of a sync: the metric tabs for the Leads rows ``data`` (as this sync leaves
    them) and History with ``new_history`` appended; ``activities``, ``history`` and ``leads``:
    the Activities tab, History and ``data`` as columns, as the sync's steps read them (None:
    read here). ``now``: the sheet's local time, aware (its zone the sheet's) or naive."""
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
        frame=leads,
    )
    if history is None:
        history = HistoryFrame(snapshot.table(HISTORY.name), settings.dayfirst, settings.zone)
    history = history.plus(new_history)  # its columns shared by the two logs
    log = read_log(history, stages)
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
        del log  # an entry per Stage row of History: let it go before the follow-ups' peak
        touches = _follow_up(metrics, snapshot, data, deals, config, now, activities, leads)
    episodes = read_nurture(history, stages)
    alert, mark = settings["Unsubscribe rate alert"], settings.decimal or settings.shown_decimal
    metrics.nurture = nurture(episodes, touches, deals, alert, mark)
    return render(metrics, stamp, settings["Currency"])


def _follow_up(
    metrics: Metrics,
    snapshot: Snapshot,
    data: pd.DataFrame,
    deals: Deals,
    config: Config,
    now: datetime,
    activities: ActivityFrame | None,
    leads: Frame | None,
) -> Touches | None:
    """The follow-up KPIs (Activities tab) and attainment (Targets tab), into ``metrics``;
    returns the Activities rows read (None: no tab), which the nurture metrics count too."""
    settings = config.settings
    emails = data["Email"].to_numpy() if "Email" in data.columns else np.full(len(data), "")
    table = snapshot.get(ACTIVITIES.name)
    if table is not None:  # its headers in another language ("Type", "Résultat") read as English
        table = canonical_table(table, ACTIVITIES)
    frame = activities if table is not None else None
    touches = read_touches(table, deals, emails, settings.dayfirst, settings.zone, frame, leads)
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
    return touches
