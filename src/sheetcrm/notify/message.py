"""What a channel sends, and how a send fails: the one interface between the notification
outbox (which decides when and how often) and the channels (which know SMTP and webhooks)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    key: str  # the notification's idempotency key: also the e-mail's Message-ID
    channel: str  # "email" or a chat channel's name (its URL is in the environment)
    recipient: str  # an e-mail address; for chat, a person's name or "" for the channel
    subject: str
    text: str
    link: str = ""  # to the lead's row: a URL (Google), or "" (the text names the row)
    # nurture e-mails only (Notification.sender_name, reply_to, unsubscribe): the From's
    # display name, the Reply-To address, and the signed one-click unsubscribe URL
    sender_name: str = ""
    reply_to: str = ""
    unsubscribe_url: str = ""
    language: str = "en"  # of the footer a nurture e-mail carries


class DeliveryError(Exception):
    """A send that did not go through. ``permanent``: trying again cannot help (a refused
    address, an unknown channel, a 4xx from a webhook), so the outbox sets it aside at once
    with the reason; otherwise (down, slow, 4xx from SMTP, 5xx) it is tried again later.
    ``bounced``: the mail system refused this address or this message for good (an SMTP 5xx
    to it, or no address at all): for a nurture e-mail, a hard bounce that ends the lead's
    sequence; a failure of the set-up (no SMTP host, a bad login) is never one."""

    def __init__(self, reason: str, permanent: bool = False, bounced: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent or bounced
        self.bounced = bounced
