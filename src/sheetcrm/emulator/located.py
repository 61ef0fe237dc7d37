"""Developer metadata as stored, and where each one sits now (the Locator).

Below the store: the store lists metadata in spreadsheets.get, and the requests that add,
search and filter by metadata (metadata.py) build on the store. Row and column metadata are
attached to rows and columns by their keys, not their positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sheetcrm.emulator.grid import Sheet


class Book(Protocol):
    """What the Locator needs of a spreadsheet."""

    metadata: dict[int, DeveloperMetadata]

    def sheet_by_id(self, sheet_id: int | None) -> Sheet | None: ...


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

    def __init__(self, spreadsheet: Book) -> None:
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
