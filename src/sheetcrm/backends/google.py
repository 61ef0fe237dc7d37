"""A Google Sheet as the backend; only this module and its sheets_* helpers use gspread.

Reads every tab in one ``values:batchGet``; what a write needs to know of the sheet comes
with the lease (sheets_lease.py). Writes every cell change and History rows in one
``values:batchUpdate``, and new leads in one ``values:append``, with valueInputOption RAW so
that nothing a person or a web form typed is ever taken for a formula. Values are read as
the sheet shows them (FORMATTED_VALUE): never numericised, so "00123" stays "00123".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from itertools import chain
from typing import Any

from gspread.exceptions import APIError

from sheetcrm.backends.base import StaleSnapshotError
from sheetcrm.backends.sheets_address import grid_size, quote, spreadsheet_id
from sheetcrm.backends.sheets_changes import (
    Shape,
    cell_ranges,
    json_value,
    narrow_tabs,
    tab_ranges,
)
from sheetcrm.backends.sheets_charts import chart_requests, format_requests
from sheetcrm.backends.sheets_grid import CHECK_FIELDS, READ_FIELDS, grid_rows
from sheetcrm.backends.sheets_http import SheetsHTTP, credentials, explain, service_account
from sheetcrm.backends.sheets_lease import LEASE_RANGE, LEASE_TAB, Lease
from sheetcrm.backends.sheets_look import provisioning_requests
from sheetcrm.backends.sheets_parts import PART_BYTES, bodies, encoded, row_parts
from sheetcrm.backends.sheets_spreadsheet import Spreadsheet
from sheetcrm.backends.sheets_version import (
    BY_COLUMNS,
    CHECK_CELLS_IN_ANSWER,
    Digest,
    IdentityAnswer,
    identity_ranges,
    token,
    version_ranges,
)
from sheetcrm.engine.adoption import Adoption
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.metric_grid import MetricTab
from sheetcrm.engine.schema import (
    LEADS,
    MAX_ROW_PROBLEMS,
    METRIC_TABS,
    PROBLEMS,
    STATE,
    TABS,
    canonical_header,
)
from sheetcrm.engine.table import Snapshot, Table, column_letter, shared_texts
from sheetcrm.errors import BackendError

CELL_LIMIT = 50_000  # characters per cell, the Sheets API's limit


RAW = {"valueInputOption": "RAW"}  # every write: text stays text, never a formula


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
        self._written = True  # since the last read: positions it found may have moved
        self._widest: dict[str, int] = {}  # tab -> its widest row as read, header or not

    # -- reading ---------------------------------------------------------------------------

    def exists(self) -> bool:
        try:
            self.sheet.titles()
        except BackendError:
            return False
        return True

    def read(self, texts: dict[str, str] | None = None) -> Snapshot:
        titles = list(self.sheet.sheet_ids) or [
            *(t.name for t in (*TABS, *METRIC_TABS)),
            LEASE_TAB,
        ]
        found: dict[str, list[list[str]]] = {}
        # each distinct text held once (engine/table.py), the caller's own if it holds it
        seen: dict[str, str] = {} if texts is None else texts
        try:
            got = self.http.values_batch_get_shared(
                self.id,
                [quote(t) for t in titles],
                {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
                seen,
            )
        except APIError as exc:
            if exc.code != 400:  # 400: a tab it names is not there (deleted, or never made)
                raise explain(exc, self.id, self.account) from exc
            # one spreadsheets.get has them all, and what the write needs: the lease's
            # answer brings nothing new, and the sync costs what it would have
            meta = self.sheet.call("fetch_sheet_metadata", {"fields": READ_FIELDS})
            self.sheet.learn(meta, every_tab=True)
            found = {
                s["properties"]["title"]: shared_texts(grid_rows(s), seen)
                for s in meta.get("sheets", [])
            }
        else:
            for title, value_range in zip(titles, got.get("valueRanges", []), strict=False):
                found[title] = value_range.get("values", [])  # shared as parsed
                # a whole-tab range is echoed as the tab's grid: 'Problems'!A1:Z1200
                grid = grid_size(value_range.get("range", ""))
                if grid is not None:
                    self.sheet.grid[title] = grid
        self._shape.clear()
        self._written = False
        tabs: dict[str, Table] = {}
        self._lease.read_from(found.pop(LEASE_TAB, None))
        for title, rows in found.items():
            self._widest[title] = max(map(len, rows), default=0)
            tabs[title] = table = _table(rows)
            self._shape[title] = (list(table.header), len(table.rows))
        return Snapshot(tabs, token(tabs), cell_limit=CELL_LIMIT, properties=self.sheet.properties)

    def version(self) -> str:
        """Re-read the Lead ID and service columns (one request): enough to tell whether a
        person sorted, inserted or deleted rows, or typed into a cell the plan would write."""
        leads = self._shape.get(LEADS.name)
        if leads is None or self._written:
            return self.read().version
        ranges = version_ranges(leads[0], STATE.name in self._shape)
        hashed, lease = Digest(), len(ranges)
        if self._lease.holder is not None:
            ranges.append(LEASE_RANGE)

        def column(index: int, cells: list[Any]) -> list[Any] | None:
            if index < lease:
                hashed.add(cells)  # hashed as parsed, not kept
                return None
            return cells  # the lease's

        got = self.sheet.call("values_batch_get_shared", ranges, BY_COLUMNS, {}, column)
        if self._lease.holder is not None:
            self._lease.confirm(got.get("valueRanges", [])[lease])
        return hashed.hexdigest()

    def identity(
        self, tab: str, columns: Sequence[int], each: Callable[[int, list[str]], None]
    ) -> list[str] | None:
        answer = IdentityAnswer(len(columns), each)
        ranges = identity_ranges(tab, columns)
        self.sheet.call("values_batch_get_shared", ranges, BY_COLUMNS, {}, answer.column)
        return answer.header()

    # -- writing ---------------------------------------------------------------------------

    def write(self, changes: Changes) -> None:
        """At most one spreadsheets.batchUpdate (new tabs, grids grown, the metric tabs'
        formats and charts), the append of new leads, then one values.batchUpdate (every
        cell, History rows, and the lease given back)."""
        if not changes:
            return
        if self._written:  # resolved against a read this backend has written over since
            raise StaleSnapshotError("the sheet was written since it was read")
        if changes.replace:  # tab IDs and charts; known already when the sync holds the lease
            self.sheet.look()
        requests = self.sheet.add_tabs(t for t in changes.replace if t not in self.sheet.sheet_ids)
        data, leads_rows = tab_ranges(changes, self._shape)
        narrow = narrow_tabs(self._shape, self._widest)  # logs that can lose empty columns
        if leads_rows is not None:
            tab = leads_rows[0]
            header = self._shape.get(tab, ([], 0))[0] + changes.new_columns.get(tab, [])
            below = self._shape.get(tab, ([], 0))[1] + 2
            # the append names the row under the last lead: Google refuses a range past the
            # grid, and a sheet made from a CSV or grown for a write has none to spare
            under = {"range": f"{quote(tab)}!A{below}", "values": [[""]]}
            requests += self.sheet.room(
                [*data, {"range": f"{quote(tab)}!A1", "values": [header]}, under], narrow
            )
        else:
            # rewritten tabs, new columns, History rows
            requests += self.sheet.room(data, narrow)
        for title, table in changes.replace.items():
            if isinstance(table, MetricTab):
                sheet_id = self.sheet.sheet_ids[title]
                requests += format_requests(table, sheet_id)
                requests += chart_requests(table, sheet_id, self.sheet.charts.get(title, []))
        if self._version(requests) != changes.base_version:
            raise StaleSnapshotError("the sheet changed since it was read")
        if leads_rows is not None:
            self._append_leads(leads_rows[0], header, leads_rows[1], below)
        releasing = self._lease.holder is not None
        ranges = chain(data, cell_ranges(changes, self._shape))
        self._write_values(ranges, self._lease if releasing else None)
        if releasing:
            self._lease.holder = None
        self._written = True  # positions are stale now: the next write follows a read

    def _write_values(self, ranges: Iterable[dict[str, Any]], release: Lease | None = None) -> None:
        """values.batchUpdate of ``ranges`` in parts Google takes (sheets_parts.py), one
        request each; the lease to ``release`` given back in the last one (had a part
        failed, keeping it would free it), unless the write outlasted it: it may be another
        sync's by then."""

        def lease() -> bytes | None:
            if release is None or not release.in_time():
                return None
            return encoded({"range": LEASE_RANGE, "values": [["", ""]]})

        for made in bodies(ranges, RAW, lease, PART_BYTES):
            self.sheet.call("values_batch_update_text", made)

    def _version(self, requests: list[dict[str, Any]]) -> str:
        """Send ``requests`` (new tabs, grids, formats, charts) in one spreadsheets.batchUpdate
        whose answer carries what :meth:`version` reads, and the lease; without requests,
        :meth:`version` itself (and after them, for a sheet past CHECK_CELLS_IN_ANSWER). The
        check comes last, just before the cells are written: a sort or a typed cell since
        the read is planned against, not repaired after."""
        shape = self._shape.get(LEADS.name)
        ranges = version_ranges(shape[0], STATE.name in self._shape) if shape else []
        if not requests or shape is None or shape[1] * len(ranges) > CHECK_CELLS_IN_ANSWER:
            self.sheet.update(requests)
            return self.version()
        holding = self._lease.holder is not None
        got = self.sheet.call(
            "batch_update_fields",
            {
                "requests": requests,
                "includeSpreadsheetInResponse": True,
                "responseRanges": [*ranges, LEASE_RANGE] if holding else ranges,
                "responseIncludeGridData": True,
            },
            CHECK_FIELDS,
        )
        # charts it added have IDs only Google knows: a write planned again asks first
        self.sheet.known = False
        blocks = {
            (sheet["properties"]["title"], data.get("startColumn", 0)): grid_rows({"data": [data]})
            for sheet in got.get("updatedSpreadsheet", {}).get("sheets", [])
            for data in sheet.get("data", [])
        }
        if holding:
            held = blocks.get((LEASE_TAB, 0)) or [[]]
            self._lease.confirm({"values": [[v] for v in held[0]]})
        service = [r for (tab, _), r in sorted(blocks.items()) if tab == LEADS.name]
        header = [rows[0][0] if rows and rows[0] else "" for rows in service]
        height = max((len(rows) for rows in service), default=1)
        leads = Table(
            header,
            [
                [rows[i][0] if i < len(rows) and rows[i] else "" for rows in service]
                for i in range(1, height)
            ],
        )
        tabs = {LEADS.name: leads}
        if STATE.name in self._shape:
            tabs[STATE.name] = _table(blocks.get((STATE.name, 0), []))
        return token(tabs)

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
        # in parts Google takes, each under the rows of the one before (a lost answer stops
        # the rest: the caller's check of the sheet finds the parts that landed)
        for part in row_parts(values, PART_BYTES):
            with self.http.at_most_once():
                got = self.sheet.call(
                    "values_append_text",
                    f"{quote(tab)}!A{below}",
                    {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
                    encoded({"values": part}),
                )
            # the next part under this one, where Google says it put it: under rows a person
            # typed there since the read, when there were some
            landed = grid_size(got.get("updates", {}).get("updatedRange", ""))
            below = landed[0] + 1 if landed else below + len(part)

    def lease(
        self, holder: str, now: datetime, seconds: float = 300
    ) -> AbstractContextManager[None]:
        """Hold the spreadsheet's sync lease (sheets_lease.py)."""
        return self._lease.hold(holder, now, seconds)

    def row_link(self, row: int) -> str:
        """The sheet opened at the lead's row: the Leads tab by its sheetId, the row by A1.
        Before the tab's ID is known (no sync or flush yet in this process), the spreadsheet
        alone: a range without it would open on the first tab, perhaps another one."""
        url = f"https://docs.google.com/spreadsheets/d/{self.id}/edit"
        gid = self.sheet.sheet_ids.get(LEADS.name)
        return f"{url}#gid={gid}&range=A{row}" if gid is not None else url

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
        self._set_up(data, look)

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
        self._set_up(data, tabs)

    def _set_up(self, data: list[dict[str, Any]], look: dict[str, Table]) -> None:
        """Write ``data`` (whole ranges), then the drop-downs, formats and highlighting for
        tabs with the headers of ``look``. Room for the Problems tab at its longest, so no
        sync has to grow it."""
        self.sheet.update(
            self.sheet.room(data)
            + self.sheet.growth({quote(PROBLEMS.name): (MAX_ROW_PROBLEMS + 200, 26)})
        )
        self._write_values(data)
        meta = self.sheet.call(
            "fetch_sheet_metadata",
            {"fields": "sheets(properties,conditionalFormats,protectedRanges)"},
        )
        self.sheet.update(provisioning_requests(look, meta))
        self._written = True


def _table(rows: list[list[str]]) -> Table:
    """A tab as read: its first row the header, no row wider than it."""
    header = rows[0] if rows else []
    width = max(len(header), 1)
    # the rows as read, not copies: a copy of each leaves the read's own lists as holes
    # the process keeps (36 MB at 100,000 leads)
    return Table(list(header), [r if len(r) <= width else r[:width] for r in rows[1:]])
