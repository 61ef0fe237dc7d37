"""A local ``.xlsx`` workbook as the sheet: the embedded, offline backend (openpyxl).

Tabs are read as canonical text and written back as typed cells (numbers, dates, text that
stays text), so a value read back compares equal to the value written. Everything about the
file itself (opening it, refusing a save that would destroy content, replacing it in one
step) is in the xlsx_* modules.
"""

from __future__ import annotations

import math
import os
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, MergedCell
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.utils.datetime import from_excel, to_excel
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.worksheet.worksheet import Worksheet

from sheetcrm.backends import xlsx_formulas, xlsx_package, xlsx_safety, xlsx_save
from sheetcrm.backends.base import StaleSnapshotError
from sheetcrm.backends.workbook_charts import dress_metric_tab
from sheetcrm.engine import schema
from sheetcrm.engine.bulk import gc_paused
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.metric_tabs import MetricTab
from sheetcrm.engine.schema import LEADS, STAGES, STATE, TEAM, Kind, Owner, tab_spec
from sheetcrm.engine.table import Snapshot, Table, a1, norm_header
from sheetcrm.engine.values import clamp, format_cell, format_datetime, format_number
from sheetcrm.errors import BackendError

METRIC_TABS = frozenset(t.name for t in schema.METRIC_TABS)
"""Tabs sheetcrm rewrites and redraws itself: charts and drawings on them may be rebuilt."""

OVERWRITTEN = "Filled by sheetcrm — your edits here are overwritten."
_PERSON_FILL = "DDEBF7"  # light blue header: people type here
_SERVICE_FILL = "BFBFBF"  # grey header, light grey column, grey tab: sheetcrm writes there
_SERVICE_COLUMN_FILL = "F2F2F2"
_SERVICE_TAB = "808080"
_SERVICE_CELL = PatternFill("solid", fgColor=_SERVICE_COLUMN_FILL)  # one, shared by every cell
_LAST_ROW = 1048576  # drop-downs cover the whole column, however many leads arrive
_DATE_FORMATS = {10: "yyyy-mm-dd", 16: "yyyy-mm-dd hh:mm", 19: "yyyy-mm-dd hh:mm:ss"}  # by length

Extent = tuple[list[str], int]
"""A tab's header texts and how many sheet rows its table spans, header included."""


class WorkbookBackend:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        # The file itself, not a link to it: a save replaces the file the link points at,
        # and a spreadsheet program's lock file is beside that file.
        self.path = Path(path).resolve()
        self.location = str(path)
        suffix = self.path.suffix.lower()
        if suffix != ".xlsx":
            hints = {
                ".xls": "open it in Excel or LibreOffice and save it as .xlsx",
                ".csv": "create a workbook with `sheetcrm init`, then load the CSV with "
                "`sheetcrm import`",
                ".xlsm": "sheetcrm cannot keep macros; save a copy without them as .xlsx",
            }
            raise BackendError(
                f"{self.location} is not an .xlsx workbook",
                hints.get(suffix, "save it as .xlsx (Excel workbook)"),
            )
        # What the last read() loaded, reused by write() while the file is unchanged:
        # (version, workbook, what openpyxl warned it would drop, each tab's extent).
        self._loaded: tuple[str, Workbook, list[str], dict[str, Extent]] | None = None

    def exists(self) -> bool:
        return self.path.is_file()

    def version(self) -> str:
        return xlsx_package.version(self.path)

    @gc_paused()
    def read(self) -> Snapshot:
        version = self.version()
        wb, lost = xlsx_package.load(self.path)
        tabs: dict[str, Table] = {}
        extents: dict[str, Extent] = {}
        formulas: dict[str, list[tuple[int, int]]] = {}
        for ws in wb.worksheets:
            grid = _grid(ws)
            texts = [[format_cell(v) for v in row] for row in grid]
            extents[ws.title] = (list(texts[0]), len(grid))
            tabs[ws.title] = Table(texts[0], texts[1:])
            if found := _formulas(ws, grid):
                formulas[ws.title] = found
        if formulas:
            # The engine must see what a formula shows, not "=A1*2": Excel's cached result.
            for title, results in xlsx_formulas.formula_results(self.path, formulas).items():
                table = tabs[title]
                for (r, c), value in results.items():
                    row = table.header if r == 0 else table.rows[r - 1]
                    row[c] = format_cell(value)
        self._loaded = (version, wb, lost, extents)
        return Snapshot(tabs, version)

    @gc_paused()
    def write(self, changes: Changes) -> None:
        version = self.version()
        if version != changes.base_version:
            raise StaleSnapshotError(
                f"{self.location} changed since it was read; nothing was written",
                "run the sync again",
            )
        if not changes:
            return
        xlsx_safety.check_unlocked(self.path)
        xlsx_safety.check_safe(self.path, redrawn=METRIC_TABS)
        if self._loaded is not None and self._loaded[0] == version:
            _, wb, lost, extents = self._loaded
        else:
            (wb, lost), extents = xlsx_package.load(self.path), {}
        self._loaded = None  # about to be modified: never reuse it
        xlsx_safety.check_kept(self.path, lost)
        _apply(wb, changes, extents)
        # openpyxl writes formulas without what they showed: put that back (sheetcrm writes
        # no formula, so every one left is a person's, as read), and have Excel or LibreOffice
        # calculate them again on opening.
        formulas = _formula_cells(wb)
        if formulas:
            wb.calculation.fullCalcOnLoad = True
        results = xlsx_formulas.cached_results(self.path, formulas) if formulas else None
        xlsx_save.save(wb, self.path, expect=version, results=results)

    def lease(
        self, holder: str, now: datetime, seconds: float = 300
    ) -> AbstractContextManager[None]:
        """Writes here are already exclusive (compare-and-set on the version): nothing to hold."""
        return nullcontext()

    @gc_paused()
    def provision(self, tabs: dict[str, Table], *, force: bool = False) -> None:
        if self.path.exists() and not force:
            raise BackendError(f"{self.location} already exists", "use --force to replace it")
        if not tabs:
            raise BackendError("no tabs to create")
        xlsx_safety.check_unlocked(self.path)
        wb = Workbook()
        wb.remove(wb.active)
        for name, table in tabs.items():
            ws = wb.create_sheet(name)
            _fill_tab(ws, table)
            _dress(ws)
        _add_dropdowns(wb, tabs)
        xlsx_save.save(wb, self.path, expect=None)
        self._loaded = None


# --- reading ---------------------------------------------------------------------------


def _blank(value: object) -> bool:
    return value is None or value == ""


def _grid(ws: Worksheet) -> list[tuple[object, ...]]:
    """The header row up to its last filled cell, and the rows under it up to the last one
    with content in those columns: the same extent for read() and for write()'s positions."""
    header = next(ws.iter_rows(max_row=1, values_only=True))
    width = max((i + 1 for i, v in enumerate(header) if not _blank(v)), default=0)
    # iter_rows creates the cells it visits, so stay within the header's width.
    rows = list(ws.iter_rows(max_col=width, values_only=True)) if width else [()]
    while len(rows) > 1 and all(_blank(v) for v in rows[-1]):
        rows.pop()
    return rows


def _extent(ws: Worksheet) -> Extent:
    grid = _grid(ws)
    return [format_cell(v) for v in grid[0]], len(grid)


def _formulas(ws: Worksheet, grid: list[tuple[object, ...]]) -> list[tuple[int, int]]:
    """Where ``grid`` holds formulas, 0-based; text a person typed as "=..." is not one."""
    return [
        (r, c)
        for r, row in enumerate(grid)
        for c, value in enumerate(row)
        if (isinstance(value, str) and value[:1] == "=" and ws.cell(r + 1, c + 1).data_type == "f")
        or isinstance(value, ArrayFormula | DataTableFormula)
    ]


def _formula_cells(wb: Workbook) -> dict[str, set[tuple[int, int]]]:
    """Every formula in the workbook, by tab: (row, column) from 1."""
    found: dict[str, set[tuple[int, int]]] = {}
    for ws in wb.worksheets:
        # the cells openpyxl holds, without creating the empty ones a walk would
        cells = {key for key, cell in ws._cells.items() if cell.data_type == "f"}
        if cells:
            found[ws.title] = cells
    return found


# --- writing ---------------------------------------------------------------------------


@lru_cache(maxsize=1024)  # asked once per cell written; the schema never changes
def _kind(tab: str, header: str) -> tuple[Kind, bool]:
    """What a column holds, and whether sheetcrm owns it (its cells are then grey)."""
    if tab in METRIC_TABS:
        return Kind.NUMBER, False  # charts need numbers; a canonical number reads back identical
    spec = tab_spec(tab)
    column = spec.column(header) if spec else None
    if column is None:
        return Kind.TEXT, False
    return column.kind, column.owner is Owner.SERVICE


def _number(text: str) -> int | float | None:
    """The number ``text`` is the canonical form of, else None (``00123`` stays text)."""
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number) or format_number(number) != text:
        return None
    return int(number) if number.is_integer() and abs(number) < 1e15 else number


def _datetime(text: str) -> datetime | None:
    """The date-time ``text`` is the canonical form of, if it survives Excel's serial days."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if format_datetime(when) != text or from_excel(to_excel(when)) != when:
        return None
    return when


def _put(cell: Cell | MergedCell, text: str, kind: Kind, fill: int = 0) -> None:
    """Write ``text`` as a ``kind``; ``fill``: the workbook's index of a fill to give it."""
    if isinstance(cell, MergedCell):
        raise BackendError(
            f"{a1(cell.parent.title, cell.row, cell.column - 1)} is inside merged cells",
            "unmerge them so sheetcrm can write there",
        )
    if text == "":
        cell.value = None
        return
    if fill:  # what `cell.fill = ...` stores, without hashing a fill for every cell
        if not cell._style:
            cell._style = StyleArray()
        cell._style.fillId = fill
    number = _number(text) if kind in (Kind.NUMBER, Kind.MONEY) else None
    when = _datetime(text) if kind in (Kind.DATE, Kind.DATETIME) else None
    if number is not None:
        cell.value = number
        if cell.is_date:  # a date format would read this number back as a date
            cell.number_format = "General"
    elif when is not None:
        cell.value = when
        cell.number_format = _DATE_FORMATS[len(text)]
    else:
        # Excel cannot hold control characters nor more than 32,767 characters: cut the way
        # the sync cuts, so what is read back is what was written. Forcing the type keeps
        # "=...", "+33 6..." and "#N/A" as the text a person typed, never a formula.
        cell.value = clamp(ILLEGAL_CHARACTERS_RE.sub("", text))
        cell.data_type = "s"


def _grey(wb: Workbook) -> int:
    """The index in ``wb`` of the light grey of service-owned columns, which cells sheetcrm
    writes there wear too: the column's own fill shows only on cells without one."""
    return int(wb._fills.add(_SERVICE_CELL))


def _sheet(wb: Workbook, tab: str, create: bool = False) -> Worksheet:
    """The tab named ``tab``; with ``create``, a new one if there is none and the schema
    knows its header (a person deleted History: the next sync writes it again)."""
    if tab in wb.sheetnames:
        return wb[tab]
    for ws in wb.worksheets:
        if norm_header(ws.title) == norm_header(tab):
            return ws
    spec = tab_spec(tab)
    if create and spec is not None:
        ws = wb.create_sheet(tab)
        _fill_tab(ws, Table(spec.headers))
        _dress(ws)
        return ws
    raise BackendError(f"no tab named {tab!r} in the workbook")


def _apply(wb: Workbook, changes: Changes, extents: dict[str, Extent]) -> None:
    """Apply in the contract's order: new columns, cells, appends, replaced tabs.

    ``extents`` holds what read() found of each tab, by title; the others are measured here.
    """
    sheets: dict[str, Worksheet] = {}
    grey = _grey(wb)

    def shape(tab: str, create: bool = False) -> tuple[Worksheet, list[str], int]:
        if tab not in sheets:
            sheets[tab] = _sheet(wb, tab, create)
        ws = sheets[tab]
        if ws.title not in extents:
            extents[ws.title] = _extent(ws)
        return ws, *extents[ws.title]

    for tab, headers in changes.new_columns.items():
        ws, header, height = shape(tab)
        for i, text in enumerate(headers, start=len(header) + 1):
            _put(ws.cell(1, i), text, Kind.TEXT)
        extents[ws.title] = (header + list(headers), height)
    for update in changes.cells:
        ws, header, height = shape(update.tab)
        if not (0 <= update.row < height - 1 and 0 <= update.col < len(header)):
            raise BackendError(f"{a1(ws.title, update.row + 2, update.col)} is outside the table")
        kind, service = _kind(ws.title, header[update.col])
        _put(ws.cell(update.row + 2, update.col + 1), update.value, kind, grey if service else 0)
    for tab, rows in changes.appends.items():
        if not rows:
            continue
        ws, header, height = shape(tab, create=True)
        for r, row in enumerate(rows, start=height + 1):
            for c, text in enumerate(row):
                kind, service = _kind(ws.title, header[c] if c < len(header) else "")
                _put(ws.cell(r, c + 1), text, kind, grey if service else 0)
        extents[ws.title] = (header, height + len(rows))
    for tab, table in changes.replace.items():
        try:
            ws = _sheet(wb, tab)
        except BackendError:
            ws = wb.create_sheet(tab)
            new = True
        else:
            new = False
            for row in ws.iter_rows():  # clear values, keep the tab's look and its charts
                for cell in row:
                    if not isinstance(cell, MergedCell):
                        cell.value = None
        _fill_tab(ws, table)
        if new:
            _dress(ws)
        if isinstance(table, MetricTab):
            dress_metric_tab(ws, table)
        extents.pop(ws.title, None)


def _fill_tab(ws: Worksheet, table: Table) -> None:
    grey = _grey(ws.parent)
    for c, text in enumerate(table.header, start=1):
        _put(ws.cell(1, c), text, Kind.TEXT)
    for r, row in enumerate(table.rows, start=2):
        for c, text in enumerate(row, start=1):
            kind, service = _kind(ws.title, table.header[c - 1])
            _put(ws.cell(r, c), text, kind, grey if service else 0)
    if norm_header(ws.title) == norm_header(STATE.name):
        ws.sheet_state = "hidden"


# --- provisioning ----------------------------------------------------------------------


def _solid(colour: str) -> PatternFill:
    return PatternFill("solid", fgColor=colour)


def _dress(ws: Worksheet) -> None:
    """Bold frozen header; service-owned columns set apart so people know not to type there."""
    spec = tab_spec(ws.title)
    ws.freeze_panes = "A2"
    for cell in ws[1]:
        column = spec.column(str(cell.value)) if spec and cell.value else None
        letter = get_column_letter(cell.column)
        service = column is not None and column.owner is Owner.SERVICE
        cell.font = Font(bold=True)
        cell.fill = _solid(_SERVICE_FILL if service else _PERSON_FILL)
        if column is not None:
            ws.column_dimensions[letter].width = column.width
        help_text = column.help if column else ""
        note = f"{OVERWRITTEN} {help_text}".strip() if service else help_text
        if note:
            cell.comment = Comment(note, "sheetcrm")
        if service:
            ws.column_dimensions[letter].fill = _SERVICE_CELL
    if ws.title in METRIC_TABS or (spec is not None and spec.edited_by == "the service"):
        ws.sheet_properties.tabColor = _SERVICE_TAB


def _add_dropdowns(wb: Workbook, tabs: dict[str, Table]) -> None:
    """Stage and Owner drop-downs on Leads, listing the Stages and Team tabs.

    The lists go through a defined name: Excel stores a list that points straight at another
    tab in a worksheet extension, which openpyxl drops on the next save.
    """
    leads = tabs.get(LEADS.name)
    if leads is None:
        return
    for target, source_tab, source_header, name in (
        ("Stage", STAGES.name, "Stage", "sheetcrm_stages"),
        ("Owner", TEAM.name, "Name", "sheetcrm_team"),
    ):
        col = leads.col(target)
        source = tabs.get(source_tab)
        src = source.col(source_header) if source else None
        if col is None or src is None:
            continue
        letter = get_column_letter(src + 1)
        wb.defined_names[name] = DefinedName(
            name, attr_text=f"{quote_sheetname(source_tab)}!${letter}$2:${letter}$1000"
        )
        # A warning, not a stop: the sync flags an unknown stage or owner with a hint anyway.
        dv = DataValidation(
            type="list",
            formula1=name,
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle=f"Not in the {source_tab} tab",
            error=f"{target} is usually one of the {source_tab} tab's {source_header} column.",
        )
        letter = get_column_letter(col + 1)
        dv.add(f"{letter}2:{letter}{_LAST_ROW}")
        wb[LEADS.name].add_data_validation(dv)
