"""One spreadsheet in the Google Sheets API: requests with Google's errors explained, what the
last look found of its tabs (IDs, grids, charts), and grids grown before a write would
overflow them."""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from gspread.exceptions import APIError

from sheetcrm.backends.sheets_address import range_start
from sheetcrm.backends.sheets_grid import META_FIELDS
from sheetcrm.backends.sheets_http import SheetsHTTP, explain

# Cells a grid grows by at least, as rows of its width: History's 7 columns, 20,000 rows.
# In cells, not rows: Google caps a spreadsheet at 10 million cells, and 20,000 rows of a
# 42-column Leads tab (840,000 cells) made a flush into 100,000 leads go over it.
ROOM_CELLS = 140_000
NEW_GRID = (1000, 26)  # rows and columns of a tab added without gridProperties

Request = dict[str, Any]


class Spreadsheet:
    def __init__(
        self, spreadsheet_id: str, http: SheetsHTTP, account: str, hidden: Collection[str]
    ) -> None:
        self.id, self.http, self.account = spreadsheet_id, http, account
        self.hidden = hidden  # tabs added hidden: sheetcrm's own, nobody types there
        self.sheet_ids: dict[str, int] = {}  # title -> sheetId, at the last look
        self.grid: dict[str, tuple[int, int]] = {}  # tab -> (rows, columns) of its grid
        self.charts: dict[str, list[dict[str, Any]]] = {}  # tab -> its charts, at the last look
        self.properties: dict[str, Any] = {}  # locale and time zone, at the last look
        self.known = False  # the last look named every tab, and nothing changed them since

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.http, method)(self.id, *args, **kwargs)
        except APIError as exc:
            raise explain(exc, self.id, self.account) from exc

    def learn(self, meta: dict[str, Any], *, every_tab: bool) -> None:
        """Keep what a spreadsheets.get answer says of the tabs it names; ``every_tab``: it
        named them all, so a tab it leaves out is not there."""
        if every_tab:
            self.sheet_ids, self.grid, self.charts = {}, {}, {}
            self.known = True
        # in place: the snapshot of the read before the lease holds this very mapping
        # (GoogleBackend.read), and the plan made under the lease reads what it says now
        self.properties.update(meta.get("properties", {}))
        for sheet in meta.get("sheets", []):
            props = sheet["properties"]
            title = props["title"]
            self.sheet_ids[title] = props.get("sheetId", 0)
            grid = props.get("gridProperties", {})
            self.grid[title] = (grid.get("rowCount", NEW_GRID[0]), grid.get("columnCount", 26))
            self.charts[title] = sheet.get("charts", [])

    def titles(self) -> list[str]:
        self.learn(self.call("fetch_sheet_metadata", {"fields": META_FIELDS}), every_tab=True)
        return list(self.sheet_ids)

    def look(self) -> None:
        """Ask what a write needs to know of the sheet, unless the last look still holds."""
        if not self.known:
            self.titles()

    def ensure_tabs(self, names: Iterable[str]) -> None:
        existing = set(self.titles())
        self.update(self.add_tabs([n for n in names if n not in existing]))

    def add_tabs(self, names: Iterable[str]) -> list[Request]:
        """addSheet requests, each with a sheetId chosen here, so that formats and charts
        in the same spreadsheets.batchUpdate can name the tab without asking Google first."""
        requests = []
        for name in names:
            sheet_id = new_sheet_id(name)
            while sheet_id in self.sheet_ids.values():
                sheet_id = (sheet_id + 1) & 0x7FFFFFFF
            self.sheet_ids[name], self.grid[name], self.charts[name] = sheet_id, NEW_GRID, []
            properties = {"sheetId": sheet_id, "title": name, "hidden": name in self.hidden}
            requests.append({"addSheet": {"properties": properties}})
        return requests

    def update(self, requests: list[Request]) -> None:
        """One spreadsheets.batchUpdate, when there is anything to send."""
        if requests:
            self.call("batch_update", {"requests": requests})
            self.known = False  # charts it added have IDs only Google knows

    def room(
        self, data: list[dict[str, Any]], narrow: Mapping[str, int] | None = None
    ) -> list[Request]:
        """Requests to grow grids a write of ``data`` would overflow: Google answers 400 past
        a tab's grid (new tabs are 1000 x 26). None when the write fits. ``narrow``: tabs
        (title -> width) whose columns past that width hold nothing, dropped as they grow."""
        needed: dict[str, tuple[int, int]] = {}
        for item in data:
            tab, _, cells = item["range"].rpartition("!")
            row0, col0 = range_start(cells)
            width = max((len(r) for r in item["values"]), default=0)
            rows, cols = needed.get(tab, (0, 0))
            needed[tab] = (max(rows, row0 + len(item["values"]) - 1), max(cols, col0 + width))
        return self.growth(needed, narrow)

    def growth(
        self, needed: dict[str, tuple[int, int]], narrow: Mapping[str, int] | None = None
    ) -> list[Request]:
        """appendDimension requests for ``needed`` (quoted tab -> rows, columns), from the
        grids the last look found, which they then update; a tab of ``narrow`` that grows
        loses its columns past its width first (a deleteDimension before its rows come)."""
        requests: list[Request] = []
        for quoted, want in needed.items():
            title = quoted[1:-1].replace("''", "'") if quoted.startswith("'") else quoted
            rows, cols = self.grid.get(title, NEW_GRID)
            if want[0] <= rows and want[1] <= cols:
                continue
            if title not in self.sheet_ids:
                self.look()  # a read found the grid, not the tab's ID
            if title not in self.sheet_ids:
                continue  # not there: the write's own error says so
            rows, cols = self.grid.get(title, NEW_GRID)
            width = narrow.get(title, cols) if narrow else cols
            if want[0] > rows and want[1] <= width < cols:
                # Google counts a grid's every cell against its 10 million: History keeps
                # the 26 columns of a new tab for its 7, 3.3 of the 8.2 million cells of a
                # 100,000-lead sheet after its first sync (issue 21, session 6)
                requests.append(
                    {
                        "deleteDimension": {
                            "range": {
                                "sheetId": self.sheet_ids[title],
                                "dimension": "COLUMNS",
                                "startIndex": width,
                                "endIndex": cols,
                            }
                        }
                    }
                )
                cols = width
            if want[0] > rows:
                # room to spare, so that a log growing by a batch at a time (History) costs
                # a request now and then, not at every write
                headroom = ROOM_CELLS // max(want[1], cols, 1)
                want = (max(want[0], rows + headroom), want[1])
            self.grid[title] = (max(rows, want[0]), max(cols, want[1]))
            for dimension, have, need in (("ROWS", rows, want[0]), ("COLUMNS", cols, want[1])):
                if need > have:
                    requests.append(
                        {
                            "appendDimension": {
                                "sheetId": self.sheet_ids[title],
                                "dimension": dimension,
                                "length": need - have,
                            }
                        }
                    )
        return requests


def new_sheet_id(title: str) -> int:
    """The sheetId sheetcrm gives a tab it adds, from its title: a guess at the ID of one of
    its own tabs that usually holds, before anything was asked."""
    return zlib.crc32(title.encode()) & 0x7FFFFFFF
