"""Signed, expiring unsubscribe links (itsdangerous): the token names the lead and the address
the e-mail went to, so the page needs no lookup to know whom it stops, and a token someone
edits or invents is refused. Whoever holds a token can only unsubscribe that one address,
which is what the link is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "sheetcrm.unsubscribe"
PATH = "/unsubscribe/"  # the page's route: PATH + token


@dataclass(frozen=True)
class Unsubscribe:
    lead_id: str
    address: str
    language: str  # the page's language: the sheet's, as the e-mail was written in it


class BadToken(Exception):
    """A token that was edited, signed with another secret, or has expired: ``expired``
    tells which, so the page can say "ask for a new e-mail" rather than "invalid"."""

    def __init__(self, expired: bool) -> None:
        super().__init__("expired" if expired else "not valid")
        self.expired = expired


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def token(secret: str, lead_id: str, address: str, language: str) -> str:
    return str(_serializer(secret).dumps([lead_id, address, language]))


def read(secret: str, signed: str, max_age_seconds: int) -> Unsubscribe:
    """What ``signed`` names, or BadToken."""
    try:
        lead_id, address, language = _serializer(secret).loads(signed, max_age=max_age_seconds)
    except SignatureExpired:
        raise BadToken(expired=True) from None
    except (BadSignature, ValueError, TypeError):
        raise BadToken(expired=False) from None
    if not all(isinstance(v, str) for v in (lead_id, address, language)):
        raise BadToken(expired=False)
    return Unsubscribe(lead_id, address, language)


def link(public_url: str, secret: str, lead_id: str, address: str, language: str) -> str:
    """The https URL an e-mail carries: its page, and its RFC 8058 one-click POST target."""
    return public_url.rstrip("/") + PATH + quote(token(secret, lead_id, address, language))
