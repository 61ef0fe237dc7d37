"""What sheetcrm asks ``spreadsheets.get`` and ``spreadsheets.batchUpdate`` to answer (field
masks), and a tab's rows from the grid data that comes back.

A sync reads values with ``values:batchGet``: a grid-data read wraps every cell,
``{"formattedValue": "..."}``, and took a 10,000-lead sync 1.7 times as long. What a write
needs to know of the sheet (:data:`META_FIELDS`) comes back in the answer to the lease's
``spreadsheets.batchUpdate``, at no extra request (sheets_lease.py).
"""

from __future__ import annotations

from typing import Any

META_FIELDS = (
    "properties(locale,timeZone),"
    "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount)),charts,"
    "protectedRanges,developerMetadata)"
)
"""What a write needs to know of the sheet: tab IDs, grids, charts, protected ranges,
locale, time zone."""

READ_FIELDS = f"{META_FIELDS[:-1]},data(startRow,startColumn,rowData(values(formattedValue))))"
"""And every tab's values: the read once a ``values:batchGet`` named a tab that is not there."""

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
