"""spreadsheets.batchUpdate: the structural and formatting requests sheetcrm sends, plus the
ones a person's edits amount to (sortRange, insertDimension, deleteDimension).

All or nothing, as on Google: when one request fails, the ones before it are undone and the
answer is ``Invalid requests[i].kind: ...``. Every applied request is appended to
``Spreadsheet.log``; formats, validations, conditional formats and protected ranges are kept
on the sheet, so tests can tell that provisioning twice added no duplicate rules.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from sheetcrm.emulator import charts, formatting
from sheetcrm.emulator.call import Call
from sheetcrm.emulator.defaults import clean
from sheetcrm.emulator.errors import ApiError, bad_request
from sheetcrm.emulator.fields import apply_mask, get_path, parse_mask, set_path, update_paths
from sheetcrm.emulator.grid import Sheet
from sheetcrm.emulator.griddata import trim_grids, values_only, with_grid
from sheetcrm.emulator.located import Locator
from sheetcrm.emulator.metadata import new_metadata, search
from sheetcrm.emulator.store import Spreadsheet

Reply = dict[str, Any] | None
# Accepted and logged, with no effect the values API could show:
COSMETIC = frozenset(
    {"autoResizeDimensions", "updateBorders", "addBanding", "updateDimensionProperties"}
)


def batch_update(book: Spreadsheet, call: Call) -> dict[str, Any]:
    requests = call.body.get("requests") or []
    if not requests:
        raise bad_request("Must specify at least one request.")
    backup = book.backup()
    replies = []
    try:
        for i, request in enumerate(requests):
            replies.append(_apply(book, i, request))
    except ApiError:
        book.restore(backup)
        raise
    out: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id, "replies": replies}
    try:
        mask = parse_mask(call.arg("fields"))
    except ValueError:
        raise bad_request(f"Invalid field selection {call.arg('fields')}") from None
    if call.body.get("includeSpreadsheetInResponse"):
        body = call.body
        ranges, include = body.get("responseRanges") or [], body.get("responseIncludeGridData")
        answer = (mask or {}).get("updatedSpreadsheet")
        if answer is not None:  # Google: responseIncludeGridData is ignored under a mask
            include = "data" in (answer.get("sheets") or {})
        out["updatedSpreadsheet"] = with_grid(book, ranges, bool(include), values_only(answer))
    masked = dict(apply_mask(out, mask))
    trim_grids(masked.get("updatedSpreadsheet", {}))
    return masked


def _apply(book: Spreadsheet, i: int, request: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(request, dict) or len(request) != 1:
        raise bad_request(f"Invalid requests[{i}]: exactly one kind of request must be set.")
    ((kind, params),) = request.items()
    handler = HANDLERS.get(kind)
    if handler is None and kind not in COSMETIC:
        raise bad_request(f"Invalid requests[{i}]: {kind} is not implemented by the emulator.")
    try:
        reply = handler(book, params or {}) if handler else _cosmetic(book, kind, params)
    except ApiError as exc:
        raise ApiError(exc.code, f"Invalid requests[{i}].{kind}: {exc.message}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise bad_request(f"Invalid requests[{i}].{kind}: bad or missing field ({exc})") from None
    book.log.append(copy.deepcopy(request))
    return {kind: reply} if reply else {}


def _cosmetic(book: Spreadsheet, kind: str, params: dict[str, Any]) -> Reply:
    """Accepted; only row and column properties (hidden, sizes) are kept, as sent."""
    if kind == "updateDimensionProperties":
        sheet = book.sheet_or_error(params["range"].get("sheetId", 0))
        sheet.dimensions.append(copy.deepcopy(params))
    return None


# -- sheets ---------------------------------------------------------------------------------


def add_sheet(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    props = clean(copy.deepcopy(params.get("properties", {})))
    grid = props.pop("gridProperties", {})
    rows, cols = grid.pop("rowCount", 1000), grid.pop("columnCount", 26)
    title, index, sheet_id = (
        props.pop("title", None),
        props.pop("index", None),
        props.pop("sheetId", None),
    )
    props.pop("sheetType", None)
    if grid:
        props["gridProperties"] = grid
    sheet = book.add_sheet(title, rows, cols, index, sheet_id, props)
    return {"properties": sheet.properties()}


def delete_sheet(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    book.delete_sheet(params.get("sheetId", 0))
    return None


def update_sheet_properties(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    given = params.get("properties", {})
    sheet = book.sheet_or_error(given.get("sheetId", 0))
    paths = update_paths(parse_mask(params.get("fields") or "") or {}, given)
    if not paths:
        raise bad_request("At least one field must be specified.")
    changes = {path: get_path(given, path) for path in paths if path != ("sheetId",)}
    _check_sheet_changes(book, sheet, changes)
    for path, value in changes.items():
        if path == ("gridProperties", "rowCount"):
            sheet.resize(rows=value)
        elif path == ("gridProperties", "columnCount"):
            sheet.resize(cols=value)
        elif path == ("index",):
            book.sheets.remove(sheet)
            book.sheets.insert(min(value or 0, len(book.sheets)), sheet)
            book.reindex()
        else:
            set_path(sheet.props, path, clean({path[-1]: value}).get(path[-1]))
    return None


def _check_sheet_changes(
    book: Spreadsheet, sheet: Sheet, changes: dict[tuple[str, ...], Any]
) -> None:
    title = changes.get(("title",))
    if ("title",) in changes:
        other = book.find(title) if title else None
        if not title or (other is not None and other is not sheet):
            raise bad_request(
                f'A sheet with the name "{title}" already exists. Please enter another name.'
            )
    if changes.get(("hidden",)) and all(s.hidden or s is sheet for s in book.sheets):
        raise bad_request("You can't hide all the sheets in a document.")
    rows = changes.get(("gridProperties", "rowCount"), sheet.row_count)
    cols = changes.get(("gridProperties", "columnCount"), sheet.col_count)
    if rows < 1 or cols < 1:
        raise bad_request("A sheet needs at least one row and one column.")
    book.check_cells(rows * cols - sheet.row_count * sheet.col_count)


def update_spreadsheet_properties(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    given = params.get("properties", {})
    for path in update_paths(parse_mask(params.get("fields") or "") or {}, given):
        set_path(book.props, path, get_path(given, path))
    return None


# -- dimensions: the edits a person makes ------------------------------------------------------


def _dimension(book: Spreadsheet, dims: dict[str, Any]) -> tuple[Sheet, bool, int, int]:
    sheet = book.sheet_or_error(dims.get("sheetId", 0))
    rows = dims.get("dimension") == "ROWS"
    if not rows and dims.get("dimension") != "COLUMNS":
        raise bad_request("dimension must be ROWS or COLUMNS.")
    return sheet, rows, dims.get("startIndex", 0), dims.get("endIndex", 0)


def insert_dimension(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    sheet, rows, start, end = _dimension(book, params["range"])
    size = sheet.row_count if rows else sheet.col_count
    if not 0 <= start < end or start > size:
        raise bad_request(f"Invalid range: start index {start}, end index {end}.")
    book.check_cells((end - start) * (sheet.col_count if rows else sheet.row_count))
    (sheet.insert_rows if rows else sheet.insert_cols)(start, end - start)
    return None


def delete_dimension(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    sheet, rows, start, end = _dimension(book, params["range"])
    size = sheet.row_count if rows else sheet.col_count
    if not 0 <= start < end <= size:
        raise bad_request(f"Invalid range: start index {start}, end index {end}, size {size}.")
    if end - start == size:
        raise bad_request(f"You can't delete all the {'rows' if rows else 'columns'} on the sheet.")
    (sheet.delete_rows if rows else sheet.delete_cols)(start, end - start)
    return None


def append_dimension(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    sheet = book.sheet_or_error(params.get("sheetId", 0))
    length, rows = params["length"], params.get("dimension") == "ROWS"
    book.check_cells(length * (sheet.col_count if rows else sheet.row_count))
    if rows:
        sheet.resize(rows=sheet.row_count + length)
    else:
        sheet.resize(cols=sheet.col_count + length)
    return None


def sort_range(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    sheet, span = book.grid_range(params["range"])
    specs = [
        (spec.get("dimensionIndex", 0), spec.get("sortOrder") == "DESCENDING")
        for spec in params.get("sortSpecs", [])
    ]
    sheet.sort(book.within_grid(sheet, span), specs)
    return None


# -- developer metadata -------------------------------------------------------------------------


def create_developer_metadata(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    body = params.get("developerMetadata", {})
    meta_id = body.get("metadataId") or book.store.new_id()
    if meta_id in book.metadata:
        raise bad_request(f"Developer metadata with ID {meta_id} already exists.")
    meta = book.metadata[meta_id] = new_metadata(book, body, meta_id)
    return {"developerMetadata": Locator(book).to_json(meta)}


def update_developer_metadata(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    given = params.get("developerMetadata", {})
    paths = update_paths(parse_mask(params.get("fields") or "") or {}, given)
    found = [m["developerMetadata"] for m in search(book, params.get("dataFilters", []))]
    for as_json in found:
        meta = book.metadata[as_json["metadataId"]]
        changed = {**as_json, **{p[0]: given.get(p[0]) for p in paths}}
        book.metadata[meta.metadata_id] = new_metadata(book, changed, meta.metadata_id)
        if ("location",) not in paths:
            book.metadata[meta.metadata_id].keys = meta.keys  # still on the same rows
    locator = Locator(book)
    return {"developerMetadata": [locator.to_json(book.metadata[j["metadataId"]]) for j in found]}


def delete_developer_metadata(book: Spreadsheet, params: dict[str, Any]) -> Reply:
    found = [m["developerMetadata"] for m in search(book, [params.get("dataFilter", {})])]
    for as_json in found:
        del book.metadata[as_json["metadataId"]]
    return {"deletedDeveloperMetadata": found}


HANDLERS: dict[str, Callable[[Spreadsheet, dict[str, Any]], Reply]] = {
    "addSheet": add_sheet,
    "deleteSheet": delete_sheet,
    "updateSheetProperties": update_sheet_properties,
    "updateSpreadsheetProperties": update_spreadsheet_properties,
    "insertDimension": insert_dimension,
    "deleteDimension": delete_dimension,
    "appendDimension": append_dimension,
    "sortRange": sort_range,
    **formatting.HANDLERS,
    **charts.HANDLERS,
    "createDeveloperMetadata": create_developer_metadata,
    "updateDeveloperMetadata": update_developer_metadata,
    "deleteDeveloperMetadata": delete_developer_metadata,
}
