"""Metrics on small pipelines whose every figure is worked out by hand in the comments."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from sheetcrm.engine.frame import Frame
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.metric_data import read_deals
from sheetcrm.engine.metric_tabs import render
from sheetcrm.engine.metrics import compute, period_window
from sheetcrm.engine.schema import HISTORY, NO_DATA
from sheetcrm.engine.settings import MetricsPeriod, SettingError, find_setting
from sheetcrm.engine.stage_log import read_log
from sheetcrm.engine.stages_tab import Stage
from sheetcrm.engine.table import Table

NOW = datetime(2026, 11, 23, 10, 0)
STAGES = [
    Stage("New", "open", 10, None, (), 0),
    Stage("Meeting", "open", 40, None, (), 1),
    Stage("Proposal", "open", 60, None, (), 2),
    Stage("Won", "won", 100, None, (), 3),
    Stage("Lost", "lost", 0, None, (), 4),
]
COLUMNS = ["Lead ID", "Stage", "Amount", "Created at", "Closed at", "Owner", "Source"]


def leads(*rows: tuple[str, ...]) -> pd.DataFrame:
    width = max(len(r) for r in rows)
    padded = [[*r, *[""] * (width - len(r))] for r in rows]
    return pd.DataFrame(padded, columns=COLUMNS[:width], dtype=object)


def history(*entries: tuple[str, str, str, str]) -> Table:
    """(At, Lead ID, To, Why) Stage entries."""
    return Table(
        HISTORY.headers, [[at, i, "Stage", "", to, "sheetcrm", why] for at, i, to, why in entries]
    )


def run(data: pd.DataFrame, log: Table | None = None, period: str = "month", **kw):
    deals = read_deals(data, STAGES)
    stage_log = read_log(HistoryFrame(log or Table(HISTORY.headers)), STAGES)
    window = period_window(MetricsPeriod(period, kw.pop("days", 0)), NOW)
    return compute(deals, stage_log, STAGES, window, NOW, kw.pop("sla", 24), kw.pop("target", None))


def figure(metrics, name: str) -> tuple[float | None, float | None]:
    f = next(f for f in [*metrics.figures, *metrics.now] if f.name == name)
    return f.period, f.all_time


# A deal that went New -> Meeting -> Proposal -> Lost still reached Meeting and Proposal;
# one imported straight into Won (only "first seen") reached Won and nothing before it.
PIPELINE = leads(
    ("L-1", "Lost", "100", "2026-11-02", "2026-11-20"),
    ("L-2", "Won", "300", "2026-11-01", "2026-11-11"),
    ("L-3", "Meeting", "200", "2026-11-03", ""),
    ("L-4", "Won", "500", "2026-01-10", "2026-03-01"),  # imported: no observed path
    ("L-5", "New", "50", "2026-10-01", ""),
)
LOG = history(
    ("2026-11-02", "L-1", "New", "new lead"),
    ("2026-11-05", "L-1", "Meeting", "stage changed in the sheet"),
    ("2026-11-15", "L-1", "Proposal", "stage changed in the sheet"),
    ("2026-11-20", "L-1", "Lost", "stage changed in the sheet"),
    ("2026-11-01", "L-2", "New", "new lead"),
    ("2026-11-03", "L-2", "Meeting", "stage changed in the sheet"),
    ("2026-11-11", "L-2", "Won", "stage changed in the sheet"),
    ("2026-11-03", "L-3", "New", "new lead"),
    ("2026-11-04", "L-3", "Meeting", "stage changed in the sheet"),
    ("2026-03-02", "L-4", "Won", "first seen in this stage"),
    ("2026-10-01", "L-5", "New", "first seen in this stage"),
)


def test_funnel_counts_what_history_saw_and_invents_nothing():
    funnel = run(PIPELINE, LOG).funnel.set_index("Stage")
    # reached New: L-1, L-2, L-3, L-5 (all time); moved on past New: L-1, L-2, L-3
    assert funnel.loc["New", "Reached (all time)"] == 4
    assert funnel.loc["New", "Moved on (all time)"] == 3
    assert funnel.loc["New", "Conversion (all time)"] == pytest.approx(3 / 4)
    # Meeting: L-1 (later lost), L-2, L-3; moved on: L-1 (to Proposal), L-2 (to Won)
    assert funnel.loc["Meeting", "Reached (all time)"] == 3
    assert funnel.loc["Meeting", "Conversion (all time)"] == pytest.approx(2 / 3)
    # Proposal: only L-1, which was then lost: 0 of 1 moved on
    assert funnel.loc["Proposal", "Reached (all time)"] == 1
    assert funnel.loc["Proposal", "Conversion (all time)"] == 0
    # Won: L-2 and the imported L-4 (which reached nothing else)
    assert funnel.loc["Won", "Reached (all time)"] == 2
    # this month's cohort (created since 2026-11-01): L-1, L-2, L-3
    assert funnel.loc["New", "Reached"] == 3
    assert funnel.loc["New", "Conversion"] == 1.0
    assert list(funnel["Leads now"]) == [1, 1, 0, 2, 1]


def test_days_in_stage_only_from_stays_history_saw_begin_and_end():
    funnel = run(PIPELINE, LOG).funnel.set_index("Stage")
    # New: L-1 3 days, L-2 2 days, L-3 1 day; L-5's stay has no observed start nor end
    assert funnel.loc["New", "Stays measured"] == 3
    assert funnel.loc["New", "Mean days in stage"] == pytest.approx(2.0)
    # Meeting: L-1 10 days, L-2 8 days; L-3 is still there (an unfinished stay)
    assert funnel.loc["Meeting", "Median days in stage"] == pytest.approx(9.0)
    assert funnel.loc["Won", "Stays measured"] == 0  # L-4: "first seen" is no start


def test_win_rate_cycle_and_won_value_for_the_period_and_all_time():
    m = run(PIPELINE, LOG)
    # closed this month: L-1 lost, L-2 won; all time also L-4 won
    assert figure(m, "Win rate") == (pytest.approx(1 / 2), pytest.approx(2 / 3))
    assert figure(m, "Won value") == (300, 800)
    # cycles of won deals: L-2 10 days, L-4 50 days
    assert figure(m, "Sales cycle, median") == (10, 30)
    assert figure(m, "Sales cycle, mean") == (10, 30)
    assert figure(m, "Average won deal") == (300, 400)
    # velocity, all time: 2 open deals x 2/3 x 400 / 30 days
    assert figure(m, "Sales velocity, per day")[1] == pytest.approx(2 * (2 / 3) * 400 / 30)


def test_a_rolling_window_and_a_quarter():
    m = run(PIPELINE, LOG, period="days", days=10)  # from 2026-11-13 10:00
    assert m.window.label == "last 10 days, from 2026-11-13"
    assert figure(m, "Lost deals")[0] == 1 and figure(m, "Won deals")[0] == 0
    q = run(PIPELINE, LOG, period="quarter")  # from 2026-10-01: L-5 is a new lead too
    assert figure(q, "New leads")[0] == 4


def test_win_rate_per_owner_and_source():
    data = leads(
        ("L-1", "Won", "10", "2026-11-01", "2026-11-02", "Ana", "Web"),
        ("L-2", "Lost", "10", "2026-11-01", "2026-11-02", "Ana", "Web"),
        ("L-3", "Won", "20", "2026-11-01", "2026-11-02", "Ana", "Fair"),
        ("L-4", "Lost", "10", "2026-11-01", "2026-11-02", "Bo", ""),
        ("L-5", "New", "10", "2026-11-01", "", "", "Web"),
    )
    m = run(data)
    owners = m.owners.set_index("Owner")
    assert owners.loc["Ana", "Win rate"] == pytest.approx(2 / 3)
    assert owners.loc["Ana", "Won value"] == 30
    assert owners.loc["Bo", "Win rate"] == 0
    assert owners.loc["(none)", "Open"] == 1 and math.isnan(owners.loc["(none)", "Win rate"])
    assert list(m.owners["Owner"]) == ["Ana", "Bo", "(none)"]
    sources = m.by["Source"].set_index("Source")
    assert sources.loc["Web", "Leads (all time)"] == 3
    assert sources.loc["Web", "Win rate (all time)"] == pytest.approx(1 / 2)
    assert sources.loc["(none)", "Lost (all time)"] == 1


def test_aging_buckets_for_open_leads():
    created = ["2026-11-22 11:00", "2026-11-21 09:00", "2026-11-16", "2026-11-15", "2026-10-23"]
    created += ["2026-10-22", "2026-01-01"]
    data = leads(*[(f"L-{i}", "New", "", c) for i, c in enumerate(created)])
    data.loc[6, "Stage"] = "Won"  # closed: not aged
    aging = dict(run(data).aging.itertuples(index=False))
    # whole days: 0, 2, 7, 8, 31 (30+), 32 (30+)
    assert aging == {"0–1 days": 1, "2–7 days": 2, "8–30 days": 1, "30+ days": 2}


def test_weighted_forecast_counts_open_deals_only_by_expected_close_month():
    data = leads(
        ("L-1", "Meeting", "1000", "2026-11-01"),
        ("L-2", "Proposal", "2000", "2026-11-01"),
        ("L-3", "Lost", "5000", "2026-11-01", "2026-11-02"),
        ("L-4", "New", "", "2026-11-01"),
    )
    data["Expected close"] = ["2026-12-15", "2027-01-10", "2026-12-01", ""]
    m = run(data, target=6000)
    forecast = m.forecast.set_index("Month")
    assert forecast.loc["2026-12", "Weighted forecast"] == pytest.approx(400)  # 1000 x 40 %
    assert forecast.loc["2027-01", "Weighted forecast"] == pytest.approx(1200)
    assert forecast["Pipeline value"].sum() == 3000  # never the lost 5000
    assert forecast.loc["undated", "Open deals"] == 1  # no won deal yet: no cycle to guess by
    assert figure(m, "Weighted forecast")[1] == pytest.approx(1600)
    assert figure(m, "Pipeline coverage")[1] == pytest.approx(3000 / 6000)


def test_first_touch_speed_and_sla():
    data = leads(
        ("L-1", "New", "", "2026-11-20 09:00"),
        ("L-2", "Meeting", "", "2026-11-20 09:00"),
        ("L-3", "New", "", "2026-11-23 09:00"),  # not due yet
        ("L-4", "New", "", "2026-11-20 09:00"),  # due, untouched: a miss
        ("L-5", "Won", "", "2020-01-01", "2020-02-01"),  # imported: touch time unknown
    )
    data["First touch at"] = ["2026-11-20 15:00", "2026-11-22 09:00", "", "", ""]
    m = run(data, sla=24)
    assert figure(m, "Speed to first touch, median")[1] == pytest.approx((6 + 48) / 2)
    # judged: L-1 (met), L-2 (missed), L-4 (missed)
    assert figure(m, "First-touch SLA met")[1] == pytest.approx(1 / 3)


def test_a_metric_without_data_says_so():
    m = run(leads(("L-1", "New", "", "2026-11-01")))
    assert math.isnan(figure(m, "Win rate")[1])
    tabs = render(m, "2026-11-23 10:00", "EUR")
    dash = tabs["Dashboard"]
    rows = {r[0]: r for r in dash.rows}
    assert rows["Win rate"][1:3] == [NO_DATA, NO_DATA]
    assert rows["Sales cycle, median"][2] == NO_DATA
    assert dash.header[:3] == ["Dashboard", "As of", "2026-11-23 10:00"]
    assert all(t.header[1:3] == ["As of", "2026-11-23 10:00"] for t in tabs.values())


def test_numbers_are_written_plain_and_formatted_by_kind():
    tabs = render(run(PIPELINE, LOG), "2026-11-23 10:00", "EUR")
    dash = tabs["Dashboard"]
    grid = [dash.header, *dash.rows]
    at = {r[0]: i for i, r in enumerate(grid)}
    assert grid[at["Win rate"]][2] == "0.666667"
    assert dash.formats[(at["Win rate"], 2)] == "percent"
    assert dash.formats[(at["Won value"], 1)] == "money"
    assert dash.formats[(0, 2)] == "datetime"
    assert [c.title for c in dash.charts] == [
        "Funnel: leads per stage now",
        "Won value vs target by month",
        "Pipeline by stage",
    ]


@pytest.mark.parametrize(
    ("text", "unit", "days"),
    [
        ("this month", "month", 0),
        ("This Quarter", "quarter", 0),
        ("last 90 days", "days", 90),
        ("30 days", "days", 30),
    ],
)
def test_metrics_period_setting(text, unit, days):
    setting = find_setting("Metrics period")
    assert setting is not None
    assert setting.parse(text) == MetricsPeriod(unit, days)


def test_a_bad_metrics_period_has_a_hint():
    setting = find_setting("Metrics period")
    assert setting is not None
    with pytest.raises(SettingError) as caught:
        setting.parse("fortnightly")
    assert "last 90 days" in caught.value.hint


def test_every_figure_and_column_is_defined_in_the_docs():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "metrics.md").read_text()
    m = run(PIPELINE, LOG, target=1000)
    names = {f.name for f in [*m.figures, *m.now]}
    tables = [m.funnel, m.aging, m.grades, m.owners, *m.by.values(), m.pipeline, m.forecast]
    labels = {"Type"}  # and each table's first column: what its rows are about
    names |= {c.removesuffix(" (all time)") for t in tables for c in t.columns[1:]} - labels
    missing = sorted(n for n in names if n not in docs)
    assert not missing, f"docs/metrics.md does not define: {missing}"


def test_the_deals_columns_are_kept_as_distinct_values_and_read_as_the_cells_do() -> None:
    # the sync's typed columns hold each column's codes already: the deals keep their dates,
    # amounts and stages' facts once per distinct text (the metrics step's peak), and read
    # per deal exactly what the cells parsed one by one give
    data = leads(
        *[(f"L-{i}", "Won" if i % 2 else "New", "100", "2026-11-02", "") for i in range(6)]
    )
    data["Assigned at"] = ["2026-11-02 09:00", "", "2026-11-02 09:00", "", "", ""]
    data["First touch at"] = ""
    typed = read_deals(data, STAGES, frame=Frame(data, NOW))
    cells = read_deals(data, STAGES)
    assert len(typed.created_at.values) == 1 and len(typed.amounts.values) == 1
    assert len(typed.kinds.values) == 2 and len(typed) == 6
    for name in ("ids", "kind", "amount", "probability", "created", "closed", "started"):
        assert getattr(typed, name).tolist() == getattr(cells, name).tolist(), name
    assert typed.won.tolist() == [i % 2 == 1 for i in range(6)]
