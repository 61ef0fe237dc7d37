"""batchUpdate requests that dress a sheet: formats (repeatCell, updateCells), drop-downs
(setDataValidation), conditional formats, protected ranges, merges and the basic filter.

What they set is kept on the :class:`Sheet` as Google would echo it in spreadsheets.get
(``sheet.conditional_formats``, ``sheet.protected_ranges``...). Setting the same format or
validation on the same range again replaces it; adding a rule or a protected range adds one,
as on Google, so a provisioning that is not idempotent shows up as duplicates.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from sheetcrm.emulator.a1 import Span
from sheetcrm.emulator.cells import from_raw, from_user_entered
from sheetcrm.emulator.defaults import clean, echo_grid_range
from sheetcrm.emulator.errors import bad_request
from sheetcrm.emulator.fields import parse_mask
from sheetcrm.emulator.grid import Sheet
from sheetcrm.emulator.store import Spreadsheet

EDITOR = "sheetcrm-emulator@localhost.iam.gserviceaccount.com"
Reply = dict[str, Any] | None


def _replace(entries: list[dict[str, Any]], entry: dict[str, Any], *same: str) -> None:
    """Record ``entry``, replacing an earlier one that sets the same thing on the same range."""
    entries[:] = [e for e in entries if any(e.get(k) != entry.get(k) for k in same)]
    entries.append(entry)


def _closed(sheet: Sheet, grid: dict[str, Any]) -> dict[str, Any]:
    """A GridRange with open ends closed on the grid (as Google echoes basic filters)."""
    span = Span(
        grid.get("startRowIndex", 0),
        grid.get("endRowIndex"),
        grid.get("startColumnIndex", 0),
        grid.get("endColumnIndex"),
    ).clip(sheet.row_count, sheet.col_count)
    return {
        "sheetId": sheet.sheet_id,
        "startRowIndex": span.row0,
        "endRowIndex": span.row1,
        "startColumnIndex": span.col0,
        "endColumnIndex": span.col1,
    }


def repeat_cell(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    sheet, _ = book.grid_range(params["range"])
    entry = clean({k: copy.deepcopy(params.get(k)) for k in ("range", "cell", "fields")})
    _replace(sheet.formats, entry, "range", "fields")
    return None


def update_cells(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    """Notes, values and formats cell by cell (``fields`` says which)."""
    if "start" in params:
        start = params["start"]
        sheet = book.sheet_or_error(start.get("sheetId", 0))
        row0, col0 = start.get("rowIndex", 0), start.get("columnIndex", 0)
    else:
        sheet, span = book.grid_range(params["range"])
        row0, col0 = span.row0, span.col0
    mask = parse_mask(params.get("fields") or "") or {"*": None}
    everything = "*" in mask
    rows = params.get("rows", [])
    if row0 + len(rows) > sheet.row_count or any(
        col0 + len(r.get("values", [])) > sheet.col_count for r in rows
    ):
        raise bad_request("The cells to update are outside the grid.")
    for r, row in enumerate(rows, start=row0):
        for c, data in enumerate(row.get("values", []), start=col0):
            if everything or "note" in mask:
                _set_note(sheet, r, c, data.get("note"))
            if everything or "userEnteredValue" in mask:
                sheet.write(r, c, [[_entered(data.get("userEnteredValue"))]])
            if (everything or "userEnteredFormat" in mask) and "userEnteredFormat" in data:
                cell_range = {"sheetId": sheet.sheet_id, "startRowIndex": r, "endRowIndex": r + 1}
                cell_range.update(startColumnIndex=c, endColumnIndex=c + 1)
                entry = {"userEnteredFormat": data["userEnteredFormat"]}
                fields = params.get("fields") or "userEnteredFormat"
                _replace(
                    sheet.formats,
                    clean({"range": cell_range, "cell": entry, "fields": fields}),
                    "range",
                    "fields",
                )
    return None


def _set_note(sheet: Sheet, row: int, col: int, note: str | None) -> None:
    key = (sheet.rows[row].key, sheet.col_keys[col])
    if note:
        sheet.notes[key] = note
    else:
        sheet.notes.pop(key, None)


def _entered(value: dict[str, Any] | None) -> Any:
    """An ExtendedValue (``{"stringValue": "x"}``, ``{"formulaValue": "=1+1"}``...) as stored."""
    if not value:
        return None
    if "formulaValue" in value:
        return from_user_entered(value["formulaValue"])
    for kind in ("stringValue", "numberValue", "boolValue"):
        if kind in value:
            return from_raw(value[kind])
    raise bad_request(f"Unsupported userEnteredValue: {value}")


def set_data_validation(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    sheet, _ = book.grid_range(params["range"])
    grid = copy.deepcopy(params["range"])
    sheet.validations[:] = [v for v in sheet.validations if v["range"] != grid]
    if params.get("rule"):
        sheet.validations.append({"range": grid, "rule": clean(params["rule"])})
    return None


def add_conditional_format_rule(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    rule = clean(copy.deepcopy(params["rule"]))
    if not rule.get("ranges"):
        raise bad_request("A conditional format rule needs at least one range.")
    sheet, _ = book.grid_range(rule["ranges"][0])
    index = params.get("index", 0)
    if not 0 <= index <= len(sheet.conditional_formats):
        raise bad_request(f"Invalid index {index}.")
    sheet.conditional_formats.insert(index, rule)
    return None


def delete_conditional_format_rule(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    sheet = book.sheet_or_error(params.get("sheetId", 0))
    index = params.get("index", 0)
    if not 0 <= index < len(sheet.conditional_formats):
        raise bad_request(f"No conditional format on sheet {sheet.sheet_id} at index {index}.")
    rule = sheet.conditional_formats.pop(index)
    rule["ranges"] = [echo_grid_range(g) for g in rule["ranges"]]
    return {"rule": rule}


def add_protected_range(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    given = {k: v for k, v in clean(params["protectedRange"]).items() if v not in (False, "")}
    book.grid_range(given.get("range", {}))  # the sheet must exist
    pid = given.pop("protectedRangeId", None) or book.store.new_id()
    given.pop("editors", None)
    stored = {"protectedRangeId": pid, **given, "requestingUserCanEdit": True}
    sheet = book.sheet_or_error(stored.get("range", {}).get("sheetId", 0))
    sheet.protected_ranges.append({**stored, "editors": {"users": [EDITOR]}})
    return {"protectedRange": {**stored, "range": echo_grid_range(stored["range"]), "editors": {}}}


def delete_protected_range(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    pid = params.get("protectedRangeId")
    for sheet in book.sheets:
        kept = [p for p in sheet.protected_ranges if p["protectedRangeId"] != pid]
        if len(kept) != len(sheet.protected_ranges):
            sheet.protected_ranges = kept
            return None
    raise bad_request(f"No protected range with id: {pid}")


def merge_cells(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    """Merge a range (whole, by rows or by columns); merged-away cells lose their values."""
    sheet, _ = book.grid_range(params["range"])
    grid = _closed(sheet, params["range"])
    rows = range(grid["startRowIndex"], grid["endRowIndex"])
    cols = range(grid["startColumnIndex"], grid["endColumnIndex"])
    kind = params.get("mergeType", "MERGE_ALL")
    if kind == "MERGE_ROWS":
        merges = [{**grid, "startRowIndex": r, "endRowIndex": r + 1} for r in rows]
    elif kind == "MERGE_COLUMNS":
        merges = [{**grid, "startColumnIndex": c, "endColumnIndex": c + 1} for c in cols]
    else:
        merges = [grid]
    _unmerge(sheet, grid)
    for merge in merges:
        for r in range(merge["startRowIndex"], merge["endRowIndex"]):
            for c in range(merge["startColumnIndex"], merge["endColumnIndex"]):
                if (r, c) != (merge["startRowIndex"], merge["startColumnIndex"]):
                    sheet.write(r, c, [[None]])
    sheet.merges += merges
    return None


def unmerge_cells(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    sheet, _ = book.grid_range(params["range"])
    _unmerge(sheet, _closed(sheet, params["range"]))
    return None


def _unmerge(sheet: Sheet, grid: dict[str, Any]) -> None:
    def overlaps(m: dict[str, Any]) -> bool:
        return (
            m["startRowIndex"] < grid["endRowIndex"]
            and grid["startRowIndex"] < m["endRowIndex"]
            and m["startColumnIndex"] < grid["endColumnIndex"]
            and grid["startColumnIndex"] < m["endColumnIndex"]
        )

    sheet.merges = [m for m in sheet.merges if not overlaps(m)]


def set_basic_filter(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    given = clean(copy.deepcopy(params["filter"]))
    sheet, _ = book.grid_range(given.get("range", {}))
    sheet.basic_filter = {**given, "range": _closed(sheet, given.get("range", {}))}
    return None


def clear_basic_filter(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    book.sheet_or_error(params.get("sheetId", 0)).basic_filter = None
    return None


HANDLERS: dict[str, Callable[[Spreadsheet, dict[str, Any]], Reply]] = {
    "repeatCell": repeat_cell,
    "updateCells": update_cells,
    "setDataValidation": set_data_validation,
    "addConditionalFormatRule": add_conditional_format_rule,
    "deleteConditionalFormatRule": delete_conditional_format_rule,
    "addProtectedRange": add_protected_range,
    "deleteProtectedRange": delete_protected_range,
    "mergeCells": merge_cells,
    "unmergeCells": unmerge_cells,
    "setBasicFilter": set_basic_filter,
    "clearBasicFilter": clear_basic_filter,
}
