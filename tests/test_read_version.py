"""The version a write checks against (backends/sheets_version.py): the narrow read of the
service columns, hashed a column at a time as Google's answer arrives, is the digest a full
read makes, before a sync and after (the State tab, every service column filled)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.backends.sheets_version import HASHED_CELLS, Digest, token
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.table import Table
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


@given(
    st.lists(st.text(max_size=3), max_size=40),
    st.integers(min_value=0, max_value=3 * HASHED_CELLS),
)
def test_a_long_column_is_hashed_as_it_would_be_joined_whole(cells, repeat):
    """Hashed a slice of cells at a time (a 100,000-lead Status column is 14 MB of text),
    the digest is the one of the whole column joined: a token of a full read still equals
    the narrow read's, however many leads."""
    column = (cells or [""]) * (repeat // max(len(cells), 1) + 1)
    digest = Digest()
    digest.add(column)
    whole = hashlib.sha256(("\x1f".join(column)).encode() + b"\x1e").hexdigest()
    assert digest.hexdigest() == whole


def test_the_token_of_more_leads_than_a_slice_is_the_narrow_digest():
    ids = [f"L-{n:05d}" for n in range(1, 2 * HASHED_CELLS + 10)]
    leads = Table(["Lead ID", "Email"], [[i, f"{i}@x.example"] for i in ids])
    digest = Digest()
    digest.add(["Lead ID", *ids])  # what the narrow read gets: the header, then the cells
    assert token({LEADS.name: leads}) == digest.hexdigest()
