"""The Win probability and the Scoring check on the two public CRM datasets in ../shared/data:
the X Education leads carry real signal in how a lead came and what it did last; the Maven
deals carry none in product, sector or account, and the check must say so."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.win import estimate, learn
from sheetcrm.engine.win_check import NO_SIGNAL, auc
from sheets import NOW, SHARED
from test_real_data import _import as import_and_sync

XED = SHARED / "data" / "xeducation-leads" / "Leads.csv"
MAVEN = SHARED / "data" / "maven-crm"
pytestmark = pytest.mark.skipif(
    not XED.exists() or not (MAVEN / "sales_pipeline.csv").exists(),
    reason="../shared/data (the public CRM datasets) is not beside the repository",
)
XED_FIELDS = "Source, Last Activity, Lead Origin, Country"


def imported(path: Path, maps: list[str], fields: str) -> tuple[MemoryBackend, Plan]:
    """``path`` imported into the template with its extra columns kept (as the real-data
    import test does it), then synced again with ``fields`` as Win probability fields."""
    backend, _source, _mapping, _plan = import_and_sync(path, maps, add_columns=True)
    settings = backend.tabs["Settings"]
    next(r for r in settings.rows if r[0] == "Win probability fields")[1] = fields
    snapshot = backend.read()
    plan = plan_sync(snapshot, NOW)
    apply(plan, backend, snapshot)
    return backend, plan


def check_rows(backend: MemoryBackend) -> dict[str, list[str]]:
    table = backend.tabs["Scoring check"]
    return {r[0]: r for r in [table.header, *table.rows] if r and r[0]}


@pytest.fixture(scope="module")
def xeducation(tmp_path_factory) -> Path:
    """The leads with a Stage from Converted and a Closed at in row order (the file has no
    dates: its rows are taken as the order the leads closed in)."""
    with XED.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    converted = header.index("Converted")
    start = np.datetime64("2025-01-01T08:00")
    path = tmp_path_factory.mktemp("xed") / "leads.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow([*header, "Stage", "Closed at"])
        for i, row in enumerate(body):
            at = str(start + np.timedelta64(i, "h")).replace("T", " ")
            out.writerow([*row, "Won" if row[converted] == "1" else "Lost", at])
    return path


def test_xeducation_probability_ranks_the_last_quarter_with_an_auc_of_at_least_0_72(xeducation):
    backend, _plan = imported(xeducation, [], XED_FIELDS)
    leads = backend.tabs[LEADS.name]
    data = pd.DataFrame(leads.rows, columns=leads.header, dtype=object)
    assert len(data) == 9240 and {"Lead Origin", "Last Activity", "Converted"} <= set(data)
    won = (data["Converted"] == "1").to_numpy()
    first = len(data) * 3 // 4
    fields = ["Source", "Last Activity", "Lead Origin", "Country"]
    amounts = np.full(len(data), np.nan)
    learned = learn(data.iloc[:first], fields, amounts[:first], won[:first])
    prediction = estimate(learned, data.iloc[first:], amounts[first:])
    assert auc(prediction.probability, won[first:]) >= 0.72
    # the sync's own Scoring check, cut at the 75th percentile of Closed at, says the same
    rows = check_rows(backend)
    assert rows["Tested on"][1] == str(len(data) - first + 1)  # the cut's own lead too
    assert rows["Win probability"][1] == "separates won from lost"
    assert float(rows["AUC"][1]) >= 0.72 and float(rows["AUC, 95% interval"][1]) > 0.69
    assert float(rows["Top-decile lift"][1]) > 1.5
    # closed leads get no probability; the column says nothing invented about them
    assert set(leads.column("Win probability")) == {""}


def test_maven_deals_get_a_no_signal_verdict_and_no_percentage(tmp_path):
    with (MAVEN / "accounts.csv").open(newline="", encoding="utf-8") as f:
        sector = {r["account"]: r["sector"] for r in csv.DictReader(f)}
    with (MAVEN / "sales_pipeline.csv").open(newline="", encoding="utf-8") as f:
        deals = list(csv.DictReader(f))
    path = tmp_path / "deals.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, [*deals[0], "sector"])
        out.writeheader()
        out.writerows({**d, "sector": sector.get(d["account"], "")} for d in deals)
    maps = ["deal_stage=Stage", "close_date=Closed at", "close_value=Notes"]
    backend, _plan = imported(path, maps, "product, Industry, Company")
    rows = check_rows(backend)
    closed = int(rows["Tested on"][1]) + int(rows["Learned from (before the cut-off)"][1])
    assert closed == 4238 + 2473 and int(rows["Tested on"][1]) >= 100
    assert rows["Win probability"][1:3] == [NO_SIGNAL, "the AUC's 95% interval holds 0.5"]
    assert rows["Rule score"][1] == NO_SIGNAL
    # no percentage, no lift, no band: only the verdicts and the counts
    assert not {"AUC", "Top-decile lift", "Band"} & set(rows)
    # the open deals still get a probability, close to the overall win rate
    leads = backend.tabs[LEADS.name]
    shown = [int(p) for p in leads.column("Win probability") if p]
    assert len(shown) == 1589 + 500 and 45 < np.mean(shown) < 80
