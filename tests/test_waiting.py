"""Web submissions the sheet keeps refusing, or that can never become rows, are told at the top
of Problems by the next sync (engine/waiting.py): a manager never sees the service's log, and
a spreadsheet at Google's cell cap refused every flush in silence (issue 21)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from gspread.exceptions import APIError

from sales_sheet import set_settings
from sheetcrm.backends.apply import apply, sync_once
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.backends.sheets_http import explain
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.cli import main
from sheetcrm.emulator import store
from sheetcrm.engine.refused import refused_problems
from sheetcrm.engine.schema import HISTORY, LEADS, PROBLEMS, SCORING
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import column_letter
from sheetcrm.engine.waiting import Waiting
from sheetcrm.errors import BackendError, SheetUnreachableError
from sheetcrm.intake.adapters import adapt
from sheetcrm.intake.append_plan import plan_appends
from sheetcrm.intake.batch import Arrival
from sheetcrm.intake.flusher import flush
from sheetcrm.intake.outbox import Outbox
from sheetcrm.intake.outbox_db import submissions
from sheetcrm.intake.waiting import waiting
from sheetcrm.service.service_config import ServiceConfig, default_outbox
from sheetcrm.service.tasks import Service
from sheets import NOW, emulator, google_backend, put_leads, template
from test_append_plan_rules import _cell, closed_deals

CAP = (
    "This action would increase the number of cells in the workbook above the limit of "
    "10000000 cells."
)


def _told(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [
        r
        for r in rows
        if r["Problem"].startswith(("web submissions", "des envois web", "envois web"))
    ]


def test_submissions_refused_at_the_cell_cap_are_told_with_what_to_do():
    tabs = template()
    since = datetime(2026, 11, 23, 8, 2, 30, tzinfo=UTC)
    plan = plan_sync(MemoryBackend(tabs).read(), NOW, waiting=Waiting(12, since, CAP, 0))
    rows = plan.replace[PROBLEMS.name].records()
    assert rows[0]["Tab"] == LEADS.name  # first: above every rule tab's banner
    assert rows[0]["Problem"] == (
        "web submissions wait outside the sheet: the spreadsheet is at Google's limit of "
        "10 million cells"
    )
    zone = plan.settings.zone  # the time the sheet reads its stamps in, to the minute
    assert f"12 waiting since {since.astimezone(zone):%Y-%m-%d %H:%M}, none lost" in rows[0]["Hint"]
    assert "move closed leads to another spreadsheet" in rows[0]["Hint"]


def test_other_refusals_say_the_sheet_s_own_words_and_set_aside_ones_how_to_replay():
    tabs = template()
    set_settings(tabs, {"Language": "fr"})
    error = "The caller does not have permission\n  (403)"
    plan = plan_sync(
        MemoryBackend(tabs).read(), NOW, waiting=Waiting(3, NOW.replace(tzinfo=UTC), error, 2)
    )
    told = _told(plan.replace[PROBLEMS.name].records())
    assert [r["Problem"] for r in told] == [
        "des envois web attendent hors de la feuille : The caller does not have permission (403)",
        "envois web mis de côté : ils ne peuvent pas devenir des leads en l'état",
    ]
    assert (
        told[1]["Hint"].startswith("2 mis de côté") and "sheetcrm outbox retry" in told[1]["Hint"]
    )


def test_nothing_waiting_is_no_news():
    tabs = template()
    quiet = plan_sync(MemoryBackend(tabs).read(), NOW, waiting=Waiting(0, None, "", 0))
    assert _told(quiet.replace[PROBLEMS.name].records()) == []


def test_a_flush_refused_at_the_cap_shows_on_problems_until_it_lands(tmp_path: Path, monkeypatch):
    """End to end on the stand-in: the Leads grid has no spare row and the spreadsheet is at
    the cap, so the flush is refused and the lead waits; the next sync tells Problems; once
    there is room, the lead lands and the next sync takes the banner down."""
    sheet = google_backend()
    service = _service(sheet, tmp_path)
    try:
        assert service.sync()["ok"]
        book = emulator().store[sheet.location.rsplit("/d/", 1)[1].split("/")[0]]
        leads = book.sheet(LEADS.name)
        leads.resize(rows=len([r for r in leads.values() if any(r)]))  # no spare row
        monkeypatch.setattr(store, "MAX_CELLS", book.cell_count())
        service = _service(sheet, tmp_path, service)  # a backend that looks afresh
        lead = adapt("generic", {"event_id": "cap-1", "email": "ann@cap.example"})
        service.outbox.put("generic:cap-1", "generic", lead.to_json(), time.time() - 3600)
        refused = service.flush()
        assert refused.waiting == 1 and "limit of" in refused.error
        assert service.sync()["ok"]
        assert _told(sheet.read().table(PROBLEMS.name).records()) == []  # once: a hiccup
        service.outbox.retry_now(None, time.time())
        assert "limit of" in service.flush().error
        assert service.sync()["ok"]
        told = _told(sheet.read().table(PROBLEMS.name).records())
        assert len(told) == 1 and "limit of 10 million cells" in told[0]["Problem"]
        assert told[0]["Hint"].startswith("1 waiting since ")
        monkeypatch.setattr(store, "MAX_CELLS", 10_000_000)
        service.outbox.retry_now(None, time.time())
        assert service.flush().appended == 1
        assert service.sync()["ok"]
        after = sheet.read()
        assert _told(after.table(PROBLEMS.name).records()) == []
        assert "ann@cap.example" in after.table(LEADS.name).column("Email")
    finally:
        service.stop()


def test_a_submission_set_aside_shows_on_problems(tmp_path: Path):
    sheet = google_backend()
    service = _service(sheet, tmp_path)
    try:
        service.outbox.put("generic:bad-1", "generic", "{not json", time.time())
        assert service.flush().dead == 1
        assert service.sync()["ok"]
        told = _told(sheet.read().table(PROBLEMS.name).records())
        assert [r["Problem"] for r in told] == [
            "web submissions set aside: they cannot become leads as they are"
        ]
        assert told[0]["Hint"].startswith("1 set aside")
    finally:
        service.stop()


def _service(sheet: GoogleBackend, tmp_path: Path, old: Service | None = None) -> Service:
    if old is not None:
        old.stop()
    config = ServiceConfig(sheet.location, f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    return Service(
        config,
        opener=lambda _: GoogleBackend(sheet.location, http=sheet.http),
        clock=lambda: datetime.now(UTC),
    )


def test_a_sync_refused_at_the_cap_says_so_on_problems(monkeypatch):
    """A sync that needs History to grow, on a spreadsheet at the cap, is refused whole; the
    Problems tab alone, rewritten in place, says so; the next sync that is saved takes the
    row down and writes what waited."""
    sheet = google_backend()
    sync_once(sheet, NOW, datetime.now(UTC))
    fresh = _at_the_cap(sheet, monkeypatch)
    with pytest.raises(BackendError, match="limit of"):
        sync_once(fresh, NOW, datetime.now(UTC))
    told = sheet.read().table(PROBLEMS.name).records()
    assert told[0]["Problem"] == (
        "the last sync could not be saved: the spreadsheet is at Google's limit of 10 million cells"
    )
    assert told[0]["Hint"].startswith("tried at 2026-11-23 ")
    with pytest.raises(BackendError):  # refused again: still one row saying so
        sync_once(GoogleBackend(sheet.location, http=sheet.http), NOW, datetime.now(UTC))
    again = sheet.read().table(PROBLEMS.name).records()
    assert [r["Problem"] for r in again].count(told[0]["Problem"]) == 1
    assert again[1:] == told[1:]
    monkeypatch.setattr(store, "MAX_CELLS", 10_000_000)
    sync_once(GoogleBackend(sheet.location, http=sheet.http), NOW, datetime.now(UTC))
    after = sheet.read()
    assert not [
        r for r in after.table(PROBLEMS.name).records() if "could not be saved" in r["Problem"]
    ]
    assert "Won" in [r["To"] for r in after.table(HISTORY.name).records()]


def _at_the_cap(sheet: GoogleBackend, monkeypatch: pytest.MonkeyPatch) -> GoogleBackend:
    """The spreadsheet at the cap, History with no spare row, and a stage changed: the next
    sync needs a History row more. A backend that looks at it afresh."""
    book = emulator().store[sheet.location.rsplit("/d/", 1)[1].split("/")[0]]
    history = book.sheet(HISTORY.name)
    history.resize(rows=len([r for r in history.values() if any(r)]))  # no spare row
    monkeypatch.setattr(store, "MAX_CELLS", book.cell_count())
    leads = sheet.read().table(LEADS.name)
    stage = f"{column_letter(leads.col('Stage'))}2"
    book.sheet(LEADS.name).set_values(stage, [["Won"]])
    return GoogleBackend(sheet.location, http=sheet.http)


def test_a_refused_sync_still_tells_how_many_wait_now(monkeypatch):
    """At the cap the flushes are refused, and so is every sync that needs a History row
    more: the Problems tab the refusal writes tells the web submissions that wait as this
    sync counted them, not as the last sync that was saved did (or not at all)."""
    sheet = google_backend()
    since = datetime(2026, 11, 23, 12, tzinfo=UTC)
    sync_once(sheet, NOW, datetime.now(UTC), waiting=Waiting(3, since, CAP, 0))
    fresh = _at_the_cap(sheet, monkeypatch)
    with pytest.raises(BackendError, match="limit of"):
        sync_once(fresh, NOW, datetime.now(UTC), waiting=Waiting(5, since, CAP, 1))
    rows = sheet.read().table(PROBLEMS.name).records()
    assert rows[0]["Problem"].startswith("the last sync could not be saved: ")
    told = _told(rows)
    assert [r["Hint"][:14] for r in told] == ["5 waiting sinc", "1 set aside; w"]
    assert rows[1:3] == told


def test_a_refusal_is_said_in_the_sheet_s_language_above_what_problems_holds():
    tabs = template()
    set_settings(tabs, {"Language": "fr"})
    snapshot = MemoryBackend(tabs).read()
    problems = plan_sync(snapshot, NOW).replace[PROBLEMS.name]
    tabs[PROBLEMS.name] = problems
    first = refused_problems(MemoryBackend(tabs).read(), "quota\n exceeded", "2026-11-23 11:00")
    assert first.rows[0][first.col("Problem")] == (
        "la dernière synchronisation n'a pas pu être enregistrée : quota exceeded"
    )
    assert first.rows[1:] == problems.rows
    tabs[PROBLEMS.name] = first
    second = refused_problems(MemoryBackend(tabs).read(), CAP, "2026-11-23 11:05")
    assert len(second.rows) == len(first.rows)  # in place of the earlier refusal's row
    assert "10 millions de cellules" in second.rows[0][second.col("Problem")]
    assert second.rows[0][second.col("Hint")].startswith("essayée le 2026-11-23 11:05")


def test_a_command_line_sync_beside_the_service_s_outbox_tells_problems_too(tmp_path: Path):
    """A manual `sheetcrm sync` on a workbook whose service keeps an outbox beside it: what
    the outbox set aside stays on Problems, not taken down until the service's next sync."""
    path = tmp_path / "crm.xlsx"
    assert main(["init", "--sheet", str(path), "--now", "2026-11-23T10:00"]) == 0
    outbox = Outbox(default_outbox(str(path)))
    try:
        outbox.put("generic:bad-2", "generic", "{not json", time.time())
        outbox.dead("generic:bad-2", "the stored submission cannot be read")
    finally:
        outbox.close()
    assert main(["sync", "--sheet", str(path), "--now", "2026-11-23T10:05"]) == 0
    told = _told(WorkbookBackend(path).read().table(PROBLEMS.name).records())
    assert [r["Hint"][:12] for r in told] == ["1 set aside;"]


def test_the_outbox_counts_what_waits_long_enough_to_be_news(outbox: Outbox):
    """On SQLite and PostgreSQL: refused ones count once one was refused again and the oldest
    has waited NOTICE_AFTER, with the oldest's error; pending ones never tried, and done
    ones, do not count."""
    now = time.time()
    for key, age in (("a", 3600), ("b", 60), ("c", 7200), ("d", 5)):
        outbox.put(f"generic:{key}", "generic", f'{{"k": "{key}"}}', now - age)
    outbox.claim("w", now, 10)
    outbox.later(["generic:a", "generic:b"], "quota", now)
    outbox.later(["generic:c"], CAP, now)
    outbox.done({"generic:d": "L-00001"}, now)
    assert waiting(outbox.db, now).refused == 0  # refused once each: a hiccup, not news
    outbox.claim("w", now + 60, 10)
    outbox.later(["generic:c"], CAP, now)
    told = waiting(outbox.db, now)
    assert (told.refused, told.error, told.dead) == (3, CAP, 0)
    assert told.since == datetime.fromtimestamp(now - 7200, UTC)
    assert waiting(outbox.db, now - 7200 + 60) == Waiting(0, None, "", 0)  # not news yet


def test_a_flush_s_new_row_problems_keep_the_banner_on_top():
    """A banner is a row on Leads whose cell is the tab's name, as "... and N more row
    problems" is: a flush adding a new row's problem under it (intake/new_problems.py) must
    neither take it for that row and drop it, nor count the "10" of "10 million" as 10 more."""
    tabs = template()
    put_leads(tabs, {"First name": "Ann", "Email": "ann@co.example", "Company": "Co"})
    tabs["Activities"].rows.clear()  # no other problem: the banner is the tab's last row
    sheet = MemoryBackend(tabs)
    snapshot = sheet.read()
    since = datetime(2026, 11, 23, 12, tzinfo=UTC)
    apply(plan_sync(snapshot, NOW, waiting=Waiting(3, since, CAP, 0)), sheet, snapshot)
    before = sheet.read().table(PROBLEMS.name).rows
    assert [r[4][:40] for r in before] == ["web submissions wait outside the sheet: "]
    bad = {"First name": "Bo", "Email": "not-an-address", "Company": "X"}
    arrival = Arrival("k1", bad, datetime(2026, 11, 23, 14, tzinfo=UTC))
    intake = plan_appends(sheet.read(), [arrival], NOW + timedelta(minutes=5))
    assert intake is not None
    after = intake.plan.replace[PROBLEMS.name].rows
    assert after[0] == before[0]
    assert [r[4][:6] for r in after[1:]] == ["Email:"]


def test_the_count_of_what_waits_holds_up_no_webhook(outbox: Outbox):
    """Every sync counts what waits: on SQLite an IMMEDIATE read would take the writers'
    lock, and webhooks' commits would queue behind the niced background process's scan of
    the pending ones (50,000 in a burst); a glance neither waits for a writer nor holds one."""
    now = time.time()
    outbox.put("generic:a", "generic", "{}", now - 3600)
    _refused_twice(outbox, now)
    started = time.monotonic()
    with outbox.db.begin() as conn:  # a webhook's commit holds the lock meanwhile
        conn.execute(submissions.update().values(digest=None))
        assert waiting(outbox.db, now).refused == 1
    assert time.monotonic() - started < 5


def test_a_turn_waited_for_keeps_the_refusal_s_words(outbox: Outbox):
    """A flush that finds another sync holding the sheet is no try (Outbox.later with
    failed=False): the banner keeps saying why the sheet refused them, not "another sync
    is running until 10:05:30", whose time would change Problems at every sync."""
    now = time.time()
    outbox.put("generic:a", "generic", "{}", now - 3600)
    _refused_twice(outbox, now)
    outbox.claim("w", now + 1, 10)
    outbox.later(["generic:a"], "another sync (x) is running until 10:05:30", now + 1, False)
    assert waiting(outbox.db, now + 2).error == CAP
    assert outbox.entries()[0].attempts == 2


def _refused_twice(outbox: Outbox, now: float) -> None:
    for _ in range(2):  # once is a hiccup; again, news
        outbox.claim("w", now, 10)
        outbox.later(["generic:a"], CAP, now, wait=0)


class _Refusing(MemoryBackend):
    """A sheet that answers every write with ``error``: the writes it was asked for."""

    def __init__(self, tabs, error: BackendError) -> None:
        super().__init__(tabs)
        self.error, self.asked = error, 0

    def write(self, changes):
        self.asked += 1
        raise self.error


@pytest.mark.parametrize(
    ("error", "asked"),
    [
        (BackendError("Google Sheets answered 400: " + CAP), 2),  # the sync's, then Problems
        (SheetUnreachableError("Google Sheets did not answer after 6 tries"), 1),
        (SheetUnreachableError("Google Sheets answered 503: unavailable"), 1),
    ],
)
def test_only_a_sheet_that_answered_is_told_of_its_refusal(error, asked):
    """A sheet out of reach is not written to again: its retries would only hold the lease
    (and the service's turn) longer in an outage, and fail as well."""
    backend = _Refusing(template(), error)
    with pytest.raises(type(error)):
        sync_once(backend, NOW, datetime.now(UTC))
    assert backend.asked == asked


def test_google_s_busy_and_server_answers_are_out_of_reach_not_refusals():
    for code, unreachable in ((429, True), (503, True), (500, True), (400, False), (403, False)):
        answer = requests.Response()
        answer.status_code = code
        answer._content = b'{"error": {"code": %d, "message": "m"}}' % code
        err = explain(APIError(answer), "sheet-id", "")
        assert isinstance(err, SheetUnreachableError) is unreachable, code


def test_a_flush_planned_whole_keeps_what_waits_on_problems(tmp_path: Path):
    """A flush that must plan the whole sheet (tests/test_append_plan_rules.py: a Scoring
    rule on Duplicate of, Grade learned from) rewrites Problems as a sync does: what the
    outbox set aside stays said."""
    tabs = template()
    tabs[SCORING.name].rows.append(["Repeat", "Duplicate of", "is not empty", "", "-20"])
    set_settings(tabs, {"Win probability minimum": "2"})
    backend = closed_deals(tabs)
    backend.human(_cell(LEADS.name, 2, "Email", "p1@co1.example"))
    outbox = Outbox(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    try:
        outbox.put("generic:bad-1", "generic", "{not json", NOW.timestamp())
        assert flush(outbox, backend, lambda: NOW, "w").dead == 1
        lead = adapt("generic", {"event_id": "z", "email": "z@zz.example", "company": "Zz"})
        record = {"Email": "z@zz.example", "Company": "Zz"}
        assert plan_appends(backend.read(), [Arrival("k", record, NOW)], NOW) is None  # whole
        outbox.put("generic:z", "generic", lead.to_json(), NOW.timestamp())
        assert flush(outbox, backend, lambda: NOW, "w").appended == 1
        told = _told(backend.read().table(PROBLEMS.name).records())
        assert [r["Hint"][:12] for r in told] == ["1 set aside;"]
    finally:
        outbox.close()
