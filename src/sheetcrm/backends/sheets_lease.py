"""The spreadsheet's sync lease: two service instances, or a cron run overlapping a manual
one, never interleave their writes.

A hidden tab holds it, A1 who syncs and B1 until when. It is taken after a read (which shows
who holds it), checked just before the cells are written (``GoogleBackend._version``), and
given back with the sync's own write, or on leaving when there was nothing to write.

Taking it is a ``spreadsheets.batchUpdate`` whose answer is what the write needs to know of
the sheet (tab IDs, grids, charts, protected ranges, locale, time zone): no request of its
own. That request names the lease tab by its sheetId, which C1 keeps for the next process;
a guard renames the tab to its own title first, which Google refuses, with the whole batch,
when the ID names another tab (a tab with that title exists already), so a wrong ID costs
one request more and never a person's cell.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from gspread.exceptions import APIError

from sheetcrm.backends.base import LeaseHeldError
from sheetcrm.backends.holders import abandoned
from sheetcrm.backends.sheets_address import quote
from sheetcrm.backends.sheets_grid import META_FIELDS
from sheetcrm.backends.sheets_http import explain
from sheetcrm.backends.sheets_spreadsheet import Request, Spreadsheet, new_sheet_id

LEASE_TAB = "_sheetcrm_lease"
"""A1 holds who syncs, B1 until when (UTC, ISO): one sync at a time per spreadsheet."""
LEASE_RANGE = f"{quote(LEASE_TAB)}!A1:B1"


MARGIN = 0.1  # of a lease's time, not counted on: clocks and requests in flight


class Lease:
    def __init__(self, sheet: Spreadsheet) -> None:
        self.sheet = sheet
        self.holder: str | None = None  # our holder token while we hold the lease
        self.seen: list[str] = []  # the lease tab's A1:B1 at the last read
        self.found = False  # whether the last read found the lease tab
        self._ends = 0.0  # monotonic time after which the lease held may be another's

    def read_from(self, rows: list[list[str]] | None) -> None:
        """What a read found in the lease tab: its rows, or None when it is not there."""
        self.seen = rows[0] if rows else []
        self.found = rows is not None

    @contextmanager
    def hold(self, holder: str, now: datetime, seconds: float) -> Iterator[None]:
        if len(self.seen) > 1 and self.seen[0] not in ("", holder):
            other, until = self.seen[0], self.seen[1]
            try:
                expired = datetime.fromisoformat(until) <= now.astimezone(UTC)
            except ValueError:
                expired = True  # a damaged lease is no lease
            if not expired and not abandoned(other):  # a holder killed here frees it at once
                raise LeaseHeldError(
                    f"another sync ({other}) is running until {until}",
                    "wait for it to finish; a lease left by a crash expires on its own",
                )
        until = (now.astimezone(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds")
        # by this process's own clock: a write in many parts, each retried, may outlast it
        self._ends = time.monotonic() + seconds * (1 - MARGIN)
        self._take(holder, until)
        self.holder = holder
        try:
            yield
        finally:
            if self.holder is not None:
                if self.in_time():
                    self._put("", "")
                self.holder = None

    def in_time(self) -> bool:
        """Whether the lease held is still ours for sure: past its time, another sync may
        have taken it, and giving it back would give back theirs."""
        return self.holder is not None and time.monotonic() < self._ends

    def confirm(self, value_range: dict[str, Any]) -> None:
        """Raise unless the lease tab, read by columns into ``value_range``, still names us."""
        held = [c[0] if c else "" for c in value_range.get("values", [])]
        if not held or held[0] != self.holder:
            self.holder = None
            raise LeaseHeldError(
                "another sync took over this spreadsheet meanwhile",
                "nothing was written; run the sync again in a minute",
            )

    def _take(self, holder: str, until: str) -> None:
        try:
            got = self.sheet.http.batch_update_fields(
                self.sheet.id, self._taking(holder, until), f"updatedSpreadsheet({META_FIELDS})"
            )
        except APIError as exc:
            if exc.code != 400:
                raise explain(exc, self.sheet.id, self.sheet.account) from exc
            self.sheet.titles()  # the lease tab's ID was a guess, or the tab is gone: look
            got = self.sheet.call(
                "batch_update_fields",
                self._taking(holder, until),
                f"updatedSpreadsheet({META_FIELDS})",
            )
        self.sheet.learn(got.get("updatedSpreadsheet", {}), every_tab=True)

    def _taking(self, holder: str, until: str) -> dict[str, Any]:
        """The batchUpdate that writes the lease, answering with what a write needs to know."""
        requests: list[Request] = []
        sheet_id = self.sheet.sheet_ids.get(LEASE_TAB)
        if sheet_id is None and (self.sheet.known or not self.found):
            requests += self.sheet.add_tabs([LEASE_TAB])  # first sync ever
            sheet_id = self.sheet.sheet_ids[LEASE_TAB]
        elif sheet_id is None:
            noted = self.seen[2] if len(self.seen) > 2 else ""
            sheet_id = int(noted) if noted.isdigit() else new_sheet_id(LEASE_TAB)
            guard = {"properties": {"sheetId": sheet_id, "title": LEASE_TAB}, "fields": "title"}
            requests.append({"updateSheetProperties": guard})
        cells = [{"userEnteredValue": {"stringValue": v}} for v in (holder, until, str(sheet_id))]
        requests.append(
            {
                "updateCells": {
                    "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
                    "rows": [{"values": cells}],
                    "fields": "userEnteredValue",
                }
            }
        )
        return {
            "requests": requests,
            "includeSpreadsheetInResponse": True,
            "responseIncludeGridData": False,
        }

    def _put(self, holder: str, until: str) -> None:
        self.sheet.call(
            "values_update", LEASE_RANGE, {"valueInputOption": "RAW"}, {"values": [[holder, until]]}
        )
