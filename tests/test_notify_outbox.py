"""The notification outbox on SQLite and PostgreSQL: from a plan to the outbox exactly once
(a lost write, a kill between the write and the release, a re-sync), and the sender (two at
once, backoff, dead letters, the hourly cap, quiet hours)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sheetcrm.backends.apply import apply, sync_once
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.notifications import NOTIFIED_KEY, Notification, write_token
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.schema import ALERTS, LEADS, STATE
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.sync.tabs import state_value
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.errors import BackendError
from sheetcrm.intake.adapters import adapt
from sheetcrm.intake.flusher import flush
from sheetcrm.intake.outbox import Outbox
from sheetcrm.intake.outbox_db import ARRAY_ROWS, OutboxDB
from sheetcrm.notify.message import DeliveryError, Message
from sheetcrm.notify.outbox import DEAD, FOLDED, HELD, PENDING, SENT, NotificationOutbox
from sheetcrm.notify.sender import MAX_TRIES, Sender
from sheetcrm.service.service_config import ServiceConfig
from sheetcrm.service.tasks import Service
from sheets import NOW, template

CLOCK = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
ASSIGNED = [["lead assigned", "", "", "", "", "owner", "email", "A new lead is yours"]]


class Clock:
    def __init__(self, at: float = CLOCK.timestamp()) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


class Recorder:
    """A channel that keeps what it was given; fails as told first."""

    def __init__(self, failures: list[DeliveryError] | None = None, pause: float = 0.0) -> None:
        self.sent: list[Message] = []
        self.failures = list(failures or [])
        self.pause = pause
        self.lock = threading.Lock()

    def __call__(self, message: Message) -> None:
        if self.failures:
            raise self.failures.pop(0)
        time.sleep(self.pause)
        with self.lock:
            self.sent.append(message)


@pytest.fixture
def db(url: str):
    store = OutboxDB(url)
    yield store
    store.close()


def _sheet(leads: int = 3) -> MemoryBackend:
    tabs = template()
    tabs[ALERTS.name] = Table(list(ALERTS.headers), [list(r) for r in ASSIGNED])
    table = tabs[LEADS.name]
    table.rows.clear()
    for i in range(leads):
        row = [""] * len(table.header)
        row[table.col("Email")] = f"lead{i}@firm{i}.example"
        row[table.col("Country")] = "France"
        table.rows.append(row)
    return MemoryBackend(tabs)


def _states(box: NotificationOutbox) -> Counter[str]:
    return Counter(e.state for e in box.entries(limit=10_000))


def _sync(backend: MemoryBackend, box: NotificationOutbox, now: datetime = NOW) -> Plan:
    return sync_once(backend, now, CLOCK, notices=box)[0]


def test_a_sync_stores_each_notification_once_and_a_re_sync_adds_nothing(db):
    backend, box = _sheet(), NotificationOutbox(db)
    plan = _sync(backend, box)
    assert len(plan.notifications) == 3
    assert _states(box) == {PENDING: 3}
    # the proof of landing went in with the write
    shown = state_value(backend.read().table(STATE.name), NOTIFIED_KEY)
    assert shown == write_token(plan.stamp, plan.notifications)
    again = _sync(backend, box)
    assert not again.notifications and _states(box) == {PENDING: 3}
    assert not _sync(backend, box, NOW + timedelta(minutes=5)).notifications


def test_a_write_that_fails_keeps_them_held_and_the_next_sync_settles(db):
    backend, box = _sheet(), NotificationOutbox(db)

    def lost(_backend: MemoryBackend) -> None:
        raise BackendError("the connection dropped: did the write land?")

    backend.before_write = lost
    with pytest.raises(BackendError):
        _sync(backend, box)
    assert _states(box) == {HELD: 3}  # not known to have landed: nothing to send yet
    later = NOW + timedelta(minutes=1)
    plan = _sync(backend, box, later)  # the write was lost: its events are planned again
    assert len(plan.notifications) == 3
    entries = box.entries()
    assert {e.state for e in entries} == {PENDING}
    assert {e.key for e in entries} == {n.key for n in plan.notifications}


def test_a_kill_between_write_and_release_sends_what_landed_once(db):
    backend, box = _sheet(), NotificationOutbox(db)
    # a sync killed after its write landed, before it released: held, and in the sheet
    snapshot = backend.read()
    plan = plan_sync(snapshot, NOW)
    box.hold(plan)
    assert apply(plan, backend, snapshot).written
    assert _states(box) == {HELD: 3}
    later = _sync(backend, box, NOW + timedelta(minutes=1))
    assert not later.notifications  # the sheet has the events: nothing planned again
    assert _states(box) == {PENDING: 3}
    assert {e.key for e in box.entries()} == {n.key for n in plan.notifications}


def test_a_kill_before_the_write_landed_is_planned_again_once(db):
    backend, box = _sheet(), NotificationOutbox(db)
    lost = plan_sync(backend.read(), NOW)
    box.hold(lost)  # killed here: held, never written
    plan = _sync(backend, box, NOW + timedelta(minutes=1))
    assert len(plan.notifications) == 3
    assert _states(box) == {PENDING: 3}
    assert {e.key for e in box.entries()} == {n.key for n in plan.notifications}
    assert not {n.key for n in lost.notifications} & {e.key for e in box.entries()}


def test_a_web_lead_routed_to_its_owner_is_one_notification(url, db):
    backend, box = _sheet(leads=0), NotificationOutbox(db)
    outbox = Outbox(url)
    submission = adapt("generic", {"event_id": "evt-1", "email": "ana@firm.example"})
    outbox.put(submission.key(), "generic", submission.to_json(), CLOCK.timestamp() - 5)
    report = flush(outbox, backend, lambda: CLOCK, "w1", notices=box)
    assert report.appended == 1, report.error
    entries = box.entries()
    assert [(e.state, e.event, e.lead_id) for e in entries] == [
        (PENDING, "lead assigned", report.lead_ids[submission.key()])
    ]
    assert not _sync(backend, box).notifications
    assert len(box.entries()) == 1
    outbox.close()


def _enqueue(box: NotificationOutbox, *notes: Notification) -> None:
    plan = Plan("v", stamp="2026-11-23 10:00", notifications=list(notes))
    box.hold(plan)
    box.release(plan)


def _note(lead: str, recipient: str = "sofia@quillstack.example", **kw) -> Notification:
    return Notification(2, lead, "lead assigned", "2026-11-23 10:00", recipient, "email", "x", **kw)


def test_a_big_hold_over_stored_keys_stores_exactly_the_new_ones(db):
    """An import's hold, in several statements (more rows than one PostgreSQL array insert
    takes), where an earlier, lost plan stored every third key already: those keep what they
    were stored with, the others are stored with every value as given (text that an array
    literal would have to escape included), and the count is of the new ones alone."""
    clock = Clock()
    box = NotificationOutbox(db, clock)
    count = ARRAY_ROWS + 1_000
    odd = 'a "quoted", {braced} \\ back\\slash, é, NULL'

    def note(i: int, text: str) -> Notification:
        quiet = "2026-11-23T20:00:00+00:00" if i % 7 == 0 else ""
        return Notification(
            2,
            f"L-{i:05}",
            "lead assigned",
            "2026-11-23 10:00",
            "",
            "wins",
            text,
            subject=odd if i % 5 == 0 else "",
            leads_row=i + 2,
            not_before=quiet,
            cap=i % 3,
        )

    earlier = Plan(
        "v",
        stamp="2026-11-23 09:00",
        notifications=[note(i, "earlier") for i in range(0, count, 3)],
    )
    assert box.hold(earlier) == len(earlier.notifications) == 2_000
    clock.at += 60
    notes = [note(i, "NULL" if i % 2 else odd) for i in reversed(range(count))]
    plan = Plan("v", stamp="2026-11-23 10:00", notifications=[*notes, notes[0]])
    assert box.hold(plan) == count - 2_000
    assert box.hold(plan) == 0  # held again (a retried write): nothing more
    stored = {e.key: e for e in box.entries(HELD, limit=10 * count)}
    assert len(stored) == count
    for i, n in enumerate(reversed(notes)):
        entry = stored[n.key]
        if i % 3 == 0:
            assert (entry.text, entry.created_at) == ("earlier", CLOCK.timestamp())
            continue
        assert (entry.lead_id, entry.text, entry.subject) == (n.lead_id, n.text, n.subject)
        assert (entry.channel, entry.recipient, entry.event) == ("wins", "", "lead assigned")
        assert (entry.leads_row, entry.cap, entry.created_at) == (i + 2, i % 3, clock.at)
        quiet = datetime(2026, 11, 23, 20, tzinfo=UTC).timestamp()
        assert entry.next_try_at == (quiet if i % 7 == 0 else clock.at)
    assert box.release(plan) == count - 2_000
    assert box.release(earlier) == 2_000


def test_sent_once_with_its_key_and_a_link_to_its_row(db):
    clock, channel = Clock(), Recorder()
    box = NotificationOutbox(db, clock)
    _enqueue(box, _note("L-1", leads_row=7, subject="New lead"))
    sender = Sender(db, channel, "w1", link=lambda row: f"https://sheet#A{row}", clock=clock)
    assert sender.run_once().sent == 1
    assert sender.run_once().claimed == 0
    (message,) = channel.sent
    assert message.key == _note("L-1", leads_row=7).key
    assert (message.subject, message.link) == ("New lead", "https://sheet#A7")
    (entry,) = box.entries()
    assert entry.state == SENT and entry.sent_at == clock.at


def test_a_temporary_failure_backs_off_then_sends(db):
    clock = Clock()
    box = NotificationOutbox(db, clock)
    channel = Recorder([DeliveryError("SMTP 451 try later"), DeliveryError("timed out")])
    _enqueue(box, _note("L-1"))
    sender = Sender(db, channel, "w1", clock=clock)
    assert sender.run_once().waiting == 1
    (entry,) = box.entries()
    assert entry.state == PENDING and entry.next_try_at > clock.at
    assert entry.last_error == "SMTP 451 try later"
    assert sender.run_once().claimed == 0  # waits out its backoff
    for _ in range(2):
        clock.at += 3600
        sender.run_once()
    (entry,) = box.entries()
    assert (entry.state, entry.attempts, len(channel.sent)) == (SENT, 3, 1)


def test_a_permanent_failure_is_dead_with_its_reason_and_retry_brings_it_back(db):
    clock = Clock()
    box = NotificationOutbox(db, clock)
    channel = Recorder([DeliveryError("550 no such user", permanent=True)])
    _enqueue(box, _note("L-1"))
    sender = Sender(db, channel, "w1", clock=clock)
    assert sender.run_once().dead == 1
    (entry,) = box.entries()
    assert (entry.state, entry.last_error) == (DEAD, "550 no such user")
    assert box.retry(None, clock.at) == 1
    assert sender.run_once().sent == 1


def test_max_tries_then_dead(db):
    clock = Clock()
    box = NotificationOutbox(db, clock)
    channel = Recorder([DeliveryError("connection refused")] * MAX_TRIES)
    _enqueue(box, _note("L-1"))
    sender = Sender(db, channel, "w1", clock=clock)
    for _ in range(MAX_TRIES):
        sender.run_once()
        clock.at += 3600
    (entry,) = box.entries()
    assert entry.state == DEAD and entry.attempts == MAX_TRIES
    assert entry.last_error == f"connection refused ({MAX_TRIES} tries)"
    assert not channel.sent


def test_above_the_cap_the_rest_is_one_summary_an_hour(db):
    clock, channel = Clock(), Recorder()
    box = NotificationOutbox(db, clock)
    _enqueue(box, *(_note(f"L-{i:03}", cap=3) for i in range(40)))
    _enqueue(box, _note("L-other", recipient="avery@quillstack.example", cap=3))
    sender = Sender(db, channel, "w1", clock=clock)
    report = sender.run_once()
    to_sofia = [m for m in channel.sent if m.recipient.startswith("sofia")]
    assert len(to_sofia) == 3 and report.folded == 38
    summary = to_sofia[-1]
    assert summary.text.startswith("and 38 more: L-0")
    folded = sorted(e.lead_id for e in box.entries(FOLDED))
    assert summary.text == "and 38 more: " + ", ".join(f"{i} (lead assigned)" for i in folded)
    assert len([m for m in channel.sent if m.recipient.startswith("avery")]) == 1
    states = _states(box)
    assert (states[FOLDED], states[SENT]) == (38, 4)
    assert {e.summary_key for e in box.entries(FOLDED)} == {summary.key}
    # more in the same hour: no room, they wait for the hour to turn, then fold again
    _enqueue(box, *(_note(f"L-{i:03}", cap=3) for i in range(100, 110)))
    assert sender.run_once().sent == 0
    clock.at += 3601
    sender.run_once()
    assert len([m for m in channel.sent if m.recipient.startswith("sofia")]) == 6
    assert channel.sent[-1].text.startswith("and 8 more: L-1")


def test_quiet_hours_hold_it_until_then(db):
    clock, channel = Clock(), Recorder()
    box = NotificationOutbox(db, clock)
    morning = datetime.fromtimestamp(clock.at + 8 * 3600, UTC).isoformat()
    _enqueue(box, _note("L-1", not_before=morning))
    sender = Sender(db, channel, "w1", clock=clock)
    assert sender.run_once().claimed == 0
    clock.at += 8 * 3600
    assert sender.run_once().sent == 1


def test_a_killed_senders_claim_runs_out_and_another_sends_it(db):
    clock, channel = Clock(), Recorder()
    box = NotificationOutbox(db, clock)
    _enqueue(box, _note("L-1"))
    killed = Sender(db, Recorder(), "killed", clock=clock)
    assert len(killed._claim(clock.at, 10)) == 1  # claimed, then killed before sending
    other = Sender(db, channel, "w2", clock=clock)
    assert other.run_once().claimed == 0
    clock.at += 301
    assert other.run_once().sent == 1 and len(channel.sent) == 1


def test_two_services_on_one_outbox_never_send_a_key_twice(url, tmp_path: Path):
    channel = Recorder(pause=0.002)
    config = ServiceConfig(sheet=str(tmp_path / "crm.xlsx"), outbox_url=url, send=channel)
    services = [Service(config), Service(config)]
    _enqueue(services[0].notices, *(_note(f"L-{i:03}") for i in range(120)))

    def drain(service: Service) -> None:
        while service.sender.has_due(time.time()):
            service.notify()

    threads = [threading.Thread(target=drain, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = Counter(m.key for m in channel.sent)
    assert len(counts) == 120 and set(counts.values()) == {1}
    status = services[0].status()["notifications"]
    assert status[SENT] == 120 and status["oldest_pending_seconds"] is None
    for s in services:
        s.stop()


def test_the_log_tab_reads_what_was_sent_once(db):
    clock = Clock()
    box = NotificationOutbox(db, clock)
    _enqueue(box, _note("L-1"), _note("L-2"))
    Sender(db, Recorder([DeliveryError("bad", permanent=True)]), "w1", clock=clock).run_once()
    records = box.unlogged()
    assert sorted(r.state for r in records) == [DEAD, SENT]
    assert box.mark_logged(r.key for r in records) == 2
    assert box.unlogged() == []


def test_a_lead_whose_append_landed_is_released_though_the_write_after_it_was_lost(db):
    """Google: the append of web leads and the values write (History, the state tab) are two
    requests. A crash between leaves the new lead's row, with its owner, in the sheet: no
    later sync tells of that assignment again, so its notification is the one to send."""
    box = NotificationOutbox(db)
    plan = Plan("v", stamp="2026-11-23 10:00", notifications=[_note("L-9"), _note("L-3")])
    box.hold(plan, new_leads={"L-9"})
    leads = Table(["Lead ID", "Email"], [["L-3", "a@b.example"], ["L-9", "c@d.example"]])
    assert box.settle(Snapshot({LEADS.name: leads})) == (1, 1)
    assert [(e.lead_id, e.state) for e in box.entries()] == [("L-9", PENDING)]


def test_on_google_a_write_whose_answer_was_lost_is_settled_from_the_state_tab(db):
    """The values request lands, its answer is lost and every retry fails: the sync raises,
    its notifications stay held; the next sync reads its token on the state tab, sends
    them (once), and plans none of those events again."""
    from sheetcrm.emulator.faults import DROP_AFTER
    from sheets import emulator, google_backend

    tabs = _sheet().tabs
    backend, box = google_backend(tabs), NotificationOutbox(db)
    emu = emulator()
    emu.before_request(
        lambda _store: emu.inject(DROP_AFTER, *[503] * 8),
        when=lambda info: info.endpoint == "values.batchUpdate",
    )
    with pytest.raises(BackendError):
        sync_once(backend, NOW, CLOCK, notices=box)
    assert _states(box) == {HELD: 3}
    later = sync_once(backend, NOW + timedelta(minutes=1), CLOCK, notices=box)[0]
    assert not later.notifications
    assert _states(box) == {PENDING: 3}
    gid = backend.sheet.sheet_ids[LEADS.name]
    assert backend.row_link(4).endswith(f"/edit#gid={gid}&range=A4")


def test_an_import_of_two_thousand_leads_sends_the_cap_then_one_summary(db):
    clock, channel = Clock(), Recorder()
    box = NotificationOutbox(db, clock)
    _enqueue(box, *(_note(f"L-{i:05}", cap=20) for i in range(2000)))
    sender = Sender(db, channel, "w1", clock=clock)
    rounds = 0
    while sender.run_once().claimed:
        rounds += 1
    assert rounds <= 2 and len(channel.sent) == 20
    summary = channel.sent[-1]
    assert summary.text.startswith("and 1981 more: ")
    assert summary.text.endswith(", ... (1931 more, truncated)")
    assert _states(box) == {SENT: 20, FOLDED: 1981}


def test_what_was_sent_reaches_the_notifications_tab_once(db):
    """The whole loop: a sync plans and stores, the sender sends (one refused for good), the
    next sync appends both to the Notifications tab, marks them logged, and a third sync adds
    no row (nor would a report repeated after a crash: the tab is appended once per key)."""
    from sheetcrm.engine.schema import NOTIFICATIONS

    backend, box = _sheet(2), NotificationOutbox(db)
    _sync(backend, box)
    channel = Recorder([DeliveryError("550 no such mailbox", permanent=True)])
    Sender(db, channel, "w1").run_once()
    assert len(channel.sent) == 1
    _sync(backend, box, NOW + timedelta(minutes=15))
    log = backend.read().table(NOTIFICATIONS.name)
    outcomes = sorted(r[log.col("Outcome")] for r in log.rows)
    assert outcomes == ["failed: 550 no such mailbox", "sent"]
    assert {r[log.col("Event")] for r in log.rows} == {"lead assigned"}
    assert box.unlogged() == []
    _sync(backend, box, NOW + timedelta(minutes=30))
    assert len(backend.read().table(NOTIFICATIONS.name).rows) == 2


def test_the_hours_last_slot_is_a_summary_when_more_are_due_than_one_round_claims(db):
    """A recipient whose notifications come one or two per round (others' fill each batch)
    gets cap - 1 messages one by one and the last slot as the summary of all the rest, not
    cap single messages and the rest an hour later."""
    clock, channel = Clock(), Recorder()
    box = NotificationOutbox(db, clock)
    _enqueue(
        box, *(_note(f"L-{i:03}", recipient="team@quillstack.example", cap=3) for i in range(20))
    )
    sender = Sender(db, channel, "w1", clock=clock)
    while sender.run_once(limit=1).claimed:
        pass
    texts = [m.text for m in channel.sent]
    assert len(texts) == 3 and texts[-1].startswith("and 18 more: ")
    assert _states(box)[FOLDED] == 18
