"""The workbook backend on real .xlsx files: typed round trips, safety refusals, provisioning."""

from __future__ import annotations

import gc
import os
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.writer.excel import ExcelWriter

from sheetcrm.backends import xlsx_formulas, xlsx_save
from sheetcrm.backends.base import StaleSnapshotError
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.backends.workbook_cells import METRIC_TABS
from sheetcrm.backends.xlsx_safety import risky_content
from sheetcrm.engine.changes import CellUpdate, Changes
from sheetcrm.engine.schema import HISTORY, LEADS, STATE, TABS
from sheetcrm.engine.table import Table
from sheetcrm.engine.values import MAX_CELL, clamp
from sheetcrm.errors import BackendError, SheetLockedError, UnsafeWorkbookError

# --- helpers -----------------------------------------------------------------------------


def make_xlsx(path: Path, tabs: dict[str, list[list[object]]]) -> Path:
    """A workbook as a person's spreadsheet program would leave it (plain openpyxl values)."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in tabs.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def rewrite_zip(path: Path, add: dict[str, bytes] = {}, edit: dict[str, tuple[str, str]] = {}):  # noqa: B006
    """Add parts to the package, or replace text in its parts: content openpyxl cannot make."""
    with zipfile.ZipFile(path) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    for name, (old, new) in edit.items():
        # an empty value is "<v />" from the standard library's XML writer, "<v></v>" from lxml
        pattern = re.escape(old).replace(re.escape("<v />"), r"<v(?:\s*/>|></v>)").encode()
        parts[name], count = re.subn(pattern, lambda _, new=new: new.encode(), parts[name])
        assert count, f"{old!r} not in {name}"
    parts.update(add)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)


def give_result(path: Path, tab: str, ref: str, kind: str, text: str) -> None:
    """Give the formula at ``tab!ref`` the result Excel would have cached (type ``kind``):
    openpyxl cannot compute, and saves formulas without one."""
    part = f"xl/worksheets/sheet{load_workbook(path).sheetnames.index(tab) + 1}.xml"
    with zipfile.ZipFile(path) as zf:
        xml = zf.read(part).decode()
    cell = re.search(rf'<c r="{ref}"([^>]*)>(<f>[^<]*</f>)<v(?:\s*/>|></v>)</c>', xml)
    assert cell, f"no formula without a result at {tab}!{ref}"
    typed = "" if kind == "n" else f' t="{kind}"'
    rewrite_zip(
        path, edit={part: (cell[0], f'<c r="{ref}"{cell[1]}{typed}>{cell[2]}<v>{text}</v></c>')}
    )


def with_chart(path: Path, tab: str) -> Path:
    wb = Workbook()
    wb.active.title = "Leads"
    wb["Leads"].append(["Lead ID", "Amount"])
    wb["Leads"].append(["L1", 10])
    if tab != "Leads":
        wb.create_sheet(tab).append(["Stage", "Leads"])
    ws = wb[tab]
    ws.append(["New", 3])
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=2), titles_from_data=True)
    ws.add_chart(chart, "E2")
    wb.save(path)
    return path


def template() -> dict[str, Table]:
    tabs = {t.name: Table(list(t.headers)) for t in TABS}
    tabs["Stages"].rows = [["New", "open", "10", "7", ""], ["Won", "won", "100", "", ""]]
    tabs["Team"].rows = [["Ana", "ana@example.com", "Sales", "yes", "1", "", "", "", ""]]
    return tabs


@pytest.fixture
def book(tmp_path: Path) -> WorkbookBackend:
    backend = WorkbookBackend(tmp_path / "crm.xlsx")
    backend.provision(template())
    return backend


def leads_row(**values: str) -> list[str]:
    return [values.get(h, "") for h in LEADS.headers]


# --- reading -----------------------------------------------------------------------------


def test_read_turns_every_cell_into_canonical_text(tmp_path: Path) -> None:
    path = make_xlsx(
        tmp_path / "people.xlsx",
        {
            "Leads": [
                ["Name", "Amount", "When", "Active", None],
                ["Ana", 3.0, datetime(2026, 1, 31, 9, 30), True, "beyond the header"],
                ["Bo", 0.1, date(2026, 2, 1)],
                [None, None, None, None, "ignored too"],
                [None, "", None],
            ],
            "Empty": [],
        },
    )
    snapshot = WorkbookBackend(path).read()
    assert snapshot.tabs["Leads"] == Table(
        ["Name", "Amount", "When", "Active"],
        [
            ["Ana", "3", "2026-01-31 09:30", "TRUE"],
            ["Bo", "0.1", "2026-02-01", ""],
        ],
    )
    assert snapshot.tabs["Empty"] == Table([])
    assert snapshot.version == WorkbookBackend(path).version()


def test_read_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="no workbook at") as missing:
        WorkbookBackend(tmp_path / "nope.xlsx").read()
    assert "sheetcrm init --sheet" in missing.value.hint
    garbage = tmp_path / "garbage.xlsx"
    garbage.write_text("not a zip")
    with pytest.raises(BackendError, match=r"garbage\.xlsx is not a readable \.xlsx"):
        WorkbookBackend(garbage).read()
    with pytest.raises(BackendError, match=r"not an \.xlsx") as csv:
        WorkbookBackend(tmp_path / "leads.csv")
    assert "sheetcrm import" in csv.value.hint
    with pytest.raises(BackendError) as xls:
        WorkbookBackend(tmp_path / "old.xls")
    assert "save it as .xlsx" in xls.value.hint


def test_formula_shows_its_cached_value_and_survives_a_write(tmp_path: Path) -> None:
    path = make_xlsx(
        tmp_path / "f.xlsx",
        {
            "Leads": [
                ["Lead ID", "Amount", "Weighted", "=2026", "Note"],
                ["L1", 100, "=B2*2", None, "=typed, not a formula"],
                ["L2", 5, "=B3*2"],
            ]
        },
    )
    wb = load_workbook(path)
    wb["Leads"]["D2"] = ArrayFormula("D2:D2", "=SUM(B2:B3)")
    wb["Leads"]["E2"].data_type = "s"  # what a person typed as text, as sheetcrm writes it
    wb.save(path)
    # openpyxl cannot compute; give formulas the results Excel would have cached.
    sheet = "xl/worksheets/sheet1.xml"
    rewrite_zip(path, edit={sheet: ("<f>B2*2</f><v />", "<f>B2*2</f><v>200</v>")})
    rewrite_zip(path, edit={sheet: ("<f>2026</f><v />", "<f>2026</f><v>2026</v>")})
    backend = WorkbookBackend(path)
    snapshot = backend.read()
    leads = snapshot.tabs["Leads"]
    assert leads.header == ["Lead ID", "Amount", "Weighted", "2026", "Note"]
    assert leads.rows == [
        ["L1", "100", "200", "", "=typed, not a formula"],
        ["L2", "5", "", "", ""],
    ]
    backend.write(Changes(snapshot.version, cells=[CellUpdate("Leads", 0, 1, "150")]))
    # and through a fresh backend, which loads the workbook itself instead of reusing it
    fresh = WorkbookBackend(path)
    fresh.write(Changes(fresh.version(), cells=[CellUpdate("Leads", 1, 1, "6")]))
    ws = load_workbook(path)["Leads"]
    assert (ws["B2"].value, ws["C2"].value, ws["C3"].value, ws["D1"].value) == (
        150,
        "=B2*2",
        "=B3*2",
        "=2026",
    )
    assert (ws["B3"].value, ws["D2"].value.text, ws["E2"].data_type) == (6, "=SUM(B2:B3)", "s")


def test_formulas_keep_what_they_show_after_sheetcrm_writes(book: WorkbookBackend) -> None:
    industry = get_column_letter(LEADS.headers.index("Industry") + 1)
    snapshot = book.read()
    book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Company="Acme")]}))
    wb = load_workbook(book.path)
    wb["Leads"][f"{industry}2"] = '=IF(1,"SaaS","")'
    wb["Leads"]["ZZ1"] = "=1=1"  # outside the table: kept all the same
    wb["Leads"]["ZZ2"] = "=NA()"
    wb["Scoring"].append(["Big deals", "Amount", "at least", "=5000*2", "=10*2"])
    wb.save(book.path)
    give_result(book.path, "Leads", f"{industry}2", "str", "SaaS")
    give_result(book.path, "Leads", "ZZ1", "b", "1")
    give_result(book.path, "Leads", "ZZ2", "e", "#N/A")
    give_result(book.path, "Scoring", "D2", "str", "10000")  # a formula may show text
    give_result(book.path, "Scoring", "E2", "n", "20")
    for n in range(2):  # the next write finds them again, and keeps them again
        snapshot = book.read()
        assert snapshot.tabs["Leads"].records()[0]["Industry"] == "SaaS"
        assert snapshot.tabs["Scoring"].rows[-1][3:5] == ["10000", "20"]
        book.write(Changes(snapshot.version, cells=[CellUpdate("Leads", 0, 0, f"L{n}")]))
    # and through a fresh backend, which loads the workbook itself instead of reusing it
    fresh = WorkbookBackend(book.path)
    fresh.write(Changes(fresh.version(), cells=[CellUpdate("Leads", 0, 0, "L9")]))
    shown = load_workbook(book.path, data_only=True)
    assert shown["Leads"][f"{industry}2"].value == "SaaS"
    assert (shown["Leads"]["ZZ1"].value, shown["Leads"]["ZZ2"].value) == (True, "#N/A")
    assert (shown["Scoring"]["D2"].value, shown["Scoring"]["E2"].value) == ("10000", 20)
    wb = load_workbook(book.path)
    assert wb["Leads"][f"{industry}2"].value == '=IF(1,"SaaS","")'
    assert wb["Leads"]["A2"].value == "L9"
    assert wb.calculation.fullCalcOnLoad  # Excel and LibreOffice calculate them again


def test_a_formula_overwritten_by_sheetcrm_loses_its_result(book: WorkbookBackend) -> None:
    snapshot = book.read()
    book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Company="Acme")]}))
    wb = load_workbook(book.path)
    wb["Leads"]["A2"] = '="L"&1'
    wb.save(book.path)
    give_result(book.path, "Leads", "A2", "str", "L1")
    snapshot = book.read()
    book.write(Changes(snapshot.version, cells=[CellUpdate("Leads", 0, 0, "L-00001")]))
    cell = load_workbook(book.path)["Leads"]["A2"]
    assert (cell.value, cell.data_type) == ("L-00001", "s")


def test_a_result_that_cannot_be_put_back_stops_the_write(
    book: WorkbookBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    book.in_place = False  # openpyxl's save drops results; in place keeps them as they are
    wb = load_workbook(book.path)
    wb["Stages"]["C2"] = "=5*2"
    wb.save(book.path)
    give_result(book.path, "Stages", "C2", "n", "10")
    snapshot = book.read()
    saved = book.path.read_bytes()
    # as if a new openpyxl wrote formulas in another form
    monkeypatch.setattr(xlsx_formulas, "_NO_RESULT", re.compile(rb"(?!)()()()"))
    with pytest.raises(BackendError, match=r"formulas at Stages!C2 show; nothing was written"):
        book.write(Changes(snapshot.version, cells=[CellUpdate("Stages", 1, 0, "Lost")]))
    assert book.path.read_bytes() == saved
    assert os.listdir(book.path.parent) == ["crm.xlsx"]


def test_a_symlinked_workbook_is_written_where_it_lives(tmp_path: Path) -> None:
    real = tmp_path / "shared" / "crm.xlsx"
    real.parent.mkdir()
    WorkbookBackend(real).provision(template())
    link = tmp_path / "crm.xlsx"
    link.symlink_to(real)
    backend = WorkbookBackend(link)
    snapshot = backend.read()
    backend.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes="via the link")]}))
    assert link.is_symlink() and link.resolve() == real
    assert WorkbookBackend(real).read().tabs["Leads"].column("Notes") == ["via the link"]
    (real.parent / "~$crm.xlsx").write_text("someone")  # Excel has the real file open
    with pytest.raises(SheetLockedError):
        backend.write(Changes(backend.version(), appends={"Leads": [leads_row(Notes="x")]}))
    assert backend.location == str(link)  # messages name the path the user gave


def test_garbage_collection_is_paused_only_while_openpyxl_works(book: WorkbookBackend) -> None:
    snapshot = book.read()
    assert gc.isenabled()
    with pytest.raises(StaleSnapshotError):
        book.write(Changes("elsewhere", cells=[CellUpdate("Leads", 0, 0, "L1")]))
    assert gc.isenabled()
    gc.disable()  # the caller's choice stands
    try:
        book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes="x")]}))
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- writing -----------------------------------------------------------------------------

TYPED = {
    "Lead ID": "L-00123",
    "Created at": "2026-01-31 09:30",
    "Phone": "0612345678",
    "Company": "00123",
    "Amount": "1250.5",
    "Score": "42",
    "Next action date": "2026-02-01",
    "Last contact": "2026-02-01 14:05:09",
    "Assigned at": "2026-01-31 00:00",  # not canonical (midnight is "2026-01-31"): stays text
    "Closed at": "31/01/2026",
    "Notes": "1e5",
}


def test_typed_cells_read_back_identical(book: WorkbookBackend) -> None:
    snapshot = book.read()
    book.write(Changes(snapshot.version, appends={"Leads": [leads_row(**TYPED)]}))
    assert book.read().tabs["Leads"].records() == [dict.fromkeys(LEADS.headers, "") | TYPED]
    ws = load_workbook(book.path)["Leads"]
    stored = {ws.cell(1, c).value: ws.cell(2, c) for c in range(1, ws.max_column + 1)}
    assert stored["Amount"].value == 1250.5 and stored["Score"].value == 42
    assert stored["Created at"].value == datetime(2026, 1, 31, 9, 30)
    assert stored["Created at"].number_format == "yyyy-mm-dd hh:mm"
    assert stored["Next action date"].number_format == "yyyy-mm-dd"
    for text_column in ("Phone", "Company", "Assigned at", "Closed at", "Notes"):
        assert stored[text_column].data_type == "s", text_column


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://x")', "=1+1", "+33 6 12", "@SUM(A1)", "-1+2", "#N/A"]
)
@pytest.mark.parametrize("column", ["Notes", "Amount"])
def test_text_that_looks_like_a_formula_stays_text(
    book: WorkbookBackend, text: str, column: str
) -> None:
    snapshot = book.read()
    col = LEADS.headers.index(column)
    book.write(Changes(snapshot.version, appends={"Leads": [leads_row(**{column: text})]}))
    cell = load_workbook(book.path)["Leads"].cell(2, col + 1)
    assert (cell.value, cell.data_type) == (text, "s")
    assert book.read().tabs["Leads"].rows[0][col] == text


def test_empty_changes_leave_the_file_alone(book: WorkbookBackend) -> None:
    snapshot = book.read()
    before = os.stat(book.path).st_mtime_ns
    book.write(Changes(snapshot.version, appends={"Leads": []}, new_columns={"Leads": []}))
    assert os.stat(book.path).st_mtime_ns == before


def test_stale_snapshot_writes_nothing(book: WorkbookBackend) -> None:
    snapshot = book.read()
    wb = load_workbook(book.path)  # a person saves in the meantime
    wb["Leads"]["A2"] = "typed by a person"
    wb.save(book.path)
    saved = book.path.read_bytes()
    with pytest.raises(StaleSnapshotError):
        book.write(Changes(snapshot.version, cells=[CellUpdate("Leads", 0, 0, "L1")]))
    assert book.path.read_bytes() == saved


@pytest.mark.parametrize("lock", ["~$crm.xlsx", ".~lock.crm.xlsx#"])
def test_a_lock_file_stops_writes_and_provisioning(book: WorkbookBackend, lock: str) -> None:
    snapshot = book.read()
    saved = book.path.read_bytes()
    (book.path.parent / lock).write_text("someone")
    with pytest.raises(SheetLockedError, match=lock.replace("$", r"\$")) as refused:
        book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes="x")]}))
    assert "close it in Excel/LibreOffice, then run the sync again" in refused.value.hint
    with pytest.raises(SheetLockedError):
        book.provision(template(), force=True)
    assert book.path.read_bytes() == saved


def test_behaves_like_the_memory_backend(book: WorkbookBackend) -> None:
    seed = book.read()
    memory = MemoryBackend(seed.tabs)

    def changes(version: str) -> Changes:
        return Changes(
            version,
            new_columns={"Leads": ["Region"]},
            cells=[CellUpdate("History", 0, 6, "fixed"), CellUpdate("Stages", 1, 2, "95")],
            appends={
                "Leads": [[*leads_row(**{"Lead ID": "L1", "Amount": "10"}), "EMEA"], ["L2"]],
                "History": [["2026-01-31 09:00", "L1", "Stage", "", "New", "sheetcrm"]],
            },
            replace={
                STATE.name: Table(["Key", "Value"], [["next_id", "3"]]),
                "Funnel": Table(["Stage", "Leads", "Share"], [["New", "2", "0.5"]]),
                "Team": Table(["Name"], [["Bo"]]),
            },
        )

    with pytest.raises(BackendError, match="outside the table"):
        book.write(changes(seed.version))  # History has no row 0 yet: positions are checked
    memory.tabs["History"].rows.append(["2026-01-30", "L0", "Stage", "", "New", "sheetcrm", ""])
    book.write(Changes(seed.version, appends={"History": [memory.tabs["History"].rows[0]]}))
    ours = book.read()
    book.write(changes(ours.version))
    memory.write(changes(memory.version()))
    assert book.read().tabs == memory.read().tabs
    wb = load_workbook(book.path)
    assert wb[STATE.name].sheet_state == "hidden"
    assert wb["Funnel"]["B2"].value == 2  # numbers on metric tabs stay numbers, for charts


def test_merged_cells_are_refused_with_a_hint(book: WorkbookBackend) -> None:
    wb = load_workbook(book.path)
    wb["Stages"].merge_cells("A2:B2")
    wb.save(book.path)
    snapshot = book.read()
    with pytest.raises(BackendError, match=r"Stages!B2 is inside merged cells"):
        book.write(Changes(snapshot.version, cells=[CellUpdate("Stages", 0, 1, "open")]))
    assert os.listdir(book.path.parent) == ["crm.xlsx"]


def test_no_temporary_file_is_left_behind(book: WorkbookBackend) -> None:
    for n in range(3):
        snapshot = book.read()
        book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes=str(n))]}))
    assert os.listdir(book.path.parent) == ["crm.xlsx"]
    assert book.read().tabs["Leads"].column("Notes") == ["0", "1", "2"]


def test_a_failed_save_leaves_the_workbook_untouched(
    book: WorkbookBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    book.in_place = False  # openpyxl's save fails here; tests/test_xlsx_edit.py: in place
    snapshot = book.read()
    saved = book.path.read_bytes()
    write_data = ExcelWriter.write_data

    def half_then_fail(writer: ExcelWriter) -> None:
        writer._write_worksheets()  # some parts are in the zip already
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ExcelWriter, "write_data", half_then_fail)
    with pytest.raises(BackendError, match="No space left on device"):
        book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes="x")]}))
    assert book.path.read_bytes() == saved
    assert os.listdir(book.path.parent) == ["crm.xlsx"]
    monkeypatch.setattr(ExcelWriter, "write_data", write_data)
    book.write(Changes(book.read().version, appends={"Leads": [leads_row(Notes="x")]}))
    assert book.read().tabs["Leads"].column("Notes") == ["x"]


def test_a_save_by_a_person_while_sheetcrm_writes_wins(
    book: WorkbookBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    book.in_place = False  # a person saves during openpyxl's save; test_xlsx_edit.py: in place
    snapshot = book.read()
    theirs = book.path.with_name("theirs.xlsx")
    wb = load_workbook(book.path)
    wb["Leads"].append(leads_row(Notes="typed by a person"))
    wb.save(theirs)
    write_data = ExcelWriter.write_data

    def person_saves_meanwhile(writer: ExcelWriter) -> None:
        write_data(writer)
        os.replace(theirs, book.path)  # as Excel saves: a new file in its place

    monkeypatch.setattr(ExcelWriter, "write_data", person_saves_meanwhile)
    with pytest.raises(StaleSnapshotError, match="changed while sheetcrm was writing"):
        book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes="ours")]}))
    assert book.read().tabs["Leads"].column("Notes") == ["typed by a person"]
    assert os.listdir(book.path.parent) == ["crm.xlsx"]


def test_cells_sheetcrm_writes_in_its_columns_are_grey(book: WorkbookBackend) -> None:
    snapshot = book.read()
    row = leads_row(**{"Lead ID": "L-00001", "Company": "Acme", "Score": "42"})
    history = ["2026-01-31 09:00", "L-00001", "Stage", "", "New", "sheetcrm", "why"]
    book.write(Changes(snapshot.version, appends={"Leads": [row], "History": [history]}))
    snapshot = book.read()
    score = LEADS.headers.index("Score")
    book.write(Changes(snapshot.version, cells=[CellUpdate("Leads", 0, score, "50")]))
    wb = load_workbook(book.path)
    leads = {h: wb["Leads"].cell(2, c) for c, h in enumerate(LEADS.headers, start=1)}
    for header in ("Lead ID", "Score"):  # the service's columns
        assert leads[header].fill.fgColor.rgb == "00F2F2F2", header
    assert leads["Company"].fill.fill_type is None  # a person's column
    assert all(c.fill.fgColor.rgb == "00F2F2F2" for c in wb["History"][2] if c.value)


def test_text_over_the_cell_limit_is_cut_as_the_sync_cuts(book: WorkbookBackend) -> None:
    snapshot = book.read()
    long = "x" * 40_000
    book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes=long)]}))
    notes = book.read().tabs["Leads"].column("Notes")[0]
    assert notes == clamp(long) and len(notes) == MAX_CELL
    assert notes.endswith("x… [7,257 characters cut]")


def test_appending_to_a_deleted_tab_creates_it(book: WorkbookBackend) -> None:
    wb = load_workbook(book.path)
    del wb[HISTORY.name]
    wb.save(book.path)
    snapshot = book.read()
    row = ["2026-01-31 09:00", "L1", "Stage", "", "New", "sheetcrm", "first sync"]
    book.write(Changes(snapshot.version, appends={HISTORY.name: [row]}))
    assert book.read().tabs[HISTORY.name] == Table(HISTORY.headers, [row])
    history = load_workbook(book.path)[HISTORY.name]
    assert history.freeze_panes == "A2" and history["A1"].font.b  # dressed like a new tab
    with pytest.raises(BackendError, match="no tab named 'Notes'"):  # no header to give it
        book.write(Changes(book.version(), appends={"Notes": [["x"]]}))


# --- what openpyxl would destroy ---------------------------------------------------------


def test_a_chart_on_a_persons_tab_is_never_rewritten(tmp_path: Path) -> None:
    backend = WorkbookBackend(with_chart(tmp_path / "chart.xlsx", "Leads"))
    snapshot = backend.read()
    saved = backend.path.read_bytes()
    with pytest.raises(UnsafeWorkbookError, match="a chart on tab 'Leads'") as refused:
        backend.write(Changes(snapshot.version, cells=[CellUpdate("Leads", 0, 1, "20")]))
    assert "nothing was written" in refused.value.message
    assert "another workbook" in refused.value.hint
    assert backend.path.read_bytes() == saved


def test_a_chart_on_a_metric_tab_is_ours_to_redraw(tmp_path: Path) -> None:
    backend = WorkbookBackend(with_chart(tmp_path / "chart.xlsx", "Dashboard"))
    snapshot = backend.read()
    backend.write(Changes(snapshot.version, cells=[CellUpdate("Leads", 0, 1, "20")]))
    assert backend.read().tabs["Leads"].rows == [["L1", "20"]]
    assert "xl/charts/chart1.xml" in zipfile.ZipFile(backend.path).namelist()


def test_a_picture_is_refused_even_on_a_metric_tab(tmp_path: Path) -> None:
    path = with_chart(tmp_path / "picture.xlsx", "Dashboard")
    image = '<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="/xl/media/image1.png"/></Relationships>'  # noqa: E501
    rewrite_zip(
        path,
        add={"xl/media/image1.png": b"\x89PNG\r\n\x1a\n"},
        edit={"xl/drawings/_rels/drawing1.xml.rels": ("</Relationships>", image)},
    )
    picture = "a picture on tab 'Dashboard' (xl/media/image1.png)"
    assert risky_content(path, redrawn=METRIC_TABS) == [picture]
    assert risky_content(path) == ["a chart on tab 'Dashboard' (xl/charts/chart1.xml)", picture]


@pytest.mark.parametrize(
    ("part", "what"),
    [
        ("xl/vbaProject.bin", "macros (VBA)"),
        ("xl/embeddings/oleObject1.bin", "an embedded object"),
        ("xl/pivotCache/pivotCacheDefinition1.xml", "a pivot table's data cache"),
        ("xl/pivotTables/pivotTable1.xml", "a pivot table"),
        ("xl/slicers/slicer1.xml", "a slicer"),
        ("xl/timelines/timeline1.xml", "a timeline"),
        ("xl/threadedComments/threadedComment1.xml", "threaded comments"),
        ("xl/persons/person.xml", "the people of threaded comments"),
        ("xl/connections.xml", "a data connection"),
        ("xl/queryTables/queryTable1.xml", "a query table"),
        ("customXml/item1.xml", "custom XML data"),
        ("xl/model/item.data", "a data model (Power Pivot)"),
        ("xl/metadata.xml", "dynamic array formulas or data types"),
        ("xl/richData/richValue.xml", "pictures in cells or data types"),
        ("xl/something/new.xml", "content openpyxl does not keep"),  # whatever it is
    ],
)
def test_content_openpyxl_drops_is_refused(book: WorkbookBackend, part: str, what: str) -> None:
    snapshot = book.read()
    rewrite_zip(book.path, add={part: b"<x/>"})
    snapshot.version = book.version()
    saved = book.path.read_bytes()
    with pytest.raises(UnsafeWorkbookError, match=re.escape(f"{what} in the workbook ({part})")):
        book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes="x")]}))
    assert book.path.read_bytes() == saved


def test_a_form_control_in_a_notes_drawing_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.xlsx"
    wb = Workbook()
    wb.active["A1"].comment = Comment("a note", "Ana")
    wb.save(path)
    assert risky_content(path) == []
    with zipfile.ZipFile(path) as zf:
        vml = next(n for n in zf.namelist() if n.endswith(".vml"))
    rewrite_zip(path, edit={vml: ('ObjectType="Note"', 'ObjectType="Button"')})
    assert risky_content(path) == [f"a form control on tab 'Sheet' ({vml})"]


def test_what_a_person_does_with_openpyxl_is_accepted(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "plain.xlsx", {"Leads": [["Lead ID", "Amount", "Notes"]]})
    wb = load_workbook(path)
    ws = wb["Leads"]
    ws.append(["L1", 10, "hello"])
    ws["C2"].comment = Comment("a note", "Ana")
    dv = DataValidation(type="list", formula1='"a,b"')
    dv.add("C2:C100")
    ws.add_data_validation(dv)
    ws.conditional_formatting.add(
        "B2:B100", CellIsRule(operator="greaterThan", formula=["5"], fill=PatternFill("solid"))
    )
    wb.defined_names["amounts"] = DefinedName("amounts", attr_text="Leads!$B$2:$B$100")
    ws.freeze_panes = "A2"
    ws.column_dimensions["B"].font = Font(bold=True)
    ws.column_dimensions["C"].width = 40
    wb.save(path)
    assert risky_content(path) == []
    backend = WorkbookBackend(path)
    snapshot = backend.read()
    backend.write(Changes(snapshot.version, cells=[CellUpdate("Leads", 0, 1, "20")]))
    assert backend.read().tabs["Leads"].rows == [["L1", "20", "hello"]]
    assert load_workbook(path)["Leads"]["C2"].comment.text == "a note"


def test_what_openpyxl_warns_it_drops_is_refused(book: WorkbookBackend) -> None:
    # Excel keeps a drop-down listing another tab in a worksheet extension openpyxl drops.
    ext = '<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}"/></extLst></worksheet>'
    rewrite_zip(book.path, edit={"xl/worksheets/sheet1.xml": ("</worksheet>", ext)})
    snapshot = book.read()  # reading loses nothing, and no warning leaks out
    with pytest.raises(UnsafeWorkbookError, match="Data Validation extension") as refused:
        book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes="x")]}))
    assert "named range" in refused.value.hint


# --- provisioning ------------------------------------------------------------------------


def test_provision_builds_the_template(book: WorkbookBackend) -> None:
    wb = load_workbook(book.path)
    assert wb.sheetnames == [t.name for t in TABS]
    leads = wb["Leads"]
    assert leads.freeze_panes == "A2" and leads["A1"].font.b
    assert leads.column_dimensions["A"].width == LEADS.columns[0].width
    assert "Filled by sheetcrm" in leads["A1"].comment.text  # Lead ID: the service's
    assert wb[STATE.name].sheet_state == "hidden"
    assert wb[HISTORY.name].sheet_properties.tabColor.rgb.endswith("808080")
    lists = {str(dv.sqref): dv for dv in leads.data_validations.dataValidation}
    stage_col, owner_col = (
        get_column_letter(LEADS.headers.index(h) + 1) for h in ("Stage", "Owner")
    )
    stage, owner = (
        lists[f"{stage_col}2:{stage_col}1048576"],
        lists[f"{owner_col}2:{owner_col}1048576"],
    )
    assert (stage.formula1, stage.errorStyle) == ("sheetcrm_stages", "warning")
    assert (owner.formula1, owner.errorStyle) == ("sheetcrm_team", "warning")
    assert wb.defined_names["sheetcrm_stages"].attr_text == "'Stages'!$A$2:$A$1000"
    assert wb.defined_names["sheetcrm_team"].attr_text == "'Team'!$A$2:$A$1000"
    assert book.read().tabs == template()


def test_provision_never_overwrites_without_force(book: WorkbookBackend) -> None:
    with pytest.raises(BackendError) as refused:
        book.provision({"Leads": Table(["Lead ID"])})
    assert "--force" in refused.value.hint
    book.provision({"Leads": Table(["Lead ID"])}, force=True)
    assert book.read().tabs == {"Leads": Table(["Lead ID"])}
    assert os.listdir(book.path.parent) == ["crm.xlsx"]


def test_provision_into_a_missing_folder_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="cannot save"):
        WorkbookBackend(tmp_path / "no" / "crm.xlsx").provision(template())


def test_two_writers_that_read_the_same_version_never_both_replace(tmp_path, monkeypatch):
    """Both checked the version before either replaced the file: without one lock around
    check and replace, the second replace would silently drop the first writer's change."""
    import threading
    import time

    path = tmp_path / "crm.xlsx"
    tabs = template()
    leads = tabs["Leads"]
    leads.rows = [[f"L-0000{i}", *[""] * (len(leads.header) - 1)] for i in (1, 2)]
    WorkbookBackend(path).provision(tabs)
    writers = [WorkbookBackend(path), WorkbookBackend(path)]
    snapshots = [w.read() for w in writers]
    col = snapshots[0].table("Leads").col("Notes")
    real_replace = os.replace

    def slow_replace(src, dst):  # widen the window between the check and the replace
        time.sleep(0.3)
        real_replace(src, dst)

    monkeypatch.setattr(xlsx_save.os, "replace", slow_replace)
    outcomes: list[str] = []

    def write(i: int) -> None:
        change = Changes(snapshots[i].version, cells=[CellUpdate("Leads", i, col, f"note {i}")])
        try:
            writers[i].write(change)
            outcomes.append("written")
        except StaleSnapshotError:
            outcomes.append("stale")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["stale", "written"]
    notes = WorkbookBackend(path).read().table("Leads").column("Notes")
    assert sum(n.startswith("note ") for n in notes[:2]) == 1
