"""A metric tab (Dashboard, Funnel...) rewritten in place, as the openpyxl path rewrites it.

That path (workbook_changes.apply_changes, then workbook_charts.dress_metric_tab) clears every
cell, writes the figures as numbers, gives each cell its figure's number format or General
(its other style parts kept), sets the first columns' widths and draws the charts again.
Here: the cells through xlsx_sheet_edit.py with those formats (xlsx_styles_edit.py), the
widths checked rather than set (the tab has them unless a person changed them), and the
charts' XML taken from openpyxl itself, for a one-tab workbook holding the same charts, put
in place of the parts there when it differs (a block grew: the ranges moved). What this
cannot do like openpyxl raises :class:`NeedsOpenpyxl`: charts to add or remove, a drawing
holding anything but sheetcrm's charts, charts Excel saved with their own styles, widths a
person changed.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from contextlib import suppress
from datetime import datetime
from xml.etree import ElementTree as ET

from openpyxl import Workbook
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.xml.functions import tostring

from sheetcrm.backends.workbook_cells import column_kind, typed
from sheetcrm.backends.workbook_charts import WIDTHS, draw_charts
from sheetcrm.backends.xlsx_parts import relations
from sheetcrm.backends.xlsx_sheet_edit import Edits, NeedsOpenpyxl, Pieces, Put, edit_sheet
from sheetcrm.backends.xlsx_styles_edit import Styles
from sheetcrm.engine.metric_grid import MetricTab, pattern
from sheetcrm.engine.schema import Kind

_COL = re.compile(rb"<col\b([^>]*?)/?>")
_ATTR = re.compile(rb"""(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_GENERAL = "General"


def metric_edits(title: str, tab: MetricTab) -> Edits:
    """Every cell of ``tab`` (its header row included) as the openpyxl path writes it."""
    edits: Edits = {}
    for r, row in enumerate([tab.header, *tab.rows]):
        cells = edits[r + 1] = {}
        for c, text in enumerate(row):
            kind = Kind.TEXT if r == 0 else column_kind(title, tab.header[c])[0]
            value = typed(text, kind) if text != "" else None
            figure = tab.formats.get((r, c))
            if figure == "datetime" and isinstance(value, str):
                with suppress(ValueError):  # the sync time; one with an offset stays text
                    when = datetime.fromisoformat(value)
                    if when.tzinfo is None:
                        value = when
            code = pattern(figure, tab.currency) if figure else _GENERAL
            cells[c + 1] = Put(value, False, code)
    return edits


def edit_metric_sheet(xml: bytes, edits: Edits, styles: Styles) -> Pieces:
    """The metric tab's part ``xml`` with ``edits`` (from :func:`metric_edits`) set and every
    other cell cleared, its number format back to General."""
    _check_widths(xml)
    return edit_sheet(
        xml,
        edits,
        lambda style, put: styles.with_format(style, put.number_format or _GENERAL),
        clear_all=True,
        keep_style=lambda style: styles.with_format(style, _GENERAL),
    )


def _check_widths(xml: bytes) -> None:
    end = xml.find(b"<sheetData")
    widths: dict[int, float] = {}
    for found in _COL.finditer(xml, 0, end if end >= 0 else len(xml)):
        attrs = {k: a or b for k, a, b in _ATTR.findall(found[1])}
        try:
            low, high = int(attrs[b"min"]), int(attrs[b"max"])
            width = float(attrs[b"width"])
        except (KeyError, ValueError):
            continue
        widths.update({c: width for c in WIDTHS if low <= c <= high})
    if any(widths.get(c) != float(w) for c, w in WIDTHS.items()):
        raise NeedsOpenpyxl("a metric tab's column widths to set")


def redraw(zf: zipfile.ZipFile, part: str, title: str, tab: MetricTab) -> dict[str, bytes]:
    """The parts to replace so that the tab at ``part`` shows ``tab``'s charts, by name:
    its drawing and chart parts whose XML differs from what openpyxl writes for them."""
    drawings = [t for _, kind, t in relations(zf, part) if kind.endswith("/drawing")]
    if not drawings:
        if tab.charts:
            raise NeedsOpenpyxl("a metric tab's charts to draw")
        return {}
    if len(drawings) > 1 or drawings[0] not in zf.NameToInfo:
        raise NeedsOpenpyxl("a metric tab's drawing not as openpyxl writes it")
    drawing = drawings[0]
    links = relations(zf, drawing)
    # openpyxl numbers a drawing's charts rId1, rId2... in the order it anchors them
    if (
        len(links) != len(tab.charts)
        or [rid for rid, _, _ in links] != [f"rId{i}" for i in range(1, len(links) + 1)]
        or any(not kind.endswith("/chart") or t not in zf.NameToInfo for _, kind, t in links)
    ):
        raise NeedsOpenpyxl("a metric tab's charts to add or remove")
    old_drawing = zf.read(drawing)
    anchors = list(ET.fromstring(old_drawing))
    if len(anchors) != len(links) or any(a.find("{*}graphicFrame") is None for a in anchors):
        raise NeedsOpenpyxl("a metric tab's drawing holding more than its charts")
    for _, _, chart in links:
        folder, base = posixpath.split(chart)
        if posixpath.join(folder, "_rels", base + ".rels") in zf.NameToInfo:
            raise NeedsOpenpyxl("a metric tab's chart with its own styles (saved by Excel)")
    new_drawing, new_charts = drawn(title, tab)
    replaced = {drawing: new_drawing} if new_drawing != old_drawing else {}
    for (_, _, chart), xml in zip(links, new_charts, strict=True):
        if zf.read(chart) != xml:
            replaced[chart] = xml
    return replaced


def drawn(title: str, tab: MetricTab) -> tuple[bytes, list[bytes]]:
    """The drawing XML and each chart's XML openpyxl writes for ``tab``'s charts on a tab
    named ``title`` (writer/excel.py: ExcelWriter._write_drawing and _write_charts)."""
    ws = Workbook().active
    assert ws is not None  # a new workbook has its one tab
    ws.title = title
    draw_charts(ws, tab)
    drawing = SpreadsheetDrawing()
    drawing.charts = ws._charts
    drawing.images = []
    return tostring(drawing._write()), [tostring(chart._write()) for chart in ws._charts]
