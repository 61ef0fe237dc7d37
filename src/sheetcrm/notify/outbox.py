"""The notification outbox: every notification a sync or a web-form flush planned is a row
of the outbox's database, stored exactly once, whatever happens to the write that planned it.

A plan's notifications are stored *held*, under the plan's write token, before its write; the
same token goes into the hidden state tab in the very request that writes the plan's History
rows and cells (engine/sync/tabs.py). Once the write landed they are *released* (pending: the
sender's). When the process dies between, or the write fails without saying whether it
landed, they stay held, and the next write, one writer at a time, *settles* them from the
sheet: the token it shows is the last write that landed, so its held rows are released and any
others dropped: their events are not in the sheet, so that sync plans them again.
See docs/alerts.md, "Exactly once".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from sheetcrm.backends.base import LeaseHeldError
from sheetcrm.engine.catalog import DEFAULT
from sheetcrm.engine.notifications import (
    NOTIFIED_KEY,
    Notification,
    SentRecord,
    keys_of,
    write_token,
)
from sheetcrm.engine.plan import Plan, find_column
from sheetcrm.engine.schema import LEADS, STATE
from sheetcrm.engine.sync.tabs import state_value
from sheetcrm.engine.table import Snapshot
from sheetcrm.intake.outbox_db import ARRAY_ROWS, OutboxDB, notifications

HELD, PENDING, SENT, DEAD, FOLDED = "held", "pending", "sent", "dead", "folded"
STATES = (HELD, PENDING, SENT, DEAD, FOLDED)
WRITING_LOCK = 0x5EE7C13  # PostgreSQL's advisory lock of the one writer of notifications
CHUNK = 500  # keys per statement
HOLD_ROWS = ARRAY_ROWS  # rows made and stored at a time: PostgreSQL's rows per statement


@dataclass(frozen=True)
class Record:
    """A stored notification, as ``outbox list``, the sender and the log tab see it."""

    key: str
    lead_id: str
    event: str
    channel: str
    recipient: str
    subject: str
    text: str
    leads_row: int
    state: str
    created_at: float
    next_try_at: float
    attempts: int
    last_error: str
    sent_at: float | None
    cap: int
    summary_key: str
    language: str = DEFAULT  # the sheet's Language when the sync planned it
    # a nurture e-mail's (Notification's): the From's owner name, the Reply-To, and the
    # lead's address its unsubscribe link names; "" on alerts (NULL in the table)
    sender_name: str = ""
    reply_to: str = ""
    unsubscribe: str = ""
    step: str = ""  # a nurture e-mail's Notification.when: "Nurture C#2"

    @property
    def nurture(self) -> bool:
        """An e-mail to a lead of a sequence (notify/nurture.py), not an alert to the team."""
        return bool(self.unsubscribe)


class NotificationOutbox:
    def __init__(self, db: OutboxDB, clock: Callable[[], float] = time.time) -> None:
        """Notifications in the outbox ``db`` (shared with the web-form submissions)."""
        self.db = db
        self.clock = clock

    # -- from a plan to the outbox (backends/notices.py) --------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        # waits up to SHEETCRM_WRITING_TURN_WAIT for another's turn before it is called busy
        with self.db.turn("notify", WRITING_LOCK, self.db.timeouts.turn_wait) as mine:
            if not mine:
                raise LeaseHeldError(
                    "another sync or flush of this outbox is writing to the sheet",
                    "it is tried again shortly",
                )
            yield

    def settle(self, snapshot: Snapshot) -> tuple[int, int]:
        c = notifications.c
        with self.db.engine.connect() as conn:
            held = conn.execute(
                select(c.key, c.sync_stamp, c.new_lead, c.lead_id).where(c.state == HELD)
            ).all()
        if not held:
            return 0, 0
        landed = state_value(snapshot.table(STATE.name), NOTIFIED_KEY)
        # A lead the write appended is in the sheet once its append landed, even should the
        # request after it (History, the state tab) have been lost: its assignment is in its
        # row, and no later sync tells of it again.
        present = _lead_ids(snapshot) if any(row.new_lead for row in held) else set()
        release = [
            row.key
            for row in held
            if (landed and row.sync_stamp == landed) or (row.new_lead and row.lead_id in present)
        ]
        chosen = set(release)
        drop = [row.key for row in held if row.key not in chosen]
        with self.db.begin() as conn:
            for chunk in _chunks(release):
                conn.execute(
                    update(notifications)
                    .where(c.key.in_(chunk) & (c.state == HELD))
                    .values(state=PENDING)
                )
            for chunk in _chunks(drop):
                conn.execute(delete(notifications).where(c.key.in_(chunk) & (c.state == HELD)))
        return len(release), len(drop)

    def hold(self, plan: Plan, new_leads: Collection[str] = ()) -> int:
        planned = plan.notifications
        token = write_token(plan.stamp, planned)
        now = self.clock()
        fresh = set(new_leads)
        # a key twice: stored once, as the last one planned says it
        last = {key: i for i, key in enumerate(keys_of(planned))}
        # in key order: two writers' inserts lock shared keys in the same order; a chunk's
        # rows made at a time, not a first sync's 100,000 rows at once
        ordered = sorted(last)
        stored = 0
        with self.db.begin() as conn:
            for chunk in _chunks(ordered, HOLD_ROWS):
                rows = [
                    _row(key, n, token, now, n.lead_id in fresh)
                    for key, n in ((key, planned[last[key]]) for key in chunk)
                ]
                stored += len(self.db.store_new(conn, notifications, rows))
        return stored

    def release(self, plan: Plan) -> int:
        c = notifications.c
        token = write_token(plan.stamp, plan.notifications)
        with self.db.begin() as conn:
            return conn.execute(
                update(notifications)
                .where((c.sync_stamp == token) & (c.state == HELD))
                .values(state=PENDING)
            ).rowcount

    def drop(self, plan: Plan) -> int:
        c = notifications.c
        token = write_token(plan.stamp, plan.notifications)
        with self.db.begin() as conn:
            return conn.execute(
                delete(notifications).where((c.sync_stamp == token) & (c.state == HELD))
            ).rowcount

    # -- what people see -----------------------------------------------------------------------

    def entries(self, state: str | None = None, limit: int = 100) -> list[Record]:
        query = select(notifications).order_by(notifications.c.created_at).limit(limit)
        if state is not None:
            query = query.where(notifications.c.state == state)
        with self.db.engine.connect() as conn:
            return [record(r) for r in conn.execute(query)]

    def stats(self, now: float) -> dict[str, Any]:
        """How many in each state, and how long the oldest due one has waited, for /status."""
        c = notifications.c
        with self.db.engine.connect() as conn:
            counts: dict[str, int] = dict(
                conn.execute(select(c.state, func.count()).group_by(c.state)).all()
            )
            oldest = conn.execute(
                select(func.min(c.next_try_at)).where((c.state == PENDING) & (c.next_try_at <= now))
            ).scalar()
            later = conn.execute(
                select(func.count()).where((c.state == PENDING) & (c.next_try_at > now))
            ).scalar()
        return {
            **{state: int(counts.get(state, 0)) for state in STATES},
            "oldest_pending_seconds": round(now - oldest, 3) if oldest is not None else None,
            "waiting": int(later or 0),  # quiet hours, a backoff, or the hourly cap
        }

    def retry(self, keys: Iterable[str] | None, now: float) -> int:
        """Make dead notifications (all of them, or those named) pending again, due now."""
        return self.db.retry_dead(notifications, keys, now)

    # -- for the sheet's Notifications log tab -----------------------------------------------

    def unlogged(self, limit: int = 500) -> list[Record]:
        """Sent, dead and folded notifications the log tab does not show yet, oldest first."""
        c = notifications.c
        query = (
            select(notifications)
            .where(c.state.in_((SENT, DEAD, FOLDED)) & (c.logged == 0))
            .order_by(c.created_at, c.key)
            .limit(limit)
        )
        with self.db.engine.connect() as conn:
            return [record(r) for r in conn.execute(query)]

    def log_records(self, limit: int = 500) -> list[SentRecord]:
        """What the Notifications tab is to show next: :meth:`unlogged`, as the engine's
        records (never a webhook's URL: a chat recipient is a person's name or none)."""
        return [_sent_record(r) for r in self.unlogged(limit)]

    def mark_logged(self, keys: Iterable[str]) -> int:
        c = notifications.c
        done = 0
        with self.db.begin() as conn:
            for chunk in _chunks(list(keys)):
                done += conn.execute(
                    update(notifications).where(c.key.in_(chunk)).values(logged=1)
                ).rowcount
        return done


def _row(key: str, n: Notification, token: str, now: float, new_lead: bool) -> dict[str, Any]:
    """``n``'s row, under its ``key`` (a sha256 each time ``n.key`` is read)."""
    return {
        "key": key,
        "lead_id": n.lead_id,
        "event": n.event,
        "channel": n.channel,
        "recipient": n.recipient,
        "subject": n.subject,
        "text": n.text,
        "leads_row": n.leads_row,
        "state": HELD,
        "created_at": now,
        "next_try_at": max(now, _timestamp(n.not_before)) if n.not_before else now,
        "attempts": 0,
        "sync_stamp": token,
        "new_lead": int(new_lead),
        "cap": n.cap,
        "logged": 0,
        "language": n.language,
        "sender_name": n.sender_name or None,
        "reply_to": n.reply_to or None,
        "unsubscribe": n.unsubscribe or None,
        "step": n.when if n.unsubscribe else None,
    }


def _timestamp(iso: str) -> float:
    """An ISO time (UTC when it names no offset) as Unix time; 0 (at once) when unreadable."""
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return 0.0
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def _lead_ids(snapshot: Snapshot) -> set[str]:
    leads = snapshot.get(LEADS.name)
    column = find_column(leads, "Lead ID") if leads is not None else None
    if leads is None or column is None:
        return set()
    return {row[column].strip() for row in leads.rows if len(row) > column}


def _sent_record(r: Record) -> SentRecord:
    at = datetime.fromtimestamp(r.sent_at or r.next_try_at, UTC).isoformat(timespec="seconds")
    if r.state == SENT:
        outcome = "sent"
    elif r.state == FOLDED:
        outcome = "in the hourly summary (cap reached)"
    else:
        outcome = f"failed: {r.last_error}"
    return SentRecord(
        r.key, at, r.lead_id, r.event, r.recipient, r.channel, outcome, r.step, r.subject
    )


def record(row: Any) -> Record:
    return Record(
        row.key,
        row.lead_id,
        row.event,
        row.channel,
        row.recipient,
        row.subject,
        row.text,
        row.leads_row,
        row.state,
        row.created_at,
        row.next_try_at,
        row.attempts,
        row.last_error or "",
        row.sent_at,
        row.cap,
        row.summary_key or "",
        row.language or DEFAULT,
        row.sender_name or "",
        row.reply_to or "",
        row.unsubscribe or "",
        row.step or "",
    )


def describe(entry: Record) -> dict[str, object]:
    """A notification for ``sheetcrm outbox list``: who, which lead, what event, how it went;
    not its text (it may quote a lead's data)."""
    return {
        "kind": "notification",
        "key": entry.key,
        "state": entry.state,
        "lead_id": entry.lead_id,
        "event": entry.event,
        "channel": entry.channel,
        "recipient": entry.recipient,
        "created_at": _iso(entry.created_at),
        "attempts": entry.attempts,
        "next_try_at": _iso(entry.next_try_at) if entry.state == PENDING else None,
        "sent_at": _iso(entry.sent_at),
        "last_error": entry.last_error,
        "summary_key": entry.summary_key or None,
    }


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _chunks(keys: list[str], size: int = CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]
