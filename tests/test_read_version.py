"""The version a write checks against (backends/sheets_version.py): the narrow read of the
service columns, hashed a column at a time as Google's answer arrives, is the digest a full
read makes, before a sync and after (the State tab, every service column filled)."""

from __future__ import annotations

from datetime import UTC, datetime

from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.engine.schema import LEADS
from sheets import NOW, google_backend, human_edit, template

CLOCK = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_the_narrow_read_s_version_is_the_full_read_s():
    backend = google_backend(template())
    assert backend.read().version == backend.version()
    sync_once(GoogleBackend(backend.location, http=backend.http), NOW, CLOCK)
    full = backend.read()
    assert full.version == backend.version()
    human_edit(backend, LEADS.name, lambda t: t.rows.reverse())  # a person's sort
    assert backend.version() != full.version
    assert backend.read().version == backend.version()


def test_a_lead_s_reasons_are_not_in_the_version_its_score_is():
    """The reasons are the longest service cells, rewritten whole by every sync that finds
    them changed: out of the check (110 MB of answer at 100,000 leads), unlike the Score."""
    backend = google_backend(template())
    sync_once(GoogleBackend(backend.location, http=backend.http), NOW, CLOCK)
    before = backend.read().version

    def typed(column: str, text: str):
        return lambda t: t.rows[0].__setitem__(t.col(column), text)

    human_edit(backend, LEADS.name, typed("Score reasons", "typed by a person"))
    assert backend.version() == before == backend.read().version
    human_edit(backend, LEADS.name, typed("Score", "99"))
    assert backend.version() != before
    assert backend.read().version == backend.version()
