"""spreadsheets.create, spreadsheets.get (with ``fields`` and ``ranges``), and developer
metadata get and search."""

from __future__ import annotations

from typing import Any

from sheetcrm.emulator.call import Call
from sheetcrm.emulator.errors import bad_request, not_found
from sheetcrm.emulator.fields import Mask, apply_mask, parse_mask
from sheetcrm.emulator.griddata import trim_grids, values_only, with_grid
from sheetcrm.emulator.located import Locator
from sheetcrm.emulator.metadata import search
from sheetcrm.emulator.store import Spreadsheet, Store


def create(store: Store, call: Call) -> dict[str, Any]:
    """POST /v4/spreadsheets. The emulator also takes ``spreadsheetId`` from the body, so that
    a test or a demo can choose it (Google ignores it and picks one)."""
    body = call.body
    props = body.get("properties", {})
    chosen = body.get("spreadsheetId")
    if chosen in store:
        raise bad_request(f"A spreadsheet with ID {chosen} already exists.")
    sheets = body.get("sheets") or [{"properties": {"title": "Sheet1"}}]
    book = store.create(
        props.get("title", "Untitled spreadsheet"), sheets=(), spreadsheet_id=chosen
    )
    for key in ("locale", "timeZone", "autoRecalc"):
        if key in props:
            book.props[key] = props[key]
    for entry in sheets:
        given = dict(entry.get("properties", {}))
        grid = dict(given.pop("gridProperties", {}))
        rows, cols = grid.pop("rowCount", 1000), grid.pop("columnCount", 26)
        extra = {
            k: v for k, v in given.items() if k not in ("title", "index", "sheetId", "sheetType")
        }
        if grid:
            extra["gridProperties"] = grid
        book.add_sheet(given.get("title"), rows, cols, sheet_id=given.get("sheetId"), extra=extra)
    return dict(apply_mask(book.resource(), _mask(call)))


def get(book: Spreadsheet, call: Call) -> dict[str, Any]:
    mask = _mask(call)
    asks_data = mask is not None and "data" in (mask.get("sheets") or {})
    include = call.flag("includeGridData") or asks_data
    resource = with_grid(book, call.arg_list("ranges"), include, values_only(mask))
    masked = dict(apply_mask(resource, mask))
    trim_grids(masked)
    return masked


def _mask(call: Call) -> Mask | None:
    try:
        return parse_mask(call.arg("fields"))
    except ValueError:
        raise bad_request(f"Invalid field selection {call.arg('fields')}") from None


def search_metadata(book: Spreadsheet, call: Call) -> dict[str, Any]:
    found = search(book, call.body.get("dataFilters", []))
    return {"matchedDeveloperMetadata": found} if found else {}


def get_metadata(book: Spreadsheet, call: Call) -> dict[str, Any]:
    meta = book.metadata.get(int(call.extra)) if call.extra.isdigit() else None
    as_json = Locator(book).to_json(meta) if meta is not None else None
    if as_json is None:
        raise not_found()
    return as_json
