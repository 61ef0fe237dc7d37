"""The cap per recipient per hour (Settings' "Alerts per person per hour"): of the
notifications a round of the sender claimed, which go one by one, which are folded into one
summary message with a key of its own, and which wait for the hour to turn, so that a
5,000-lead import sends the cap, then summaries, never 5,000 e-mails. Alerts only: nurture
e-mails (notify/nurture.py) are spaced by their sequences and never folded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update

from sheetcrm.engine.catalog import speaking
from sheetcrm.engine.notifications import summary
from sheetcrm.intake.outbox_db import OutboxDB, notifications
from sheetcrm.notify.outbox import FOLDED, PENDING, SENT, Record, record

HOUR = 3600.0
SUMMARY_LISTS = 50  # lead IDs a summary names before "... (truncated)"
SUMMARY = "summary"  # the event of a summary message


@dataclass
class Folding:
    outgoing: list[Record] = field(default_factory=list)  # to send one by one, in order
    folded: int = 0  # told in a summary (which is in ``outgoing``)
    waiting: int = 0  # no room left this hour: due again when it turns


class HourlyCap:
    def __init__(
        self, db: OutboxDB, worker: str, clock: Callable[[], float], claim_seconds: float
    ) -> None:
        """The cap of sender ``worker``, whose summaries it stores claimed by that worker
        for ``claim_seconds``."""
        self.db, self.worker, self.clock, self.claim_seconds = db, worker, clock, claim_seconds
        self._insert_new = db.insert_new(notifications)

    def fold(self, claimed: list[Record], now: float) -> Folding:
        """What to send of ``claimed``: one by one up to each recipient's cap for the last
        hour, the rest folded into one summary (sent in this round); with no room left this
        hour, they wait until a message of that hour is an hour old."""
        folding = Folding()
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
                outgoing.append(self._summarise(group[room - 1 :], now, folding))
            else:
                self._wait(group, (first or now) + HOUR)
                folding.waiting += len(group)
        folding.outgoing = sorted(outgoing, key=lambda r: (r.next_try_at, r.key))
        return folding

    def _more_due(self, group: list[Record], now: float) -> bool:
        """Whether the recipient of ``group`` has due notifications besides those of it."""
        c, first = notifications.c, group[0]
        with self.db.engine.connect() as conn:
            found = conn.execute(
                select(c.key)
                .where(
                    due(now)
                    & alerts()
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

    def _summarise(self, claimed: list[Record], now: float, folding: Folding) -> Record:
        """One summary message for ``claimed`` and every other due notification of their
        recipient (so that a 5,000-lead import is one summary, not one per round), under a key
        made of theirs, stored claimed by this sender; they are folded into it."""
        first = claimed[0]
        c = notifications.c
        others = (
            select(notifications)
            .where(
                due(now)
                & alerts()
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
            conn.execute(
                self._insert_new,
                [_summary_row(key, folded, self.worker, now, now + self.claim_seconds)],
            )
            for start in range(0, len(keys), 500):
                conn.execute(
                    update(notifications)
                    .where(c.key.in_(keys[start : start + 500]) & (c.state == PENDING))
                    .values(state=FOLDED, summary_key=key, claimed_by=None, claimed_until=None)
                )
            stored = conn.execute(select(notifications).where(c.key == key)).one()
        folding.folded += len(folded)
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
                    & alerts()
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


def alerts() -> Any:
    """Not a nurture e-mail: only alerts are capped and folded into summaries."""
    c = notifications.c
    return c.unsubscribe.is_(None) | (c.unsubscribe == "")


def due(now: float) -> Any:
    """Pending, its time come (quiet hours, backoff, the cap's hour), not claimed by a live
    sender."""
    c = notifications.c
    free = c.claimed_until.is_(None) | (c.claimed_until < now)
    return (c.state == PENDING) & (c.next_try_at <= now) & free


def _summary_row(
    key: str, folded: list[Record], worker: str, now: float, claimed_until: float
) -> dict[str, Any]:
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
        "claimed_until": claimed_until,
        "logged": 0,
        "language": language,
    }
