"""The sender: claims due notifications, sends each through the channels, marks it sent.

A claim keeps a notification from every other sender until it runs out (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, the write lock on SQLite), so two live senders never send one key;
one killed mid-round leaves claims that run out, and another sender takes them over. A
notification is marked sent in its own transaction the moment its channel accepted it: a
kill between the two (milliseconds) sends it again, once, under the same key, which is the
e-mail's Message-ID, so that mail systems drop the copy. A temporary failure waits a growing,
jittered backoff; a permanent one, or MAX_TRIES temporary ones, sets it aside (dead) with why.

Above a recipient's cap per hour, what is due is folded into one summary message with a key
of its own: a 5,000-lead import sends the cap, then summaries, never 5,000 e-mails. Nurture
e-mails (to leads, notify/nurture.py) are never capped nor folded: the sequences space them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select, update

from sheetcrm.engine.catalog import speaking
from sheetcrm.engine.notifications import summary
from sheetcrm.intake.outbox import backoff
from sheetcrm.intake.outbox_db import OutboxDB, notifications
from sheetcrm.notify import nurture
from sheetcrm.notify.message import DeliveryError, Message
from sheetcrm.notify.nurture import NurtureSettings
from sheetcrm.notify.outbox import DEAD, FOLDED, PENDING, SENT, Record, record

MAX_TRIES = 8  # temporary failures before a notification is set aside (dead)
CLAIM_SECONDS = 300.0  # a claim runs out after this: a killed sender's work is taken over
BATCH = 50  # notifications claimed per round
HOUR = 3600.0
SUMMARY_LISTS = 50  # lead IDs a summary names before "... (truncated)"
SUMMARY = "summary"  # the event of a summary message

Send = Callable[[Message], None]
Link = Callable[[int], str]  # a Leads row -> a link to it, or ""


def no_channels(message: Message) -> None:
    """The send of a service whose channels are not configured: every notification waits,
    as for a channel that is down, and is dead after MAX_TRIES, with this reason."""
    raise DeliveryError("no channels configured", permanent=False)


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    waiting: int = 0  # failed for now: tried again after a backoff, or the cap's hour
    dead: int = 0
    folded: int = 0  # told in a summary instead of one by one
    errors: list[str] = field(default_factory=list)  # reasons, as the channels word them

    def as_log(self) -> dict[str, object]:
        """For the log: counts, and the channels' reasons (which name no secret)."""
        return {**asdict(self), "errors": sorted(set(self.errors))[:5]}


class Sender:
    def __init__(
        self,
        db: OutboxDB,
        send: Send,
        worker: str,
        link: Link = lambda row: "",
        clock: Callable[[], float] = time.time,
        nurture: NurtureSettings = nurture.UNSET,
    ) -> None:
        self.db, self.send, self.worker, self.link, self.clock = db, send, worker, link, clock
        self.nurture = nurture  # unset: nurture e-mails wait (NurtureSettings.missing)
        self._insert_new = db.insert_new(notifications)

    def release(self, gone: Callable[[str], bool]) -> int:
        """End the claims of senders for which ``gone(holder)`` is true (a process on this
        machine that was killed): their notifications are due again now, not when the claims
        run out CLAIM_SECONDS later."""
        return self.db.release_claims(notifications, gone)

    def has_due(self, now: float) -> bool:
        with self.db.engine.connect() as conn:
            found = conn.execute(select(notifications.c.key).where(_due(now)).limit(1)).first()
        return found is not None

    def run_once(self, limit: int = BATCH) -> SendReport:
        """One round: claim up to ``limit`` due notifications, fold what is over a cap, send
        the rest one by one, oldest first."""
        report = SendReport()
        now = self.clock()
        claimed = self._claim(now, limit)
        report.claimed = len(claimed)
        if not claimed:
            return report
        outgoing = self._fold(claimed, now, report)
        stop_at = now + CLAIM_SECONDS / 2  # well inside the claim: never sent by two at once
        for n, entry in enumerate(outgoing):
            if self.clock() > stop_at:
                self._unclaim([e.key for e in outgoing[n:]])
                break
            self._send_one(entry, report)
        return report

    # -- claiming ------------------------------------------------------------------------------

    def _claim(self, now: float, limit: int) -> list[Record]:
        c = notifications.c
        free = (
            select(c.key)
            .where(_due(now))
            .order_by(c.next_try_at, c.key)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.db.begin() as conn:
            keys = list(
                conn.execute(
                    update(notifications)
                    .where(c.key.in_(free.scalar_subquery()) & _due(now))
                    .values(claimed_by=self.worker, claimed_until=now + CLAIM_SECONDS)
                    .returning(c.key)
                ).scalars()
            )
            rows = conn.execute(select(notifications).where(c.key.in_(keys))).all()
        return sorted((record(r) for r in rows), key=lambda r: (r.next_try_at, r.key))

    def _unclaim(self, keys: list[str]) -> None:
        c = notifications.c
        with self.db.begin() as conn:
            conn.execute(
                update(notifications)
                .where(c.key.in_(keys) & (c.claimed_by == self.worker))
                .values(claimed_by=None, claimed_until=None)
            )

    # -- the hourly cap ------------------------------------------------------------------------

    def _fold(self, claimed: list[Record], now: float, report: SendReport) -> list[Record]:
        """What to send of ``claimed``: one by one up to each recipient's cap for the last
        hour, the rest folded into one summary (sent in this round); with no room left this
        hour, they wait until a message of that hour is an hour old."""
        groups: dict[tuple[str, str], list[Record]] = {}
        outgoing = [entry for entry in claimed if entry.nurture]  # never capped
        for entry in claimed:
            if not entry.nurture:
                groups.setdefault((entry.channel, entry.recipient), []).append(entry)
        for (channel, recipient), group in groups.items():
            cap = min((e.cap for e in group if e.cap > 0), default=0)
            if not cap:
                outgoing += group
                continue
            sent, first = self._sent_in_hour(channel, recipient, now)
            room = cap - sent
            # the hour's last slot goes to a summary when more are due than this round
            # claimed: sent one by one, the rest would wait a whole hour
            last = len(group) == room and self._more_due(group, now)
            if len(group) <= room and not last:
                outgoing += group
            elif room >= 1:
                outgoing += group[: room - 1]
                outgoing.append(self._summarise(group[room - 1 :], now, report))
            else:
                self._wait(group, (first or now) + HOUR)
                report.waiting += len(group)
        return sorted(outgoing, key=lambda r: (r.next_try_at, r.key))

    def _more_due(self, group: list[Record], now: float) -> bool:
        """Whether the recipient of ``group`` has due notifications besides those of it."""
        c, first = notifications.c, group[0]
        with self.db.engine.connect() as conn:
            found = conn.execute(
                select(c.key)
                .where(
                    _due(now)
                    & _alert()
                    & (c.channel == first.channel)
                    & (c.recipient == first.recipient)
                    & c.key.not_in([e.key for e in group])
                )
                .limit(1)
            ).first()
        return found is not None

    def _sent_in_hour(self, channel: str, recipient: str, now: float) -> tuple[int, float | None]:
        c = notifications.c
        with self.db.engine.connect() as conn:
            count, first = conn.execute(
                select(func.count(), func.min(c.sent_at)).where(
                    (c.recipient == recipient)
                    & (c.channel == channel)
                    & (c.state == SENT)
                    & (c.sent_at > now - HOUR)
                )
            ).one()
        return int(count), first

    def _summarise(self, claimed: list[Record], now: float, report: SendReport) -> Record:
        """One summary message for ``claimed`` and every other due notification of their
        recipient (so that a 5,000-lead import is one summary, not one per round), under a key
        made of theirs, stored claimed by this sender; they are folded into it."""
        first = claimed[0]
        c = notifications.c
        others = (
            select(notifications)
            .where(
                _due(now)
                & _alert()
                & (c.channel == first.channel)
                & (c.recipient == first.recipient)
                & c.key.not_in([e.key for e in claimed])
            )
            .with_for_update(skip_locked=True)
        )
        with self.db.begin() as conn:
            folded = claimed + [record(r) for r in conn.execute(others)]
            keys = sorted(e.key for e in folded)
            key = hashlib.sha256("\x1f".join([SUMMARY, *keys]).encode()).hexdigest()[:16]
            conn.execute(self._insert_new, [_summary_row(key, folded, self.worker, now)])
            for start in range(0, len(keys), 500):
                conn.execute(
                    update(notifications)
                    .where(c.key.in_(keys[start : start + 500]) & (c.state == PENDING))
                    .values(state=FOLDED, summary_key=key, claimed_by=None, claimed_until=None)
                )
            stored = conn.execute(select(notifications).where(c.key == key)).one()
        report.folded += len(folded)
        return record(stored)

    def _wait(self, group: list[Record], until: float) -> None:
        """No room left this hour: the recipient's due notifications (these, and the others
        no live sender holds) wait until it turns."""
        first, c = group[0], notifications.c
        with self.db.begin() as conn:
            conn.execute(
                update(notifications)
                .where(
                    (c.state == PENDING)
                    & _alert()
                    & (c.channel == first.channel)
                    & (c.recipient == first.recipient)
                    & (c.next_try_at < until)
                    & (
                        (c.claimed_by == self.worker)
                        | c.claimed_until.is_(None)
                        | (c.claimed_until < self.clock())
                    )
                )
                .values(next_try_at=until, claimed_by=None, claimed_until=None)
            )

    # -- sending -------------------------------------------------------------------------------

    def _send_one(self, entry: Record, report: SendReport) -> None:
        if entry.nurture:
            if nurture.unsubscribed(self.db, entry):  # first: it asked, whatever else
                self._failed(entry, nurture.UNSUBSCRIBED, True, report)
                return
            if why := self.nurture.missing():
                self._later(entry, why, nurture.UNSET_WAIT, report)
                return
            message = nurture.message(entry, self.nurture)
        else:
            message = Message(
                key=entry.key,
                channel=entry.channel,
                recipient=entry.recipient,
                subject=entry.subject or f"{entry.event}: lead {entry.lead_id}",
                text=entry.text,
                link=self.link(entry.leads_row) if entry.leads_row else "",
            )
        try:
            self.send(message)
        except DeliveryError as exc:
            # a nurture e-mail refused for good: "failed: bounced: ..." ends the sequence
            bounced = entry.nurture and exc.bounced
            reason = nurture.BOUNCED + exc.reason if bounced else exc.reason
            self._failed(entry, reason, exc.permanent, report)
            return
        except Exception as exc:  # a channel's bug: tried again, and set aside at last
            self._failed(entry, f"unexpected {type(exc).__name__} in the channel", False, report)
            return
        # at once, in a transaction of its own: the only window for a second send
        with self.db.begin() as conn:
            conn.execute(
                update(notifications)
                .where((notifications.c.key == entry.key) & (notifications.c.state == PENDING))
                .values(
                    state=SENT,
                    sent_at=self.clock(),
                    attempts=entry.attempts + 1,
                    last_error=None,
                    claimed_by=None,
                    claimed_until=None,
                )
            )
        report.sent += 1

    def _failed(self, entry: Record, reason: str, permanent: bool, report: SendReport) -> None:
        attempts = entry.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "claimed_by": None,
            "claimed_until": None,
            "last_error": reason,
        }
        if permanent or attempts >= MAX_TRIES:
            values["state"] = DEAD
            if not permanent:
                values["last_error"] = f"{reason} ({attempts} tries)"
            report.dead += 1
        else:
            values["next_try_at"] = self.clock() + backoff(attempts, base=30.0, cap=1800.0)
            report.waiting += 1
        report.errors.append(reason)
        self._update(entry, values)

    def _later(self, entry: Record, reason: str, seconds: float, report: SendReport) -> None:
        """Not tried (nothing is wrong with it): due again in ``seconds``, not counted as a
        try, with why it waits."""
        values = {"claimed_by": None, "claimed_until": None, "last_error": reason}
        self._update(entry, {**values, "next_try_at": self.clock() + seconds})
        report.waiting += 1
        report.errors.append(reason)

    def _update(self, entry: Record, values: dict[str, Any]) -> None:
        c = notifications.c
        with self.db.begin() as conn:
            conn.execute(
                update(notifications)
                .where((c.key == entry.key) & (c.state == PENDING))
                .values(**values)
            )


def _alert() -> Any:
    """Not a nurture e-mail: only alerts are capped and folded into summaries."""
    c = notifications.c
    return c.unsubscribe.is_(None) | (c.unsubscribe == "")


def _due(now: float) -> Any:
    """Pending, its time come (quiet hours, backoff, the cap's hour), not claimed by a live
    sender."""
    c = notifications.c
    free = c.claimed_until.is_(None) | (c.claimed_until < now)
    return (c.state == PENDING) & (c.next_try_at <= now) & free


def _summary_row(key: str, folded: list[Record], worker: str, now: float) -> dict[str, Any]:
    """The summary message of ``folded``: lead IDs and events only, cut after SUMMARY_LISTS."""
    in_order = sorted(folded, key=lambda e: (e.created_at, e.lead_id, e.key))
    named = [f"{e.lead_id} ({e.event})" for e in in_order[:SUMMARY_LISTS]]
    # in the language of the sheet that planned them (the latest, should it have changed)
    language = in_order[-1].language
    with speaking(language):
        subject, text = summary(len(folded), named, len(folded) - len(named))
    return {
        "key": key,
        "lead_id": "",
        "event": SUMMARY,
        "channel": folded[0].channel,
        "recipient": folded[0].recipient,
        "subject": subject,
        "text": text,
        "leads_row": 0,
        "state": PENDING,
        "created_at": now,
        "next_try_at": now,
        "attempts": 0,
        "sync_stamp": "",
        "new_lead": 0,
        "cap": 0,  # a summary is never folded itself
        "claimed_by": worker,
        "claimed_until": now + CLAIM_SECONDS,
        "logged": 0,
        "language": language,
    }
