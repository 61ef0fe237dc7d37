"""GridData for spreadsheets.get with includeGridData (or ``fields=sheets.data...``): per cell
its userEnteredValue, effectiveValue and formattedValue, plus the userEnteredFormat and
dataValidation that repeatCell and setDataValidation recorded over it."""

from __future__ import annotations

from typing import Any

from sheetcrm.emulator.a1 import Span
from sheetcrm.emulator.cells import Cell, Plain, formatted
from sheetcrm.emulator.defaults import with_color_styles
from sheetcrm.emulator.fields import apply_mask, parse_mask
from sheetcrm.emulator.grid import Sheet
from sheetcrm.emulator.store import Spreadsheet

_ERRORS = {"#NAME?": "NAME", "#DIV/0!": "DIVIDE_BY_ZERO"}  # the errors cells.py computes


def grid_data(book: Spreadsheet, sheet: Sheet, span: Span | None) -> dict[str, Any]:
    closed = book.within_grid(sheet, span or Span())
    assert closed.row1 is not None and closed.col1 is not None
    rows = []
    for r in range(closed.row0, closed.row1):
        values = [_cell_data(sheet, r, c) for c in range(closed.col0, closed.col1)]
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


def _cell_data(sheet: Sheet, row: int, col: int) -> dict[str, Any]:
    data: dict[str, Any] = {}
    value = sheet.cell(row, col)
    if value is not None:
        effective = value.value if isinstance(value, Cell) else value
        if isinstance(value, Cell) and value.formula is not None:
            data["userEnteredValue"] = {"formulaValue": value.formula}
        else:
            data["userEnteredValue"] = _extended(effective)
        data["effectiveValue"] = _extended(effective)
        data["formattedValue"] = formatted(value)
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
