"""After a write to Google (not atomic), the check that every cell landed on its lead reads
the Leads header and Lead ID column back when every row written had its own ID, and the
person columns too for rows known by their cells (a first sync gives the IDs), not the
whole sheet (issue 21: a flush into 100,000 leads, and a first sync, read it all again at
their peak). Any row that moved still gets the whole read and the repair."""

from __future__ import annotations

from datetime import UTC, datetime

from sheetcrm.backends import google
from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.engine import landing
from sheetcrm.engine.schema import HISTORY, LEADS, PROBLEMS, service_columns
from sheetcrm.engine.table import column_letter
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


def _whole(ranges: list[str]) -> bool:
    """Whether a batchGet read whole tabs (the sync's read), not columns of Leads."""
    return any("!" not in r for r in ranges)


def test_a_first_sync_is_checked_by_ids_and_person_columns():
    tabs = template()
    backend = google_backend(tabs)
    first = _reads(backend, 23)  # gives every lead its ID
    assert len(first) == 2 and _whole(first[0]) and not _whole(first[1])
    leads = tabs[LEADS.name]
    person = [h for h in leads.header if h not in service_columns()]
    # the header, the Lead ID column, each person column the write did not touch (an empty
    # one too: Google leaves it out of its answer, and the check reads that as empty)
    assert 4 < len(first[1]) <= 2 + len(person)
    assert first[1][0].endswith("!1:1")
    email = column_letter(leads.col("Email"))
    assert f"'Leads'!{email}2:{email}" in first[1]


def test_a_write_to_leads_with_ids_is_checked_by_two_columns():
    backend = google_backend(template())
    first = _reads(backend, 23)
    assert not _whole(first[-1])
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


def _sorted_between_parts(backend: GoogleBackend, monkeypatch) -> list[list[str]]:
    """A first sync written in parts, a person's sort by Email before the second: the
    ranges of its reads."""
    return _edited_between_parts(backend, monkeypatch, lambda sheet: sheet.sort_rows("Email"))


def _edited_between_parts(backend: GoogleBackend, monkeypatch, edit) -> list[list[str]]:
    """A first sync written in parts, a person's ``edit`` of Leads before the second: the
    ranges of its reads."""
    monkeypatch.setattr(google, "PART_BYTES", 1500)
    sheet = emulator().store[backend.id].sheet(LEADS.name)
    writes = []

    def second_part(info) -> bool:
        if info.endpoint == "values.batchUpdate":
            writes.append(info)
        return len(writes) == 2

    emulator().before_request(lambda _store: edit(sheet), when=second_part)
    reads = _reads(backend, 23)
    assert len(writes) == 2  # the write was in parts: the sort came before the second
    return reads


def test_a_sort_during_a_first_sync_s_write_gets_the_whole_read_and_the_repair(monkeypatch):
    """The first sync's write in parts, a sort by Email between two of them: the rows the
    second part writes hold other leads by then. The person columns read back say so, and
    the whole read puts every cell on its lead, as a clean first sync of the sorted sheet
    would have, or leaves it as it was for the next sync to write (tests/test_races.py's
    rule)."""
    clean = google_backend(template())
    sync_once(GoogleBackend(clean.location, http=clean.http), NOW, CLOCK)
    backend = google_backend(template())
    reads = _sorted_between_parts(backend, monkeypatch)
    # the read, the columns read back, the whole read and its repair (then that checked)
    assert not _whole(reads[1]) and _whole(reads[2]) and len(reads) > 3
    got = {r["Email"]: r for r in backend.read().table(LEADS.name).records()}
    want = {r["Email"]: r for r in clean.read().table(LEADS.name).records()}
    assert set(got) == set(want)
    was = {r["Email"]: r for r in template()[LEADS.name].records()}
    for email, row in want.items():
        for column in ("Score", "Grade", "Owner", "Lifecycle"):
            allowed = {was[email].get(column, ""), row[column]}
            assert got[email][column] in allowed, (email, column)
    ids = [r["Lead ID"] for r in got.values()]
    assert all(ids) and len(set(ids)) == len(ids)


def test_what_a_sort_during_a_first_sync_put_right_is_said_in_proportion(monkeypatch):
    """History gets a row per cell put right only for the columns people type or History
    follows (Owner, Stage...): the service's others are computed again by every sync, and
    at 100,000 leads a row each (622,356) went past Google's 10-million-cell cap. Problems
    names SAID_LEADS leads, and counts the rest on one row."""
    monkeypatch.setattr(landing, "SAID_LEADS", 2)
    backend = google_backend(template())
    _sorted_between_parts(backend, monkeypatch)
    after = backend.read()
    said = [
        r for r in after.table(PROBLEMS.name).records() if landing.MOVED in r.get("Problem", "")
    ]
    assert len(said) == 3 and said[-1]["Lead"] == "" and "more leads" in said[-1]["Problem"]
    named = " ".join(r["Problem"] for r in said)
    assert "Score" in named  # service cells were put right...
    put_back = [r for r in after.table(HISTORY.name).records() if "put back" in r["Why"]]
    logged = {"Owner", "Stage", "Sequence", "Sequence step", "Unsubscribed at"}
    kept = set(service_columns()) - logged
    assert put_back and not [r for r in put_back if r["Field"] in kept]  # ...without History


def test_a_note_typed_during_a_first_sync_s_write_keeps_the_lead_s_new_id(monkeypatch):
    """A person types a note on a new lead between two parts of the first sync's write
    (tests/test_landing_equivalence.py, end to end): the person columns read back differ,
    the whole read follows, and the lead keeps the ID, Owner and Score the write gave it
    and the note it was given."""
    tabs = template()
    backend = google_backend(tabs)
    notes = column_letter(tabs[LEADS.name].col("Notes"))
    reads = _edited_between_parts(
        backend,
        monkeypatch,
        lambda sheet: sheet.set_values(f"{notes}2", [["called, left a message"]]),
    )
    assert _whole(reads[2])  # the whole read followed
    lead = backend.read().table(LEADS.name).records()[0]
    assert lead["Notes"] == "called, left a message"
    assert lead["Lead ID"] and lead["Score"] and lead["Owner"]
