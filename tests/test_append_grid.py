"""Web leads appended to a Leads tab whose grid has no row to spare: a sheet made from a CSV,
one a person trimmed of its empty rows, or one grown to fit a write exactly. The append names
the row under the last lead, and Google refuses a range past the grid ("exceeds grid
limits"): every flush failed, and the outbox waited forever (found at 100,000 leads)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.backends.sheets_spreadsheet import ROOM_CELLS
from sheetcrm.engine.schema import LEADS
from sheetcrm.intake.adapters import adapt
from sheetcrm.intake.flusher import flush
from sheetcrm.intake.outbox import Outbox
from sheets import NOW, emulator, google_backend, template

CLOCK = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_web_leads_land_under_a_leads_tab_with_no_empty_row(tmp_path):
    backend = google_backend(template())
    sync_once(GoogleBackend(backend.location, http=backend.http), NOW, CLOCK)
    leads = backend.read().table(LEADS.name)
    sheet = emulator().store[backend.id].sheet(LEADS.name)
    trim = {"sheetId": sheet.sheet_id, "gridProperties": {"rowCount": len(leads.rows) + 1}}
    backend.sheet.call(
        "batch_update",
        {
            "requests": [
                {"updateSheetProperties": {"properties": trim, "fields": "gridProperties.rowCount"}}
            ]
        },
    )
    assert sheet.row_count == len(leads.rows) + 1  # the header and the leads, nothing under
    outbox = Outbox(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    emails = [f"web{i}@grid.example" for i in range(3)]
    for i, email in enumerate(emails):
        submission = adapt("generic", {"event_id": f"grid-{i}", "email": email})
        outbox.put(submission.key(), "generic", submission.to_json(), time.time())
    try:
        fresh = GoogleBackend(backend.location, http=backend.http)
        report = flush(outbox, fresh, lambda: datetime.now(UTC), "worker")
    finally:
        outbox.close()
    assert not report.error and report.appended == 3
    after = backend.read().table(LEADS.name)
    assert after.column("Email")[len(leads.rows) :] == emails
    # grown by its share of cells, not 20,000 rows of 40-odd columns: Google caps a
    # spreadsheet at 10 million cells, and a 100,000-lead sheet went over it
    grown = sheet.row_count - (len(leads.rows) + 1 + len(emails))
    assert 0 < grown <= ROOM_CELLS // sheet.col_count + 1
