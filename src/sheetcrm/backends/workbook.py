"""A local ``.xlsx`` workbook as the sheet: the embedded, offline backend.

Tabs are read as canonical text through python-calamine (xlsx_read.py) and written back
through openpyxl as typed cells (numbers, dates, text that stays text), so a value read back
compares equal to the value written (workbook_cells.py).
Changes are written by workbook_changes.py, a new workbook dressed by workbook_look.py.
Everything about the file itself (opening it, refusing a save that would destroy content,
replacing it in one step) is in the xlsx_* modules.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import quote_sheetname
from openpyxl.worksheet.worksheet import Worksheet

from sheetcrm.backends import (
    xlsx_edit,
    xlsx_formulas,
    xlsx_package,
    xlsx_read,
    xlsx_safety,
    xlsx_save,
)
from sheetcrm.backends.base import StaleSnapshotError
from sheetcrm.backends.workbook_cells import METRIC_TABS, Extent, put
from sheetcrm.backends.workbook_changes import apply_changes, fill_tab
from sheetcrm.backends.workbook_look import dress, keep_look
from sheetcrm.backends.xlsx_sheet_edit import NeedsOpenpyxl
from sheetcrm.engine.adoption import Adoption
from sheetcrm.engine.bulk import gc_paused
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.look import WORD_LISTS
from sheetcrm.engine.schema import LEADS, SETTINGS, STAGES, STATE, TEAM, Kind
from sheetcrm.engine.sync.tabs import LOOK_KEY, state_value
from sheetcrm.engine.table import Snapshot, Table, norm_header
from sheetcrm.errors import BackendError


class WorkbookBackend:
    atomic = True  # saved whole, under the file's lock, only at the version it names
    in_place = True
    """Whether write() edits the package in place when it can (xlsx_edit.py); False: every
    write loads and saves the workbook through openpyxl (the bench compares the two)."""
    last_write = ""
    """How the last write() went: "in place", "openpyxl" (and why, after a colon), or ""."""

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

    def exists(self) -> bool:
        return self.path.is_file()

    def version(self) -> str:
        return xlsx_package.version(self.path)

    def read(self, texts: dict[str, str] | None = None) -> Snapshot:
        # python-calamine's values, not openpyxl's objects: a re-sync that changes nothing
        # never builds them (xlsx_read.py); write() loads openpyxl only when there is a change.
        version = self.version()
        tabs = xlsx_read.read_tabs(self.path, texts)
        # what write() needs to place cells and rows at this version, without reading again
        self._measured = (
            version,
            {t: (table.header, len(table.rows) + 1) for t, table in tabs.items()},
        )
        snapshot = Snapshot(tabs, version)
        state = snapshot.get(STATE.name)
        self._look = (version, state_value(state, LOOK_KEY) if state is not None else "")
        return snapshot

    def _look_moves(self, changes: Changes, version: str) -> str:
        """Why this write may move the drop-downs and highlighting (keep_look places them
        from Leads', Stages', Team's and the word lists' headers and Settings' Key rows), so
        that only openpyxl's path, which puts them right, may make it; "" when it cannot.
        The sync says a move by a new look key on the State tab (engine/sync/tabs.py)."""
        rewritten = {norm_header(t) for t in changes.replace}
        placed = {norm_header(t) for t in (LEADS.name, STAGES.name, TEAM.name, SETTINGS.name)}
        placed |= {norm_header(w.tab) for w in WORD_LISTS}
        if rewritten & placed:
            return "a tab the drop-downs follow, rewritten"
        # keep_look places them by header: a column added there may get one (an import adds
        # Leads columns without a look key to say so)
        if placed & {norm_header(t) for t, added in changes.new_columns.items() if added}:
            return "a tab the drop-downs follow, given new columns"
        hidden = norm_header(STATE.name)
        state = next((t for n, t in changes.replace.items() if norm_header(n) == hidden), None)
        if state is None:
            return ""
        read = getattr(self, "_look", None)
        before = read[1] if read is not None and read[0] == version else None
        if before is None or state_value(state, LOOK_KEY) != before:
            return "the look's columns moved"
        return ""

    def _measure(self, version: str) -> dict[str, Extent]:
        measured = getattr(self, "_measured", None)
        if measured is not None and measured[0] == version:
            return measured[1]
        return {
            t: (table.header, len(table.rows) + 1)
            for t, table in xlsx_read.read_tabs(self.path).items()
        }

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
        moved = self._look_moves(changes, version)
        if self.in_place and moved:
            self.last_write = f"openpyxl: {moved}"
        elif self.in_place:
            self.last_write = "in place"  # also when it fails for another reason (a full disk)
            try:
                xlsx_edit.write_in_place(self.path, changes, lambda: self._measure(version))
            except NeedsOpenpyxl as why:
                self.last_write = f"openpyxl: {why}"
            else:
                return
        else:
            self.last_write = "openpyxl"
        wb, lost = xlsx_package.load(self.path)
        xlsx_safety.check_kept(self.path, lost)
        extents: dict[str, Extent] = {}  # each tab measured by openpyxl, as it will write it
        apply_changes(wb, changes, extents)
        # columns added or moved, a workbook from before the look: put it right
        keep_look(wb, {title: header for title, (header, _) in extents.items()})
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

    def identity(
        self, tab: str, columns: Sequence[int], each: Callable[[int, list[str]], None]
    ) -> list[str] | None:
        return None  # a write lands whole: nothing to check after it

    def row_link(self, row: int) -> str:
        return ""  # a file has no address that opens it at a row: the message names the row

    def remove_leftovers(self, clock: datetime) -> list[str]:
        """The temporary copies of saves killed half-way (xlsx_save.py)."""
        return xlsx_save.remove_leftovers(self.path, clock.timestamp())

    def keep_copy(self, clock: datetime, leads: int) -> str:
        """A copy of the file beside it, named after the moment: nothing is overwritten."""
        copy = self.path.with_name(f"{self.path.stem}.before-init-{clock:%Y%m%d-%H%M%S}.xlsx")
        shutil.copy2(self.path, copy)
        return str(copy)

    @gc_paused()
    def adopt(self, adoption: Adoption, base_version: str) -> None:
        """Add what ``adoption`` says to the workbook as it was read at ``base_version``,
        touching no cell a person typed (engine/adoption.py)."""
        xlsx_safety.check_unlocked(self.path)
        xlsx_safety.check_safe(self.path, redrawn=METRIC_TABS)
        wb, lost = xlsx_package.load(self.path)
        xlsx_safety.check_kept(self.path, lost)
        formulas = _formula_cells(wb)
        results = xlsx_formulas.cached_results(self.path, formulas) if formulas else {}
        if adoption.tab:
            ws = wb[adoption.tab]
            if adoption.rename_tab:
                results = {LEADS.name if t == ws.title else t: r for t, r in results.items()}
                _rename_tab(wb, ws, LEADS.name)
            for col, text in adoption.renamed.items():
                put(ws.cell(1, col + 1), text, Kind.TEXT)
            # after the last column holding anything: a column a person filled without a
            # header must not get one of ours over its values
            start = max(len(adoption.header), _used_width(ws)) + 1
            for i, text in enumerate(adoption.new_columns, start=start):
                put(ws.cell(1, i), text, Kind.TEXT)
            dress(ws, first=start)
        for name, table in adoption.new_tabs.items():
            ws = wb.create_sheet(name)
            fill_tab(ws, table)
            dress(ws)
        keep_look(wb)
        if formulas:
            wb.calculation.fullCalcOnLoad = True
        xlsx_save.save(wb, self.path, expect=base_version, results=results or None)

    @gc_paused()
    def provision(self, tabs: dict[str, Table], *, force: bool = False) -> None:
        if self.path.exists() and not force:
            raise BackendError(
                f"{self.location} already exists",
                "`sheetcrm init` adopts it, keeping every cell; with --force, after a copy",
            )
        if not tabs:
            raise BackendError("no tabs to create")
        xlsx_safety.check_unlocked(self.path)
        wb = Workbook()
        wb.remove(wb.active)
        for name, table in tabs.items():
            ws = wb.create_sheet(name)
            fill_tab(ws, table)
            dress(ws)
        keep_look(wb, {name: table.header for name, table in tabs.items()})
        xlsx_save.save(wb, self.path, expect=None)


def _formula_cells(wb: Workbook) -> dict[str, set[tuple[int, int]]]:
    """Every formula in the workbook, by tab: (row, column) from 1."""
    found: dict[str, set[tuple[int, int]]] = {}
    for ws in wb.worksheets:
        # the cells openpyxl holds, without creating the empty ones a walk would
        cells = {key for key, cell in ws._cells.items() if cell.data_type == "f"}
        if cells:
            found[ws.title] = cells
    return found


def _used_width(ws: Worksheet) -> int:
    """The last column holding a value in any row (a merged range counts as its first cell)."""
    return max((c for (_, c), cell in ws._cells.items() if cell.value is not None), default=0)


_REFERENCE = r"(?<![\w.'])({name}|'{quoted}')!"


def _rename_tab(wb: Workbook, ws: Worksheet, title: str) -> None:
    """Rename a tab and the references to it in formulas and defined names, as Excel does
    when a person renames one (openpyxl renames the tab only)."""
    old = ws.title
    pattern = re.compile(
        _REFERENCE.format(name=re.escape(old), quoted=re.escape(old.replace("'", "''"))),
        re.IGNORECASE,
    )
    new = (title if re.fullmatch(r"[A-Za-z_]\w*", title) else quote_sheetname(title)) + "!"
    ws.title = title
    for sheet in wb.worksheets:
        for cell in sheet._cells.values():
            if cell.data_type == "f" and isinstance(cell.value, str):
                cell.value = pattern.sub(new, cell.value)
    for defined in wb.defined_names.values():
        if defined.attr_text:
            defined.attr_text = pattern.sub(new, defined.attr_text)
