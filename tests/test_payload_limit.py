"""Google refuses a request whose body is over 10,485,760 bytes, whole (issue 21: a first
sync of 100,000 leads wrote ~80 MB in one values.batchUpdate). Writes go in parts it takes
(backends/sheets_parts.py), and the stand-in refuses what Google refuses."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sheetcrm.backends import google, sheets_parts
from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.backends.sheets_lease import LEASE_TAB
from sheetcrm.backends.sheets_parts import body, encoded, parts, row_parts, with_member
from sheetcrm.engine.changes import CellUpdate, Changes
from sheetcrm.engine.schema import HISTORY, LEADS
from sheetcrm.engine.table import Table
from sheetcrm.errors import BackendError
from sheets import NOW, emulator, google_backend, template

CLOCK = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
RAW = {"valueInputOption": "RAW"}
_A1 = re.compile(r"^'(?P<tab>[^']+)'!(?P<col>[A-Z]+)(?P<row>\d+)(?::[A-Z]+\d+)?$")


def _cells(ranges: list[dict]) -> dict[tuple[str, int, int], object]:
    """What a values.batchUpdate of ``ranges`` puts where: (tab, row, column) -> value."""
    grid: dict[tuple[str, int, int], object] = {}
    for item in ranges:
        found = _A1.match(item["range"])
        assert found, item["range"]
        col0 = ord(found["col"]) - ord("A")
        row0 = int(found["row"])
        values = item["values"]
        if item.get("majorDimension") == "COLUMNS":
            values = [list(r) for r in zip(*values, strict=True)] if values else []
        for r, row in enumerate(values):
            for c, value in enumerate(row):
                grid[(found["tab"], row0 + r, col0 + c)] = value
    return grid


texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@st.composite
def value_ranges(draw) -> list[dict]:
    out = []
    for n in range(draw(st.integers(0, 6))):
        tab = f"T{n}"  # one tab each: ranges never overlap, so order cannot hide a loss
        rows = draw(st.integers(1, 30))
        if draw(st.booleans()):  # a column's run, as the cell writes go
            column = draw(st.lists(texts, min_size=rows, max_size=rows))
            out.append(
                {
                    "range": f"'{tab}'!C4:C{3 + rows}",
                    "majorDimension": "COLUMNS",
                    "values": [column],
                }
            )
        else:  # rows from a start cell, as new tabs and History rows go
            width = draw(st.integers(1, 4))
            grid = draw(
                st.lists(
                    st.lists(texts, min_size=width, max_size=width), min_size=rows, max_size=rows
                )
            )
            explicit = draw(st.booleans())
            end = f":{chr(64 + width)}{rows}" if explicit else ""
            out.append({"range": f"'{tab}'!A1{end}", "values": grid})
    return out


@settings(max_examples=200, deadline=None)
@given(value_ranges(), st.integers(200, 3000))
def test_parts_fit_and_write_exactly_what_the_whole_would(ranges, most):
    cut = list(parts(ranges, most))
    sent = [json.loads(piece) for part in cut for piece in part]
    assert _cells(sent) == _cells(ranges)
    for part in cut:
        text = body(RAW, "data", part)
        assert json.loads(text) == {**RAW, "data": [json.loads(p) for p in part]}
        # over ``most`` only for a single row too wide on its own
        if len(text) > most + 100:
            assert len(part) == 1
            one = json.loads(part[0])
            assert len(one["values"]) == 1 or len(one["values"][0]) == 1


@settings(max_examples=200, deadline=None)
@given(value_ranges(), st.integers(200, 3000), st.integers(1, 8))
def test_long_ranges_are_cut_by_rows_before_they_are_made_json(ranges, most, at_once):
    """A range of more than ROWS_AT_ONCE rows is made into JSON a run of rows at a time,
    never whole (a first sync's History: ~60 MB of text at once): what is sent is the same
    cells, and each piece holds at most that many rows."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sheets_parts, "ROWS_AT_ONCE", at_once)
        cut = list(parts(ranges, most))
    sent = [json.loads(piece) for part in cut for piece in part]
    assert _cells(sent) == _cells(ranges)
    for item in sent:
        by_columns = item.get("majorDimension") == "COLUMNS"
        assert (len(item["values"][0]) if by_columns else len(item["values"])) <= at_once


@given(st.lists(st.binary(min_size=2, max_size=9).map(lambda b: encoded(b.hex())), max_size=5))
def test_a_member_added_to_a_body_is_the_last_of_its_list(pieces):
    made = with_member(body(RAW, "data", pieces), encoded({"range": "x"}))
    assert json.loads(made) == {**RAW, "data": [*map(json.loads, pieces), {"range": "x"}]}


@given(st.lists(st.lists(texts, min_size=1, max_size=3), max_size=60), st.integers(100, 2000))
def test_rows_go_in_consecutive_runs_that_fit(rows, most):
    runs = list(row_parts(rows, most))
    assert [r for run in runs for r in run] == rows
    for run in runs:
        assert len(encoded(run)) <= most or len(run) == 1


def test_the_stand_in_refuses_a_body_over_ten_megabytes_as_google_does():
    backend = google_backend(template())
    big = {"range": f"'{LEADS.name}'!AZ2", "values": [["x" * 40_000]] * 270}  # ~10.8 MB
    with pytest.raises(BackendError, match="Request payload size exceeds the limit: 10485760"):
        backend.sheet.call("values_batch_update", {**RAW, "data": [big]})
    assert "x" * 40_000 not in backend.read().table(LEADS.name).column("Email")


def test_a_write_over_the_limit_lands_in_parts():
    """Adopting a sheet whose cells are over 10 MB: provisioning writes every tab, in parts."""
    tabs = template()
    leads = tabs[LEADS.name]
    note = leads.col("Notes")
    rows = []
    for i in range(300):  # 300 notes of 40,000 characters: 12 MB of text
        row = [""] * len(leads.header)
        row[leads.col("Email")] = f"lead{i}@firm{i}.example"
        row[note] = f"{i:04d}" + "n" * 39_996
        rows.append(row)
    tabs[LEADS.name] = Table(leads.header, rows)
    emulator().reset_stats()
    backend = google_backend(tabs)
    assert emulator().stats()["byEndpoint"]["values.batchUpdate"] >= 2
    read = backend.read().table(LEADS.name)
    assert [r[note] for r in read.rows] == [r[note] for r in rows]


def test_a_sync_and_a_flush_written_in_many_parts_write_what_one_part_would(monkeypatch):
    """Each part a request: the cells, History rows and new leads are those of one request."""
    whole = google_backend(template())
    sync_once(GoogleBackend(whole.location, http=whole.http), NOW, CLOCK)
    monkeypatch.setattr(google, "PART_BYTES", 1500)
    parted = google_backend(template())
    emulator().reset_stats()
    sync_once(GoogleBackend(parted.location, http=parted.http), NOW, CLOCK)
    assert emulator().stats()["byEndpoint"]["values.batchUpdate"] > 3
    for tab in (LEADS.name, HISTORY.name):
        assert parted.read().table(tab).rows == whole.read().table(tab).rows
    # new leads appended in parts, each below the one before, in order
    snapshot = parted.read()
    leads = snapshot.table(LEADS.name)
    new = []
    for i in range(40):
        row = [""] * len(leads.header)
        row[leads.col("Email")] = f"web{i}@firm{i}.example"
        row[leads.col("Notes")] = "w" * 100
        new.append(row)
    emulator().reset_stats()
    parted.write(Changes(snapshot.version, appends={LEADS.name: new}))
    assert emulator().stats()["byEndpoint"]["values.append"] > 2
    after = parted.read().table(LEADS.name)
    assert after.column("Email")[len(leads.rows) :] == [r[leads.col("Email")] for r in new]


def test_new_leads_over_the_limit_are_appended_in_parts_google_takes():
    """12 MB of new leads: two appends under 10 MB, each lead once, in order."""
    backend = google_backend(template())
    snapshot = backend.read()
    leads = snapshot.table(LEADS.name)
    row = [""] * len(leads.header)
    for c in range(len(leads.header)):
        row[c] = "z" * 49_000  # ~1.5 MB a row: fits; 8 rows over 8 MB go in two parts
    rows = [[f"{i}{c[1:]}" for c in row] for i in range(8)]
    emulator().reset_stats()
    backend.write(Changes(snapshot.version, appends={LEADS.name: rows}))
    assert emulator().stats()["byEndpoint"]["values.append"] == 2
    assert backend.read().table(LEADS.name).rows[len(leads.rows) :] == rows


def test_parts_of_an_append_go_in_order_under_rows_typed_meanwhile(monkeypatch):
    """A person types rows under the last lead just before the append: each part goes under
    the one before, where Google says it put it (from the row after it, a part whose first
    cell in column A was empty went among the earlier ones), and the typed rows stay."""
    monkeypatch.setattr(google, "PART_BYTES", 300)
    backend = google_backend(template())
    snapshot = backend.read()
    leads = snapshot.table(LEADS.name)
    email = leads.col("Email")
    typed = [[f"P{i}", *[""] * (email - 1), f"person{i}@typed.example"] for i in range(2)]
    sheet = emulator().store[backend.id].sheet(LEADS.name)
    emulator().before_request(
        lambda _store: sheet.set_values(f"A{len(leads.rows) + 2}", typed),
        when=lambda info: info.endpoint == "values.append",
    )
    new = []
    for i in range(8):
        row = [""] * len(leads.header)
        row[email] = f"web{i}@firm.example"
        row[0] = "" if i % 4 == 2 else f"first-{i}"  # column A empty in some: no table there
        new.append(row)
    backend.write(Changes(snapshot.version, appends={LEADS.name: new}))
    emails = backend.read().table(LEADS.name).column("Email")[len(leads.rows) :]
    assert [e for e in emails if e.startswith("web")] == [f"web{i}@firm.example" for i in range(8)]
    assert sorted(e for e in emails if e.startswith("person")) == [r[email] for r in typed]


def test_a_write_that_outlasts_its_lease_leaves_the_lease_to_whoever_took_it(monkeypatch):
    """Each part can be retried for a while: a write in many parts may outlast its lease,
    and another sync may have taken it by the last part, which then leaves it alone."""
    monkeypatch.setattr(google, "PART_BYTES", 1500)
    backend = google_backend(template())
    snapshot = backend.read()
    leads = snapshot.table(LEADS.name)
    notes = leads.col("Notes")
    cells = [CellUpdate(LEADS.name, r, notes, f"note {r} " + "x" * 80) for r in range(40)]
    book = emulator().store[backend.id]

    def another_sync_takes_it(_store: object) -> None:
        book.sheet(LEASE_TAB).set_values("A1", [["sync-b", "2099-01-01T00:00:00+00:00"]])

    emulator().before_request(
        another_sync_takes_it, when=lambda info: info.endpoint == "values.batchUpdate"
    )
    emulator().reset_stats()
    with backend.lease("sync-a", CLOCK, seconds=0):  # over as soon as taken
        backend.write(Changes(snapshot.version, cells))
    assert emulator().stats()["byEndpoint"]["values.batchUpdate"] > 2
    assert book.sheet(LEASE_TAB).values()[0][:2] == ["sync-b", "2099-01-01T00:00:00+00:00"]
    assert backend.read().table(LEADS.name).column("Notes")[:40] == [c.value for c in cells]
