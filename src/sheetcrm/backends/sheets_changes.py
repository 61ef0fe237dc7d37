"""A sync's :class:`Changes` as the value ranges of one ``values:batchUpdate``.

Pure: from the changes and the shape of each tab at the last read, the ranges to send. Every
value goes RAW; numbers in number columns go as JSON numbers, everything else as text, so
nothing a person or a web form typed is ever taken for a formula.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from sheetcrm.backends.sheets_address import quote
from sheetcrm.backends.sheets_charts import cell_values
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.metric_grid import MetricTab
from sheetcrm.engine.schema import HISTORY, LEADS, NOTIFICATIONS, Kind, tab_spec
from sheetcrm.engine.table import Table, column_letter
from sheetcrm.engine.values import format_number, parse_number
from sheetcrm.errors import BackendError

METRIC_WIDTH = 26  # columns cleared when a metric tab is rewritten (a new grid's width)

Shape = dict[str, tuple[list[str], int]]
"""Each tab's header and number of data rows, at the last read."""


def json_value(tab: str, header: str, text: str) -> Any:
    """What to send for a cell: numbers in number columns as numbers, the rest as text."""
    if text and _numeric(tab, header):
        # "12,5": how the engine writes a number for a sheet that shows a decimal comma
        for mark in (None, ",") if "," in text else (None,):
            number = parse_number(text, mark)
            if number is not None and format_number(number, mark) == text:
                return int(number) if number.is_integer() else number
    return text


# Cached: a flush's append asks for every cell of its new leads (issue 21: 280,000 calls for
# 8,000 leads, each folding the header's accents again); a tab's column kinds never change.
@lru_cache(maxsize=1024)
def _numeric(tab: str, header: str) -> bool:
    """Whether ``header`` on ``tab`` is a number or money column."""
    spec = tab_spec(tab)
    column = spec.column(header) if spec else None
    return column is not None and column.kind in (Kind.NUMBER, Kind.MONEY)


def tab_ranges(
    changes: Changes, shape: Shape
) -> tuple[list[dict[str, Any]], tuple[str, list[list[str]]] | None]:
    """The ranges of new headers, rewritten tabs and rows added to service-only tabs
    (History); and apart, the tab and rows of new leads, which are appended instead."""
    data: list[dict[str, Any]] = []
    for tab, headers in changes.new_columns.items():
        width = len(shape.get(tab, ([], 0))[0])
        data.append({"range": f"{quote(tab)}!{column_letter(width)}1", "values": [list(headers)]})
    for tab, table in changes.replace.items():
        old_header, old_rows = shape.get(tab, ([], 0))
        width = max(len(table.header), len(old_header), 1)
        rows = [table.header, *table.rows]
        if isinstance(table, MetricTab):
            # a read sees a metric tab only as wide as its short title row: clear the
            # width a grid starts with, so no figure of a wider layout is left behind
            rows, width = cell_values(table), max(width, METRIC_WIDTH)
        rows += [[] for _ in range(max(0, old_rows + 1 - len(rows)))]  # clear what was below
        padded = [[*r, *[""] * (width - len(r))] for r in rows]
        data.append(
            {
                "range": f"{quote(tab)}!A1:{column_letter(width - 1)}{len(padded)}",
                "values": padded,
            }
        )
    leads_rows: tuple[str, list[list[str]]] | None = None
    for tab, rows in changes.appends.items():
        if not rows:
            continue
        if tab_spec(tab) is LEADS:
            leads_rows = (tab, rows)
        elif tab in shape:  # service-only tabs (History): at the rows below the last
            known, count = shape[tab]
            first = count + 2 if known else 1
            width = max(len(r) for r in rows)
            data.append(
                {
                    "range": f"{quote(tab)}!A{first}:{column_letter(width - 1)}"
                    f"{first + len(rows) - 1}",
                    "values": rows,
                }
            )
        else:
            raise BackendError(f"cannot add rows to {tab}: the tab was not read first")
    return data, leads_rows


def cell_ranges(changes: Changes, shape: Shape) -> Iterator[dict[str, Any]]:
    """Cell updates as ranges: consecutive rows of one column go in one range. Made as
    they are sent (a part at a time), not all at once."""
    for tab, col, row, values in changes.cells.runs():
        header = shape.get(tab, ([], 0))[0] + changes.new_columns.get(tab, [])
        name = header[col] if col < len(header) else ""
        letter = column_letter(col)
        first, last = Table.sheet_row(row), Table.sheet_row(row + len(values) - 1)
        # one column's run as one list (COLUMNS), not a list per cell: a first sync of
        # 100,000 leads writes ~840,000 cells, and a list each was ~70 MB of the write's
        # peak (issue 21)
        yield {
            "range": f"{quote(tab)}!{letter}{first}:{letter}{last}",
            "majorDimension": "COLUMNS",
            "values": [[json_value(tab, name, v) for v in values]],
        }


LOGS = (HISTORY, NOTIFICATIONS)
"""sheetcrm's own logs: a row appended at every sync, no column of a person's."""


def narrow_tabs(shape: Shape, widest: Mapping[str, int]) -> dict[str, int]:
    """The logs (title -> header width) whose columns past their header hold nothing as
    read (``widest``: each tab's widest row): their grid can lose them as it grows."""
    return {
        title: len(header)
        for title, (header, _rows) in shape.items()
        if tab_spec(title) in LOGS and header and widest.get(title, 0) <= len(header)
    }
