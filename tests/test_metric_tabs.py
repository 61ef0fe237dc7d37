"""The metric tabs a sync writes, on every backend: present, stamped, rewritten only when a
figure changes, honest when the Stages tab is broken; with formats and charts where the
backend has them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from openpyxl import load_workbook

from sheetcrm.backends.apply import sync_once
from sheetcrm.engine.schema import AS_OF, LEADS, METRIC_TABS, NOT_COMPUTED, STAGES, STATE
from sheetcrm.engine.table import Table
from sheets import NOW, emulator, human_edit, make_backend

BACKENDS = ["memory", "workbook", "google"]
TITLES = ["Funnel: leads per stage now", "Won value vs target by month", "Pipeline by stage"]


def sync(backend, now=NOW):
    return sync_once(backend, now, now)  # (plan, what was written)


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    return make_backend(request.param, tmp_path)


def rows(backend, tab: str) -> dict[str, list[str]]:
    table = backend.read().table(tab)
    return {r[0]: r for r in [table.header, *table.rows] if r and r[0]}


def won_first_lead(table) -> None:
    table.rows[0][table.col("Stage")] = "Won"


def test_every_metric_tab_says_when_it_is_as_of(backend):
    sync(backend)
    snapshot = backend.read()
    for spec in METRIC_TABS:
        header = snapshot.table(spec.name).header
        assert header[:3] == [spec.name, AS_OF, "2026-11-23 10:00"], spec.name
    dash = rows(backend, "Dashboard")
    assert dash["Won deals"][2] == "3"  # the template's three won deals, all time
    assert dash["Open deals"][1] == "44"


def test_the_stamp_alone_never_rewrites_the_tabs(backend):
    sync(backend)
    version = backend.version()
    plan, report = sync(backend, NOW + timedelta(minutes=1))  # same figures, a later time
    assert not plan and not report.written
    assert backend.version() == version
    assert backend.read().table("Dashboard").header[2] == "2026-11-23 10:00"


def test_a_changed_figure_rewrites_the_tabs_with_the_new_time(backend):
    sync(backend)
    human_edit(backend, LEADS.name, won_first_lead)
    later = NOW + timedelta(minutes=5)
    plan, _ = sync(backend, later)
    assert set(plan.replace) >= {s.name for s in METRIC_TABS}
    dash = rows(backend, "Dashboard")
    assert dash["Dashboard"][2] == "2026-11-23 10:05"
    # closed this month (this one, and the sample's deal won 30 hours ago), and all time
    assert dash["Won deals"][1:3] == ["2", "4"]
    again, _ = sync(backend, later + timedelta(minutes=1))
    assert not again


def break_stages(backend) -> None:
    """A mistake on the Stages tab, with no valid version of it kept (the sync would else
    apply the last valid one, engine/last_good.py): stage figures cannot be computed."""
    human_edit(backend, STAGES.name, lambda t: t.rows[0].__setitem__(t.col("Type"), "opne"))
    human_edit(
        backend,
        STATE.name,
        lambda t: t.rows.__setitem__(
            slice(None), [r for r in t.rows if not r[0].startswith("last good stages")]
        ),
    )


def test_a_broken_stages_tab_says_metrics_were_not_computed(backend):
    sync(backend)
    break_stages(backend)
    plan, _ = sync(backend)
    assert "stages" in plan.summary.frozen
    for spec in METRIC_TABS:
        table = backend.read().table(spec.name)
        assert table.rows[1][0].startswith(f"{NOT_COMPUTED}: the Stages tab has a problem")
    assert not sync(backend)[0]  # and says it once


def test_workbook_charts_are_native_and_redrawn_not_piled_up(tmp_path):
    backend = make_backend("workbook", tmp_path)
    sync(backend)
    human_edit(backend, LEADS.name, won_first_lead)
    sync(backend, NOW + timedelta(minutes=5))
    wb = load_workbook(tmp_path / "crm.xlsx")
    ws = wb["Dashboard"]
    assert len(ws._charts) == 3
    at = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
    assert ws.cell(at["Win rate"], 3).number_format == "0.00%"
    assert ws.cell(at["Won value"], 3).number_format == '"$"#,##0'
    assert ws["C1"].number_format == "yyyy-mm-dd hh:mm"
    assert isinstance(ws.cell(at["Won value"], 3).value, int)


def test_google_charts_are_added_once_then_only_refreshed():
    backend = make_backend("google", None)
    sync_once(backend, NOW, NOW)
    book = emulator().store[backend.id]
    for day in (24, 25):  # two more rewrites, as figures change from day to day
        human_edit(backend, LEADS.name, won_first_lead if day == 24 else lambda t: None)
        sync_once(backend, NOW.replace(day=day), NOW)
    dash = book.sheet("Dashboard")
    assert [c["spec"]["title"] for c in dash.charts] == TITLES
    assert sum("addChart" in request for request in book.log) == 3
    percent = [
        f["range"]
        for f in dash.formats
        if f.get("cell", {}).get("userEnteredFormat", {}).get("numberFormat", {}).get("type")
        == "PERCENT"
    ]
    assert percent
    win_rate = backend.read().table("Dashboard").rows[5]
    assert win_rate[0] == "Win rate" and win_rate[2] == "0.571429"  # sent as a number: 4 / 7


def test_google_leaves_a_persons_chart_alone():
    backend = make_backend("google", None)
    book = emulator().store[backend.id]
    dash = book.sheet("Dashboard")
    mine = {
        "chartId": 77,
        "spec": {"title": "My own chart", "basicChart": {"chartType": "BAR"}},
        "position": {"overlayPosition": {"anchorCell": {"sheetId": dash.sheet_id}}},
    }
    dash.charts.append(mine)
    sync_once(backend, NOW, NOW)
    assert [c["spec"]["title"] for c in dash.charts] == ["My own chart", *TITLES]
    assert dash.charts[0] == mine


def test_google_leaves_no_old_figure_beside_a_narrower_tab():
    backend = make_backend("google", None)
    sync_once(backend, NOW, NOW)
    funnel = emulator().store[backend.id].sheet("Funnel")
    assert len(funnel.values()[3]) == 12  # the funnel's header row, as wide as it is
    break_stages(backend)
    sync_once(backend, NOW, NOW)
    assert all(len(row) <= 5 for row in funnel.values()), funnel.values()[:4]


def _setting(key: str, value: str):
    def edit(table) -> None:
        for row in table.rows:
            if row[table.col("Key")] == key:
                row[table.col("Value")] = value

    return edit


def test_period_and_target_come_from_settings(tmp_path):
    backend = make_backend("memory", tmp_path)
    human_edit(backend, "Settings", _setting("Metrics period", "last 30 days"))
    human_edit(backend, "Settings", _setting("Pipeline target", "2,000,000"))
    sync(backend)
    dash = rows(backend, "Dashboard")
    assert dash["Dashboard"][3:5] == ["Period", "last 30 days, from 2026-10-24"]
    pipeline = float(dash["Pipeline value"][1])
    assert float(dash["Pipeline coverage"][1]) == pytest.approx(pipeline / 2_000_000, abs=1e-4)


def test_a_bad_metrics_period_is_a_problem_and_the_tabs_say_so(tmp_path):
    backend = make_backend("memory", tmp_path)
    human_edit(backend, "Settings", _setting("Metrics period", "fortnight"))
    plan, _ = sync(backend)
    found = [p for p in plan.problems if p.tab == "Settings"]
    assert [p.problem for p in found] == ["Metrics period: unknown metrics period 'fortnight'"]
    assert "metrics" in plan.summary.frozen
    funnel = backend.read().table("Funnel")
    assert funnel.rows[1][0].startswith(NOT_COMPUTED)


def test_workbook_charts_survive_a_write_that_leaves_the_metrics_alone(tmp_path):
    backend = make_backend("workbook", tmp_path)
    sync(backend)
    touched = {r[1].strip().casefold() for r in backend.read().table("Activities").rows}

    def spoil_an_untouched_email(t: Table) -> None:
        # a lead no activity names: its touches, and so the follow-up figures, stay the same
        email = t.col("Email")
        row = next(r for r in t.rows if r[email].strip().casefold() not in touched)
        row[email] = "nope"

    human_edit(backend, LEADS.name, spoil_an_untouched_email)
    plan, report = sync(backend)
    assert report.written and "Dashboard" not in plan.replace
    assert len(load_workbook(tmp_path / "crm.xlsx")["Dashboard"]._charts) == 3
