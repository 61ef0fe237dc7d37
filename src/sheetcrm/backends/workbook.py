"""A local ``.xlsx`` workbook as the sheet: the embedded, offline backend (openpyxl).

openpyxl saves a workbook by rewriting the whole file from what it understood of it, so
anything it does not model is gone after the first save. This backend therefore inspects
the package before it writes and refuses, naming what and where, rather than lose a
person's chart or pivot table. Saves go to a temporary file that replaces the workbook
only once complete, and only if nobody saved the workbook in the meantime.
"""

from __future__ import annotations

import math
import os
import posixpath
import tempfile
import warnings
import zipfile
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree as ET

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, MergedCell
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.utils.datetime import from_excel, to_excel
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from sheetcrm.backends.base import Changes, StaleSnapshotError
from sheetcrm.errors import BackendError, SheetLockedError, UnsafeWorkbookError
from sheetcrm.schema import LEADS, STAGES, STATE, TEAM, Kind, Owner, tab_spec
from sheetcrm.table import Snapshot, Table, a1, norm_header
from sheetcrm.values import format_cell, format_datetime, format_number

METRIC_TABS = frozenset({"Dashboard", "Funnel", "By owner", "By source", "Forecast"})
"""Tabs sheetcrm rewrites and redraws itself: charts and drawings on them may be rebuilt."""

OVERWRITTEN = "Filled by sheetcrm — your edits here are overwritten."
_PERSON_FILL = "DDEBF7"  # light blue header: people type here
_SERVICE_FILL = "BFBFBF"  # grey header, light grey column, grey tab: sheetcrm writes there
_SERVICE_COLUMN_FILL = "F2F2F2"
_SERVICE_TAB = "808080"
_UNLOCK_HINT = "close it in Excel/LibreOffice, then run the sync again"
_LAST_ROW = 1048576  # drop-downs cover the whole column, however many leads arrive

# Parts of an .xlsx package that openpyxl drops or rebuilds lossily on save, found by part
# name (checked against openpyxl 3.1 reader/excel.py and reader/drawings.py).
_RISKY_PARTS = (
    ("xl/vbaProject", "macros (VBA)"),  # dropped unless loaded with keep_vba
    ("xl/media/", "a picture"),  # dropped without Pillow; even with it, crop and alt text go
    ("xl/charts/chart", "a chart"),  # re-serialised from openpyxl's model: styles, extensions go
    ("xl/diagrams/", "a SmartArt graphic"),  # not read at all
    ("xl/pivotTables/", "a pivot table"),  # kept in openpyxl's model only; extensions go
    ("xl/pivotCache/", "a pivot table's data cache"),
    ("xl/slicers/", "a slicer"),  # workbook and sheet extensions: not read
    ("xl/slicerCaches/", "a slicer"),
    ("xl/timelines/", "a timeline"),
    ("xl/timelineCaches/", "a timeline"),
    ("xl/embeddings/", "an embedded object"),  # OLE objects: not read
    ("xl/ctrlProps/", "a form control"),  # legacy drawings are dropped without VBA
)
_SHAPES = {"sp", "grpSp", "cxnSp", "contentPart"}  # drawing anchors openpyxl does not write back
_REBUILT_BY_US = {"a chart", "a shape or text box"}  # fine on METRIC_TABS
_DATE_FORMATS = {10: "yyyy-mm-dd", 16: "yyyy-mm-dd hh:mm", 19: "yyyy-mm-dd hh:mm:ss"}  # by length
_BENIGN_WARNINGS = ("Workbook contains no",)  # openpyxl supplies default styles: nothing lost


class WorkbookBackend:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.location = str(self.path)
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
        # The workbook loaded by the last read(), reused by write() while the file is unchanged.
        self._loaded: tuple[str, Workbook, list[str]] | None = None

    def exists(self) -> bool:
        return self.path.is_file()

    def version(self) -> str:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise self._missing() from None
        # The inode changes when Excel or LibreOffice saves (they replace the file), which
        # catches a save within the filesystem's mtime granularity that kept the size.
        return f"{st.st_mtime_ns}-{st.st_size}-{st.st_ino}"

    def read(self) -> Snapshot:
        version = self.version()
        wb, lost = self._load(data_only=False)
        tabs: dict[str, Table] = {}
        formulas: list[tuple[str, int, int]] = []
        for ws in wb.worksheets:
            grid = _grid(ws)
            texts = [[format_cell(c.value) for c in row] for row in grid]
            formulas += [
                (ws.title, r, c)
                for r, row in enumerate(grid)
                for c, cell in enumerate(row)
                if cell.data_type == "f"
            ]
            tabs[ws.title] = Table(texts[0] if texts else [], texts[1:])
        if formulas:
            # The engine must see what a formula shows, not "=A1*2": Excel's cached result.
            cached, _ = self._load(data_only=True)
            for title, r, c in formulas:
                table = tabs[title]
                text = format_cell(cached[title].cell(r + 1, c + 1).value)
                if r == 0:
                    table.header[c] = text
                else:
                    table.rows[r - 1][c] = text
        self._loaded = (version, wb, lost)
        return Snapshot(tabs, version)

    def write(self, changes: Changes) -> None:
        version = self.version()
        if version != changes.base_version:
            raise StaleSnapshotError(
                f"{self.location} changed since it was read; nothing was written",
                "run the sync again",
            )
        if not changes:
            return
        self._check_unlocked()
        self._check_safe()
        if self._loaded is not None and self._loaded[0] == version:
            _, wb, lost = self._loaded
        else:
            wb, lost = self._load(data_only=False)
        self._loaded = None  # about to be modified: never reuse it
        if lost:
            raise UnsafeWorkbookError(
                f"{self.location} holds content openpyxl cannot keep ({'; '.join(lost)}); "
                "nothing was written",
                "remove it, or keep it in a copy of the workbook that sheetcrm does not sync"
                + (
                    "; a drop-down listing another tab survives when it lists a named range"
                    if any("Data Validation" in w for w in lost)
                    else ""
                ),
            )
        _apply(wb, changes)
        self._save(wb, expect=version)

    def provision(self, tabs: dict[str, Table], *, force: bool = False) -> None:
        if self.path.exists() and not force:
            raise BackendError(f"{self.location} already exists", "use --force to replace it")
        if not tabs:
            raise BackendError("no tabs to create")
        self._check_unlocked()
        wb = Workbook()
        wb.remove(wb.active)
        for name, table in tabs.items():
            ws = wb.create_sheet(name)
            _fill_tab(ws, table)
            _dress(ws)
        _add_dropdowns(wb, tabs)
        self._save(wb, expect=None)
        self._loaded = None

    # --- file handling -------------------------------------------------------------------

    def _missing(self) -> BackendError:
        return BackendError(
            f"no workbook at {self.location}",
            f"run `sheetcrm init --sheet {self.location}` to create one",
        )

    def _load(self, *, data_only: bool) -> tuple[Workbook, list[str]]:
        """The workbook, and what openpyxl warned it will not keep if saved."""
        try:
            # openpyxl warns exactly when it drops something it read; we keep that as a
            # reason to refuse a later save rather than let it reach the user as noise.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                wb = load_workbook(self.path, data_only=data_only)
        except FileNotFoundError:
            raise self._missing() from None
        except PermissionError as exc:
            raise BackendError(f"cannot open {self.location}: permission denied") from exc
        except (
            zipfile.BadZipFile,
            InvalidFileException,
            KeyError,
            ValueError,
            OSError,
            ET.ParseError,
        ) as exc:
            raise BackendError(
                f"{self.location} is not a readable .xlsx workbook ({exc})",
                "open it in Excel or LibreOffice and save it again as .xlsx",
            ) from exc
        lost = [str(w.message) for w in caught if not str(w.message).startswith(_BENIGN_WARNINGS)]
        return wb, lost

    def _check_unlocked(self) -> None:
        for name in (f"~${self.path.name}", f".~lock.{self.path.name}#"):
            lock = self.path.with_name(name)
            if lock.exists():
                raise SheetLockedError(
                    f"{self.path.name} is open in a spreadsheet program (lock file {lock}); "
                    "nothing was written",
                    f"{_UNLOCK_HINT} (if no program has it open, delete the lock file)",
                )

    def _check_safe(self) -> None:
        try:
            found = risky_content(self.path)
        except (zipfile.BadZipFile, KeyError, ET.ParseError) as exc:
            raise BackendError(f"{self.location} is not a readable .xlsx workbook ({exc})") from exc
        if found:
            raise UnsafeWorkbookError(
                f"{self.location} holds {', '.join(found)}, which saving with openpyxl would "
                "destroy; nothing was written",
                "move it to another workbook (or keep it in a copy that sheetcrm does not sync)",
            )

    def _save(self, wb: Workbook, *, expect: str | None) -> None:
        """Replace the file with ``wb`` in one step, if it is still at version ``expect``."""
        tmp: Path | None = None
        try:
            mode = self.path.stat().st_mode & 0o777 if self.path.exists() else _new_file_mode()
            with tempfile.NamedTemporaryFile(
                dir=self.path.parent, prefix=".sheetcrm-", suffix=".xlsx", delete=False
            ) as fh:
                tmp = Path(fh.name)
                wb.save(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)  # a temp file is private; the workbook keeps its own mode
            if expect is not None and self.version() != expect:
                raise StaleSnapshotError(
                    f"{self.location} changed while sheetcrm was writing; nothing was written",
                    "run the sync again",
                )
            os.replace(tmp, self.path)
        except OSError as exc:
            raise BackendError(
                f"cannot save {self.location}: {exc}",
                "check that the folder exists and is writable and no program holds the file",
            ) from exc
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)  # a no-op once it has replaced the workbook


def _new_file_mode() -> int:
    """What a plain ``open()`` would give a new file; reading the umask means setting it
    (briefly), acceptable for a command that provisions once."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# --- reading ---------------------------------------------------------------------------


def _blank(cell: Cell | MergedCell) -> bool:
    return cell.value is None or cell.value == ""


def _grid(ws: Worksheet) -> list[list[Cell]]:
    """The header row up to its last filled cell, and the rows under it up to the last one
    with content in those columns: the same extent for read() and for write()'s positions."""
    header = next(ws.iter_rows(max_row=1))
    width = max((i + 1 for i, c in enumerate(header) if not _blank(c)), default=0)
    # iter_rows creates the cells it visits, so stay within the header's width.
    rows = [list(row) for row in ws.iter_rows(max_col=width)] if width else [[]]
    while len(rows) > 1 and all(_blank(c) for c in rows[-1]):
        rows.pop()
    return rows


# --- writing ---------------------------------------------------------------------------


@lru_cache(maxsize=1024)  # asked once per cell written; the schema never changes
def _kind(tab: str, header: str) -> Kind:
    if tab in METRIC_TABS:
        return Kind.NUMBER  # charts need numbers; a canonical number reads back identical
    spec = tab_spec(tab)
    column = spec.column(header) if spec else None
    return column.kind if column else Kind.TEXT


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


def _put(cell: Cell | MergedCell, text: str, kind: Kind) -> None:
    if isinstance(cell, MergedCell):
        raise BackendError(
            f"{a1(cell.parent.title, cell.row, cell.column - 1)} is inside merged cells",
            "unmerge them so sheetcrm can write there",
        )
    if text == "":
        cell.value = None
        return
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
        # Excel cannot hold control characters. Forcing the type keeps "=...", "+33 6..."
        # and "#N/A" as the text a person typed, never a formula or an error.
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", text)
        cell.data_type = "s"


def _sheet(wb: Workbook, tab: str) -> Worksheet:
    if tab in wb.sheetnames:
        return wb[tab]
    for ws in wb.worksheets:
        if norm_header(ws.title) == norm_header(tab):
            return ws
    raise BackendError(f"no tab named {tab!r} in the workbook")


def _apply(wb: Workbook, changes: Changes) -> None:
    """Apply in the contract's order: new columns, cells, appends, replaced tabs."""
    extent: dict[str, tuple[list[str], int]] = {}  # tab -> (header, sheet rows in use)

    def shape(tab: str) -> tuple[Worksheet, list[str], int]:
        ws = _sheet(wb, tab)
        if tab not in extent:
            grid = _grid(ws)
            extent[tab] = ([format_cell(c.value) for c in grid[0]] if grid else [], len(grid))
        return ws, *extent[tab]

    for tab, headers in changes.new_columns.items():
        ws, header, height = shape(tab)
        for i, text in enumerate(headers, start=len(header) + 1):
            _put(ws.cell(1, i), text, Kind.TEXT)
        extent[tab] = (header + list(headers), height)
    for update in changes.cells:
        ws, header, height = shape(update.tab)
        if not (0 <= update.row < height - 1 and 0 <= update.col < len(header)):
            raise BackendError(f"{a1(ws.title, update.row + 2, update.col)} is outside the table")
        kind = _kind(ws.title, header[update.col])
        _put(ws.cell(update.row + 2, update.col + 1), update.value, kind)
    for tab, rows in changes.appends.items():
        ws, header, height = shape(tab)
        for r, row in enumerate(rows, start=height + 1):
            for c, text in enumerate(row):
                _put(ws.cell(r, c + 1), text, _kind(ws.title, header[c] if c < len(header) else ""))
        extent[tab] = (header, height + len(rows))
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
        extent.pop(tab, None)


def _fill_tab(ws: Worksheet, table: Table) -> None:
    for c, text in enumerate(table.header, start=1):
        _put(ws.cell(1, c), text, Kind.TEXT)
    for r, row in enumerate(table.rows, start=2):
        for c, text in enumerate(row, start=1):
            _put(ws.cell(r, c), text, _kind(ws.title, table.header[c - 1]))
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
            ws.column_dimensions[letter].fill = _solid(_SERVICE_COLUMN_FILL)
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


# --- what a save would destroy -----------------------------------------------------------


def _relations(zf: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """(Id, Type, target part) of ``part``'s internal relationships."""
    folder, base = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    if rels not in zf.NameToInfo:
        return []
    found = []
    for rel in ET.fromstring(zf.read(rels)):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        path = target[1:] if target.startswith("/") else posixpath.join(folder, target)
        found.append((rel.get("Id", ""), rel.get("Type", ""), posixpath.normpath(path)))
    return found


def _sheet_owners(zf: zipfile.ZipFile) -> dict[str, str]:
    """Every part reachable from a tab (drawings, charts, pictures...) -> that tab's name."""
    book = next(
        (t for _, kind, t in _relations(zf, "") if kind.endswith("/officeDocument")),
        "xl/workbook.xml",
    )
    targets = {rid: t for rid, _, t in _relations(zf, book)}
    owners: dict[str, str] = {}
    for sheet in ET.fromstring(zf.read(book)).iter():
        if not sheet.tag.endswith("}sheet"):
            continue
        rid = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), "")
        stack = [targets.get(rid, "")]
        while stack:
            part = stack.pop()
            if part in zf.NameToInfo and part not in owners:
                owners[part] = sheet.get("name", "")
                stack += [t for _, _, t in _relations(zf, part)]
    return owners


def risky_content(path: str | os.PathLike[str]) -> list[str]:
    """What in the workbook at ``path`` a save through openpyxl would destroy, with where it
    is ("a chart on tab 'Leads'"); empty when the workbook is safe to write."""
    found: list[str] = []
    with zipfile.ZipFile(path) as zf:
        owners = _sheet_owners(zf)
        for name in zf.namelist():
            if name.endswith(".rels"):
                continue
            what = next((w for prefix, w in _RISKY_PARTS if name.startswith(prefix)), None)
            if what is None and name.startswith("xl/drawings/drawing"):
                tags = {el.tag.rpartition("}")[2] for el in ET.fromstring(zf.read(name)).iter()}
                what = "a shape or text box" if tags & _SHAPES else None
            if what is None:
                continue
            tab = owners.get(name)
            if tab in METRIC_TABS and what in _REBUILT_BY_US:
                continue
            found.append(f"{what} on tab {tab!r}" if tab else f"{what} in the workbook")
    return sorted(set(found))
