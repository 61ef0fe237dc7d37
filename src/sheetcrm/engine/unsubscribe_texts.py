"""The words of the unsubscribe page (service/unsubscribe_page.py), in the language ``_()``
speaks (engine/catalog.py ``speaking``): what the person who clicked a nurture e-mail's link
reads. They live here, beside the engine's other texts, so that ``scripts/catalog`` extracts
them into the one catalogue translators fill; the service only lays them out as HTML.

Every page that changes nothing says so, and says what works instead (replying to the
e-mail), so that a person whose link failed is never left without a way to stop.
"""

from __future__ import annotations

from dataclasses import dataclass

from sheetcrm.engine.catalog import _


@dataclass(frozen=True)
class Words:
    title: str
    paragraphs: tuple[str, ...]
    button: str = ""  # the confirming button's label; "" = no form on the page


def _reply() -> str:
    return _(
        "To stop these e-mails without the link, reply to one of them and ask: the sender "
        "will take your address off the list."
    )


def asking(address: str) -> Words:
    """The page a GET shows: whom it stops, and the one button that does it."""
    return Words(
        _("Stop these e-mails"),
        (
            _("Stop the e-mails sent to {address}?").format(address=address),
            _("Confirm with the button below: no more of these e-mails will be sent to it."),
        ),
        _("Unsubscribe"),
    )


def done(address: str) -> Words:
    """The page after the button (or a mail client's one-click POST)."""
    return Words(
        _("You are unsubscribed"),
        (
            _("No more of these e-mails will be sent to {address}.").format(address=address),
            _("You can close this page."),
        ),
    )


def invalid() -> Words:
    """A token that was edited, cut short, or signed with another key."""
    return Words(
        _("This unsubscribe link does not work"),
        (
            _(
                "The link is incomplete or was changed, so it cannot tell which address to "
                "stop. Nothing was changed."
            ),
            _reply(),
        ),
    )


def expired(days: int) -> Words:
    """A genuine token older than SHEETCRM_UNSUBSCRIBE_DAYS."""
    return Words(
        _("This unsubscribe link has expired"),
        (
            _(
                "Unsubscribe links work for {days} days after the e-mail. Nothing was changed."
            ).format(days=days),
            _reply(),
        ),
    )


def unavailable() -> Words:
    """The service could not record the request (its database is down): nothing kept."""
    return Words(
        _("Your request could not be recorded"),
        (
            _(
                "The service cannot record it right now. Nothing was changed: try again in a "
                "minute."
            ),
            _reply(),
        ),
    )


def not_set_up() -> str:
    """The plain text of every unsubscribe URL while the service has no signing key."""
    return _(
        "Unsubscribe links are not set up on this service (SHEETCRM_UNSUBSCRIBE_SECRET is "
        "unset), so this link cannot be checked. Nothing was changed. To stop the e-mails, "
        "reply to one of them and ask."
    )
