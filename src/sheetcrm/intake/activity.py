"""Touches posted by a dialer or an e-mail tool to ``/hooks/activity``: checked, keyed, and
turned into Activities rows by the flusher (intake/flusher.py), in the same write as the
web-form leads of its batch.

The body is a JSON object: ``at`` (required), ``lead_id`` or ``email`` (one required),
``type``, ``outcome``, ``by``, ``notes``, ``next_action_date``, and optionally ``event_id``
(or ``id``), the sender's own ID of the event: the idempotency key. Without one, the key is
a digest of the body, so the same post sent twice is stored once (intake/outbox.py).
"""

from __future__ import annotations

import hashlib

from sheetcrm.engine.dates import parse_date
from sheetcrm.errors import IntakeError

ACTIVITY = "activity"  # the outbox source of a posted touch, and its secret's name
FIELDS = {
    "at": "At",
    "lead_id": "Lead ID",
    "email": "Lead ID",  # the sync resolves an e-mail to the lead holding it
    "type": "Type",
    "outcome": "Outcome",
    "by": "By",
    "notes": "Notes",
    "next_action_date": "Next action date",
}
_HINT = (
    'send a JSON object like {"at": "2026-12-03 14:30", "lead_id": "L-00042", "type": "call", '
    '"outcome": "reached", "by": "Sofia Marin"}'
)


def activity_row(payload: object) -> dict[str, str]:
    """The Activities row a posted touch becomes, by header; IntakeError (400) when the
    body is not one: what is wrong, and what to send instead."""
    if not isinstance(payload, dict):
        raise IntakeError(400, "the body is not a JSON object", _HINT)
    row: dict[str, str] = {}
    for name, header in FIELDS.items():
        value = payload.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise IntakeError(400, f"{name!r} must be text, not {type(value).__name__}", _HINT)
        if header not in row:  # lead_id first: an e-mail beside it is not needed
            row[header] = str(value).strip()
    if "At" not in row:
        raise IntakeError(400, "the touch has no 'at': when it happened", _HINT)
    for name, header in (("at", "At"), ("next_action_date", "Next action date")):
        if header in row and parse_date(row[header]) is None:
            raise IntakeError(
                400,
                f"{name!r} is not a date: {row[header][:40]!r}",
                "send it like 2026-12-03 14:30 (ISO 8601; an offset like +01:00 is allowed)",
            )
    if "Lead ID" not in row:
        raise IntakeError(400, "the touch names no lead: send 'lead_id' or 'email'", _HINT)
    return row


def activity_key(payload: dict[str, object], body: bytes) -> str:
    """The sender's event ID, else a digest of the body (the same post twice: one key)."""
    for name in ("event_id", "id"):
        value = payload.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return f"{ACTIVITY}:{str(value).strip()[:200]}"
    return f"{ACTIVITY}:{hashlib.sha256(body).hexdigest()[:32]}"
