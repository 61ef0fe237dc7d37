"""The Maven CRM pipeline (../shared/data), imported with `sheetcrm import` into a workbook:
the figures a sync writes into the metric tabs against an independent computation, straight
from the raw CSV with the standard library."""

from __future__ import annotations

import csv
import statistics
from collections import Counter
from datetime import date

import pytest
from openpyxl import load_workbook

from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.cli import main
from sheetcrm.engine.table import Table
from sheetcrm.engine.values import format_cell
from sheets import SHARED, human_edit

MAVEN = SHARED / "data" / "maven-crm" / "sales_pipeline.csv"
pytestmark = pytest.mark.skipif(
    not MAVEN.exists(),
    reason="../shared/data (the public CRM datasets) is not beside the repository",
)
STAGES = [
    ["Prospecting", "open", "10", "", ""],
    ["Engaging", "open", "50", "", ""],
    ["Won", "won", "100", "", ""],
    ["Lost", "lost", "0", "", ""],
]


def expected() -> dict[str, object]:
    """What the metrics must say, from the CSV alone."""
    with MAVEN.open(newline="", encoding="utf-8") as f:
        deals = list(csv.DictReader(f))
    won = [d for d in deals if d["deal_stage"] == "Won"]
    lost = [d for d in deals if d["deal_stage"] == "Lost"]
    days = [
        (date.fromisoformat(d["close_date"]) - date.fromisoformat(d["engage_date"])).days
        for d in won
    ]
    agents_won = Counter(d["sales_agent"] for d in won)
    agents_lost = Counter(d["sales_agent"] for d in lost)
    return {
        "deals": len(deals),
        "won": len(won),
        "lost": len(lost),
        "win rate": len(won) / (len(won) + len(lost)),
        "won value": sum(int(d["close_value"]) for d in won),
        "median cycle": statistics.median(days),
        "mean cycle": statistics.mean(days),
        "hayden": agents_won["Hayden Neloms"]
        / (agents_won["Hayden Neloms"] + agents_lost["Hayden Neloms"]),
        "stages": Counter(d["deal_stage"] for d in deals),
    }


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    path = tmp_path_factory.mktemp("maven") / "crm.xlsx"
    now = "2026-11-23T10:00"
    assert main(["init", "--sheet", str(path), "--now", now]) == 0
    backend = WorkbookBackend(path)

    def pipeline(table: Table) -> None:
        table.rows[:] = [list(r) for r in STAGES]

    def no_leads(table: Table) -> None:
        table.rows.clear()

    human_edit(backend, "Stages", pipeline)
    human_edit(backend, "Leads", no_leads)
    maps = [
        "sales_agent=Owner",
        "deal_stage=Stage",
        "engage_date=Created at",
        "close_date=Closed at",
        "close_value=Amount",
    ]
    args = ["import", str(MAVEN), "--sheet", str(path), "--now", now]
    assert main([*args, *(a for m in maps for a in ("--map", m))]) == 0
    # the metric tabs as the file holds them: every column (a tab is read as wide as its
    # first row, and their first row is the short "as of" line)
    wb = load_workbook(path, read_only=True)
    snapshot = backend.read()
    for tab in ("Dashboard", "Funnel", "By owner"):
        grid = [[format_cell(v) for v in r] for r in wb[tab].iter_rows(values_only=True)]
        snapshot.tabs[tab] = Table(grid[0], grid[1:])
    return snapshot


def rows(snapshot, tab: str) -> dict[str, list[str]]:
    table = snapshot.table(tab)
    return {r[0]: r for r in [table.header, *table.rows] if r and r[0]}


def test_headline_figures_match_the_raw_file(synced):
    want = expected()
    dash = rows(synced, "Dashboard")
    assert float(dash["Win rate"][2]) == pytest.approx(want["win rate"], abs=1e-6)
    assert round(float(dash["Win rate"][2]) * 100, 2) == 63.15
    assert (int(dash["Won deals"][2]), int(dash["Lost deals"][2])) == (want["won"], want["lost"])
    assert (want["won"], want["won"] + want["lost"]) == (4238, 6711)
    assert float(dash["Won value"][2]) == want["won value"] == 10_005_534
    assert float(dash["Sales cycle, median"][2]) == want["median cycle"] == 57
    assert float(dash["Sales cycle, mean"][2]) == pytest.approx(want["mean cycle"], abs=0.01)
    # rows with problems (no email, no phone: every one of them) still count
    leads = synced.table("Leads")
    assert all("missing Email or Phone" in s for s in leads.column("Status"))
    assert int(dash["New leads"][2]) == want["deals"] == 8800


def test_win_rate_per_owner_matches_the_raw_file(synced):
    hayden = rows(synced, "By owner")["Hayden Neloms"]
    header = synced.table("By owner").rows[2]
    rate = float(hayden[header.index("Win rate (all time)")])
    assert rate == pytest.approx(expected()["hayden"], abs=1e-6)
    assert round(rate * 100, 2) == 70.39


def test_imported_history_is_not_invented(synced):
    leads = synced.table("Leads")
    first = leads.records()[0]
    assert (first["Created at"], first["Closed at"]) == ("2016-10-20", "2017-03-01")  # kept
    stages = expected()["stages"]
    funnel = synced.table("Funnel")
    header = funnel.rows[2]
    table = {r[0]: dict(zip(header, r, strict=True)) for r in funnel.rows[3:7]}
    for stage in ("Prospecting", "Engaging", "Won", "Lost"):
        # reached = in that stage now: no path was observed, so none is made up
        assert int(table[stage]["Reached (all time)"]) == stages[stage]
        assert int(table[stage]["Leads now"]) == stages[stage]
    assert table["Engaging"]["Moved on (all time)"] == "0"
    assert table["Engaging"]["Stays measured"] == "0"
