"""What the sync tells the sheet of the outbox (engine/waiting.py): the pending submissions the
sheet refused that have waited long enough to be news, and those set aside."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from sheetcrm.engine.waiting import NOTICE_AFTER, Waiting
from sheetcrm.intake.outbox import DEAD, PENDING
from sheetcrm.intake.outbox_db import OutboxDB, submissions


def waiting(db: OutboxDB, now: float) -> Waiting:
    """The outbox's refused and set-aside submissions at ``now`` (Unix time); ``db`` the
    outbox's database, which the notification outbox shares."""
    c = submissions.c
    refused = (c.state == PENDING) & (c.attempts > 0) & c.last_error.is_not(None)
    # a glance: on SQLite a read of every pending one must neither wait for nor hold up
    # the webhooks' commits (50,000 pending in a burst; the background process runs niced)
    with db.glance() as conn:
        count, oldest, tries = conn.execute(
            select(func.count(), func.min(c.received_at), func.max(c.attempts)).where(refused)
        ).one()
        dead = conn.execute(select(func.count()).where(c.state == DEAD)).scalar() or 0
        error = ""
        # news once one was refused again: a single quota or server hiccup is not, even
        # for a backlog received long ago
        if tries and tries >= 2 and oldest <= now - NOTICE_AFTER.total_seconds():
            error = (
                conn.execute(
                    select(c.last_error).where(refused).order_by(c.received_at).limit(1)
                ).scalar()
                or ""
            )
        else:
            count, oldest = 0, None
    since = datetime.fromtimestamp(oldest, UTC) if oldest is not None else None
    return Waiting(int(count), since, error, int(dead))
