"""The flusher against real backends: the Sheets stand-in and a workbook file.

A batch of 1,000 web-form leads costs three write requests; an append whose outcome is
unknown, or a crash between the append and the outbox's mark, never duplicates a lead;
two flushers at once never give two leads one ID."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.emulator.faults import DROP_AFTER
from sheetcrm.engine.schema import HISTORY, LEADS
from sheetcrm.intake.adapters import adapt
from sheetcrm.intake.flusher import flush
from sheetcrm.intake.outbox import DONE, PENDING, Outbox
from sheets import emulator, google_backend, template

CLOCK = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def clock() -> datetime:
    return CLOCK


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    box = Outbox(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    yield box
    box.close()


def post(outbox: Outbox, count: int, start: int = 0) -> list[str]:
    keys = []
    for i in range(start, start + count):
        submission = adapt(
            "generic",
            {
                "event_id": f"evt-{i}",
                "email": f"lead{i}@firm{i}.example",
                "company": f"Firm {i}",
                "industry": "SaaS" if i % 2 else "Retail",
            },
        )
        outbox.put(submission.key(), "generic", submission.to_json(), CLOCK.timestamp() - 5000 + i)
        keys.append(submission.key())
    return keys


def in_sheet(backend) -> Counter:
    return Counter(k for k in backend.read().table(LEADS.name).column("Submission ID") if k)


def test_a_batch_of_a_thousand_costs_three_writes(outbox: Outbox) -> None:
    backend = google_backend()
    keys = post(outbox, 2000)
    emu = emulator()
    emu.reset_stats()
    first = flush(outbox, backend, clock, "w1", batch=1000)
    # the lease's; and History's 2,000 new rows outgrow a new tab's 1,000-row grid: it
    # grows, with room
    assert emu.stats()["byEndpoint"]["spreadsheets.batchUpdate"] == 2
    emu.reset_stats()
    report = flush(outbox, backend, clock, "w1", batch=1000)
    stats = emu.stats()
    assert (first.appended, report.claimed, report.appended, report.error) == (
        1000,
        1000,
        1000,
        "",
    )
    # the lease, the new rows, then every other cell, History and the lease's release
    assert stats["writes"] == 3, stats["byEndpoint"]
    assert stats["byEndpoint"]["values.append"] == 1
    leads = backend.read().table(LEADS.name)
    assert in_sheet(backend) == Counter(keys)
    web = [r for r in leads.rows if r[leads.col("Submission ID")]]
    ids = [r[leads.col("Lead ID")] for r in web]
    assert all(ids) and len(ids) == len(set(ids))
    # the template's sample rows, never synced, wait for the periodic sync: a flush plans
    # its new rows only (issue 21, intake/append_plan.py)
    assert not any(r[leads.col("Lead ID")] for r in leads.rows if r not in web)
    report.lead_ids.update(first.lead_ids)
    by_key = {r[leads.col("Submission ID")]: r for r in leads.rows}
    row = by_key["generic:evt-1"]
    assert row[leads.col("Owner")] and "Industry is SaaS" in row[leads.col("Score reasons")]
    assert report.lead_ids["generic:evt-1"] == row[leads.col("Lead ID")]
    history = backend.read().table(HISTORY.name)
    assert row[leads.col("Lead ID")] in history.column("Lead ID")
    assert {e.state for e in outbox.entries(limit=5000)} == {DONE}


def test_a_failure_after_the_append_does_not_duplicate(outbox: Outbox) -> None:
    """The append lands, then the rest of the write fails for good: the batch goes back to
    wait, and the next flush finds its leads in the sheet instead of appending them again."""
    backend = google_backend()
    keys = post(outbox, 20)
    emu = emulator()
    emu.before_request(
        lambda _store: emu.inject(*[503] * 6),  # every try of the batchUpdate that follows
        when=lambda info: info.endpoint == "values.append",
    )
    failed = flush(outbox, backend, clock, "w1")
    assert failed.error and failed.waiting == 20
    assert {e.state for e in outbox.entries()} == {PENDING}
    assert in_sheet(backend) == Counter(keys)  # the append itself happened

    later = datetime.fromtimestamp(max(e.next_try_at for e in outbox.entries()) + 1, UTC)
    again = flush(outbox, backend, lambda: later, "w2")
    assert (again.appended, again.already, again.error) == (0, 20, "")
    assert in_sheet(backend) == Counter(keys)
    assert {e.state for e in outbox.entries()} == {DONE}
    assert all(e.lead_id.startswith("L-") for e in outbox.entries())


def test_an_append_whose_answer_is_lost_is_checked_not_resent(outbox: Outbox) -> None:
    backend = google_backend()
    keys = post(outbox, 5)
    reads = []

    def second_read(info) -> bool:  # the read, the lease, then a re-read: the append is next
        reads.append(info.endpoint)
        return reads.count("values.batchGet") == 2

    emulator().before_request(lambda _store: emulator().inject(DROP_AFTER), when=second_read)
    failed = flush(outbox, backend, clock, "w1")
    assert "append" in failed.error
    assert in_sheet(backend) == Counter(keys)  # it did happen, once
    later = datetime.fromtimestamp(max(e.next_try_at for e in outbox.entries()) + 1, UTC)
    again = flush(outbox, backend, lambda: later, "w1")
    assert (again.appended, again.already) == (0, 5)
    assert in_sheet(backend) == Counter(keys)


def test_two_flushers_at_once_on_a_workbook(outbox: Outbox, tmp_path: Path) -> None:
    """Each claims its own batch; the second to write finds the file changed and plans
    again, so that no two leads get the same ID and none is lost."""
    path = tmp_path / "crm.xlsx"
    WorkbookBackend(path).provision(template())
    keys = post(outbox, 60)
    reports = []

    def run(worker: str) -> None:
        while True:
            report = flush(outbox, WorkbookBackend(path), clock, worker, batch=15)
            reports.append(report)
            if not report.claimed:
                return

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # a flusher that kept losing the race put its batch back for later: take it now
    waiting = [e.next_try_at for e in outbox.entries(PENDING)]
    if waiting:
        later = datetime.fromtimestamp(max(waiting) + 1, UTC)
        reports.append(flush(outbox, WorkbookBackend(path), lambda: later, "w9"))
    assert all("kept changing" in r.error for r in reports if r.error)
    backend = WorkbookBackend(path)
    assert in_sheet(backend) == Counter(keys)
    leads = backend.read().table(LEADS.name)
    # the web leads' (the template's sample rows wait for the sync: issue 21)
    pairs = zip(leads.column("Lead ID"), leads.column("Submission ID"), strict=True)
    ids = [i for i, k in pairs if k]
    assert all(ids) and len(ids) == len(set(ids))
    assert sum(r.appended for r in reports) == 60


def test_a_submission_the_mapping_cannot_handle_goes_dead_alone(outbox: Outbox) -> None:
    backend = google_backend()
    keys = post(outbox, 3)
    broken = json.dumps({"source": "generic", "event_id": "x", "answers": "not a list"})
    outbox.put("generic:x", "generic", broken, CLOCK.timestamp())
    report = flush(outbox, backend, clock, "w1")
    assert (report.appended, report.dead) == (3, 1)
    assert in_sheet(backend) == Counter(keys)
    [dead] = [e for e in outbox.entries() if e.key == "generic:x"]
    assert dead.state == "dead" and dead.last_error


def test_a_batch_that_keeps_breaking_our_code_is_set_aside(outbox: Outbox, tmp_path: Path) -> None:
    """A snapshot the planner cannot handle (here: a Leads tab whose header row is a list of
    numbers, which no sheet read produces) stands for a bug: the batch waits, is retried, and
    after GIVE_UP_AFTER failures goes to the dead letters, where a person can see it."""
    from sheetcrm.backends.memory import MemoryBackend
    from sheetcrm.intake.flusher import GIVE_UP_AFTER

    tabs = template()
    tabs[LEADS.name].header = [1, 2, 3]  # type: ignore[list-item]
    backend = MemoryBackend(tabs)
    post(outbox, 2)
    now = CLOCK
    for attempt in range(1, GIVE_UP_AFTER + 1):
        report = flush(outbox, backend, lambda at=now: at, "w1")
        assert report.error.startswith("unexpected ")
        expected = (0, 2) if attempt == GIVE_UP_AFTER else (2, 0)
        assert (report.waiting, report.dead) == expected
        now = datetime.fromtimestamp(max(e.next_try_at for e in outbox.entries()) + 1, UTC)
    assert {e.state for e in outbox.entries()} == {"dead"}


def test_after_a_long_outage_every_submission_is_tried_soon_after_the_sheet_is_back(
    outbox: Outbox, tmp_path: Path
) -> None:
    """A sheet that fails (quota, 5xx) is the sheet's failure, not each submission's: the
    wait grows with the flusher's run of failures, up to SHEET_BACKOFF's most, whatever
    number of tries a submission has behind it (per-submission doubling reached two minutes
    and made the Google soak's drain tail outlast ten)."""
    from sheetcrm.intake.flusher import SHEET_BACKOFF

    path = tmp_path / "crm.xlsx"
    path.write_bytes(b"not a workbook")  # every read fails as a broken sheet would
    backend = WorkbookBackend(path)
    post(outbox, 3)
    now = CLOCK.timestamp()
    waits = []
    for failures in range(12):
        report = flush(
            outbox,
            backend,
            lambda at=now: datetime.fromtimestamp(at, UTC),
            "w1",
            sheet_failures=failures,
        )
        assert report.error and report.waiting == 3
        entries = outbox.entries()
        waits.append(max(e.next_try_at for e in entries) - now)
        now = max(e.next_try_at for e in entries) + 0.01
    assert {e.attempts for e in outbox.entries()} == {12}  # each try still counted and shown
    assert waits[0] <= SHEET_BACKOFF[0]
    assert max(waits) <= SHEET_BACKOFF[1]
    assert waits[-1] >= SHEET_BACKOFF[1] / 2  # it does back off
