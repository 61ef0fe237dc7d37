"""sheetcrm's logs (History, Notifications) lose the columns past their header as their grid
grows: Google counts every cell of a grid against a spreadsheet's 10 million, and History
kept the 26 columns of a new tab for its 7, 3.3 of the 8.2 million cells of a 100,000-lead
sheet after its first sync (issue 21, session 6). Never a column something was typed in."""

from __future__ import annotations

from datetime import UTC, datetime

from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.engine.schema import HISTORY, LEADS
from sheetcrm.engine.table import Table
from sheets import NOW, emulator, google_backend, template

CLOCK = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _many_leads(count: int) -> dict[str, Table]:
    """The template with ``count`` leads like its first: a first sync logs more than a new
    tab's 1,000 rows of History."""
    tabs = template()
    leads = tabs[LEADS.name]
    first, email = leads.rows[0], leads.col("Email")
    leads.rows[:] = []
    for n in range(count):
        row = list(first)
        row[email] = f"lead{n}@acme.example"
        leads.rows.append(row)
    return tabs


def _synced(tabs: dict[str, Table], typed: str = "") -> GoogleBackend:
    backend = google_backend(tabs)
    if typed:
        emulator().store[backend.id].sheet(HISTORY.name).set_values("J3", [[typed]])
    sync_once(GoogleBackend(backend.location, http=backend.http), NOW, CLOCK)
    return backend


def test_history_grows_without_the_empty_columns_of_a_new_tab():
    backend = _synced(_many_leads(1200))
    history = emulator().store[backend.id].sheet(HISTORY.name)
    logged = backend.read().table(HISTORY.name)
    assert len(logged.rows) > 1000  # it grew
    assert history.col_count == len(HISTORY.headers) == len(logged.header)
    assert history.row_count > len(logged.rows)


def test_a_column_something_was_typed_in_stays():
    backend = _synced(_many_leads(1200), typed="a person's note")
    history = emulator().store[backend.id].sheet(HISTORY.name)
    assert history.col_count == 26
    assert history.values()[2][9] == "a person's note"
