"""A Google Sheet as the backend; only this module and its sheets_* helpers use gspread.

Reads every tab in one ``values:batchGet``; writes every cell change and History rows in one
``values:batchUpdate``, and new leads in one ``values:append``, with valueInputOption RAW so that
nothing a person or a web form typed is ever taken for a formula. Values are read as the
sheet shows them (FORMATTED_VALUE): never numericised, so "00123" stays "00123".
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from gspread.exceptions import APIError

from sheetcrm.backends.sheets_address import grid_size, quote, spreadsheet_id
from sheetcrm.backends.sheets_changes import Shape, cell_ranges, json_value, tab_ranges
from sheetcrm.backends.sheets_charts import chart_requests, format_requests
from sheetcrm.backends.sheets_http import SheetsHTTP, credentials, explain, service_account
from sheetcrm.backends.sheets_lease import LEASE_RANGE, LEASE_TAB, Lease
from sheetcrm.backends.sheets_look import provisioning_requests
from sheetcrm.backends.sheets_spreadsheet import Spreadsheet
from sheetcrm.backends.sheets_version import digest, token, version_ranges
from sheetcrm.engine.adoption import Adoption
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.metric_tabs import MetricTab
from sheetcrm.engine.schema import (
    LEADS,
    MAX_ROW_PROBLEMS,
    METRIC_TABS,
    PROBLEMS,
    STATE,
    TABS,
    canonical_header,
)
from sheetcrm.engine.table import Snapshot, Table, column_letter
from sheetcrm.errors import BackendError

CELL_LIMIT = 50_000  # characters per cell, the Sheets API's limit


class GoogleBackend:
    """A spreadsheet in Google Sheets, by URL or ID."""

    atomic = False  # a write is several requests, with no transaction around them

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
        self.sheet = Spreadsheet(self.id, self.http, self.account, (STATE.name, LEASE_TAB))
        self._lease = Lease(self.sheet)
        self._shape: Shape = {}  # tab -> (header, data rows)
        self._widest: dict[str, int] = {}  # tab -> its widest row as read, header or not

    # -- reading ---------------------------------------------------------------------------

    def exists(self) -> bool:
        try:
            self.sheet.titles()
        except BackendError:
            return False
        return True

    def read(self) -> Snapshot:
        titles = list(self.sheet.sheet_ids) or [
            *(t.name for t in (*TABS, *METRIC_TABS)),
            LEASE_TAB,
        ]
        try:
            ranges = self.http.values_batch_get(
                self.id,
                [quote(t) for t in titles],
                {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
            )
        except APIError as exc:
            if exc.code != 400:  # 400: a tab we expected is not there; ask which there are
                raise explain(exc, self.id, self.account) from exc
            titles = self.sheet.titles()
            ranges = self.sheet.call(
                "values_batch_get",
                [quote(t) for t in titles],
                {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
            )
        tabs: dict[str, Table] = {}
        self._lease.read_from(None)
        for title, value_range in zip(titles, ranges.get("valueRanges", []), strict=False):
            rows = [[str(v) for v in row] for row in value_range.get("values", [])]
            # a whole-tab range is echoed as the tab's grid: 'Problems'!A1:Z1200
            grid = grid_size(value_range.get("range", ""))
            if grid is not None:
                self.sheet.grid[title] = grid
            if title == LEASE_TAB:
                self._lease.read_from(rows)
                continue
            header = rows[0] if rows else []
            self._widest[title] = max(map(len, rows), default=0)
            table = Table(list(header), [r[: max(len(header), 1)] for r in rows[1:]])
            tabs[title] = table
            self._shape[title] = (list(table.header), len(table.rows))
        return Snapshot(tabs, token(tabs), cell_limit=CELL_LIMIT)

    def version(self) -> str:
        """Re-read the Lead ID and service columns (one request): enough to tell whether a
        person sorted, inserted or deleted rows, or typed into a cell the plan would write."""
        leads = self._shape.get(LEADS.name)
        if leads is None:
            return self.read().version
        ranges = version_ranges(leads[0], STATE.name in self._shape)
        if self._lease.holder is not None:
            ranges.append(LEASE_RANGE)
        got = self.sheet.call(
            "values_batch_get",
            ranges,
            {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "COLUMNS"},
        )
        value_ranges = got.get("valueRanges", [])
        if self._lease.holder is not None:
            self._lease.confirm(value_ranges.pop())
        return digest(value_ranges)

    # -- writing ---------------------------------------------------------------------------

    def write(self, changes: Changes) -> None:
        if not changes:
            return
        new_tabs = [t for t in changes.replace if t not in self._shape]
        if new_tabs:
            self.sheet.ensure_tabs(new_tabs)
        data, leads_rows = tab_ranges(changes, self._shape)
        if leads_rows is not None:
            tab = leads_rows[0]
            header = self._shape.get(tab, ([], 0))[0] + changes.new_columns.get(tab, [])
            self.sheet.fit([*data, {"range": f"{quote(tab)}!A1", "values": [header]}])
            self._append_leads(tab, header, leads_rows[1], self._shape.get(tab, ([], 0))[1] + 2)
        else:
            self.sheet.fit(data)  # rewritten tabs, new columns and History rows may outgrow a grid
        metric_tabs = {t: m for t, m in changes.replace.items() if isinstance(m, MetricTab)}
        if metric_tabs:
            self._dress_metric_tabs(metric_tabs, fresh=set(new_tabs))
        data += cell_ranges(changes, self._shape)
        releasing = self._lease.holder is not None
        if releasing:  # let go of the lease in the same request
            data.append({"range": LEASE_RANGE, "values": [["", ""]]})
        if data:
            self.sheet.call("values_batch_update", {"valueInputOption": "RAW", "data": data})
        if releasing:  # only now: had the write failed, leaving the lease would still free it
            self._lease.holder = None
        self._shape.clear()  # positions are stale now: the next write follows a read

    def _append_leads(self, tab: str, header: list[str], rows: list[list[str]], below: int) -> None:
        """New leads go under the last row read (sheet row ``below`` on), or under rows a
        person typed there since. Not from A1: Google appends after the table it finds from
        the range's start, which ends at the first empty row, and inserting leads into such a
        gap would move every row below it under the cells this write addresses by position.
        An append whose answer was lost may still have happened, so it is never sent blindly
        again: the caller finds out from the sheet (web-form leads carry their Submission
        ID) before trying again."""
        values = [
            [json_value(tab, h, v) for h, v in zip(header, row, strict=False)] for row in rows
        ]
        with self.http.at_most_once():
            self.sheet.call(
                "values_append",
                f"{quote(tab)}!A{below}",
                {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
                {"values": values},
            )

    def _dress_metric_tabs(self, tabs: dict[str, MetricTab], fresh: set[str]) -> None:
        """Number formats, and charts added once then only refreshed (sheets_charts.py).
        Tabs this write just created have no chart yet: no need to ask which they have."""
        sheet_ids = self.sheet.sheet_ids
        meta: dict[str, Any]
        if set(tabs) <= fresh and set(tabs) <= set(sheet_ids):
            meta = {"sheets": [{"properties": {"title": t, "sheetId": sheet_ids[t]}} for t in tabs]}
        else:
            meta = self.sheet.call(
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
            self.sheet.call("batch_update", {"requests": requests})

    def lease(
        self, holder: str, now: datetime, seconds: float = 300
    ) -> AbstractContextManager[None]:
        """Hold the spreadsheet's sync lease (sheets_lease.py)."""
        return self._lease.hold(holder, now, seconds)

    def remove_leftovers(self, clock: datetime) -> list[str]:
        return []  # writes leave nothing behind here

    def adopt(self, adoption: Adoption, base_version: str) -> None:
        """Add what ``adoption`` says to the sheet (engine/adoption.py): Google renames the
        references to a renamed tab in formulas itself. ``base_version`` is not checked: a
        person adopts their sheet once, by hand, and no cell they typed is written."""
        self.sheet.titles()
        if adoption.rename_tab:
            sheet_id = self.sheet.sheet_ids[adoption.tab]
            rename = {"properties": {"sheetId": sheet_id, "title": LEADS.name}, "fields": "title"}
            self.sheet.call("batch_update", {"requests": [{"updateSheetProperties": rename}]})
        self.sheet.ensure_tabs([*adoption.new_tabs, *(t.name for t in METRIC_TABS), LEASE_TAB])
        data: list[dict[str, Any]] = []
        look = dict(adoption.new_tabs)
        if adoption.tab:
            leads = quote(LEADS.name)
            for col, text in adoption.renamed.items():
                data.append({"range": f"{leads}!{column_letter(col)}1", "values": [[text]]})
            # after the last column holding anything: never a header over a person's values
            start = max(len(adoption.header), self._widest.get(adoption.tab, 0))
            if adoption.new_columns:
                where = f"{leads}!{column_letter(start)}1"
                data.append({"range": where, "values": [adoption.new_columns]})
            header = adoption.leads_header[: len(adoption.header)]
            header += [""] * (start - len(header)) + adoption.new_columns
            look[LEADS.name] = Table([canonical_header(h) for h in header])
        data += [
            {"range": f"{quote(name)}!A1", "values": [table.header, *table.rows]}
            for name, table in adoption.new_tabs.items()
        ]
        if data:
            self.sheet.fit(data)
            self.sheet.call("values_batch_update", {"valueInputOption": "RAW", "data": data})
        self.sheet.grow({quote(PROBLEMS.name): (MAX_ROW_PROBLEMS + 200, 26)})
        meta = self.sheet.call(
            "fetch_sheet_metadata",
            {"fields": "sheets(properties,conditionalFormats,protectedRanges)"},
        )
        requests = provisioning_requests(look, meta)
        if requests:
            self.sheet.call("batch_update", {"requests": requests})
        self._shape.clear()

    def keep_copy(self, clock: datetime, leads: int) -> str:
        """Refused: the service account cannot copy a spreadsheet into its owner's Drive, and
        starting over in place would write over the tabs people typed in."""
        raise BackendError(
            f"the sheet holds data ({leads} leads): --force would write over it",
            "run init without --force: it adds what is missing and keeps every cell; to start "
            "over, make a new spreadsheet (File > Make a copy keeps this one)",
        )

    def provision(self, tabs: dict[str, Table], *, force: bool = False) -> None:
        """Set the sheet up from a template. Idempotent: tabs, headers and sample rows are
        added only where missing, formatting rules only where not already there."""
        snapshot = self.read()
        # the lease and metric tabs too: the first sync costs no more, and a new process's
        # first read, which names every tab sheetcrm knows, finds them all
        self.sheet.ensure_tabs([*tabs, *(t.name for t in METRIC_TABS), LEASE_TAB])
        data = []
        for name, table in tabs.items():
            current = snapshot.get(name)
            if current is None or not current.header or force:
                rows = [table.header, *table.rows]
                data.append({"range": f"{quote(name)}!A1", "values": rows})
        if data:
            self.sheet.fit(data)
            self.sheet.call("values_batch_update", {"valueInputOption": "RAW", "data": data})
        # room for the Problems tab at its longest, so no sync has to grow it
        self.sheet.grow({quote(PROBLEMS.name): (MAX_ROW_PROBLEMS + 200, 26)})
        meta = self.sheet.call(
            "fetch_sheet_metadata",
            {"fields": "sheets(properties,conditionalFormats,protectedRanges)"},
        )
        requests = provisioning_requests(tabs, meta)
        if requests:
            self.sheet.call("batch_update", {"requests": requests})
        self._shape.clear()
