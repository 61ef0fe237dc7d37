"""What the outbox keeps of a person, and for how long.

A submission appended to the sheet has done its work. After the retention
(``SHEETCRM_OUTBOX_RETENTION_DAYS``, 30 days by default) its body, the form's answers, is
erased: the row keeps only the key, the source, its dates and the outcome (done, with the
Lead ID). The key stays, so that a vendor retrying an old submission is still answered
"duplicate" and never makes a second lead. Submissions still waiting, or dead, are kept
until they are appended or a person deals with them: erasing them would lose a lead.

An erasure request for one person (GDPR, article 17): :func:`erase` finds every submission
whose answers hold that person's e-mail address, whichever vendor sent it, and erases their
bodies now; one that was still waiting is never appended (its state becomes ``erased``).
The lead's row in the sheet is the sheet owner's to delete: sheetcrm never deletes a row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, or_, select, update

from sheetcrm.errors import SheetCRMError
from sheetcrm.intake.outbox import DONE, ERASED, WRITE_CHUNK, Outbox
from sheetcrm.intake.outbox_tables import KEPT, submissions

DAY = 86400.0
RETENTION_DAYS = 30
ERASED_BODY = ""  # no stored submission is empty: a webhook with no body is refused


def purge(outbox: Outbox, before: float, dry_run: bool = False) -> int:
    """Erase the bodies of the submissions done before ``before`` (Unix time); how many
    (would be) erased. A chunk per transaction: webhooks' commits get the lock in between."""
    c = submissions.c
    old = expired(before)
    if dry_run:
        with outbox.db.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(old.subquery())).scalar_one()
    erased = 0
    while True:
        with outbox.db.begin() as conn:
            keys = list(conn.execute(old.order_by(c.done_at).limit(WRITE_CHUNK)).scalars())
            if keys:
                conn.execute(
                    update(submissions)
                    .where(c.key.in_(keys))
                    .values(body=ERASED_BODY, last_error=None)
                )
        erased += len(keys)
        if len(keys) < WRITE_CHUNK:
            return erased


def expired(before: float) -> Select[tuple[str]]:
    """The keys of the done submissions whose answers are kept, done before ``before``:
    on the partial index submissions_kept, so that what was erased before is not read."""
    c = submissions.c
    return select(c.key).where(c.state == DONE, KEPT, c.done_at < before)


@dataclass(frozen=True)
class Erasure:
    keys: list[str] = field(default_factory=list)  # every submission erased
    lead_ids: list[str] = field(default_factory=list)  # of those in the sheet: rows to delete
    never_appended: int = 0  # were waiting or dead: now erased, and never appended


def erase(outbox: Outbox, address: str, dry_run: bool = False) -> Erasure:
    """Erase the body of every submission whose answers hold the e-mail ``address`` (case
    ignored, the whole address only: ann@x.io is not in joann@x.io). Done ones stay done;
    pending and dead ones become ``erased``, so that no flush appends them afterwards."""
    wanted = address.strip()
    if not _EMAIL.fullmatch(wanted):
        raise SheetCRMError(
            f"{address!r} is not an e-mail address", "give the whole address: name@example.com"
        )
    found = [row for row in _candidates(outbox, wanted) if holds_address(row.body, wanted)]
    erasure = Erasure(
        keys=[row.key for row in found],
        lead_ids=sorted(row.lead_id for row in found if row.state == DONE and row.lead_id),
        never_appended=sum(row.state != DONE for row in found),
    )
    if dry_run:
        return erasure
    c = submissions.c
    for start in range(0, len(found), WRITE_CHUNK):
        chunk = found[start : start + WRITE_CHUNK]
        with outbox.db.begin() as conn:
            for state, keys in (
                (DONE, [r.key for r in chunk if r.state == DONE]),
                (ERASED, [r.key for r in chunk if r.state != DONE]),
            ):
                if keys:
                    conn.execute(
                        update(submissions)
                        .where(c.key.in_(keys))
                        .values(
                            state=state,
                            body=ERASED_BODY,
                            digest=None,  # a fingerprint of the answers goes with them
                            last_error=None,
                            claimed_by=None,
                            claimed_until=None,
                        )
                    )
    return erasure


def _candidates(outbox: Outbox, address: str) -> list[Any]:
    """The rows whose stored text holds the address, case ignored: what the database can
    find quickly, for :func:`holds_address` to check each. The text as JSON escapes it too
    (a quoted local part)."""
    c = submissions.c
    forms = {address, json.dumps(address, ensure_ascii=False)[1:-1]}
    like = [c.body.ilike(f"%{_like_escaped(form)}%", escape="\\") for form in forms]
    query = select(c.key, c.state, c.body, c.lead_id).where(c.body != ERASED_BODY, or_(*like))
    with outbox.db.engine.connect() as conn:
        return list(conn.execute(query.order_by(c.received_at, c.key)).all())


def holds_address(body: str, address: str) -> bool:
    """Whether one of the stored submission's texts holds ``address`` as a whole address."""
    pattern = re.compile(
        r"(?<![\w.%+\-])" + re.escape(address.strip()) + r"(?![\w\-]|\.[\w\-])",
        re.IGNORECASE,
    )
    try:
        texts = list(_texts(json.loads(body)))
    except ValueError:  # not what the outbox stores today: look at the text itself
        texts = [body]
    return any(pattern.search(text) for text in texts)


def _texts(data: object) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _texts(value)
    elif isinstance(data, list):
        for value in data:
            yield from _texts(value)


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Deliberately loose: a request names an address that was typed into a form, so anything
# with one @ and a dot after it is looked for as it is.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
