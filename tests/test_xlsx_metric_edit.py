"""Metric tabs written in place (xlsx_metric_edit.py) against the openpyxl path.

Random figures, formats and chart ranges go through both paths, on two copies of one
workbook whose metric tabs the openpyxl path created, and every cell is read back by both
readers and compared with its type, number format and fill, and every chart as openpyxl
loads it (kind, title, anchor, the ranges of its series and labels)."""

from __future__ import annotations

import random
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.backends.xlsx_parts import sheet_parts
from sheetcrm.backends.xlsx_read import read_tabs
from sheetcrm.backends.xlsx_read_openpyxl import read_tabs_openpyxl
from sheetcrm.engine.changes import CellUpdate, Changes
from sheetcrm.engine.metric_grid import Chart, MetricTab
from sheetcrm.engine.plan import resolve
from sheetcrm.engine.schema import DASHBOARD, FUNNEL, LEADS
from sheetcrm.engine.sync import plan_sync
from test_workbook import leads_row
from test_xlsx_edit import VALUES, cells, pair, random_changes

__all__ = ["pair"]  # the fixture, shared with test_xlsx_edit.py

FIGURES = ["", "", "money", "leads", "percent", "days", "count", "ratio"]  # datetime: the stamp
NUMBERS = ["0", "1", "2", "17", "0.25", "1250.5", "-3", "no data", "Won", ""]
STAMPS = ["2026-01-31 09:30", "2026-01-31 09:30:15", "2026-10-25 02:30+01:00", "today"]


def random_metric(rng: random.Random, name: str, charts: int) -> MetricTab:
    """A metric tab as metric_grid.Grid builds one: a title row, blocks of figures, each
    figure with its kind's format, and ``charts`` charts over random blocks."""
    width = rng.randint(3, 6)
    header = [name, "As of", rng.choice(STAMPS), "Period", "last 30 days"][:width]
    header += [""] * (width - len(header))
    rows = []
    for _ in range(rng.randint(4, 40)):
        label = rng.choice(["Stage", "Owner", "", *VALUES[:8]])
        rows.append([label, *(rng.choice(NUMBERS + VALUES[:12]) for _ in range(width - 1))])
    formats = {(0, 2): "datetime"}
    for r, row in enumerate(rows, start=1):
        for c, text in enumerate(row):
            figure = rng.choice(FIGURES)
            if figure and text not in ("", "no data"):
                formats[(r, c)] = figure
    drawn = []
    for i in range(charts):
        head = rng.randrange(len(rows) - 2)
        last = rng.randint(head + 1, len(rows))
        series = tuple(range(1, rng.randint(2, width)))
        drawn.append(Chart(f"Chart {i}", rng.choice(["column", "line"]), head, last, 0, series,
                           (2 + 18 * i, 7)))  # fmt: skip
    return MetricTab(header, rows, formats, drawn, rng.choice(["USD", "EUR", "XYZ"]))


def metric_changes(rng: random.Random, backend: WorkbookBackend) -> Changes:
    snapshot = backend.read()
    changes = random_changes(rng, snapshot.tabs, snapshot.version)
    changes.replace[DASHBOARD.name] = random_metric(rng, DASHBOARD.name, 3)
    if rng.random() < 0.7:
        changes.replace[FUNNEL.name] = random_metric(rng, FUNNEL.name, 0)
    return changes


def charts(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every chart openpyxl loads, by tab: what it draws, from where, and where it stands."""
    found = {}
    for ws in load_workbook(path).worksheets:
        found[ws.title] = [
            (
                chart.tagname,
                chart.title.tx.rich.p[0].r[0].t if chart.title else None,
                (chart.anchor._from.row, chart.anchor._from.col),
                chart.width,
                chart.height,
                [
                    (s.val.numRef.f, s.tx.strRef.f, (s.cat.numRef or s.cat.strRef).f)
                    for s in chart.series
                ],
            )
            for chart in ws._charts
        ]
    return found


def both(pair: tuple[WorkbookBackend, WorkbookBackend], seed: int) -> random.Random:
    """The pair with their metric tabs created (through openpyxl: tabs to create)."""
    rng = random.Random(seed)
    for backend in pair:
        rng.seed(seed)
        version = backend.read().version
        backend.write(
            Changes(
                version,
                replace={
                    DASHBOARD.name: random_metric(rng, DASHBOARD.name, 3),
                    FUNNEL.name: random_metric(rng, FUNNEL.name, 0),
                },
            )
        )
        assert backend.last_write.startswith("openpyxl")
    return rng


def assert_same(direct: Path, through: Path) -> None:
    assert read_tabs(direct) == read_tabs(through)
    assert read_tabs_openpyxl(direct) == read_tabs_openpyxl(through)
    assert cells(direct) == cells(through)
    assert charts(direct) == charts(through)


@pytest.mark.parametrize("seed", range(5))
def test_random_figures_read_back_the_same_through_both_paths(
    pair: tuple[WorkbookBackend, WorkbookBackend], seed: int
) -> None:
    direct, through = pair
    rng = both(pair, seed)
    assert_same(direct.path, through.path)
    for _ in range(3):
        state = rng.getstate()
        for backend in (direct, through):
            rng.setstate(state)  # the same changes for both
            backend.write(metric_changes(rng, backend))
        assert direct.last_write == "in place"
        assert_same(direct.path, through.path)


def test_figures_that_keep_their_places_leave_the_charts_untouched(
    pair: tuple[WorkbookBackend, WorkbookBackend],
) -> None:
    direct, _ = pair
    both(pair, 7)
    before = _members(direct.path)
    tab = MetricTab(**vars(random_metric(random.Random(7), DASHBOARD.name, 3)))
    tab.rows = [[row[0], *("42" for _ in row[1:])] for row in tab.rows]
    direct.write(Changes(direct.read().version, replace={DASHBOARD.name: tab}))
    assert direct.last_write == "in place"
    changed = {n for n, data in _members(direct.path).items() if before.get(n) != data}
    with zipfile.ZipFile(direct.path) as zf:
        dashboard = sheet_parts(zf)[DASHBOARD.name]
    assert dashboard in changed
    assert changed <= {dashboard, "xl/styles.xml"}  # the drawing and its charts as they were
    assert any(n.startswith("xl/charts/") for n in before)


def test_what_a_metric_tab_cannot_do_in_place_goes_through_openpyxl(
    pair: tuple[WorkbookBackend, WorkbookBackend],
) -> None:
    direct, _ = pair
    rng = both(pair, 3)
    wb = load_workbook(direct.path)
    wb[FUNNEL.name].column_dimensions["A"].width = 10  # a person narrowed it
    wb.save(direct.path)
    direct.write(Changes(direct.read().version, replace={FUNNEL.name: random_metric(rng, "F", 0)}))
    assert direct.last_write == "openpyxl: a metric tab's column widths to set"
    tab = random_metric(rng, DASHBOARD.name, 2)
    direct.write(Changes(direct.read().version, replace={DASHBOARD.name: tab}))
    assert direct.last_write == "openpyxl: a metric tab's charts to add or remove"
    assert len(load_workbook(direct.path)[DASHBOARD.name]._charts) == 2


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def test_a_sync_after_one_edit_writes_its_figures_in_place_as_openpyxl_would(
    pair: tuple[WorkbookBackend, WorkbookBackend],
) -> None:
    direct, through = pair
    now = datetime(2026, 3, 2, 9, 0)
    people = [
        leads_row(**{"First name": f"P{n}", "Email": f"p{n}@example.com", "Amount": str(n * 100)})
        for n in range(1, 30)
    ]
    for backend in pair:
        backend.write(Changes(backend.read().version, appends={LEADS.name: people}))
        snapshot = backend.read()
        backend.write(resolve(plan_sync(snapshot, now), snapshot).changes)  # the first sync
        snapshot = backend.read()
        stage = snapshot.tabs[LEADS.name].header.index("Stage")
        edit = [CellUpdate(LEADS.name, 3, stage, "Won")]  # as a person moves a lead
        backend.write(Changes(snapshot.version, cells=edit))
        snapshot = backend.read()
        changes = resolve(plan_sync(snapshot, now + timedelta(hours=1)), snapshot).changes
        assert DASHBOARD.name in changes.replace  # the figures changed
        backend.write(changes)
    assert direct.last_write == "in place"
    assert through.last_write == "openpyxl"
    assert_same(direct.path, through.path)
