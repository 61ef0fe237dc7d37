"""python-calamine's read (xlsx_read.py) against openpyxl's (xlsx_read_openpyxl.py), every
cell of every tab: on the templates, the demo, the real-data workbooks built from
../shared/data with `sheetcrm import`, and a workbook holding what the two libraries report
differently (errors, formulas that show nothing, merged cells, dates, hidden and chart tabs)."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference

from sheetcrm.backends import xlsx_read
from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.backends.xlsx_read import read_tabs
from sheetcrm.backends.xlsx_read_openpyxl import read_tabs_openpyxl
from sheetcrm.cli import main
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.importer import map_columns, plan_import
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import a1
from sheetcrm.files.exports import read_table
from sheetcrm.files.templates import available_templates, load_template
from sheets import NOW, SHARED

XED = SHARED / "data" / "xeducation-leads" / "Leads.csv"
MAVEN = SHARED / "data" / "maven-crm" / "sales_pipeline.csv"
CLOCK = ["--now", NOW.strftime("%Y-%m-%dT%H:%M")]


def assert_same_cells(path: Path) -> int:
    """Both readers give the same tabs, in the same order, cell for cell; the cells compared."""
    expected, got = read_tabs_openpyxl(path), read_tabs(path)
    assert list(got) == list(expected), f"{path.name}: tabs differ"
    cells = 0
    for title, want in expected.items():
        have = got[title]
        assert len(have.header) == len(want.header), f"{title}: header width differs"
        assert len(have.rows) == len(want.rows), f"{title}: row count differs"
        for r, (row_have, row_want) in enumerate(
            zip([have.header, *have.rows], [want.header, *want.rows], strict=True)
        ):
            for c, (x, y) in enumerate(zip(row_have, row_want, strict=True)):
                assert x == y, f"{path.name} {a1(title, r + 1, c)}: calamine {x!r}, openpyxl {y!r}"
            cells += len(row_want)
    return cells


@pytest.mark.parametrize("template", available_templates())
def test_templates_read_the_same(tmp_path, template):
    path = tmp_path / f"{template}.xlsx"
    WorkbookBackend(path).provision(load_template(template, now=NOW))
    assert assert_same_cells(path) > 100
    assert main(["sync", "--sheet", str(path), *CLOCK]) == 0  # and as a sync leaves it
    assert assert_same_cells(path) > 100


def test_demo_reads_the_same(tmp_path):
    path = tmp_path / "demo.xlsx"
    assert main(["demo", "--sheet", str(path), *CLOCK]) == 0
    assert assert_same_cells(path) > 1000


@pytest.mark.skipif(
    not XED.exists() or not MAVEN.exists(),
    reason="../shared/data (the public CRM datasets) is not beside the repository: "
    "the real-data workbooks cannot be built",
)
@pytest.mark.parametrize(
    ("source", "maps", "add_columns"),
    [
        (XED, ["Lead Origin=Notes"], True),
        (
            MAVEN,
            [
                *("opportunity_id=Lead ID", "sales_agent=Owner", "deal_stage=Stage"),
                *("engage_date=Created at", "close_date=Closed at", "close_value=Amount"),
                *("account=Company", "product=Notes"),
            ],
            False,
        ),
    ],
    ids=["xeducation", "maven"],
)
def test_real_data_workbooks_read_the_same(tmp_path, source, maps, add_columns):
    # imported and synced as `sheetcrm import` does, in memory, then written as a workbook
    # once (through the CLI, every step would write and read it again: 30 s instead of 10)
    tabs = load_template(now=NOW)
    tabs[LEADS.name].rows.clear()
    backend = MemoryBackend(tabs)
    snapshot = backend.read()
    table = read_table(source)
    mapping = map_columns(table.header, tabs[LEADS.name].header, maps, add_columns)
    apply(
        plan_import(snapshot, table, mapping, parse_config(snapshot).settings, NOW),
        backend,
        snapshot,
    )
    snapshot = backend.read()
    apply(plan_sync(snapshot, NOW), backend, snapshot)
    path = tmp_path / "real.xlsx"
    WorkbookBackend(path).provision(backend.tabs)
    assert assert_same_cells(path) > 100_000


def odd_workbook(path: Path) -> None:
    """What openpyxl and python-calamine report differently, each in a cell."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Leads"
    ws.append(["Lead ID", "Amount", "When", None, "Flag"])  # a gap in the header
    ws.append([1, 1.5, dt.datetime(2026, 1, 31, 9, 0, 0, 500000), None, True])
    ws.append([1e20, 12345678901234567890, dt.date(2026, 1, 31), dt.time(9, 30), False])
    ws.append([0.1 + 0.2, -0.0, dt.datetime(1900, 3, 1, 12), dt.timedelta(days=1, hours=2), "  "])
    formats = {
        "A6": "hh:mm",
        "B6": "yyyy-mm-dd",
        "C6": "[h]:mm:ss",
        "D6": "0.00%",
        "E6": "dd/mm/yyyy;@",
    }
    for ref, number_format in formats.items():
        ws[ref] = 45000.25
        ws[ref].number_format = number_format
    ws["A7"] = "=1+1"  # a formula nobody calculated: shows nothing, still content
    ws["B7"] = "#N/A"  # openpyxl writes this as an error value
    ws["F1"] = "=A1"  # a header cell holding a formula that shows nothing
    ws.merge_cells("A9:C10")
    ws["A9"] = "merged"
    ws["B30"] = "=A1"  # the last row: a formula only
    ws["H40"] = "beyond the header"
    hidden = wb.create_sheet("State")
    hidden.sheet_state = "hidden"
    hidden["B2"] = "x"
    wb.create_sheet("Empty")
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=1, min_row=1, max_row=3))
    wb.create_chartsheet("Chart").add_chart(chart)
    wb.save(path)


def _edit_leads_xml(path: Path, edit) -> None:
    with zipfile.ZipFile(path) as zf:
        parts = {info.filename: zf.read(info) for info in zf.infolist()}
    parts["xl/worksheets/sheet1.xml"] = edit(parts["xl/worksheets/sheet1.xml"])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)


def test_what_the_libraries_report_differently_reads_the_same(tmp_path):
    path = tmp_path / "odd.xlsx"
    odd_workbook(path)

    def more(xml: bytes) -> bytes:
        # written by hand, as Excel or LibreOffice would: a cached error and text result, an
        # ISO date cell, rich text with a phonetic run, a value left under a merged range
        row = (
            b'<row r="8"><c r="A8" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
            b'<c r="B8" t="str"><f>"a"&amp;"b"</f><v>ab</v></c>'
            b'<c r="C8" t="d"><v>2026-01-31T09:30:00</v></c>'
            b'<c r="D8" t="inlineStr"><is><r><t>rich</t></r><r><t xml:space="preserve"> text'
            b'</t></r><rPh sb="0" eb="1"><t>PH</t></rPh></is></c></row>'
        )
        xml = re.sub(rb'<row r="9"', row + rb'<row r="9"', xml, count=1)
        return re.sub(
            rb'(<c r="A9"[^>]*>.*?</c>)',
            rb'\1<c r="B9" t="inlineStr"><is><t>under</t></is></c>',
            xml,
            count=1,
        )

    _edit_leads_xml(path, more)
    assert assert_same_cells(path) > 100
    leads = read_tabs(path)["Leads"]
    assert leads.rows[6][:4] == ["#DIV/0!", "ab", "2026-01-31 09:30", "rich text"]
    assert leads.rows[5][:2] == ["", "#N/A"] and len(leads.header) == 6
    assert leads.rows[7][:3] == ["merged", "", ""] and len(leads.rows) == 29
    assert list(read_tabs(path)) == ["Leads", "State", "Empty"]


@pytest.fixture
def openpyxl_reads(monkeypatch) -> list[Path]:
    """The files read_tabs handed to openpyxl's reader, its fallback."""
    calls: list[Path] = []
    monkeypatch.setattr(
        xlsx_read, "read_tabs_openpyxl", lambda p: calls.append(p) or read_tabs_openpyxl(p)
    )
    return calls


def test_text_with_escapes_is_read_by_openpyxl_as_before(tmp_path, openpyxl_reads):
    # python-calamine decodes "_x000D_" into a carriage return; openpyxl showed it as typed
    path = tmp_path / "escaped.xlsx"
    wb = Workbook()
    wb.active.append(["Lead ID", "Notes"])
    wb.active.append(["L-1", "line_x000D_end"])
    wb.save(path)
    assert read_tabs(path)["Sheet"].rows == [["L-1", "line_x000D_end"]]
    assert openpyxl_reads == [path]


def test_a_no_change_resync_builds_no_openpyxl_workbook(tmp_path, monkeypatch):
    path = tmp_path / "crm.xlsx"
    WorkbookBackend(path).provision(load_template(now=NOW))
    assert main(["sync", "--sheet", str(path), *CLOCK]) == 0
    before = path.stat()

    def refuse(*args, **kwargs):
        raise AssertionError("openpyxl loaded the workbook")

    monkeypatch.setattr("sheetcrm.backends.xlsx_package.load_workbook", refuse)
    assert main(["sync", "--sheet", str(path), *CLOCK]) == 0
    after = path.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)


def test_elements_with_a_prefix_are_read_by_openpyxl(tmp_path, openpyxl_reads):
    # some generators write <x:row><x:c ...>: the byte scan would not see their formulas
    path = tmp_path / "prefixed.xlsx"
    wb = Workbook()
    wb.active.append(["Lead ID", "Total"])
    wb.active.append(["L-1", "=1+1"])
    wb.save(path)
    _edit_leads_xml(
        path,
        lambda xml: re.sub(rb"<(/?)(\w+)", rb"<\1x:\2", xml).replace(b"xmlns=", b"xmlns:x=", 1),
    )
    assert read_tabs(path)["Sheet"].rows == [["L-1", ""]]  # a formula nobody calculated
    assert openpyxl_reads == [path]


def test_a_read_holds_each_distinct_text_once(tmp_path):
    # calamine makes a string per cell: one per distinct text instead, whichever tab has it
    path = tmp_path / "repeated.xlsx"
    book = Workbook()
    leads = book.active
    leads.title = "Leads"
    leads.append(["Company", "Stage"])
    for i in range(20):
        leads.append([f"Acme {i % 3}", "Qualified"])
    book.create_sheet("History").append(["Field", "To"])
    book["History"].append(["Stage", "Qualified"])
    book.save(path)
    tabs = read_tabs(path)
    cells = [c for t in tabs.values() for row in [t.header, *t.rows] for c in row]
    assert len(cells) == 46
    assert len({id(c) for c in cells}) == len(set(cells)) == 8  # "Qualified" thrice is one


def test_tabs_whose_cells_begin_away_from_a1_read_the_same(tmp_path):
    # calamine's rows are read one at a time (iter_rows), which begins at the first column
    # with content; a tab's first row and column are the sheet's, whatever is empty
    book = Workbook()
    away = book.active
    away.title = "Away"
    away["C1"], away["D1"], away["D3"], away["C5"] = "Name", "Stage", 5, dt.date(2026, 1, 2)
    ruled = book.create_sheet("Ruled")
    ruled["B1"], ruled["A2"], ruled["B4"] = "Header", "under", "=1+1"  # no cached value
    book.create_sheet("Empty")
    path = tmp_path / "away.xlsx"
    book.save(path)
    assert assert_same_cells(path) == 4 * 5 + 2 * 4
    assert read_tabs(path)["Away"].rows[1] == ["", "", "", "5"]
    assert read_tabs(path)["Away"].rows[3][2] == "2026-01-02"
