"""Developer metadata: key/value pairs on the spreadsheet, a sheet, or rows and columns.

Metadata on rows (or columns) is attached to the rows themselves, by their keys, so it
moves with them when a person sorts the tab or inserts and deletes rows above, and goes
away with them when they are deleted: the property sheetcrm can use to find "its" row
again after a human edit. Data filters (``developerMetadataLookup``, ``a1Range``,
``gridRange``) resolve to metadata (search) or to cell ranges (values ...ByDataFilter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sheetcrm.emulator.a1 import Span
from sheetcrm.emulator.errors import bad_request

if TYPE_CHECKING:
    from sheetcrm.emulator.grid import Sheet
    from sheetcrm.emulator.store import Spreadsheet


@dataclass
class DeveloperMetadata:
    metadata_id: int
    key: str
    value: str | None
    visibility: str
    location_type: str  # SPREADSHEET, SHEET, ROW or COLUMN
    sheet_id: int | None = None
    keys: tuple[int, ...] = ()  # the row or column keys it is attached to


class Locator:
    """Where metadata sits now, with row and column positions indexed once per request."""

    def __init__(self, spreadsheet: Spreadsheet) -> None:
        self.spreadsheet = spreadsheet
        self._positions: dict[tuple[int, str], dict[int, int]] = {}

    def span(self, meta: DeveloperMetadata) -> tuple[Sheet, int, int] | None:
        """(sheet, start, end) of a ROW or COLUMN metadata; None once its rows are gone."""
        sheet = self.spreadsheet.sheet_by_id(meta.sheet_id)
        if sheet is None:
            return None
        cache_key = (sheet.sheet_id, meta.location_type)
        if cache_key not in self._positions:
            keys = [r.key for r in sheet.rows] if meta.location_type == "ROW" else sheet.col_keys
            self._positions[cache_key] = {k: i for i, k in enumerate(keys)}
        positions = self._positions[cache_key]
        found = [positions[k] for k in meta.keys if k in positions]
        return (sheet, min(found), max(found) + 1) if found else None

    def location(self, meta: DeveloperMetadata) -> dict[str, Any] | None:
        if meta.location_type == "SPREADSHEET":
            return {"locationType": "SPREADSHEET", "spreadsheet": True}
        if meta.location_type == "SHEET":
            if self.spreadsheet.sheet_by_id(meta.sheet_id) is None:
                return None
            return {"locationType": "SHEET", "sheetId": meta.sheet_id}
        found = self.span(meta)
        if found is None:
            return None
        sheet, start, end = found
        dimension = "ROWS" if meta.location_type == "ROW" else "COLUMNS"
        dims = {"sheetId": sheet.sheet_id, "dimension": dimension, "startIndex": start}
        dims["endIndex"] = end
        if not sheet.sheet_id:
            del dims["sheetId"]  # proto3: a zero sheetId is left out
        return {"locationType": meta.location_type, "dimensionRange": dims}

    def to_json(self, meta: DeveloperMetadata) -> dict[str, Any] | None:
        location = self.location(meta)
        if location is None:
            return None
        out: dict[str, Any] = {"metadataId": meta.metadata_id, "metadataKey": meta.key}
        if meta.value is not None:
            out["metadataValue"] = meta.value
        out["location"] = location
        out["visibility"] = meta.visibility
        return out

    def live(self) -> list[tuple[DeveloperMetadata, dict[str, Any]]]:
        """Every metadata still attached somewhere, with its JSON; the rest is dropped."""
        found = []
        for meta_id, meta in list(self.spreadsheet.metadata.items()):
            as_json = self.to_json(meta)
            if as_json is None:
                del self.spreadsheet.metadata[meta_id]
            else:
                found.append((meta, as_json))
        return found


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
