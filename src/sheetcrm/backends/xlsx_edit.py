"""A sync's :class:`Changes` written into the ``.xlsx`` package in place: only what changed.

Every part of the package is copied as it is (same content, same order), except the tabs the
changes touch (xlsx_sheet_edit.py sets their cells), styles.xml when a cell needs a style it
lacks (xlsx_styles_edit.py), and workbook.xml when the workbook holds formulas and is not yet
marked for calculation on opening. The file is replaced as openpyxl's save replaces it
(xlsx_save.py: in one step, under the lock, only at the version read).

Made here: cells set in existing tabs, rows appended under existing tabs, existing tabs
rewritten whole (Problems, State, Notifications...), the metric tabs among them with their
number formats and charts (xlsx_metric_edit.py), new columns' header cells (a look they move
goes through openpyxl: workbook._look_moves). Left to the openpyxl path
(:class:`NeedsOpenpyxl`): a tab to create, a metric tab's charts to add or remove, a cell
holding a formula or inside merged cells, text XML cannot hold (U+FFFF, lone surrogates:
openpyxl refuses it), a rewritten tab with merged cells or formulas, the State tab rewritten
while not hidden, a 1904-based workbook, worksheet extensions (``<extLst>``: openpyxl says it
drops them, and that path refuses the save), XML that is not as Excel, LibreOffice or
openpyxl write it (elements with a prefix, rows or cells without their reference, comments
among the rows).
Not done here, unlike the openpyxl path: drop-downs and highlighting a person removed from
Leads are put back only by the next write through openpyxl.
"""

from __future__ import annotations

import copy
import re
import zipfile
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import IO

from sheetcrm.backends import xlsx_save
from sheetcrm.backends.workbook_cells import METRIC_TABS, Extent, column_kind, date_format, typed
from sheetcrm.backends.xlsx_metric_edit import edit_metric_sheet, metric_edits, redraw
from sheetcrm.backends.xlsx_parts import sheet_parts, styles_part, workbook_part
from sheetcrm.backends.xlsx_quirks import _FORMULA
from sheetcrm.backends.xlsx_sheet_edit import Edits, NeedsOpenpyxl, Pieces, Put, edit_sheet
from sheetcrm.backends.xlsx_styles_edit import Styles
from sheetcrm.backends.xlsx_zip import copy_member
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.metric_grid import MetricTab
from sheetcrm.engine.schema import STATE, Kind
from sheetcrm.engine.table import a1, norm_header
from sheetcrm.errors import BackendError

_CHUNK = 1 << 20
_LEVEL = 1
Measure = Callable[[], dict[str, Extent]]
"""Each tab's header and height as the sync read them, by title (asked only when needed)."""

_CALC = re.compile(rb"<calcPr\b([^>]*?)/?>")
_FULL_CALC = re.compile(rb"""\s+fullCalcOnLoad\s*=\s*["'][^"']*["']""")
_AFTER_CALC = re.compile(
    rb"<(?:oleSize|customWorkbookViews|pivotCaches|smartTagPr|smartTagTypes|webPublishing"
    rb"|fileRecoveryPr|webPublishObjects|extLst)\b|</workbook>"
)
_DATE1904 = re.compile(rb"""date1904\s*=\s*["'](?:1|true)["']""")
_SHEET = re.compile(rb"<sheet\b[^>]*>")
_NAME = re.compile(rb"""\bname\s*=\s*"([^"]*)"|\bname\s*=\s*'([^']*)'""")
_HIDDEN = re.compile(rb"""\bstate\s*=\s*["'](?:hidden|veryHidden)["']""")


def write_in_place(path: Path, changes: Changes, measure: Measure) -> None:
    """Write ``changes`` into the workbook at ``path`` (read at ``changes.base_version``),
    or raise :class:`NeedsOpenpyxl` having written nothing."""
    with zipfile.ZipFile(path) as zf:
        book = workbook_part(zf)
        book_xml = zf.read(book)
        if _DATE1904.search(book_xml):
            raise NeedsOpenpyxl("a 1904-based workbook")
        parts = sheet_parts(zf)
        tabs = _plan(changes, parts, _hidden(book_xml), measure)
        styles_name = styles_part(zf)
        if styles_name is None or styles_name not in zf.NameToInfo:
            raise NeedsOpenpyxl("no styles.xml")
        styles = Styles(zf.read(styles_name))
        edited: dict[str, Pieces] = {}
        metrics = {t: changes.replace[tab] for t, tab in _metric_titles(changes, parts).items()}
        formulas = False
        for title, part in parts.items():
            if part not in zf.NameToInfo:
                continue
            xml = zf.read(part) if title in tabs else None  # read once: scanned, then edited
            extended, has_formulas = _scan(zf, part) if xml is None else _scan_bytes(xml)
            if extended:  # openpyxl warns it drops them: its path refuses the save
                raise NeedsOpenpyxl("worksheet extensions")
            formulas = formulas or has_formulas
            metric = metrics.get(title)
            if isinstance(metric, MetricTab):
                edited[part] = edit_metric_sheet(xml or b"", tabs[title][0], styles)
                edited.update({p: [xml] for p, xml in redraw(zf, part, title, metric).items()})
            elif title in tabs:
                edits, clear_all = tabs[title]
                edited[part] = edit_sheet(xml or b"", edits, styles.style_for, clear_all)
        if styles.changed:
            edited[styles_name] = [styles.to_bytes()]
        if formulas:  # cells they read changed: Excel and LibreOffice calculate on opening
            marked = _calculate_on_load(book_xml)
            if marked != book_xml:
                edited[book] = [marked]

        def write(out: IO[bytes]) -> None:
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as dst:
                for info in zf.infolist():
                    pieces = edited.get(info.filename)
                    if pieces is None:
                        copy_member(zf, info, dst)
                        continue
                    new = copy.copy(info)
                    new.file_size = sum(len(piece) for piece in pieces)
                    # deflated at level 1: five times openpyxl's speed (level 6), a quarter
                    # larger; the parts copied keep theirs
                    new.compress_type = zipfile.ZIP_DEFLATED
                    new._compresslevel = _LEVEL  # type: ignore[attr-defined]  # 3.13 too
                    with dst.open(new, "w") as part:  # streamed: never joined in memory
                        for piece in pieces:
                            part.write(piece)

        xlsx_save.save_package(path, write, expect=changes.base_version)


def _plan(
    changes: Changes, parts: dict[str, str], hidden: set[str], measure: Measure
) -> dict[str, tuple[Edits, bool]]:
    """The cells to set in each tab, by title, and whether the tab is rewritten whole."""
    tabs: dict[str, tuple[Edits, bool]] = {}
    extents: dict[str, Extent] | None = None

    def title_of(tab: str) -> str:
        if tab in parts:
            return tab
        for title in parts:
            if norm_header(title) == norm_header(tab):
                return title
        raise NeedsOpenpyxl(f"a tab to create: {tab}")

    def shape(title: str) -> Extent:
        nonlocal extents
        if extents is None:
            extents = measure()
        if title not in extents:
            raise NeedsOpenpyxl(f"{title} was not read")
        return extents[title]

    for tab, added in changes.new_columns.items():
        if not added:
            continue
        # their header cells only, as apply_changes writes them; a look they change (a
        # drop-down there) changes the look key, and workbook._look_moves sends it to openpyxl
        title = title_of(tab)
        header, height = shape(title)
        heading = tabs.setdefault(title, ({}, False))[0].setdefault(1, {})
        for c, text in enumerate(added, start=len(header) + 1):
            heading[c] = _put(text, Kind.TEXT, False)
        assert extents is not None  # measured by shape()
        extents[title] = (header + list(added), height)
    for update in changes.cells:
        title = title_of(update.tab)
        header, height = shape(title)
        if not (0 <= update.row < height - 1 and 0 <= update.col < len(header)):
            raise BackendError(f"{a1(title, update.row + 2, update.col)} is outside the table")
        kind, service = column_kind(title, header[update.col])
        edits = tabs.setdefault(title, ({}, False))[0]
        line = edits.setdefault(update.row + 2, {})
        put = _put(update.value, kind, service)
        # a cell set twice: its style as the openpyxl path leaves it, one put after the other
        before = line.get(update.col + 1)
        line[update.col + 1] = put if before is None else replace(put, earlier=before)
    for tab, rows in changes.appends.items():
        if not rows:
            continue
        title = title_of(tab)
        header, height = shape(title)
        edits = tabs.setdefault(title, ({}, False))[0]
        for r, row in enumerate(rows, start=height + 1):
            cells = edits.setdefault(r, {})
            for c, text in enumerate(row):
                kind, service = column_kind(title, header[c] if c < len(header) else "")
                cells[c + 1] = _put(text, kind, service)
    for tab, table in changes.replace.items():
        title = title_of(tab)
        if title in tabs:
            raise NeedsOpenpyxl("a tab both changed and rewritten")
        if isinstance(table, MetricTab):
            tabs[title] = (metric_edits(title, table), True)  # xlsx_metric_edit.py
            continue
        if title in METRIC_TABS:
            raise NeedsOpenpyxl("a metric tab without its formats and charts")
        if norm_header(title) == norm_header(STATE.name) and title not in hidden:
            raise NeedsOpenpyxl("the State tab to hide")
        edits = {1: {c: _put(text, Kind.TEXT, False) for c, text in enumerate(table.header, 1)}}
        for r, row in enumerate(table.rows, start=2):
            cells = edits[r] = {}
            for c, text in enumerate(row, start=1):
                kind, service = column_kind(title, table.header[c - 1])
                cells[c] = _put(text, kind, service)
        tabs[title] = (edits, True)
    return tabs


def _metric_titles(changes: Changes, parts: dict[str, str]) -> dict[str, str]:
    """The title of each metric tab rewritten -> its name in ``changes.replace``."""
    found = {}
    for tab, table in changes.replace.items():
        if isinstance(table, MetricTab):
            key = norm_header(tab)
            title = tab if tab in parts else next(t for t in parts if norm_header(t) == key)
            found[title] = tab
    return found


def _scan_bytes(xml: bytes) -> tuple[bool, bool]:
    return b"<extLst" in xml, _FORMULA.search(xml) is not None


def _scan(zf: zipfile.ZipFile, part: str) -> tuple[bool, bool]:
    """Whether the tab's XML holds extensions, and formulas: read a chunk at a time, so a
    tab no change touches is never held whole. Remembered by the part's content (its CRC-32
    and sizes, from the zip's directory): the next sync's write reads none it scanned."""
    info = zf.getinfo(part)
    key = (part, info.CRC, info.file_size, info.compress_size)
    found = _SCANNED.get(key)  # one lookup: another thread's write may clear it meanwhile
    if found is None:
        found = _scan_stream(zf, part)
        if len(_SCANNED) > 256:
            _SCANNED.clear()
        _SCANNED[key] = found
    return found


_SCANNED: dict[tuple[str, int, int, int], tuple[bool, bool]] = {}


def _scan_stream(zf: zipfile.ZipFile, part: str) -> tuple[bool, bool]:
    extended = formulas = False
    tail = b""
    with zf.open(part) as stream:
        while chunk := stream.read(_CHUNK):
            data = tail + chunk
            extended = extended or b"<extLst" in data
            formulas = formulas or _FORMULA.search(data) is not None
            if extended:
                break
            tail = data[-16:]  # longer than what is searched for: a match across two chunks
    return extended, formulas


def _put(text: str, kind: Kind, service: bool) -> Put:
    """What workbook_cells.put does with ``text``, as a :class:`Put`."""
    if text == "":
        return Put(None, False, None)
    value = typed(text, kind)
    return Put(value, service, date_format(text) if isinstance(value, datetime) else None)


def _hidden(book_xml: bytes) -> set[str]:
    """The titles of the hidden tabs."""
    hidden = set()
    for tag in _SHEET.findall(book_xml):
        name = _NAME.search(tag)
        if name and _HIDDEN.search(tag):
            hidden.add(_unescape((name[1] or name[2]).decode()))
    return hidden


def _unescape(text: str) -> str:
    from xml.sax.saxutils import unescape

    return unescape(text, {"&quot;": '"', "&apos;": "'"})


def _calculate_on_load(book_xml: bytes) -> bytes:
    """``book_xml`` with fullCalcOnLoad set on its calcPr (added where the schema puts it)."""
    found = _CALC.search(book_xml)
    if found is not None:
        if re.search(rb"""fullCalcOnLoad\s*=\s*["'](?:1|true)["']""", found[0]):
            return book_xml
        attrs = _FULL_CALC.sub(b"", found[1])
        tag = b'<calcPr%s fullCalcOnLoad="1"/>' % attrs.rstrip(b"/")
        if not found[0].endswith(b"/>"):
            tag = tag[:-2] + b">"
        return book_xml[: found.start()] + tag + book_xml[found.end() :]
    if b"<sheets" not in book_xml:
        raise NeedsOpenpyxl("workbook.xml not as Excel writes it")
    after = _AFTER_CALC.search(book_xml)
    if after is None:
        raise NeedsOpenpyxl("workbook.xml not closed")
    return book_xml[: after.start()] + b'<calcPr fullCalcOnLoad="1"/>' + book_xml[after.start() :]
