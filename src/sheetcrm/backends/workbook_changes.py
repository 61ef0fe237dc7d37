"""A sync's :class:`Changes` written into an openpyxl workbook, in the contract's order."""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.cell.cell import MergedCell
from openpyxl.worksheet.worksheet import Worksheet

from sheetcrm.backends.workbook_cells import Extent, column_kind, extent, put, service_fill
from sheetcrm.backends.workbook_charts import dress_metric_tab
from sheetcrm.backends.workbook_look import dress
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.metric_grid import MetricTab
from sheetcrm.engine.schema import STATE, Kind, tab_spec
from sheetcrm.engine.table import Table, a1, norm_header
from sheetcrm.errors import BackendError


def worksheet(wb: Workbook, tab: str, create: bool = False) -> Worksheet:
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
        fill_tab(ws, Table(spec.headers))
        dress(ws)
        return ws
    raise BackendError(f"no tab named {tab!r} in the workbook")


def apply_changes(wb: Workbook, changes: Changes, extents: dict[str, Extent]) -> None:
    """Apply in the contract's order: new columns, cells, appends, replaced tabs.

    ``extents`` holds what read() found of each tab, by title; the others are measured here.
    """
    sheets: dict[str, Worksheet] = {}
    grey = service_fill(wb)

    def shape(tab: str, create: bool = False) -> tuple[Worksheet, list[str], int]:
        if tab not in sheets:
            sheets[tab] = worksheet(wb, tab, create)
        ws = sheets[tab]
        if ws.title not in extents:
            extents[ws.title] = extent(ws)
        return ws, *extents[ws.title]

    for tab, headers in changes.new_columns.items():
        ws, header, height = shape(tab)
        for i, text in enumerate(headers, start=len(header) + 1):
            put(ws.cell(1, i), text, Kind.TEXT)
        extents[ws.title] = (header + list(headers), height)
    for update in changes.cells:
        ws, header, height = shape(update.tab)
        if not (0 <= update.row < height - 1 and 0 <= update.col < len(header)):
            raise BackendError(f"{a1(ws.title, update.row + 2, update.col)} is outside the table")
        kind, service = column_kind(ws.title, header[update.col])
        put(ws.cell(update.row + 2, update.col + 1), update.value, kind, grey if service else 0)
    for tab, rows in changes.appends.items():
        if not rows:
            continue
        ws, header, height = shape(tab, create=True)
        for r, row in enumerate(rows, start=height + 1):
            for c, text in enumerate(row):
                kind, service = column_kind(ws.title, header[c] if c < len(header) else "")
                put(ws.cell(r, c + 1), text, kind, grey if service else 0)
        extents[ws.title] = (header, height + len(rows))
    for tab, table in changes.replace.items():
        try:
            ws = worksheet(wb, tab)
        except BackendError:
            ws = wb.create_sheet(tab)
            new = True
        else:
            new = False
            for row in ws.iter_rows():  # clear values, keep the tab's look and its charts
                for cell in row:
                    if not isinstance(cell, MergedCell):
                        cell.value = None
        fill_tab(ws, table)
        if new:
            dress(ws)
        if isinstance(table, MetricTab):
            dress_metric_tab(ws, table)
        extents.pop(ws.title, None)


def fill_tab(ws: Worksheet, table: Table) -> None:
    grey = service_fill(ws.parent)
    for c, text in enumerate(table.header, start=1):
        put(ws.cell(1, c), text, Kind.TEXT)
    for r, row in enumerate(table.rows, start=2):
        for c, text in enumerate(row, start=1):
            kind, service = column_kind(ws.title, table.header[c - 1])
            put(ws.cell(r, c), text, kind, grey if service else 0)
    if norm_header(ws.title) == norm_header(STATE.name):
        ws.sheet_state = "hidden"
