"""What the sender does differently for a nurture e-mail (a step of a sequence, to a lead;
issue 19, docs/sequences.md): it is never sent to an address on the suppression list, never
without a working unsubscribe link, and a permanent refusal of it is a bounce that ends the
lead's sequence. The e-mail itself (From the owner, Reply-To, RFC 8058 headers, the footer) is
:func:`sheetcrm.notify.mail.compose`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sheetcrm.intake.outbox_db import OutboxDB
from sheetcrm.notify import unsubscribe
from sheetcrm.notify.message import Message
from sheetcrm.notify.outbox import Record
from sheetcrm.notify.suppression import suppressed
from sheetcrm.service import environment

UNSUBSCRIBED = "unsubscribed"  # the reason of one not sent: its address asked to stop
BOUNCED = "bounced: "  # starts the reason of one the mail system refused for good
# Without the public URL or the secret, a nurture e-mail is not tried: it waits this long,
# not counted as a try (it would be dead after MAX_TRIES), until a process that has them
# (restarted with them set) sends it.
UNSET_WAIT = 300.0


@dataclass(frozen=True)
class NurtureSettings:
    """What an unsubscribe link needs: the service's public https address and the key that
    signs the links (SHEETCRM_PUBLIC_URL, SHEETCRM_UNSUBSCRIBE_SECRET)."""

    public_url: str = ""
    secret: str = ""  # "": no nurture e-mail goes, and the unsubscribe page answers 404
    days: int = 365  # how long a link works (SHEETCRM_UNSUBSCRIBE_DAYS)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NurtureSettings:
        return cls(
            str(environment.value(env, "SHEETCRM_PUBLIC_URL") or ""),
            str(environment.value(env, "SHEETCRM_UNSUBSCRIBE_SECRET") or ""),
            int(environment.value(env, "SHEETCRM_UNSUBSCRIBE_DAYS")),
        )

    def missing(self) -> str:
        """Why no nurture e-mail can go now (names the variables, never a value), or ""."""
        unset = [
            name
            for name, value in (
                ("SHEETCRM_PUBLIC_URL", self.public_url),
                ("SHEETCRM_UNSUBSCRIBE_SECRET", self.secret),
            )
            if not value
        ]
        if not unset:
            return ""
        return (
            f"nurture e-mails wait for {' and '.join(unset)}: without them no unsubscribe link "
            "can be made (docs/sequences.md)"
        )

    def __repr__(self) -> str:  # never the secret, should a settings object reach a log
        return f"NurtureSettings(public_url={self.public_url!r}, secret={bool(self.secret)})"


UNSET = NurtureSettings()  # a sender of alerts only: nurture e-mails wait, saying why


def unsubscribed(db: OutboxDB, entry: Record) -> bool:
    """Whether the address ``entry`` goes to asked to stop: looked up at each send, so that
    a click minutes before the send, after the sync queued it, is obeyed."""
    return bool(suppressed(db, [entry.unsubscribe, entry.recipient]))


def message(entry: Record, settings: NurtureSettings) -> Message:
    """The Message of nurture ``entry``: no link to the sheet (it goes to the lead); the
    owner's name and address; the signed link to its unsubscribe page, in its language."""
    return Message(
        key=entry.key,
        channel=entry.channel,
        recipient=entry.recipient,
        subject=entry.subject,
        text=entry.text,
        sender_name=entry.sender_name,
        reply_to=entry.reply_to,
        unsubscribe_url=unsubscribe.link(
            settings.public_url, settings.secret, entry.lead_id, entry.unsubscribe, entry.language
        ),
        language=entry.language,
    )
