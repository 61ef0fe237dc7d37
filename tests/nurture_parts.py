"""Nurture e-mails in the outbox for the sender's tests (tests/test_nurture_mail.py,
tests/test_nurture_faults.py): notifications of the shape the engine's sequences step plans
(docs/sequences.md), stored the way a sync stores them (held under its write's token, then
released), and the settings their unsubscribe links need."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default

from sheetcrm.engine.notifications import Notification
from sheetcrm.engine.plan import Plan
from sheetcrm.intake.outbox_db import OutboxDB
from sheetcrm.notify.nurture import NurtureSettings
from sheetcrm.notify.outbox import NotificationOutbox

PUBLIC_URL = "https://crm.example.com"
SECRET = "an-unsubscribe-secret-of-32-characters-or-more"
SETTINGS = NurtureSettings(PUBLIC_URL, SECRET)
LINK_ENV = {"SHEETCRM_PUBLIC_URL": PUBLIC_URL, "SHEETCRM_UNSUBSCRIBE_SECRET": SECRET}


def step(n: int, **fields: object) -> Notification:
    """Step 1 of Nurture C to lead ``n``, from its owner Ana Martin; ``fields`` change it."""
    address = f"lead{n}@client{n}.example"
    given: dict[str, object] = {
        "rule_row": 2,
        "lead_id": f"L-{n:05d}",
        "event": "sequence",
        "when": "Nurture C#1",
        "recipient": address,
        "channel": "email",
        "subject": "A note on your project",
        "text": f"Hello Lead {n},\n\nHere is the guide we spoke of.\n\nAna",
        "leads_row": n + 1,
        "sender_name": "Ana Martin",
        "reply_to": "ana.martin@firm.example",
        "unsubscribe": address,
        "language": "en",
    }
    return Notification(**{**given, **fields})  # type: ignore[arg-type]


def queue(db: OutboxDB, notifications: list[Notification], at: float | None = None) -> list[str]:
    """Store ``notifications`` as a sync's landed write does: pending (due ``at``, else now);
    their keys."""
    box = NotificationOutbox(db) if at is None else NotificationOutbox(db, clock=lambda: at)
    plan = Plan(version="v1", stamp="2026-12-07T09:00:00+01:00", notifications=notifications)
    box.hold(plan)
    box.release(plan)
    return [n.key for n in notifications]


def parsed(content: bytes) -> EmailMessage:
    """A message as the SMTP server got it (CRLF lines), read with Python's line ends."""
    mail = email.message_from_bytes(content.replace(b"\r\n", b"\n"), policy=default)
    assert isinstance(mail, EmailMessage)
    return mail
