"""A notification the sync plans when an Alerts rule's event happens to a lead; sending it is
another layer's job. Its key is the same however often the same event is planned, so that a
sender can drop the ones it has already sent."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


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
