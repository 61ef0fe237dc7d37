"""A sync's first read as one ``spreadsheets.get``: the fields to ask for, and each tab's
rows from the grid data that comes back.

One request instead of a ``values:batchGet`` and the ``spreadsheets.get`` a write needs (tab
IDs, grids, charts): each cell comes wrapped, ``{"formattedValue": "..."}``, a few bytes more a
cell than a values read, for one round trip less per sync.
"""

from __future__ import annotations

from typing import Any

READ_FIELDS = (
    "properties(locale,timeZone),"
    "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount)),charts,"
    "protectedRanges,data(startRow,startColumn,rowData(values(formattedValue))))"
)

CHECK_FIELDS = (
    "updatedSpreadsheet.sheets(properties.title,data(startRow,startColumn,"
    "rowData.values.formattedValue))"
)
"""What the write's spreadsheets.batchUpdate answers: the cells of its responseRanges."""


def grid_rows(sheet: dict[str, Any]) -> list[list[str]]:
    """A tab's cells as the text the sheet shows, shaped as a values read answers: trailing
    empty cells and rows left out. Reads name whole tabs, so the grid starts at A1."""
    rows: list[list[str]] = []
    for data in sheet.get("data", [])[:1]:
        for row in data.get("rowData", []):
            cells = [str(c.get("formattedValue", "")) for c in row.get("values", [])]
            while cells and cells[-1] == "":
                cells.pop()
            rows.append(cells)
    while rows and not rows[-1]:
        rows.pop()
    return rows
