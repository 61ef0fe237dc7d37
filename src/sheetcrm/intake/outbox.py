"""The durable outbox: a web-form submission waits here from the moment it is accepted until
it is in the sheet.

A submission is stored under its idempotency key, so a replayed webhook adds nothing; a
flusher *claims* pending submissions for a while (``FOR UPDATE SKIP LOCKED`` where the
database has it, a write lock on SQLite), and either marks them done, puts them back for a
later try with a bounded, jittered backoff, or moves a poison one to the dead letters.
The database itself, SQLite or PostgreSQL, is :mod:`sheetcrm.intake.outbox_db`.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, func, select, update

from sheetcrm.engine.sync.keys import reused_key
from sheetcrm.errors import IntakeError
from sheetcrm.intake.group_commit import GroupCommit
from sheetcrm.intake.outbox_db import OutboxDB, submissions
from sheetcrm.intake.submission import KEY_LIMIT, Submission
from sheetcrm.intake.timeouts import Timeouts

FLUSH_LOCK = 0x5EE7C12  # the PostgreSQL advisory lock one flusher at a time holds
PENDING, DONE, DEAD = "pending", "done", "dead"
# never appended: erased at the person's request while it waited (sheetcrm.intake.retention)
ERASED = "erased"
STATES = (PENDING, DONE, DEAD, ERASED)
WRITE_CHUNK = 250  # rows per write transaction of a flusher: webhooks commit in between
# The most answers' text one flush takes, whatever its count: one flush's leads go in one
# append, about as long as their answers. Google refuses a request over 10 MB (a longer write
# goes in parts, each a write request of the quota: sheets_parts.py) and advises 2 MB; 6 MB
# is 15,000 of bench/intake.py's leads, a third fewer flushes than 4 MB for a burst's backlog.
FLUSH_BYTES = 6 * 1024 * 1024
MAX_REUSES = 1000  # different submissions under one key: past that, the sender is broken


@dataclass(frozen=True)
class Entry:
    key: str
    source: str
    body: str
    state: str
    received_at: float
    attempts: int
    next_try_at: float
    last_error: str
    lead_id: str


def backoff(attempts: int, base: float = 5.0, cap: float = 120.0) -> float:
    """Seconds before the next try: doubling from ``base``, never above ``cap``, with jitter
    so that instances that failed together do not retry together."""
    return min(cap, base * 2 ** max(0, attempts - 1)) * (0.5 + random.random() / 2)


class Outbox:
    def __init__(self, url: str, create: bool = True, timeouts: Timeouts | None = None) -> None:
        """``create=False``: refuse an outbox that does not exist yet (NoOutboxError)."""
        self.db = OutboxDB(url, create, timeouts)
        self._insert_new = self.db.insert_new(submissions)
        self._group: GroupCommit[dict[str, Any], str] = GroupCommit(self._insert)

    def put(self, key: str, source: str, body: str, now: float) -> str | None:
        """Store a submission durably: the key it is stored under, or None when the same
        answers are stored under ``key`` already (a replay). Other answers under a known key
        are another submission whose sender reused a key (a Google Forms response row number
        after a row was deleted): stored under ``key#2`` (then #3...), never dropped, and the
        sync flags its lead (:mod:`sheetcrm.engine.sync.keys`). Concurrent callers share one
        transaction: see :mod:`sheetcrm.intake.group_commit`."""
        item = {"key": key, "source": source, "body": body, "now": now, "digest": digest(body)}
        return self._group.put(item)

    def _insert(self, batch: list[dict[str, Any]]) -> list[str | None]:
        """One statement for the whole batch; the keys it returns are the rows it stored. A
        key stored already, or twice in one batch, is then told apart by its answers."""
        rows = [
            {
                "key": item["key"],
                "source": item["source"],
                "body": item["body"],
                "digest": item["digest"],
                "state": PENDING,
                "received_at": item["now"],
                "attempts": 0,
                "next_try_at": item["now"],
            }
            for item in batch
        ]
        # In key order: two instances' batches then lock shared keys in the same order, and
        # PostgreSQL never has to break a deadlock between them by failing both.
        in_order = sorted(rows, key=lambda row: row["key"])
        stored: list[str | None] = []
        with self.db.begin() as conn:
            new = set(conn.execute(self._insert_new, in_order).scalars())
            for row in rows:
                if row["key"] in new:
                    stored.append(row["key"])
                    new.discard(row["key"])
                else:
                    stored.append(self._known(conn, row))
        return stored

    def _known(self, conn: Connection, row: dict[str, Any]) -> str | None:
        """A submission whose key is stored: None when its answers are those stored under
        the key or one derived from it; else stored under the first free derived key."""
        c = submissions.c
        for n in range(1, MAX_REUSES + 1):
            key = row["key"] if n == 1 else reused_key(row["key"], n, KEY_LIMIT)
            if n > 1 and conn.execute(self._insert_new, [{**row, "key": key}]).first():
                return key
            found = conn.execute(select(c.digest, c.body).where(c.key == key)).first()
            if found is None:  # gone between the insert and this read: try the key again
                continue
            stored = found.digest or (digest(found.body) if found.body else None)
            if stored is None or stored == row["digest"]:
                return None  # the same answers, or answers erased: a replay
        raise IntakeError(
            409,
            f"{MAX_REUSES} different submissions came under the key {row['key']!r}",
            "the form sends the same id for every response: fix its webhook",
        )

    def has_due(self, now: float) -> bool:
        """Whether a flush would claim anything now: one indexed query, short enough for a
        flusher to ask every second. (On SQLite it still begins IMMEDIATE, as every
        transaction here does: deferring reads was measured slower, docs/benchmarks.md.)"""
        with self.db.engine.connect() as conn:
            return (
                conn.execute(select(submissions.c.key).where(_due(now)).limit(1)).first()
                is not None
            )

    def waited(self, now: float) -> float | None:
        """How long the longest-waiting due submission has been due (since it came, or
        since its backoff ended), or None when a flush would claim nothing: one step down
        the due index, cheap enough for a flusher to ask every second."""
        c = submissions.c
        with self.db.glance() as conn:
            first = conn.execute(
                select(c.next_try_at).where(_due(now)).order_by(c.next_try_at).limit(1)
            ).scalar()
        return None if first is None else max(0.0, now - first)

    def arrivals(self, since: float, most: int) -> int:
        """How many submissions stored at ``since`` or later still wait, counted up to
        ``most`` (the count costs at most that many steps of the due index, however deep
        the burst): how fast webhooks are coming in. (A new submission's next try is when
        it came; one waiting out a backoff since before is no arrival.)"""
        c = submissions.c
        recent = (c.state == PENDING) & (c.next_try_at >= since) & (c.received_at >= since)
        counted = select(c.key).where(recent).limit(max(1, most)).subquery()
        with self.db.glance() as conn:
            return int(conn.execute(select(func.count()).select_from(counted)).scalar() or 0)

    def claim(self, worker: str, now: float, limit: int, seconds: float = 120) -> list[Entry]:
        """Take up to ``limit`` due submissions, oldest first, for ``seconds``: another
        flusher skips them until then, and takes them over if this one died.

        Short transactions: the candidates are found in one, claimed a chunk per
        transaction, and their bodies read in another once the claims are committed.
        Every webhook's commit waits while another transaction holds the lock, and one
        that read and claimed 4,000 submissions held it for 70-85 ms: the intake's p99."""
        c = submissions.c
        with self.db.engine.connect() as conn:
            sized = conn.execute(
                select(c.key, func.length(c.body))
                .where(_due(now))
                .order_by(c.received_at, c.key)
                .limit(limit)
            ).all()
        candidates = _within(sized, FLUSH_BYTES)
        claimed: list[str] = []
        for chunk in _chunks(candidates, WRITE_CHUNK):
            # due again: another flusher may have claimed some meanwhile (on PostgreSQL,
            # rows another one is claiming right now are skipped, not waited for)
            free = (
                select(c.key).where(c.key.in_(chunk) & _due(now)).with_for_update(skip_locked=True)
            )
            with self.db.begin() as conn:
                claimed += conn.execute(
                    update(submissions)
                    .where(c.key.in_(free))
                    .values(claimed_by=worker, claimed_until=now + seconds)
                    .returning(c.key)
                ).scalars()
        rows: list[Any] = []
        for chunk in _chunks(claimed):
            # a transaction per chunk: on SQLite a read holds the write lock too, and the
            # background process runs niced (service/background.py), so a long read of a
            # whole batch's bodies could keep webhooks' commits waiting while it is off-CPU
            with self.db.engine.connect() as conn:
                rows += conn.execute(select(submissions).where(c.key.in_(chunk))).all()
        rows.sort(key=lambda r: (r.received_at, r.key))
        return [_entry(r) for r in rows]

    def release(self, gone: Callable[[str], bool]) -> int:
        """End the claims of holders for which ``gone(holder)`` is true (a process that was
        killed): their submissions are due again now rather than when the claims expire."""
        return self.db.release_claims(submissions, gone)

    def done(self, lead_ids: dict[str, str], now: float) -> None:
        """Mark submissions appended, each with the Lead ID it got: one statement executed
        per chunk, a transaction each, so that webhooks' commits get the write lock between
        them. Cut short by a crash, the rest stay claimed until their claim runs out, and
        the next flush finds them in the sheet."""
        if not lead_ids:
            return
        c = submissions.c
        query = (
            update(submissions)
            .where(c.key == bindparam("done_key"))
            .values(
                state=DONE,
                lead_id=bindparam("done_lead_id"),
                done_at=now,
                claimed_by=None,
                claimed_until=None,
                last_error=None,
            )
        )
        pairs = [{"done_key": k, "done_lead_id": v} for k, v in lead_ids.items()]
        for start in range(0, len(pairs), WRITE_CHUNK):
            with self.db.begin() as conn:
                conn.execute(query, pairs[start : start + WRITE_CHUNK])

    def later(
        self,
        keys: Iterable[str],
        error: str,
        now: float,
        failed: bool = True,
        wait: float | None = None,
    ) -> None:
        """Give claimed submissions back, due again after a backoff that grows with each
        failed try; ``failed=False`` (the sheet was busy with another sync) waits briefly,
        and is no try: neither counted nor its error put over the last try's. ``wait``: the
        sheet itself failed (quota, 5xx), so every submission waits what the flusher says,
        however often it was tried before: a backoff per submission would have those of a
        long outage wait minutes after the sheet is back. A chunk per transaction."""
        for chunk in _chunks(list(keys), WRITE_CHUNK):
            self._later(chunk, error, now, failed, wait)

    def _later(
        self, keys: list[str], error: str, now: float, failed: bool, wait: float | None
    ) -> None:
        c = submissions.c
        with self.db.begin() as conn:
            for key in keys:
                tried, said = conn.execute(
                    select(c.attempts, c.last_error).where(c.key == key)
                ).one()
                attempts = tried + int(failed)
                pause = wait
                if pause is None:
                    pause = backoff(attempts) if failed else 1.0 + random.random() * 2
                conn.execute(
                    update(submissions)
                    .where((submissions.c.key == key) & (submissions.c.state == PENDING))
                    .values(
                        attempts=attempts,
                        next_try_at=now + pause,
                        claimed_by=None,
                        claimed_until=None,
                        # the top of Problems says why the last try failed (intake/waiting.py)
                        last_error=error if failed or not (tried and said) else said,
                    )
                )

    def dead(self, key: str, error: str) -> None:
        """Set aside a submission that can never be appended, with why, for a person to see."""
        with self.db.begin() as conn:
            conn.execute(
                update(submissions)
                .where((submissions.c.key == key) & (submissions.c.state == PENDING))
                .values(
                    state=DEAD,
                    attempts=submissions.c.attempts + 1,
                    claimed_by=None,
                    claimed_until=None,
                    last_error=error,
                )
            )

    def retry(self, keys: Iterable[str] | None, now: float) -> int:
        """Make dead submissions (all of them, or those named) pending again, due now."""
        return self.db.retry_dead(submissions, keys, now)

    def retry_now(self, keys: Iterable[str] | None, now: float) -> int:
        """Make pending submissions that wait out a backoff (all of them, or those named)
        due now. Their count of tries stays: should they fail again, they wait longer."""
        c = submissions.c
        query = update(submissions).where((c.state == PENDING) & (c.next_try_at > now))
        if keys is not None:
            query = query.where(c.key.in_(list(keys)))
        with self.db.begin() as conn:
            return conn.execute(query.values(next_try_at=now)).rowcount

    def entries(self, state: str | None = None, limit: int = 100) -> list[Entry]:
        query = select(submissions).order_by(submissions.c.received_at).limit(limit)
        if state is not None:
            query = query.where(submissions.c.state == state)
        with self.db.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(query)]

    def stats(self, now: float) -> dict[str, Any]:
        """Depth per state, the age of the oldest pending submission, and how many pending
        ones wait out a backoff with when the first of them is tried again, for /status."""
        c = submissions.c
        with self.db.engine.connect() as conn:
            counts: dict[str, int] = dict(
                conn.execute(select(c.state, func.count()).group_by(c.state)).all()
            )
            oldest = conn.execute(
                select(func.min(c.received_at)).where(c.state == PENDING)
            ).scalar()
            backing_off, next_try = conn.execute(
                select(func.count(), func.min(c.next_try_at)).where(
                    (c.state == PENDING) & (c.next_try_at > now)
                )
            ).one()
        return {
            "pending": int(counts.get(PENDING, 0)),
            "done": int(counts.get(DONE, 0)),
            "dead": int(counts.get(DEAD, 0)),
            "erased": int(counts.get(ERASED, 0)),
            "oldest_pending_seconds": round(now - oldest, 3) if oldest is not None else None,
            "in_backoff": int(backing_off),
            "next_try_at": _iso(next_try),
            "next_try_in_seconds": round(next_try - now, 3) if next_try is not None else None,
        }

    def flush_turn(self) -> AbstractContextManager[bool]:
        """Whether this process may flush now: one flusher at a time per outbox. The others
        skip their round instead of each reading the whole sheet only to find its lease
        taken: under load, those wasted reads cost the CPU that answers webhooks."""
        return self.db.turn("flush", FLUSH_LOCK)

    def close(self) -> None:
        self.db.close()


def _due(now: float) -> ColumnElement[bool]:
    """Pending, its next try come, and not claimed by a live flusher."""
    c = submissions.c
    free = c.claimed_until.is_(None) | (c.claimed_until < now)
    return (c.state == PENDING) & (c.next_try_at <= now) & free


def digest(body: str) -> str:
    """What tells two submissions under one key apart: :meth:`Submission.digest` of a
    stored submission (so that a retry stamped anew is the same one), else of the body."""
    try:
        return Submission.from_json(body).digest()
    except (ValueError, TypeError):
        return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _entry(row: Any) -> Entry:
    return Entry(
        row.key,
        row.source,
        row.body,
        row.state,
        row.received_at,
        row.attempts,
        row.next_try_at,
        row.last_error or "",
        row.lead_id or "",
    )


def _chunks(keys: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def _within(sized: Sequence[Any], budget: int) -> list[str]:
    """The keys of ``sized`` ((key, body length) rows, oldest first) whose bodies fit in
    ``budget`` together; always the first, so that one large submission still goes."""
    keys: list[str] = []
    total = 0
    for key, length in sized:
        total += int(length or 0)
        if keys and total > budget:
            break
        keys.append(key)
    return keys
