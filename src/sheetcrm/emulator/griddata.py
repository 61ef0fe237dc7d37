"""GridData for spreadsheets.get with includeGridData (or ``fields=sheets.data...``): per cell
its userEnteredValue, effectiveValue and formattedValue, plus the userEnteredFormat and
dataValidation that repeatCell and setDataValidation recorded over it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sheetcrm.emulator.a1 import Span
from sheetcrm.emulator.cells import Cell, Plain, formatted_in
from sheetcrm.emulator.defaults import with_color_styles
from sheetcrm.emulator.fields import Mask, apply_mask, parse_mask
from sheetcrm.emulator.grid import Sheet
from sheetcrm.emulator.store import Spreadsheet

_ERRORS = {"#NAME?": "NAME", "#DIV/0!": "DIVIDE_BY_ZERO"}  # the errors cells.py computes


def with_grid(
    book: Spreadsheet,
    range_texts: list[str],
    include: bool,
    values_only: frozenset[str] | None = None,
) -> dict[str, Any]:
    """The Spreadsheet resource, limited to the sheets ``range_texts`` name when there are
    any, with the grid data of those ranges (or whole sheets) when ``include``."""
    resource = book.resource()
    ranges = [book.resolve(text) for text in range_texts]
    if ranges:
        wanted = {sheet.sheet_id for sheet, _ in ranges}
        resource["sheets"] = [s for s in resource["sheets"] if s["properties"]["sheetId"] in wanted]
    if include:
        for entry in resource["sheets"]:
            sheet = book.sheet_by_id(entry["properties"]["sheetId"])
            assert sheet is not None
            spans: list[Span | None] = [span for s, span in ranges if s is sheet]
            entry["data"] = [grid_data(book, sheet, s, values_only) for s in spans or [None]]
    return resource


VALUE_FIELDS = frozenset({"formattedValue", "userEnteredValue", "effectiveValue"})
FORMATTED = frozenset({"formattedValue"})


def values_only(mask: Mask | None) -> frozenset[str] | None:
    """The value fields of a cell ``mask`` (of a Spreadsheet resource) keeps, when it keeps
    nothing else of a cell; else None."""
    for key in ("sheets", "data", "rowData", "values"):
        if mask is None:
            return None
        mask = mask.get(key)
    return frozenset(mask) if mask is not None and set(mask) <= VALUE_FIELDS else None


def trim_grids(resource: dict[str, Any]) -> None:
    """After a field mask, cells and rows left empty at the end go, as on Google."""
    for entry in resource.get("sheets", []):
        for data in entry.get("data", []):
            rows = data.get("rowData", [])
            for row in rows:
                values = row.get("values", [])
                while values and not values[-1]:
                    values.pop()
                if "values" in row and not values:
                    del row["values"]
            while rows and not rows[-1]:
                rows.pop()
            if "rowData" in data and not rows:
                del data["rowData"]


def grid_data(
    book: Spreadsheet, sheet: Sheet, span: Span | None, values_only: frozenset[str] | None = None
) -> dict[str, Any]:
    """``values_only``: the value fields the field mask keeps when it keeps nothing else of
    a cell, so formats, notes, validations and the values it drops need not be worked out
    (a whole-sheet read, or a write's check of 200,000 cells, stays fast)."""
    closed = book.within_grid(sheet, span or Span())
    assert closed.row1 is not None and closed.col1 is not None
    show = formatted_in(str(book.props.get("locale") or "en_US"))
    rows = []
    fields = values_only
    for r in range(closed.row0, closed.row1):
        if fields is not None:
            stored = sheet.rows[r].cells[closed.col0 : closed.col1]
            if fields == FORMATTED:  # what a write's check asks of every service cell
                values = [{"formattedValue": show(v)} if v is not None else {} for v in stored]
            else:
                values = [_value_data(v, show, fields) if v is not None else {} for v in stored]
        else:
            values = [_cell_data(sheet, r, c, show) for c in range(closed.col0, closed.col1)]
        while values and not values[-1]:
            values.pop()
        rows.append({"values": values} if values else {})
    while rows and not rows[-1]:
        rows.pop()
    out: dict[str, Any] = {}
    if closed.row0:
        out["startRow"] = closed.row0
    if closed.col0:
        out["startColumn"] = closed.col0
    out["rowData"] = rows
    return out


def _value_data(
    value: Cell | Plain, show: Callable[[Cell | Plain], str], fields: frozenset[str] = VALUE_FIELDS
) -> dict[str, Any]:
    """A cell's values, of ``fields`` only (the field mask drops the others anyway)."""
    effective = value.value if isinstance(value, Cell) else value
    if isinstance(value, Cell) and value.formula is not None:
        entered = {"formulaValue": value.formula}
    else:
        entered = _extended(effective)
    data = {
        "userEnteredValue": entered,
        "effectiveValue": _extended(effective),
        "formattedValue": show(value),
    }
    return data if fields == VALUE_FIELDS else {k: v for k, v in data.items() if k in fields}


def _cell_data(
    sheet: Sheet, row: int, col: int, show: Callable[[Cell | Plain], str]
) -> dict[str, Any]:
    value = sheet.cell(row, col)
    data: dict[str, Any] = _value_data(value, show) if value is not None else {}
    user_format: dict[str, Any] = {}
    for entry in sheet.formats:
        if _covers(entry["range"], row, col):
            mask = parse_mask(entry.get("fields") or "")
            _deep_merge(
                user_format, apply_mask(entry.get("cell") or {}, mask).get("userEnteredFormat", {})
            )
    if user_format:
        data["userEnteredFormat"] = with_color_styles(user_format)
    note = sheet.notes.get((sheet.rows[row].key, sheet.col_keys[col]))
    if note:
        data["note"] = note
    for validation in sheet.validations:
        if _covers(validation["range"], row, col):
            data["dataValidation"] = validation["rule"]
    return data


def _extended(value: Plain) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int | float):
        return {"numberValue": value}
    if value in _ERRORS:
        return {"errorValue": {"type": _ERRORS[value], "message": value}}
    return {"stringValue": value}


def _covers(grid: dict[str, Any], row: int, col: int) -> bool:
    return grid.get("startRowIndex", 0) <= row < grid.get("endRowIndex", 1 << 31) and grid.get(
        "startColumnIndex", 0
    ) <= col < grid.get("endColumnIndex", 1 << 31)


def _deep_merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = value
