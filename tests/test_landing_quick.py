"""After a write to Google (not atomic), the check that every cell landed on its lead reads
the Leads header and Lead ID column back when every row written had its own ID, not the
whole sheet (issue 21: a flush into 100,000 leads read it all again at its peak). A first
sync, which gives the IDs, and any row that moved still get the whole read and the repair."""

from __future__ import annotations

from datetime import UTC, datetime

from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.engine.schema import LEADS
from sheets import NOW, emulator, google_backend, human_edit, template

CLOCK = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _reads(backend: GoogleBackend, day: int) -> list[list[str]]:
    """The ranges of each values.batchGet of one sync, in order."""
    asked: list[list[str]] = []

    def note(info) -> bool:
        if info.endpoint == "values.batchGet":
            asked.append(list(info.args.get("ranges", [])))
        return False

    hook = emulator().before_request(lambda _store: None, when=note, once=False)
    try:
        sync_once(GoogleBackend(backend.location, http=backend.http), NOW.replace(day=day), CLOCK)
    finally:
        emulator().app.hooks.remove(hook)
    return asked


def test_a_write_to_leads_with_ids_is_checked_by_two_columns():
    backend = google_backend(template())
    first = _reads(backend, 23)  # gives every lead its ID: the whole sheet read back
    assert len(first[-1]) > 5
    human_edit(backend, LEADS.name, lambda t: t.rows[0].__setitem__(t.col("Stage"), "Won"))
    again = _reads(backend, 24)
    assert len(again) == 2 and len(again[-1]) == 2  # the read, then header and Lead ID
    assert again[-1][0].endswith("!1:1")


def test_rows_moved_before_the_check_get_the_whole_read():
    """A person's sort between the write and its check: the two columns no longer match
    the rows written, and the whole tab is read and checked as before (a sort moves each
    lead's cells with it: nothing to put back)."""
    backend = google_backend(template())
    sync_once(GoogleBackend(backend.location, http=backend.http), NOW, CLOCK)
    human_edit(backend, LEADS.name, lambda t: t.rows[0].__setitem__(t.col("Stage"), "Won"))
    sheet = emulator().store[backend.id].sheet(LEADS.name)
    emulator().before_request(
        lambda _store: sheet.sort_rows("Email"),
        when=lambda info: info.endpoint == "values.batchGet" and "1:1" in str(info.args),
    )
    reads = _reads(backend, 24)
    assert len(reads) == 3 and len(reads[1]) == 2 and len(reads[2]) > 5
