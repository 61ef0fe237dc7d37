"""One spreadsheet in the Google Sheets API: requests with Google's errors explained, its tabs
by title, and grids grown before a write would overflow them."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from gspread.exceptions import APIError

from sheetcrm.backends.sheets_address import quote, range_start
from sheetcrm.backends.sheets_http import SheetsHTTP, explain

ROW_HEADROOM = 20_000  # rows a grid grows by at least: History's 7 columns, 140k cells


class Spreadsheet:
    def __init__(
        self, spreadsheet_id: str, http: SheetsHTTP, account: str, hidden: Collection[str]
    ) -> None:
        self.id, self.http, self.account = spreadsheet_id, http, account
        self.hidden = hidden  # tabs added hidden: sheetcrm's own, nobody types there
        self.sheet_ids: dict[str, int] = {}  # title -> sheetId, at the last look
        self.grid: dict[str, tuple[int, int]] = {}  # tab -> (rows, columns) of its grid

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.http, method)(self.id, *args, **kwargs)
        except APIError as exc:
            raise explain(exc, self.id, self.account) from exc

    def titles(self) -> list[str]:
        meta = self.call("fetch_sheet_metadata", {"fields": "sheets.properties"})
        self.sheet_ids = {
            s["properties"]["title"]: s["properties"]["sheetId"] for s in meta.get("sheets", [])
        }
        return list(self.sheet_ids)

    def ensure_tabs(self, names: Iterable[str]) -> None:
        existing = set(self.titles())
        requests = [
            {"addSheet": {"properties": {"title": n, "hidden": n in self.hidden}}}
            for n in names
            if n not in existing
        ]
        if requests:
            self.call("batch_update", {"requests": requests})
            self.titles()

    def fit(self, data: list[dict[str, Any]]) -> None:
        """Grow grids a write would overflow: Google answers 400 past a tab's grid (new tabs
        are 1000 x 26). Costs requests only when a write reaches beyond that default."""
        needed: dict[str, tuple[int, int]] = {}
        for item in data:
            tab, _, cells = item["range"].rpartition("!")
            row0, col0 = range_start(cells)
            width = max((len(r) for r in item["values"]), default=0)
            rows, cols = needed.get(tab, (0, 0))
            needed[tab] = (max(rows, row0 + len(item["values"]) - 1), max(cols, col0 + width))
        self.grow(needed)

    def grow(self, needed: dict[str, tuple[int, int]]) -> None:
        def fits(tab: str, rows: int, cols: int) -> bool:
            have = self.grid.get(tab.strip("'").replace("''", "'"), (1000, 26))
            return rows <= have[0] and cols <= have[1]

        if all(fits(tab, r, c) for tab, (r, c) in needed.items()):
            return
        meta = self.call("fetch_sheet_metadata", {"fields": "sheets.properties"})
        requests = []
        for sheet in meta.get("sheets", []):
            props = sheet["properties"]
            title = props["title"]
            want = needed.get(quote(title)) or needed.get(title)
            if want is None:
                continue
            grid = props.get("gridProperties", {})
            rows, cols = grid.get("rowCount", 1000), grid.get("columnCount", 26)
            if want[0] > rows:
                # room to spare, so that a log growing by a batch at a time (History) costs
                # these two requests now and then, not at every write
                want = (max(want[0], rows + ROW_HEADROOM), want[1])
            # what the grid will be: later writes in this process need not ask again
            self.grid[title] = (max(rows, want[0]), max(cols, want[1]))
            for dimension, have, need in (("ROWS", rows, want[0]), ("COLUMNS", cols, want[1])):
                if need > have:
                    requests.append(
                        {
                            "appendDimension": {
                                "sheetId": props["sheetId"],
                                "dimension": dimension,
                                "length": need - have,
                            }
                        }
                    )
        if requests:
            self.call("batch_update", {"requests": requests})
