"""A tab's cells as sheetcrm sees and writes them: how far its table reaches, and canonical
text written back as typed cells (numbers, dates, text that stays text), so that a value read
back compares equal to the value written."""

from __future__ import annotations

import math
from datetime import datetime
from functools import lru_cache

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, MergedCell
from openpyxl.styles import PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils.datetime import from_excel, to_excel
from openpyxl.worksheet.worksheet import Worksheet

from sheetcrm.engine import schema
from sheetcrm.engine.schema import Kind, Owner, tab_spec
from sheetcrm.engine.table import a1
from sheetcrm.engine.values import clamp, format_cell, format_datetime, format_number
from sheetcrm.errors import BackendError

METRIC_TABS = frozenset(t.name for t in schema.METRIC_TABS)
"""Tabs sheetcrm rewrites and redraws itself: charts and drawings on them may be rebuilt."""

SERVICE_FILL_RGB = "F2F2F2"
SERVICE_CELL = PatternFill("solid", fgColor=SERVICE_FILL_RGB)  # one, shared by every cell
_DATE_FORMATS = {10: "yyyy-mm-dd", 16: "yyyy-mm-dd hh:mm", 19: "yyyy-mm-dd hh:mm:ss"}  # by length

Extent = tuple[list[str], int]
"""A tab's header texts and how many sheet rows its table spans, header included."""


def _blank(value: object) -> bool:
    return value is None or value == ""


def table_grid(ws: Worksheet) -> list[tuple[object, ...]]:
    """The header row up to its last filled cell, and the rows under it up to the last one
    with content in those columns: the same extent for read() and for write()'s positions."""
    header = next(ws.iter_rows(max_row=1, values_only=True))
    width = max((i + 1 for i, v in enumerate(header) if not _blank(v)), default=0)
    # iter_rows creates the cells it visits, so stay within the header's width.
    rows = list(ws.iter_rows(max_col=width, values_only=True)) if width else [()]
    while len(rows) > 1 and all(_blank(v) for v in rows[-1]):
        rows.pop()
    return rows


def extent(ws: Worksheet) -> Extent:
    grid = table_grid(ws)
    return [format_cell(v) for v in grid[0]], len(grid)


@lru_cache(maxsize=1024)  # asked once per cell written; the schema never changes
def column_kind(tab: str, header: str) -> tuple[Kind, bool]:
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


def put(cell: Cell | MergedCell, text: str, kind: Kind, fill: int = 0) -> None:
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
    value = typed(text, kind)
    if isinstance(value, str):
        # Forcing the type keeps "=...", "+33 6..." and "#N/A" as the text a person typed,
        # never a formula.
        cell.value = value
        cell.data_type = "s"
    elif isinstance(value, datetime):
        cell.value = value
        cell.number_format = _DATE_FORMATS[len(text)]
    else:
        cell.value = value
        if cell.is_date:  # a date format would read this number back as a date
            cell.number_format = "General"


def typed(text: str, kind: Kind) -> int | float | datetime | str:
    """What ``text`` (not empty) is written as in a ``kind`` column: a number, a date-time,
    or text. Excel cannot hold control characters nor more than 32,767 characters: text is
    cut the way the sync cuts, so what is read back is what was written."""
    number = _number(text) if kind in (Kind.NUMBER, Kind.MONEY) else None
    if number is not None:
        return number
    when = _datetime(text) if kind in (Kind.DATE, Kind.DATETIME) else None
    if when is not None:
        return when
    return clamp(ILLEGAL_CHARACTERS_RE.sub("", text))


def date_format(text: str) -> str:
    """The number format of the date-time ``text`` is the canonical form of."""
    return _DATE_FORMATS[len(text)]


def service_fill(wb: Workbook) -> int:
    """The index in ``wb`` of the light grey of service-owned columns, which cells sheetcrm
    writes there wear too: the column's own fill shows only on cells without one."""
    return int(wb._fills.add(SERVICE_CELL))
