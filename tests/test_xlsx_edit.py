"""Writes in place (xlsx_edit.py) against the openpyxl path: the same cells read back.

Random changes go through both paths, on two copies of one workbook, and every cell is read
back by both readers (python-calamine and openpyxl) and compared, with the type and style
openpyxl sees in each written cell; the parts no change needs stay byte-identical."""

from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.styles import PatternFill

from sheetcrm.backends.base import StaleSnapshotError
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.backends.xlsx_read import read_tabs
from sheetcrm.backends.xlsx_read_openpyxl import read_tabs_openpyxl
from sheetcrm.backends.xlsx_zip import copy_member
from sheetcrm.engine.changes import CellUpdate, Changes
from sheetcrm.engine.schema import LEADS, NOTIFICATIONS, PROBLEMS, SETTINGS, STATE
from sheetcrm.engine.sync.tabs import LOOK_KEY, state_value
from sheetcrm.engine.table import Table
from sheetcrm.errors import BackendError
from test_workbook import book, leads_row, template

__all__ = ["book"]  # the fixture, shared with test_workbook.py

VALUES = [
    "",
    "Ana",
    "  padded  ",
    "=SUM(A1:A3)",
    "+33 6 12 34 56 78",
    "#N/A",
    "00123",
    "3",
    "12.5",
    "-0.25",
    "1234567890123",
    "0.1",
    "2026-01-31",
    "2026-01-31 09:30",
    "2026-01-31 09:30:15",
    "2026-13-01",
    "TRUE",
    "a & <b> \"c\" 'd'",
    "line\r\nbreak\ttab",
    "bell\x07 dropped",
    "\x07\x08",
    "é 漢字 🙂",
    "x" * 40_000,
]


def random_row(rng: random.Random, width: int) -> list[str]:
    return [rng.choice(VALUES) for _ in range(width)]


def random_changes(rng: random.Random, snapshot_tabs: dict[str, Table], version: str) -> Changes:
    leads = snapshot_tabs[LEADS.name]
    changes = Changes(version)
    for _ in range(rng.randint(0, 12) if leads.rows else 0):
        row, col = rng.randrange(len(leads.rows)), rng.randrange(len(leads.header))
        changes.cells.append(CellUpdate(LEADS.name, row, col, rng.choice(VALUES)))
    if rng.random() < 0.8:
        width = len(leads.header) - rng.choice([0, 0, 3])
        changes.appends[LEADS.name] = [random_row(rng, width) for _ in range(rng.randint(1, 5))]
    if rng.random() < 0.4:
        changes.replace[PROBLEMS.name] = Table(
            list(PROBLEMS.headers),
            [random_row(rng, len(PROBLEMS.headers)) for _ in range(rng.randint(0, 4))],
        )
    if rng.random() < 0.4:
        # the look key as read: a new one says the drop-downs move, which only openpyxl's
        # path puts right (test_a_new_look_key_goes_through_openpyxl)
        state = snapshot_tabs.get(STATE.name)
        look = state_value(state, LOOK_KEY) if state is not None else ""
        changes.replace[STATE.name] = Table(
            list(STATE.headers), [["next id", str(rng.randint(1, 999))], ["look", look]]
        )
    if rng.random() < 0.4:
        changes.appends[NOTIFICATIONS.name] = [random_row(rng, len(NOTIFICATIONS.headers))]
    if rng.random() < 0.4:  # a tab the look does not follow: its new columns go in place
        width = len(snapshot_tabs[NOTIFICATIONS.name].header)
        changes.new_columns[NOTIFICATIONS.name] = [f"Extra {width + i}" for i in range(2)]
    return changes


def cells(path: Path) -> dict[str, dict[str, tuple[object, str, str, str]]]:
    """Every cell openpyxl loads: its value, type, number format and fill colour."""
    wb = load_workbook(path)
    return {
        ws.title: {
            cell.coordinate: (
                cell.value,
                cell.data_type,
                cell.number_format,
                str(cell.fill.fgColor.rgb) if cell.fill.fill_type else "",
            )
            for row in ws.iter_rows()
            for cell in row
            if cell.value is not None or cell.has_style
        }
        for ws in wb.worksheets
    }


def styled(path: Path) -> None:
    """A person's touches: a date format and a fill on Leads, a bold header."""
    wb = load_workbook(path)
    ws = wb["Leads"]
    ws.append(["L-1", "2026-01-01 10:00", "Bo"])
    ws.append(["L-2", "", "Cy", "", "", "", "", "", "", "", "", 7, "2026-02-02"])
    ws["L2"].number_format = "yyyy-mm-dd"  # a number written here becomes General
    ws["C3"].fill = PatternFill("solid", fgColor="FFFF00")
    ws["Q2"].fill = PatternFill("solid", fgColor="F2F2F2")
    wb.save(path)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[WorkbookBackend, WorkbookBackend]:
    direct = WorkbookBackend(tmp_path / "direct" / "crm.xlsx")
    direct.path.parent.mkdir()
    direct.provision(template())
    styled(direct.path)
    (tmp_path / "openpyxl").mkdir()
    through = WorkbookBackend(shutil.copy2(direct.path, tmp_path / "openpyxl" / "crm.xlsx"))
    through.in_place = False
    return direct, through


@pytest.mark.parametrize("seed", range(4))
def test_random_changes_read_back_the_same_through_both_paths(
    pair: tuple[WorkbookBackend, WorkbookBackend], seed: int
) -> None:
    direct, through = pair
    rng = random.Random(seed)
    for _ in range(3):
        state = rng.getstate()
        for backend in (direct, through):
            rng.setstate(state)  # the same changes for both
            snapshot = backend.read()
            backend.write(random_changes(rng, snapshot.tabs, snapshot.version))
        assert direct.last_write == "in place"
        assert read_tabs(direct.path) == read_tabs(through.path)
        assert read_tabs_openpyxl(direct.path) == read_tabs_openpyxl(through.path)
        assert cells(direct.path) == cells(through.path)


def test_a_number_under_a_date_format_becomes_general_as_through_openpyxl(
    pair: tuple[WorkbookBackend, WorkbookBackend],
) -> None:
    for backend in pair:
        snapshot = backend.read()
        backend.write(Changes(snapshot.version, cells=[CellUpdate("Leads", 0, 11, "5")]))
    direct, through = pair
    assert direct.last_write == "in place"
    assert load_workbook(direct.path)["Leads"]["L2"].number_format == "General"
    assert cells(direct.path) == cells(through.path)


def test_a_cell_set_twice_in_one_write_keeps_the_style_of_both_as_through_openpyxl(
    pair: tuple[WorkbookBackend, WorkbookBackend],
) -> None:
    for backend in pair:  # a date then a text in Stage changed at: the date's format stays
        snapshot = backend.read()
        col = snapshot.tabs["Leads"].header.index("Stage changed at")
        updates = [
            CellUpdate("Leads", 0, col, "2026-01-31 09:30"),
            CellUpdate("Leads", 0, col, "x"),
        ]
        backend.write(Changes(snapshot.version, cells=updates))
    direct, through = pair
    assert direct.last_write == "in place"
    assert cells(direct.path) == cells(through.path)


def test_a_text_holding_a_cell_reference_is_not_taken_for_the_cell(
    pair: tuple[WorkbookBackend, WorkbookBackend],
) -> None:
    for backend in pair:  # Notes (Q) is set after Company (G) says ' r="Q2"' in its text
        snapshot = backend.read()
        backend.write(Changes(snapshot.version, cells=[CellUpdate("Leads", 0, 6, 'x r="Q2" y')]))
        snapshot = backend.read()
        backend.write(Changes(snapshot.version, cells=[CellUpdate("Leads", 0, 16, "noted")]))
    direct, through = pair
    assert direct.last_write == "in place"
    assert read_tabs(direct.path)["Leads"].rows[0][6] == 'x r="Q2" y'
    assert cells(direct.path) == cells(through.path)


def test_only_the_parts_a_change_needs_are_rewritten(book: WorkbookBackend) -> None:
    before = _members(book.path)
    snapshot = book.read()
    book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes="hello")]}))
    assert book.last_write == "in place"
    after = _members(book.path)
    assert list(after) == list(before)  # the same parts, in the same order
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"xl/worksheets/sheet1.xml"}
    assert book.read().tabs["Leads"].column("Notes") == ["hello"]


def test_a_service_cell_gets_its_grey_and_a_new_style_once(book: WorkbookBackend) -> None:
    snapshot = book.read()
    rows = [leads_row(**{"Lead ID": f"L-{n}", "Created at": "2026-01-31 09:30"}) for n in range(3)]
    book.write(Changes(snapshot.version, appends={"Leads": rows}))
    assert book.last_write == "in place"
    ws = load_workbook(book.path)["Leads"]
    assert ws["A4"].fill.fgColor.rgb == "00F2F2F2"
    assert ws["B4"].number_format == "yyyy-mm-dd hh:mm" and ws["B4"].is_date
    assert ws["B2"].style_id == ws["B4"].style_id  # found again, not added per cell


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        (
            Changes("", new_columns={"Leads": ["Extra"]}),
            "a tab the drop-downs follow, given new columns",
        ),
        (Changes("", replace={"Brand new": Table(["A"], [["1"]])}), "a tab to create"),
        (Changes("", appends={"Brand new": [["1"]]}), "a tab to create"),
    ],
)
def test_what_in_place_cannot_do_goes_through_openpyxl(
    book: WorkbookBackend, changes: Changes, why: str
) -> None:
    changes.base_version = book.read().version
    with contextlib.suppress(BackendError):  # a tab the schema lacks: refused, as before
        book.write(changes)
    assert book.last_write.startswith("openpyxl: " + why)


def test_a_formula_where_sheetcrm_writes_goes_through_openpyxl(book: WorkbookBackend) -> None:
    wb = load_workbook(book.path)
    wb["Leads"].append(["L-1", "", "=1+1"])
    wb.save(book.path)
    snapshot = book.read()
    book.write(Changes(snapshot.version, cells=[CellUpdate("Leads", 0, 2, "Ana")]))
    assert book.last_write == "openpyxl: a formula or rich value where sheetcrm writes"
    assert book.read().tabs["Leads"].rows[0][2] == "Ana"


def test_text_xml_cannot_hold_is_never_written_in_place(book: WorkbookBackend) -> None:
    snapshot = book.read()
    saved = book.path.read_bytes()
    with pytest.raises(ValueError, match="XML compatible"):  # openpyxl's refusal, as before
        book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes="a\uffffb")]}))
    assert book.last_write == "openpyxl: text XML cannot hold"
    assert book.path.read_bytes() == saved


def test_formulas_elsewhere_are_kept_and_calculated_on_opening(book: WorkbookBackend) -> None:
    wb = load_workbook(book.path)
    wb["Leads"].append(["L-1", "", "Bo", "", "", "", "", "", "", "", "", 5])
    wb["Team"]["J2"] = "=Leads!L2*2"
    wb.calculation.fullCalcOnLoad = False
    wb.save(book.path)
    snapshot = book.read()
    book.write(Changes(snapshot.version, cells=[CellUpdate("Leads", 0, 11, "6")]))
    assert book.last_write == "in place"
    wb = load_workbook(book.path)
    assert wb["Team"]["J2"].value == "=Leads!L2*2"
    assert wb.calculation.fullCalcOnLoad


def test_a_formula_typed_after_a_write_is_seen_by_the_next(book: WorkbookBackend) -> None:
    snapshot = book.read()  # Team scanned without formulas, and that remembered
    book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes="a")]}))
    wb = load_workbook(book.path)
    wb["Team"]["J2"] = "=1+1"
    wb.calculation.fullCalcOnLoad = False
    wb.save(book.path)
    snapshot = book.read()
    book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes="b")]}))
    assert book.last_write == "in place"
    assert load_workbook(book.path).calculation.fullCalcOnLoad


def test_shared_strings_are_read_and_left_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "shared.xlsx"
    _shared_strings_workbook(path)
    book = WorkbookBackend(path)
    before = _members(path)
    snapshot = book.read()
    assert snapshot.tabs["Leads"].rows == [["Ana", "3"], ["Bo", "Ana"]]
    book.write(
        Changes(
            snapshot.version,
            cells=[CellUpdate("Leads", 0, 0, "Cy"), CellUpdate("Leads", 1, 1, "")],
            appends={"Leads": [["Dee", "Ana"]]},
        )
    )
    assert book.last_write == "in place"
    expected = [["Cy", "3"], ["Bo", ""], ["Dee", "Ana"]]
    assert read_tabs(path)["Leads"].rows == expected
    assert read_tabs_openpyxl(path)["Leads"].rows == expected
    assert _members(path)["xl/sharedStrings.xml"] == before["xl/sharedStrings.xml"]


def test_a_failed_write_in_place_leaves_the_workbook_untouched(
    book: WorkbookBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = book.read()
    saved = book.path.read_bytes()

    def disk_full(fd: int) -> None:  # the temporary file cannot be flushed to the disk
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(BackendError, match="No space left on device"):
        book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes="x")]}))
    assert book.last_write == "in place"
    assert book.path.read_bytes() == saved
    assert [p.name for p in book.path.parent.iterdir()] == ["crm.xlsx"]


def test_a_save_by_a_person_during_a_write_in_place_wins(
    book: WorkbookBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = book.read()
    theirs = book.path.with_name("theirs.xlsx")
    wb = load_workbook(book.path)
    wb["Leads"].append(leads_row(Notes="typed by a person"))
    wb.save(theirs)
    fsync = os.fsync

    def person_saves_meanwhile(fd: int) -> None:
        fsync(fd)
        os.replace(theirs, book.path)  # as Excel saves: a new file in its place

    monkeypatch.setattr(os, "fsync", person_saves_meanwhile)
    with pytest.raises(StaleSnapshotError, match="changed while sheetcrm was writing"):
        book.write(Changes(snapshot.version, appends={"Leads": [leads_row(Notes="ours")]}))
    assert book.last_write == "in place"
    assert book.read().tabs["Leads"].column("Notes") == ["typed by a person"]


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _shared_strings_workbook(path: Path) -> None:
    """A workbook as Excel writes one: its text in sharedStrings.xml, not inline."""
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{ct}.worksheet+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{ct}.styles+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{ct}.sharedStrings+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId3" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            '<sheet name="Leads" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/styles.xml": (
            f'<styleSheet xmlns="{_MAIN}"><fonts count="1"><font/></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border/></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            '</cellStyleXfs><cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
            'borderId="0" xfId="0"/></cellXfs></styleSheet>'
        ),
        "xl/sharedStrings.xml": (
            f'<sst xmlns="{_MAIN}" count="5" uniqueCount="4"><si><t>Name</t></si>'
            "<si><t>Count</t></si><si><t>Ana</t></si><si><t>Bo</t></si></sst>"
        ),
        "xl/worksheets/sheet1.xml": (
            f'<worksheet xmlns="{_MAIN}"><dimension ref="A1:B3"/><sheetData>'
            '<row r="1" spans="1:2"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
            '<row r="2" spans="1:2"><c r="A2" t="s"><v>2</v></c><c r="B2"><v>3</v></c></row>'
            '<row r="3" spans="1:2"><c r="A3" t="s"><v>3</v></c><c r="B3" t="s"><v>2</v></c></row>'
            "</sheetData></worksheet>"
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + text)


class _Unseekable(io.RawIOBase):
    """A stream zipfile cannot seek back in: it writes each member's sizes after its data."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


@pytest.mark.parametrize("seekable", [True, False])
def test_a_part_is_copied_as_stored_or_written_again_the_same(
    tmp_path: Path, seekable: bool
) -> None:
    text = b"<x>" + b"lead " * 10_000 + b"</x>"
    if seekable:
        with zipfile.ZipFile(tmp_path / "src.zip", "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("a.xml", text)
    else:
        stream = _Unseekable()
        with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("a.xml", text)
        (tmp_path / "src.zip").write_bytes(stream.data)
    with zipfile.ZipFile(tmp_path / "src.zip") as src:
        info = src.infolist()[0]
        assert bool(info.flag_bits & 0x08) is not seekable
        with zipfile.ZipFile(tmp_path / "dst.zip", "w", zipfile.ZIP_DEFLATED) as dst:
            copy_member(src, info, dst)
            dst.writestr("b.xml", b"<b/>")
    with zipfile.ZipFile(tmp_path / "dst.zip") as dst:
        assert dst.testzip() is None
        assert dst.read("a.xml") == text and dst.read("b.xml") == b"<b/>"
        assert dst.getinfo("a.xml").compress_size == info.compress_size


def test_a_new_look_key_or_a_rewritten_settings_tab_goes_through_openpyxl(
    pair: tuple[WorkbookBackend, WorkbookBackend],
) -> None:
    """The drop-downs and highlighting follow Leads' columns and Settings' rows; a write that
    may move them is left to openpyxl's path, which puts them right (tests/test_look.py)."""
    direct, _through = pair
    snapshot = direct.read()
    state = Table(list(STATE.headers), [["next id", "5"], ["look", "moved"]])
    direct.write(Changes(snapshot.version, replace={STATE.name: state}))
    assert direct.last_write == "openpyxl: the look's columns moved"
    snapshot = direct.read()
    settings = snapshot.table(SETTINGS.name).copy()
    settings.rows.reverse()
    direct.write(Changes(snapshot.version, replace={SETTINGS.name: settings}))
    assert direct.last_write == "openpyxl: a tab the drop-downs follow, rewritten"
    snapshot = direct.read()  # the same look key again: in place
    direct.write(Changes(snapshot.version, replace={STATE.name: state}))
    assert direct.last_write == "in place"
