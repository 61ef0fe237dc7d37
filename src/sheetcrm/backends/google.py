"""A Google Sheet as the backend: the only module that uses gspread.

Reads every tab in one ``values:batchGet``; writes every cell change and History rows in one
``values:batchUpdate``, and new leads in one ``values:append``, with valueInputOption RAW so that
nothing a person or a web form typed is ever taken for a formula. Values are read as the
sheet shows them (FORMATTED_VALUE): never numericised, so "00123" stays "00123".
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

from gspread.exceptions import APIError

from sheetcrm.backends.base import LeaseHeldError
from sheetcrm.backends.holders import abandoned
from sheetcrm.backends.sheets_charts import cell_values, chart_requests, format_requests
from sheetcrm.backends.sheets_http import SheetsHTTP, credentials, explain, service_account
from sheetcrm.backends.sheets_look import provisioning_requests
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.metric_tabs import MetricTab
from sheetcrm.engine.schema import (
    LEADS,
    MAX_ROW_PROBLEMS,
    METRIC_TABS,
    PROBLEMS,
    STATE,
    TABS,
    Kind,
    service_columns,
    tab_spec,
)
from sheetcrm.engine.table import Snapshot, Table, column_letter
from sheetcrm.engine.values import format_number, parse_number
from sheetcrm.errors import BackendError

ROW_HEADROOM = 20_000  # rows a grid grows by at least: History's 7 columns, 140k cells
LEASE_TAB = "_sheetcrm_lease"
"""A1 holds who syncs, B1 until when (UTC, ISO): one sync at a time per spreadsheet."""

CELL_LIMIT = 50_000  # characters per cell, the Sheets API's limit
METRIC_WIDTH = 26  # columns cleared when a metric tab is rewritten (a new grid's width)
_URL_ID = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]{20,})")
_BARE_ID = re.compile(r"[A-Za-z0-9_-]{25,}")


def spreadsheet_id(location: str) -> str | None:
    """The spreadsheet ID in a Google Sheets URL, or a bare ID; None for anything else."""
    m = _URL_ID.search(location)
    if m:
        return m.group(1)
    return location if _BARE_ID.fullmatch(location) else None


def quote(tab: str) -> str:
    return "'" + tab.replace("'", "''") + "'"


def _json_value(tab: str, header: str, text: str) -> Any:
    """What to send for a cell: numbers in number columns as numbers, the rest as text."""
    spec = tab_spec(tab)
    column = spec.column(header) if spec else None
    if column is not None and column.kind in (Kind.NUMBER, Kind.MONEY) and text:
        number = parse_number(text)
        if number is not None and format_number(number) == text:
            return int(number) if number.is_integer() else number
    return text


class GoogleBackend:
    """A spreadsheet in Google Sheets, by URL or ID."""

    def __init__(self, location: str, http: SheetsHTTP | None = None) -> None:
        found = spreadsheet_id(location)
        if found is None:
            raise BackendError(
                f"{location!r} is not a Google Sheets URL or ID",
                "paste the sheet's address, https://docs.google.com/spreadsheets/d/...",
            )
        self.location, self.id = location, found
        emulator = os.environ.get("SHEETS_EMULATOR_HOST") or None
        creds = credentials(emulator) if http is None else http.auth
        self.account = service_account(creds)
        self.http = http or SheetsHTTP(creds, emulator_host=emulator)
        self._shape: dict[str, tuple[list[str], int]] = {}  # tab -> (header, data rows)
        self._sheet_ids: dict[str, int] = {}
        self._lease: str | None = None  # our holder token while we hold the lease
        self._lease_seen: list[str] = []  # the lease tab's A1:B1 at the last read
        self._lease_tab = False  # whether the last read found the lease tab
        self._grid: dict[str, tuple[int, int]] = {}  # tab -> (rows, columns) of its grid

    # -- reading ---------------------------------------------------------------------------

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.http, method)(self.id, *args, **kwargs)
        except APIError as exc:
            raise explain(exc, self.id, self.account) from exc

    def _titles(self) -> list[str]:
        meta = self._call("fetch_sheet_metadata", {"fields": "sheets.properties"})
        self._sheet_ids = {
            s["properties"]["title"]: s["properties"]["sheetId"] for s in meta.get("sheets", [])
        }
        return list(self._sheet_ids)

    def exists(self) -> bool:
        try:
            self._titles()
        except BackendError:
            return False
        return True

    def read(self) -> Snapshot:
        titles = list(self._sheet_ids) or [*(t.name for t in (*TABS, *METRIC_TABS)), LEASE_TAB]
        try:
            ranges = self.http.values_batch_get(
                self.id,
                [quote(t) for t in titles],
                {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
            )
        except APIError as exc:
            if exc.code != 400:  # 400: a tab we expected is not there; ask which there are
                raise explain(exc, self.id, self.account) from exc
            titles = self._titles()
            ranges = self._call(
                "values_batch_get",
                [quote(t) for t in titles],
                {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
            )
        tabs: dict[str, Table] = {}
        self._lease_seen = []
        self._lease_tab = False
        for title, value_range in zip(titles, ranges.get("valueRanges", []), strict=False):
            rows = [[str(v) for v in row] for row in value_range.get("values", [])]
            # a whole-tab range is echoed as the tab's grid: 'Problems'!A1:Z1200
            end = _A1_START.match(value_range.get("range", "").rpartition(":")[2])
            if end and end["row"]:
                self._grid[title] = (int(end["row"]), _column_index(end["col"]) + 1)
            if title == LEASE_TAB:
                self._lease_seen = rows[0] if rows else []
                self._lease_tab = True
                continue
            header = rows[0] if rows else []
            table = Table(list(header), [r[: max(len(header), 1)] for r in rows[1:]])
            tabs[title] = table
            self._shape[title] = (list(table.header), len(table.rows))
        return Snapshot(tabs, _token(tabs), cell_limit=CELL_LIMIT)

    def version(self) -> str:
        """Re-read the Lead ID and service columns (one request): enough to tell whether a
        person sorted, inserted or deleted rows, or typed into a cell the plan would write."""
        leads = self._shape.get(LEADS.name)
        if leads is None:
            return self.read().version
        header = leads[0]
        wanted = [
            i
            for i, h in enumerate(header)
            if (spec := LEADS.column(h)) is not None and spec.header in service_columns()
        ]
        ranges = [f"{quote(LEADS.name)}!{column_letter(i)}:{column_letter(i)}" for i in wanted]
        if STATE.name in self._shape:
            ranges.append(quote(STATE.name))
        if self._lease is not None:
            ranges.append(f"{quote(LEASE_TAB)}!A1:B1")
        got = self._call(
            "values_batch_get",
            ranges,
            {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "COLUMNS"},
        )
        value_ranges = got.get("valueRanges", [])
        if self._lease is not None:
            held = [c[0] if c else "" for c in value_ranges.pop().get("values", [])]
            if not held or held[0] != self._lease:
                self._lease = None
                raise BackendError(
                    "another sync took over this spreadsheet meanwhile",
                    "nothing was written; run the sync again in a minute",
                )
        digest = hashlib.sha256()
        for value_range in value_ranges:
            for column in value_range.get("values", []):
                digest.update("\x1f".join(map(str, column)).encode())
                digest.update(b"\x1e")
        return digest.hexdigest()

    # -- writing ---------------------------------------------------------------------------

    def write(self, changes: Changes) -> None:
        if not changes:
            return
        data: list[dict[str, Any]] = []
        new_tabs = [t for t in changes.replace if t not in self._shape]
        if new_tabs:
            self._ensure_tabs(new_tabs)
        for tab, headers in changes.new_columns.items():
            width = len(self._shape.get(tab, ([], 0))[0])
            data.append(
                {"range": f"{quote(tab)}!{column_letter(width)}1", "values": [list(headers)]}
            )
        for tab, table in changes.replace.items():
            old_header, old_rows = self._shape.get(tab, ([], 0))
            width = max(len(table.header), len(old_header), 1)
            rows = [table.header, *table.rows]
            if isinstance(table, MetricTab):
                # a read sees a metric tab only as wide as its short title row: clear the
                # width a grid starts with, so no figure of a wider layout is left behind
                rows, width = cell_values(table), max(width, METRIC_WIDTH)
            rows += [[] for _ in range(max(0, old_rows + 1 - len(rows)))]  # clear what was below
            padded = [[*r, *[""] * (width - len(r))] for r in rows]
            data.append(
                {
                    "range": f"{quote(tab)}!A1:{column_letter(width - 1)}{len(padded)}",
                    "values": padded,
                }
            )
        leads_rows: tuple[str, list[list[str]]] | None = None
        for tab, rows in changes.appends.items():
            if not rows:
                continue
            if tab_spec(tab) is LEADS:
                leads_rows = (tab, rows)
            elif tab in self._shape:  # service-only tabs (History): at the rows below the last
                known, count = self._shape[tab]
                first = count + 2 if known else 1
                width = max(len(r) for r in rows)
                data.append(
                    {
                        "range": f"{quote(tab)}!A{first}:{column_letter(width - 1)}"
                        f"{first + len(rows) - 1}",
                        "values": rows,
                    }
                )
            else:
                raise BackendError(f"cannot add rows to {tab}: the tab was not read first")
        if leads_rows is not None:
            tab = leads_rows[0]
            header = self._shape.get(tab, ([], 0))[0] + changes.new_columns.get(tab, [])
            self._fit([*data, {"range": f"{quote(tab)}!A1", "values": [header]}])
            self._append_leads(tab, header, leads_rows[1])
        else:
            self._fit(data)  # rewritten tabs, new columns and History rows may outgrow a grid
        metric_tabs = {t: m for t, m in changes.replace.items() if isinstance(m, MetricTab)}
        if metric_tabs:
            self._dress_metric_tabs(metric_tabs, fresh=set(new_tabs))
        data += _cell_ranges(changes, self._shape)
        releasing = self._lease is not None
        if releasing:  # let go of the lease in the same request
            data.append({"range": f"{quote(LEASE_TAB)}!A1:B1", "values": [["", ""]]})
        if data:
            self._call("values_batch_update", {"valueInputOption": "RAW", "data": data})
        if releasing:  # only now: had the write failed, leaving the lease would still free it
            self._lease = None
        self._shape.clear()  # positions are stale now: the next write follows a read

    def _append_leads(self, tab: str, header: list[str], rows: list[list[str]]) -> None:
        """New leads go under whatever is the last row *now*: a person may have typed a row
        since the read. An append whose answer was lost may still have happened, so it is
        never sent blindly again: the caller finds out from the sheet (web-form leads carry
        their Submission ID) before trying again."""
        values = [
            [_json_value(tab, h, v) for h, v in zip(header, row, strict=False)] for row in rows
        ]
        with self.http.at_most_once():
            self._call(
                "values_append",
                f"{quote(tab)}!A1",
                {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
                {"values": values},
            )

    def _dress_metric_tabs(self, tabs: dict[str, MetricTab], fresh: set[str]) -> None:
        """Number formats, and charts added once then only refreshed (sheets_charts.py).
        Tabs this write just created have no chart yet: no need to ask which they have."""
        meta: dict[str, Any]
        if set(tabs) <= fresh and set(tabs) <= set(self._sheet_ids):
            meta = {
                "sheets": [
                    {"properties": {"title": t, "sheetId": self._sheet_ids[t]}} for t in tabs
                ]
            }
        else:
            meta = self._call(
                "fetch_sheet_metadata", {"fields": "sheets(properties(sheetId,title),charts)"}
            )
        requests = []
        for sheet in meta.get("sheets", []):
            tab = tabs.get(sheet["properties"]["title"])
            if tab is not None:
                sheet_id = sheet["properties"].get("sheetId", 0)
                requests += format_requests(tab, sheet_id)
                requests += chart_requests(tab, sheet_id, sheet.get("charts", []))
        if requests:
            self._call("batch_update", {"requests": requests})

    def _fit(self, data: list[dict[str, Any]]) -> None:
        """Grow grids a write would overflow: Google answers 400 past a tab's grid (new tabs
        are 1000 x 26). Costs requests only when a write reaches beyond that default."""
        needed: dict[str, tuple[int, int]] = {}
        for item in data:
            tab, _, cells = item["range"].rpartition("!")
            first = _A1_START.match(cells)
            row0 = int(first["row"] or 1) if first else 1
            col0 = _column_index(first["col"]) if first else 0
            width = max((len(r) for r in item["values"]), default=0)
            rows, cols = needed.get(tab, (0, 0))
            needed[tab] = (max(rows, row0 + len(item["values"]) - 1), max(cols, col0 + width))
        self._grow(needed)

    def _grow(self, needed: dict[str, tuple[int, int]]) -> None:
        def fits(tab: str, rows: int, cols: int) -> bool:
            have = self._grid.get(tab.strip("'").replace("''", "'"), (1000, 26))
            return rows <= have[0] and cols <= have[1]

        if all(fits(tab, r, c) for tab, (r, c) in needed.items()):
            return
        meta = self._call("fetch_sheet_metadata", {"fields": "sheets.properties"})
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
            self._grid[title] = (max(rows, want[0]), max(cols, want[1]))
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
            self._call("batch_update", {"requests": requests})

    def _ensure_tabs(self, names: Iterable[str]) -> None:
        existing = set(self._titles())
        requests = [
            {"addSheet": {"properties": {"title": n, "hidden": n in (STATE.name, LEASE_TAB)}}}
            for n in names
            if n not in existing
        ]
        if requests:
            self._call("batch_update", {"requests": requests})
            self._titles()

    @contextmanager
    def lease(self, holder: str, now: datetime, seconds: float = 300) -> Iterator[None]:
        """Hold the spreadsheet's sync lease: two service instances, or a cron run overlapping
        a manual one, never interleave. Taken after a read (which shows who holds it), given
        back with the sync's own write, or on leaving when there was nothing to write."""
        if len(self._lease_seen) > 1 and self._lease_seen[0] not in ("", holder):
            other, until = self._lease_seen[0], self._lease_seen[1]
            try:
                expired = datetime.fromisoformat(until) <= now.astimezone(UTC)
            except ValueError:
                expired = True  # a damaged lease is no lease
            if not expired and not abandoned(other):  # a holder killed here frees it at once
                raise LeaseHeldError(
                    f"another sync ({other}) is running until {until}",
                    "wait for it to finish; a lease left by a crash expires on its own",
                )
        if not self._lease_tab and LEASE_TAB not in self._sheet_ids:
            self._ensure_tabs([LEASE_TAB])  # first sync ever: the tab may not exist yet
        until = (now.astimezone(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds")
        self._call(
            "values_update",
            f"{quote(LEASE_TAB)}!A1:B1",
            {"valueInputOption": "RAW"},
            {"values": [[holder, until]]},
        )
        self._lease = holder
        try:
            yield
        finally:
            if self._lease is not None:
                self._lease = None
                self._call(
                    "values_update",
                    f"{quote(LEASE_TAB)}!A1:B1",
                    {"valueInputOption": "RAW"},
                    {"values": [["", ""]]},
                )

    def provision(self, tabs: dict[str, Table], *, force: bool = False) -> None:
        """Set the sheet up from a template. Idempotent: tabs, headers and sample rows are
        added only where missing, formatting rules only where not already there."""
        snapshot = self.read()
        # the lease and metric tabs too: the first sync costs no more, and a new process's
        # first read, which names every tab sheetcrm knows, finds them all
        self._ensure_tabs([*tabs, *(t.name for t in METRIC_TABS), LEASE_TAB])
        data = []
        for name, table in tabs.items():
            current = snapshot.get(name)
            if current is None or not current.header or force:
                rows = [table.header, *table.rows]
                data.append({"range": f"{quote(name)}!A1", "values": rows})
        if data:
            self._fit(data)
            self._call("values_batch_update", {"valueInputOption": "RAW", "data": data})
        # room for the Problems tab at its longest, so no sync has to grow it
        self._grow({quote(PROBLEMS.name): (MAX_ROW_PROBLEMS + 200, 26)})
        meta = self._call(
            "fetch_sheet_metadata",
            {"fields": "sheets(properties,conditionalFormats,protectedRanges)"},
        )
        requests = provisioning_requests(tabs, meta)
        if requests:
            self._call("batch_update", {"requests": requests})
        self._shape.clear()


_A1_START = re.compile(r"(?P<col>[A-Z]+)(?P<row>\d+)?")


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch) - 64
    return index - 1


def _token(tabs: dict[str, Table]) -> str:
    """The same digest :meth:`GoogleBackend.version` computes, from a full read."""
    digest = hashlib.sha256()
    leads = tabs.get(LEADS.name)
    if leads is not None:
        service = set(service_columns())
        for i, h in enumerate(leads.header):
            spec = LEADS.column(h)
            if spec is not None and spec.header in service:
                column = [h, *(r[i] if i < len(r) else "" for r in leads.rows)]
                while column and column[-1] == "":
                    column.pop()  # the API leaves trailing empty cells out
                digest.update("\x1f".join(column).encode())
                digest.update(b"\x1e")
    state = tabs.get(STATE.name)
    if state is not None:
        width = max([len(state.header), *(len(r) for r in state.rows)], default=0)
        full = [state.header, *state.rows]
        for c in range(width):
            column = [r[c] if c < len(r) else "" for r in full]
            while column and column[-1] == "":
                column.pop()
            digest.update("\x1f".join(column).encode())
            digest.update(b"\x1e")
    return digest.hexdigest()


def _cell_ranges(changes: Changes, shape: dict[str, tuple[list[str], int]]) -> list[dict[str, Any]]:
    """Cell updates as ranges: consecutive rows of one column go in one range."""
    out: list[dict[str, Any]] = []
    ordered = sorted(changes.cells, key=lambda c: (c.tab, c.col, c.row))
    for (tab, col), group in groupby(ordered, key=lambda c: (c.tab, c.col)):
        header = shape.get(tab, ([], 0))[0] + changes.new_columns.get(tab, [])
        name = header[col] if col < len(header) else ""
        run: list[Any] = []
        for cell in group:
            if run and cell.row != run[-1].row + 1:
                out.append(_range(tab, col, run, name))
                run = []
            run.append(cell)
        if run:
            out.append(_range(tab, col, run, name))
    return out


def _range(tab: str, col: int, run: list[Any], header: str) -> dict[str, Any]:
    letter = column_letter(col)
    first, last = Table.sheet_row(run[0].row), Table.sheet_row(run[-1].row)
    return {
        "range": f"{quote(tab)}!{letter}{first}:{letter}{last}",
        "values": [[_json_value(tab, header, c.value)] for c in run],
    }
