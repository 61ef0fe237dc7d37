"""Developer metadata: key/value pairs on the spreadsheet, a sheet, or rows and columns.

Metadata on rows (or columns) is attached to the rows themselves, by their keys, so it
moves with them when a person inserts or deletes rows above, and goes away with them when
they are deleted, as Google documents. A sort moves values, not rows, and the metadata stays
put (grid.py says why): it cannot tell sheetcrm which lead a row holds. Data filters
(``developerMetadataLookup``, ``a1Range``, ``gridRange``) resolve to metadata (search) or
to cell ranges (values ...ByDataFilter).
"""

from __future__ import annotations

from typing import Any

from sheetcrm.emulator.a1 import Span
from sheetcrm.emulator.errors import bad_request
from sheetcrm.emulator.grid import Sheet
from sheetcrm.emulator.located import DeveloperMetadata, Locator
from sheetcrm.emulator.store import Spreadsheet


def new_metadata(spreadsheet: Spreadsheet, body: dict[str, Any], meta_id: int) -> DeveloperMetadata:
    """A DeveloperMetadata from a createDeveloperMetadata request body."""
    key, visibility = body.get("metadataKey"), body.get("visibility")
    if not key:
        raise bad_request("metadataKey must be specified.")
    if visibility not in ("DOCUMENT", "PROJECT"):
        raise bad_request("Developer metadata visibility must be specified.")
    value = body.get("metadataValue")
    location = body.get("location") or {}
    if location.get("spreadsheet"):
        return DeveloperMetadata(meta_id, key, value, visibility, "SPREADSHEET")
    if "sheetId" in location:
        sheet = spreadsheet.sheet_or_error(location["sheetId"])
        return DeveloperMetadata(meta_id, key, value, visibility, "SHEET", sheet.sheet_id)
    dims = location.get("dimensionRange")
    if not dims:
        raise bad_request("Developer metadata location must be specified.")
    sheet = spreadsheet.sheet_or_error(dims.get("sheetId", 0))
    rows = dims.get("dimension") == "ROWS"
    size = sheet.row_count if rows else sheet.col_count
    start, end = dims.get("startIndex", 0), dims.get("endIndex", size)
    if not 0 <= start < end <= size:
        raise bad_request(f"Invalid dimensionRange: {start} to {end} (grid size {size}).")
    keys = [r.key for r in sheet.rows[start:end]] if rows else sheet.col_keys[start:end]
    kind = "ROW" if rows else "COLUMN"
    return DeveloperMetadata(meta_id, key, value, visibility, kind, sheet.sheet_id, tuple(keys))


def matches(meta: DeveloperMetadata, as_json: dict[str, Any], lookup: dict[str, Any]) -> bool:
    """Whether metadata answers a developerMetadataLookup (every given field must match)."""
    checks = (
        ("metadataId", meta.metadata_id),
        ("metadataKey", meta.key),
        ("metadataValue", meta.value),
        ("visibility", meta.visibility),
        ("locationType", meta.location_type),
    )
    if any(name in lookup and lookup[name] != have for name, have in checks):
        return False
    wanted = lookup.get("metadataLocation")
    if not wanted:
        return True
    here = as_json["location"]
    intersecting = lookup.get("locationMatchingStrategy") == "INTERSECTING_LOCATION"
    if wanted.get("spreadsheet"):
        return intersecting or meta.location_type == "SPREADSHEET"
    if "sheetId" in wanted:
        same_sheet = meta.sheet_id == wanted["sheetId"]
        return same_sheet and (intersecting or meta.location_type == "SHEET")
    dims, have = wanted.get("dimensionRange", {}), here.get("dimensionRange")
    if have is None or have.get("sheetId", 0) != dims.get("sheetId", 0):
        return False
    if have["dimension"] != dims.get("dimension"):
        return False
    start, end = dims.get("startIndex", 0), dims.get("endIndex", 1 << 31)
    if intersecting:
        return bool(have["startIndex"] < end and start < have["endIndex"])
    return bool(have["startIndex"] == start and have["endIndex"] == end)


def search(spreadsheet: Spreadsheet, data_filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """matchedDeveloperMetadata entries, as developerMetadata:search answers them."""
    live = Locator(spreadsheet).live()
    matched: dict[int, dict[str, Any]] = {}
    for data_filter in data_filters:
        for meta, as_json in live:
            if _filter_hits(spreadsheet, meta, as_json, data_filter):
                entry = matched.setdefault(
                    meta.metadata_id, {"developerMetadata": as_json, "dataFilters": []}
                )
                entry["dataFilters"].append(data_filter)
    return list(matched.values())


def _filter_hits(
    spreadsheet: Spreadsheet, meta: DeveloperMetadata, as_json: dict[str, Any], data_filter: dict
) -> bool:
    if "developerMetadataLookup" in data_filter:
        return matches(meta, as_json, data_filter["developerMetadataLookup"])
    sheet, span = spreadsheet.filter_range(data_filter)
    dims = as_json["location"].get("dimensionRange")
    if meta.sheet_id != sheet.sheet_id or dims is None:
        return False
    low, high = (span.row0, span.row1) if meta.location_type == "ROW" else (span.col0, span.col1)
    return bool(dims["startIndex"] < (high or 1 << 31) and low < dims["endIndex"])


def filter_ranges(
    spreadsheet: Spreadsheet, data_filter: dict[str, Any]
) -> list[tuple[Sheet, Span]]:
    """The cell ranges a DataFilter selects: rows or columns carrying matching metadata,
    or the a1Range / gridRange itself."""
    if "developerMetadataLookup" not in data_filter:
        return [spreadsheet.filter_range(data_filter)]
    locator = Locator(spreadsheet)
    found = []
    for meta, as_json in locator.live():
        if not matches(meta, as_json, data_filter["developerMetadataLookup"]):
            continue
        if meta.location_type in ("ROW", "COLUMN"):
            sheet, start, end = locator.span(meta) or (None, 0, 0)
            assert sheet is not None
            rows = meta.location_type == "ROW"
            span = (
                Span(start, end, 0, sheet.col_count)
                if rows
                else Span(0, sheet.row_count, start, end)
            )
            found.append((sheet, span))
        elif meta.location_type == "SHEET":
            sheet = spreadsheet.sheet_or_error(meta.sheet_id)
            found.append((sheet, Span(0, sheet.row_count, 0, sheet.col_count)))
    return found
