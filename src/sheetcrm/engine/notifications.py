"""A notification the sync plans when an Alerts rule's event happens to a lead; sending it is
another layer's job. Its key is the same however often the same event is planned, so that a
sender can drop the ones it has already sent."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

NOTIFIED_KEY = "notified"
"""The hidden state tab's row naming the last write that planned notifications: its
:func:`write_token`. The sheet's own record of which write landed, read back by the outbox to
tell held notifications of a landed write (send them) from those of a lost one (the next sync
plans them again)."""


@dataclass(frozen=True)
class Notification:
    rule_row: int  # the rule's row on the Alerts tab
    lead_id: str
    event: str
    when: str  # when it happened: the sync's stamp, or for a flag the date it names
    recipient: str  # an e-mail address, a person's name (chat), or "" for the channel itself
    channel: str  # "email" or a chat channel's name
    text: str
    subject: str = ""  # one line, for an e-mail's subject or a chat message's title
    leads_row: int = 0  # the lead's row on Leads as the sheet numbers it (for a link), 0: none
    not_before: str = ""  # ISO UTC: quiet hours hold it until then; "" = send at once
    cap: int = 0  # most messages a recipient gets per hour (Settings); 0 = no cap

    @property
    def key(self) -> str:
        """From (rule, lead, event, event time): stable across re-plans of the same event."""
        raw = "\x1f".join(
            (str(self.rule_row), self.lead_id, self.event, self.when, self.recipient, self.channel)
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def describe(self) -> str:
        to = f"{self.channel} {self.recipient}".strip() if self.recipient else self.channel
        return f"notify {to}: {self.text} [key {self.key}]"


def write_token(stamp: str, notifications: Iterable[Notification]) -> str:
    """Names one write's notifications: the same for the same planned events, so that a
    write planned again (the same stamp, the same keys) and the one before are told apart
    only when they differ in what they would send."""
    raw = "\x1f".join([stamp, *sorted(n.key for n in notifications)])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]
