"""The in-memory spreadsheets, and the resolution of A1 ranges against them.

Tests set up and inspect state here directly::

    book = emulator.store.create("CRM", sheets=["Leads", "History"])
    book.sheet("Leads").set_values("A1", [["Lead ID", "Name"], ["L-1", "Ada"]])
    book.shared = False  # every request on it now answers 403
"""

from __future__ import annotations

import copy
import itertools
import random
import string
from collections.abc import Iterable
from typing import Any

from sheetcrm.emulator.a1 import (
    Span,
    format_cells,
    looks_like_cells,
    parse_cells,
    quote_title,
    split_range,
)
from sheetcrm.emulator.defaults import (
    echo_chart,
    echo_grid_range,
    spreadsheet_properties,
    with_color_styles,
)
from sheetcrm.emulator.errors import (
    ApiError,
    bad_request,
    not_found,
    permission_denied,
    unparsable_range,
)
from sheetcrm.emulator.grid import DEFAULT_COLS, DEFAULT_ROWS, Sheet
from sheetcrm.emulator.located import DeveloperMetadata, Locator

MAX_CELLS = 10_000_000
_ID_CHARS = string.ascii_letters + string.digits + "-_"


class Spreadsheet:
    def __init__(self, store: Store, spreadsheet_id: str, title: str) -> None:
        self.store = store
        self.spreadsheet_id = spreadsheet_id
        self.props = spreadsheet_properties(title)
        self.sheets: list[Sheet] = []
        self.metadata: dict[int, DeveloperMetadata] = {}
        self.shared = True  # False: every request on it answers 403 PERMISSION_DENIED
        self.log: list[dict[str, Any]] = []  # every spreadsheets.batchUpdate request applied

    @property
    def title(self) -> str:
        return str(self.props["title"])

    # -- sheets -----------------------------------------------------------------------------

    def add_sheet(
        self,
        title: str | None = None,
        rows: int = DEFAULT_ROWS,
        cols: int = DEFAULT_COLS,
        index: int | None = None,
        sheet_id: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Sheet:
        if title is None:
            taken = {s.title for s in self.sheets}
            title = next(
                f"Sheet{n}"
                for n in itertools.count(len(self.sheets) + 1)
                if f"Sheet{n}" not in taken
            )
        if self.find(title) is not None:
            raise bad_request(
                f'A sheet with the name "{title}" already exists. Please enter another name.'
            )
        if sheet_id is None:
            sheet_id = 0 if not self.sheets else self.store.new_id()
        elif self.sheet_by_id(sheet_id) is not None:
            raise bad_request(f"A sheet with the id {sheet_id} already exists.")
        self.check_cells(rows * cols)
        props = {"sheetId": sheet_id, "title": title, "index": 0, "sheetType": "GRID"}
        props.update(extra or {})
        sheet = Sheet(props, self.store.keys, rows, cols)
        position = len(self.sheets) if index is None else max(0, min(index, len(self.sheets)))
        self.sheets.insert(position, sheet)
        self.reindex()
        return sheet

    def delete_sheet(self, sheet_id: int) -> None:
        sheet = self.sheet_or_error(sheet_id)
        if len(self.sheets) == 1:
            raise bad_request("You can't remove all the sheets in a document.")
        self.sheets.remove(sheet)
        self.reindex()

    def reindex(self) -> None:
        for i, sheet in enumerate(self.sheets):
            sheet.props["index"] = i

    def sheet(self, title: str) -> Sheet:
        """The tab with this title (for tests); KeyError if there is none."""
        found = self.find(title)
        if found is None:
            raise KeyError(title)
        return found

    def find(self, title: str) -> Sheet | None:
        """By title: exactly, else ignoring case (as Google reads ranges)."""
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        folded = title.casefold()
        return next((s for s in self.sheets if s.title.casefold() == folded), None)

    def sheet_by_id(self, sheet_id: int | None) -> Sheet | None:
        return next((s for s in self.sheets if s.sheet_id == sheet_id), None)

    def sheet_or_error(self, sheet_id: int | None) -> Sheet:
        sheet = self.sheet_by_id(sheet_id)
        if sheet is None:
            raise bad_request(f"No grid with id: {sheet_id}")
        return sheet

    def cell_count(self) -> int:
        return sum(s.row_count * s.col_count for s in self.sheets)

    def check_cells(self, extra: int) -> None:
        if extra > 0 and self.cell_count() + extra > MAX_CELLS:
            raise bad_request(
                "This action would increase the number of cells in the workbook above the "
                f"limit of {MAX_CELLS} cells."
            )

    # -- ranges -----------------------------------------------------------------------------

    def resolve(self, text: str) -> tuple[Sheet, Span]:
        """An A1 range -> (sheet, span); the span may have open ends. 400 when unreadable."""
        try:
            title, cells = split_range(text)
        except ValueError:
            raise unparsable_range(text) from None
        sheet = self.find(title) if title is not None else None
        if cells is None:
            if sheet is not None:
                return sheet, Span()
            if title is None or not looks_like_cells(title):
                raise unparsable_range(text)
            visible = [s for s in self.sheets if not s.hidden] or self.sheets
            sheet, cells = visible[0], title
        if sheet is None:
            raise unparsable_range(text)
        try:
            return sheet, parse_cells(cells)
        except ValueError:
            raise unparsable_range(text) from None

    def filter_range(self, data_filter: dict[str, Any]) -> tuple[Sheet, Span]:
        """The range of an ``a1Range`` or ``gridRange`` DataFilter."""
        if "a1Range" in data_filter:
            return self.resolve(data_filter["a1Range"])
        grid = data_filter.get("gridRange")
        if grid is None:
            raise bad_request(
                "DataFilter must have one of a1Range, gridRange, developerMetadataLookup."
            )
        return self.grid_range(grid)

    def grid_range(self, grid: dict[str, Any]) -> tuple[Sheet, Span]:
        sheet = self.sheet_or_error(grid.get("sheetId", 0))
        span = Span(
            grid.get("startRowIndex", 0),
            grid.get("endRowIndex"),
            grid.get("startColumnIndex", 0),
            grid.get("endColumnIndex"),
        )
        return sheet, span

    def within_grid(self, sheet: Sheet, span: Span) -> Span:
        """Close a span on the grid, or answer 400 as Google does when it starts outside."""
        if span.row0 >= sheet.row_count or span.col0 >= sheet.col_count:
            raise exceeds_grid(sheet, span.row0, span.col0)
        return span.clip(sheet.row_count, sheet.col_count)

    # -- JSON -------------------------------------------------------------------------------

    def resource(self) -> dict[str, Any]:
        """The Spreadsheet resource, as spreadsheets.get answers it (without grid data)."""
        locator = Locator(self)
        live = locator.live()
        sheets = []
        for sheet in self.sheets:
            entry: dict[str, Any] = {"properties": sheet.properties()}
            if sheet.conditional_formats:
                entry["conditionalFormats"] = [
                    with_color_styles({**r, "ranges": [echo_grid_range(g) for g in r["ranges"]]})
                    for r in sheet.conditional_formats
                ]
            if sheet.merges:
                entry["merges"] = [echo_grid_range(g) for g in sheet.merges]
            if sheet.basic_filter is not None:
                grid = echo_grid_range(sheet.basic_filter["range"])
                entry["basicFilter"] = {**sheet.basic_filter, "range": grid}
            if sheet.protected_ranges:
                entry["protectedRanges"] = [
                    {**p, "range": echo_grid_range(p["range"])} for p in sheet.protected_ranges
                ]
            if sheet.charts:
                entry["charts"] = [echo_chart(c) for c in sheet.charts]
            on_sheet = [
                j for m, j in live if m.location_type == "SHEET" and m.sheet_id == sheet.sheet_id
            ]
            if on_sheet:
                entry["developerMetadata"] = on_sheet
            sheets.append(entry)
        out: dict[str, Any] = {
            "spreadsheetId": self.spreadsheet_id,
            "properties": copy.deepcopy(self.props),
            "sheets": sheets,
        }
        on_book = [j for m, j in live if m.location_type == "SPREADSHEET"]
        if on_book:
            out["developerMetadata"] = on_book
        out["spreadsheetUrl"] = f"https://docs.google.com/spreadsheets/d/{self.spreadsheet_id}/edit"
        return out

    # -- all or nothing ---------------------------------------------------------------------

    def backup(self) -> dict[str, Any]:
        """What :meth:`restore` needs to undo a batchUpdate that failed half-way."""
        return {
            "props": copy.deepcopy(self.props),
            "sheets": [(sheet, sheet.snapshot()) for sheet in self.sheets],
            "metadata": copy.deepcopy(self.metadata),
            "log": list(self.log),
        }

    def restore(self, backup: dict[str, Any]) -> None:
        """Back to the backup, in place: Sheet objects tests hold stay the book's."""
        for sheet, state in backup["sheets"]:
            sheet.restore(state)
        self.sheets = [sheet for sheet, _ in backup["sheets"]]
        self.props, self.metadata, self.log = backup["props"], backup["metadata"], backup["log"]


def exceeds_grid(sheet: Sheet, row: int, col: int) -> ApiError:
    cell = format_cells(Span(row, row + 1, col, col + 1))
    return bad_request(
        f"Range ({quote_title(sheet.title)}!{cell}) exceeds grid limits. "
        f"Max rows: {sheet.row_count}, max columns: {sheet.col_count}"
    )


class Store:
    """Every spreadsheet the emulator knows, by ID. Deterministic IDs from ``seed``."""

    def __init__(self, seed: int = 0) -> None:
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.rng = random.Random(seed)
        self.keys = itertools.count(1)  # row and column identities

    def create(
        self,
        title: str = "Untitled spreadsheet",
        sheets: Iterable[str] = ("Sheet1",),
        spreadsheet_id: str | None = None,
    ) -> Spreadsheet:
        if spreadsheet_id is None:
            spreadsheet_id = "1" + "".join(self.rng.choice(_ID_CHARS) for _ in range(43))
        book = Spreadsheet(self, spreadsheet_id, title)
        for name in sheets:
            book.add_sheet(name)
        self.spreadsheets[spreadsheet_id] = book
        return book

    def __getitem__(self, spreadsheet_id: str) -> Spreadsheet:
        return self.spreadsheets[spreadsheet_id]

    def __contains__(self, spreadsheet_id: object) -> bool:
        return spreadsheet_id in self.spreadsheets

    def open(self, spreadsheet_id: str) -> Spreadsheet:
        """The spreadsheet a request names, or Google's 404 / 403."""
        book = self.spreadsheets.get(spreadsheet_id)
        if book is None:
            raise not_found()
        if not book.shared:
            raise permission_denied()
        return book

    def new_id(self) -> int:
        """A random positive int32, like Google's sheet, protected range and metadata IDs."""
        return self.rng.randrange(1, 2**31 - 1)
