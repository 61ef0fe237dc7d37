"""The sender: claims due notifications, sends each through the channels, marks it sent.

A claim keeps a notification from every other sender until it runs out (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, the write lock on SQLite), so two live senders never send one key;
one killed mid-round leaves claims that run out, and another sender takes them over. A
notification is marked sent in its own transaction the moment its channel accepted it: a
kill between the two (milliseconds) sends it again, once, under the same key, which is the
e-mail's Message-ID, so that mail systems drop the copy. A temporary failure waits a growing,
jittered backoff; a permanent one, or MAX_TRIES temporary ones, sets it aside (dead) with why.

Above a recipient's cap per hour, what is due is folded into one summary message
(notify/hourly_cap.py). Nurture e-mails, to leads (notify/nurture.py), are never capped nor
folded: their sequences space them; they go only with an unsubscribe link, and never to an
address that asked to stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select, update

from sheetcrm.intake.outbox import backoff
from sheetcrm.intake.outbox_db import OutboxDB, notifications
from sheetcrm.notify import nurture
from sheetcrm.notify.hourly_cap import HourlyCap, due
from sheetcrm.notify.message import DeliveryError, Message
from sheetcrm.notify.nurture import NurtureSettings
from sheetcrm.notify.outbox import DEAD, PENDING, SENT, Record, record

MAX_TRIES = 8  # temporary failures before a notification is set aside (dead)
CLAIM_SECONDS = 300.0  # a claim runs out after this: a killed sender's work is taken over
BATCH = 50  # notifications claimed per round

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
        self.cap = HourlyCap(db, worker, clock, CLAIM_SECONDS)

    def release(self, gone: Callable[[str], bool]) -> int:
        """End the claims of senders for which ``gone(holder)`` is true (a process on this
        machine that was killed): their notifications are due again now, not when the claims
        run out CLAIM_SECONDS later."""
        return self.db.release_claims(notifications, gone)

    def has_due(self, now: float) -> bool:
        with self.db.engine.connect() as conn:
            found = conn.execute(select(notifications.c.key).where(due(now)).limit(1)).first()
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
        folding = self.cap.fold(claimed, now)
        report.folded, report.waiting = folding.folded, folding.waiting
        outgoing = folding.outgoing
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
            .where(due(now))
            .order_by(c.next_try_at, c.key)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.db.begin() as conn:
            keys = list(
                conn.execute(
                    update(notifications)
                    .where(c.key.in_(free.scalar_subquery()) & due(now))
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
