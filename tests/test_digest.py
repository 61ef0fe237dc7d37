"""The daily digest (Settings: Digest at), quiet hours and the hourly cap on notifications,
and the Notifications log tab the sender's reports are appended to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sales_sheet import email, sales_tabs, set_lead, set_member, sync
from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.notifications import Notification, SentRecord
from sheetcrm.engine.schema import NOTIFICATIONS
from sheetcrm.engine.table import Table

MONDAY = datetime(2026, 11, 23, 10, 0)  # the sheet's wall time (America/New_York, UTC-5)
LEADS = (
    {"Email": "a@acme.example", "Company": "Acme\r\nBcc: x@evil.example"},
    {"Email": "b@bolt.example", "First name": "Bo", "Last name": "Lt"},
    {"Email": "c@cask.example", "Company": "Cask"},
)


def _digests(notifications: list[Notification]) -> dict[str, Notification]:
    return {n.recipient: n for n in notifications if n.event == "daily digest"}


def _backend(settings: dict[str, str]) -> MemoryBackend:
    backend = MemoryBackend(sales_tabs({"Digest at": "8:00", **settings}, *LEADS))
    sync(backend, MONDAY)  # Ann, Ben and Cal get a lead each
    return backend


def test_one_digest_per_owner_from_the_time_on_in_the_sheets_time_zone():
    backend = _backend({})
    set_member(backend, "Cal", "Active", "no")  # not active: no digest
    set_lead(backend, 1, "Next action date", "2026-11-20")
    # 7:59 and 8:01 in New York are 12:59 and 13:01 UTC
    assert not _digests(sync(backend, datetime(2026, 11, 24, 12, 59, tzinfo=UTC)).notifications)
    planned = _digests(sync(backend, datetime(2026, 11, 24, 13, 1, tzinfo=UTC)).notifications)
    assert sorted(planned) == [email("Ann"), email("Ben")]  # Dee has no lead: nothing to say
    ann, ben = planned[email("Ann")], planned[email("Ben")]
    assert ann.subject == "Your sheetcrm digest for 2026-11-24: 0 overdue, 0 stale, 1 new"
    assert ann.text.splitlines()[1] == (
        "New leads since 2026-11-23 08:00 (1): L-00001 Acme Bcc: x@evil.example"
    )
    assert "Overdue follow-ups (1): L-00002 Bo Lt" in ben.text.splitlines()
    assert ann.channel == "email" and not ann.not_before
    # a later sync the same day plans it under the same key: the outbox drops it
    again = _digests(sync(backend, datetime(2026, 11, 24, 15, 0)).notifications)
    assert again[email("Ann")].key == ann.key
    # once the sender logged it, it is not planned at all
    sent = SentRecord(
        ann.key, "2026-11-24T13:02:00+00:00", "", "daily digest", ann.recipient, "email", "sent"
    )
    sync(backend, datetime(2026, 11, 24, 15, 5), sent=(sent,))
    later = _digests(sync(backend, datetime(2026, 11, 24, 16, 0)).notifications)
    assert sorted(later) == [email("Ben")]
    # the next day: a new key; the lead of the 23rd is no longer new
    tomorrow = _digests(sync(backend, datetime(2026, 11, 25, 8, 0)).notifications)
    assert sorted(tomorrow) == [email("Ben")] and tomorrow[email("Ben")].key != ben.key


def test_no_digest_without_the_setting_and_none_before_the_time():
    backend = MemoryBackend(sales_tabs({}, *LEADS))
    sync(backend, MONDAY)
    assert not _digests(sync(backend, datetime(2026, 11, 24, 9, 0)).notifications)
    timed = _backend({"Digest at": "18:30"})  # its leads came before the 23rd's 18:30
    set_lead(timed, 0, "Next action date", "2026-11-20")
    assert not _digests(sync(timed, datetime(2026, 11, 24, 18, 29)).notifications)
    assert sorted(_digests(sync(timed, datetime(2026, 11, 24, 18, 30)).notifications)) == [
        email("Ann")
    ]


def test_quiet_hours_hold_notifications_until_they_end_and_the_cap_is_carried():
    settings = {"Quiet hours": "20:00-8:00", "Alerts per person per hour": "5"}
    evening = sync(MemoryBackend(sales_tabs(settings, *LEADS)), datetime(2026, 11, 23, 21, 0))
    assert evening.notifications
    assert {n.not_before for n in evening.notifications} == {"2026-11-24T13:00:00+00:00"}
    assert {n.cap for n in evening.notifications} == {5}
    early = sync(MemoryBackend(sales_tabs(settings, *LEADS)), datetime(2026, 11, 24, 7, 30))
    assert {n.not_before for n in early.notifications} == {"2026-11-24T13:00:00+00:00"}
    day = sync(MemoryBackend(sales_tabs(settings, *LEADS)), MONDAY)
    assert {n.not_before for n in day.notifications} == {""}
    default = sync(MemoryBackend(sales_tabs({}, *LEADS)), MONDAY)
    assert {n.cap for n in default.notifications} == {20}
    # a digest planned in the quiet hours waits too
    held = _backend({"Digest at": "6:00", "Quiet hours": "20:00-7:00"})
    digests = _digests(sync(held, datetime(2026, 11, 24, 6, 30)).notifications).values()
    assert digests and {d.not_before for d in digests} == {"2026-11-24T12:00:00+00:00"}


def _record(key: str, recipient: str = "ann@sales.example", channel: str = "email") -> SentRecord:
    return SentRecord(
        key, "2026-11-23T15:00:00Z", "L-00001", "lead assigned", recipient, channel, "sent"
    )


def test_the_notifications_tab_logs_each_record_once_by_key():
    backend = MemoryBackend(sales_tabs({}))
    webhook = _record("k2", "https://hooks.example/T0/secret-token", "sales-alerts")
    failed = SentRecord(
        "k3",
        "2026-11-23T15:01:00+00:00",
        "L-00002",
        "deal won",
        "",
        "sales-wins",
        "failed: 503 from the webhook",
    )
    sync(backend, MONDAY, sent=(_record("k1"), webhook, _record("k1")))
    tab = backend.read().table(NOTIFICATIONS.name)
    assert tab.header == NOTIFICATIONS.headers
    assert tab.rows == [
        [
            "2026-11-23 10:00",
            "L-00001",
            "lead assigned",
            "ann@sales.example",
            "email",
            "sent",
            "k1",
        ],
        [
            "2026-11-23 10:00",
            "L-00001",
            "lead assigned",
            "sales-alerts",
            "sales-alerts",
            "sent",
            "k2",
        ],
    ]
    plan = sync(backend, MONDAY + timedelta(minutes=5), sent=(_record("k1"), webhook, failed))
    assert [r[-1] for r in plan.log] == ["k3"]
    rows = backend.read().table(NOTIFICATIONS.name).rows
    assert [r[-1] for r in rows] == ["k1", "k2", "k3"]
    assert rows[-1][3:6] == ["sales-wins", "sales-wins", "failed: 503 from the webhook"]
    assert not any("secret-token" in c for r in rows for c in r)
    assert not sync(backend, MONDAY + timedelta(minutes=6), sent=(failed,)).log


def test_a_sheet_without_the_tab_gets_it_with_the_first_record():
    tabs = sales_tabs({})
    del tabs[NOTIFICATIONS.name]
    backend = MemoryBackend(tabs)
    sync_once(backend, MONDAY, datetime.now(UTC), sent=(_record("k1"),))  # as the service does
    tab: Table = backend.read().table(NOTIFICATIONS.name)
    assert tab.header == NOTIFICATIONS.headers and [r[-1] for r in tab.rows] == ["k1"]
