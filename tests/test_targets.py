"""The Targets tab: its problems at cells with hints, attainment for this month and this
quarter (a team: the sum of its people), the won value vs target chart, and the demo."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from sheetcrm.cli import main
from sheetcrm.engine.attainment import attainment, company_target, headline, spans, with_targets
from sheetcrm.engine.followup import read_touches
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.metric_data import read_deals
from sheetcrm.engine.metric_tabs import render
from sheetcrm.engine.metrics import Metrics, compute, period_window
from sheetcrm.engine.schema import ACTIVITIES, HISTORY, NO_DATA, TARGETS
from sheetcrm.engine.settings import MetricsPeriod
from sheetcrm.engine.stage_log import read_log
from sheetcrm.engine.stages_tab import Stage
from sheetcrm.engine.table import Table
from sheetcrm.engine.targets_tab import Target, parse_targets
from sheetcrm.engine.team_tab import Member

NOW = datetime(2026, 11, 23, 10, 0)  # Q4: October, November, December
STAGES = [Stage("New", "open", 10, None, (), 0), Stage("Won", "won", 100, None, (), 1)]
TEAM = [
    Member("Ann", "ann@x.io", "EMEA", True, 1, None, None),
    Member("Bob", "bob@x.io", "EMEA", True, 1, None, None),
    Member("Cy", "cy@x.io", "Americas", True, 1, None, None),
]


def targets(*rows: list[str]) -> tuple[list[Target], list]:
    return parse_targets(Table(TARGETS.headers, [list(r) for r in rows]), TEAM)


def test_bad_rows_are_problems_at_their_cells_with_hints() -> None:
    found, problems = targets(
        ["Ann", "2026-11", "1000", "2", "10"],
        ["Anne", "2026-11", "1000", "", ""],  # not on the Team tab
        ["Bob", "Nov 2026", "1000", "", ""],  # not YYYY-MM
        ["Bob", "2026-13", "1000", "", ""],
        ["Cy", "2026-11", "-5", "", ""],  # negative
        ["Ann", "2026-11", "2000", "", ""],  # twice: the first counts
        ["", "2026-11", "1", "", ""],
    )
    assert [t.who for t in found] == ["Ann"]
    by_cell = {p.cell: p for p in problems}
    assert set(by_cell) == {
        "Targets!A3",
        "Targets!B4",
        "Targets!B5",
        "Targets!C6",
        "Targets!B7",
        "Targets!A8",
    }
    assert "Ann" in by_cell["Targets!A3"].hint  # the name it is close to
    assert "2026-04" in by_cell["Targets!B4"].hint
    assert "-5" in by_cell["Targets!C6"].problem


def test_a_team_and_a_month_are_read_as_the_team_tab_spells_them() -> None:
    (team,), problems = targets(["emea", "2026-1", "500", "", ""])
    assert problems == []
    assert (team.who, team.team, team.month, team.won_value, team.activities) == (
        "EMEA",
        True,
        "2026-01",
        500,
        None,
    )


def test_no_targets_tab_is_no_targets_and_no_problem() -> None:
    assert parse_targets(None, TEAM) == ([], [])


DATA = pd.DataFrame(
    [
        ["L-1", "Won", "100", "2026-11-05", "Ann"],  # this month
        ["L-2", "Won", "300", "2026-10-10", "Bob"],  # this quarter, not this month
        ["L-3", "Won", "50", "2026-09-30", "Ann"],  # last quarter
        ["L-4", "New", "900", "", "Ann"],
        ["L-5", "Won", "70", "2026-11-01", "Cy"],
    ],
    columns=["Lead ID", "Stage", "Amount", "Closed at", "Owner"],
    dtype=object,
)
ACTS = Table(
    ACTIVITIES.headers,
    [
        ["2026-11-02 10:00", "L-4", "call", "reached", "Ann", "", ""],
        ["2026-11-03 10:00", "L-4", "call", "", "Bob", "", ""],
        ["2026-10-03 10:00", "L-4", "email", "", "Ann", "", ""],
    ],
)
GOALS, _ = targets(
    ["Ann", "2026-11", "200", "2", "4"],
    ["Ann", "2026-10", "100", "1", ""],
    ["Ann", "2026-12", "100", "1", ""],
    ["Bob", "2026-11", "100", "", ""],
    ["EMEA", "2026-11", "1000", "", ""],
    ["Cy", "2026-11", "70", "1", ""],
)


def table(months: list[str]) -> pd.DataFrame:
    deals = read_deals(DATA, STAGES)
    touches = read_touches(ACTS, deals, pd.Series([""] * len(DATA)).to_numpy())
    return attainment(deals, touches, GOALS, TEAM, months).set_index("Owner or team")


def test_attainment_this_month_and_this_quarter() -> None:
    month, quarter = spans(NOW).values()
    assert month == ["2026-11"] and quarter == ["2026-10", "2026-11", "2026-12"]
    now = table(month)
    assert now.loc["Ann", "Won value"] == 100 and now.loc["Ann", "Won value target"] == 200
    assert now.loc["Ann", "Won value attained"] == 0.5
    assert now.loc["Ann", "Won deals attained"] == 0.5
    assert now.loc["Ann", "Activities attained"] == 0.25  # one of four
    assert math.isnan(now.loc["Bob", "Won deals attained"])  # no deals target: no data
    q = table(quarter)
    assert q.loc["Ann", "Won value target"] == 400  # October + November + December
    assert q.loc["Ann", "Won value"] == 100  # September's win is last quarter's
    assert q.loc["Bob", "Won value attained"] == 3  # October's 300 against 100


def test_a_team_target_is_compared_with_the_sum_of_its_people() -> None:
    now = table(["2026-11"])
    assert now.loc["EMEA (team)", "Won value"] == 100  # Ann's; Bob won in October
    assert now.loc["EMEA (team)", "Activities"] == 2  # Ann's and Bob's November calls
    assert now.loc["EMEA (team)", "Won value attained"] == 0.1
    # the whole team: EMEA's 1000 stands for Ann and Bob; Cy's 70 is added, not Ann's 200
    assert company_target(GOALS, TEAM, "2026-11") == 1070
    deals = read_deals(DATA, STAGES)
    (value, _deals, _acts) = headline(deals, None, GOALS, TEAM, ["2026-11"])
    assert value == ("Won value vs target", pytest.approx(170 / 1070))


def computed() -> Metrics:
    deals = read_deals(DATA, STAGES)
    window = period_window(MetricsPeriod("month", 0), NOW)
    return compute(
        deals, read_log(HistoryFrame(Table(HISTORY.headers)), STAGES), STAGES, window, NOW, 24
    )


def test_the_dashboard_charts_won_value_against_target_by_month() -> None:
    metrics = computed()
    metrics.won_by_month = with_targets(metrics.won_by_month, GOALS, TEAM)
    tabs = render(metrics, "2026-11-23 10:00", "USD")
    chart = next(c for c in tabs["Dashboard"].charts if c.title == "Won value vs target by month")
    dash = tabs["Dashboard"]
    grid = [dash.header, *dash.rows]
    assert [grid[chart.header_row][c] for c in chart.series] == ["Won value", "Won value target"]
    november = next(r for r in grid if r[0] == "2026-11")
    assert november[1:3] == ["170", "1070"]


def test_no_target_says_so_on_by_owner() -> None:
    metrics = computed()
    metrics.attainment = {
        "this month, 2026-11": attainment(read_deals(DATA, STAGES), None, [], TEAM, ["2026-11"])
    }
    grid = render(metrics, "2026-11-23 10:00", "USD")["By owner"]
    assert ["Targets, this month, 2026-11", "no target (Targets tab)"] in [r[:2] for r in grid.rows]


# --- the demo --------------------------------------------------------------------------------


def test_the_demo_shows_real_figures(tmp_path: Path) -> None:
    path = tmp_path / "sheetcrm-demo.xlsx"
    assert main(["demo", "--sheet", str(path), "--now", "2026-11-23T10:00"]) == 0
    book = load_workbook(path)

    def figures(tab: str) -> dict[str, list[object]]:  # a label's first row
        found: dict[str, list[object]] = {}
        for r in book[tab].iter_rows(values_only=True):
            if r[0]:
                found.setdefault(r[0], list(r[1:]))
        return found

    dash = figures("Dashboard")
    for name in (
        "Sales cycle, median",
        "Sales velocity, per day",
        "Speed to first touch (activities), median",
        "Touched within the first-touch SLA",
        "Touches before won or lost, median",
        "Activities per person per week",
        "Calls reached",
        "Calls that booked a meeting",
        "Meetings booked",
        "Won value vs target",
    ):
        assert all(isinstance(v, int | float) for v in dash[name][:2]), (name, dash[name])
    assert isinstance(dash["Open leads with no touch in 7 days"][0], float)
    months = [
        r for r in book["Dashboard"].iter_rows(values_only=True) if str(r[0]).startswith("2026-")
    ]
    assert sum(r[1] for r in months) > 0 and sum(r[2] for r in months) > 0  # won and target
    funnel = figures("Funnel")
    assert funnel["Won"][5] == 3  # reached, all time
    for stage in ("Prospecting", "Qualified", "Meeting", "Proposal", "Negotiation"):
        conversion, mean_days = funnel[stage][7], funnel[stage][8]  # all time; days in stage
        assert isinstance(conversion, float) and 0 < conversion < 1, stage
        assert isinstance(mean_days, float) and mean_days > 0, stage
    owners = figures("By owner")
    assert owners["Jordan Lee"][owners["Owner"].index("Meetings booked")] >= 1
    assert NO_DATA not in owners["Jordan Lee"][: owners["Owner"].index("Win rate")]


def test_a_template_names_months_relative_to_now() -> None:
    from sheetcrm.files.templates import render_tokens

    assert render_tokens("{month-1}, {month}, {month+2}", datetime(2026, 1, 15)) == (
        "2025-12, 2026-01, 2026-03"
    )
    with pytest.raises(ValueError, match="counts months"):
        render_tokens("{month-2h}", NOW)
