"""Normalise lead values: emails, phones, countries, and a row the service creates itself.
Checking the rows of a sync is :mod:`sheetcrm.engine.lead_checks`.

Every distinct email and phone text is parsed once and remembered in a :class:`Memo`, and
each row's result with its cells, so a sync of an unchanged sheet does no per-row parsing
again (the service keeps one Memo for its lifetime). The sync never rewrites a person's
Email or Phone cell: the normalised forms are used for checks and duplicate detection, and
written only on rows the service creates itself (import, web forms).
"""

from __future__ import annotations

import re

import phonenumbers
import pycountry
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from sheetcrm.engine.catalog import _
from sheetcrm.engine.dates import parse_date
from sheetcrm.engine.memo import Memo as Memo  # where the engine has always found it
from sheetcrm.engine.schema import Kind
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.values import (
    BLANKS,
    format_datetime,
    format_number,
    is_blank,
    parse_number,
    shown,
)

_COUNTRY_ALIASES = {
    "uk": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "great britain": "GB",
    "britain": "GB",
    "u.k.": "GB",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "united states of america": "US",
    "russia": "RU",
    "uae": "AE",
    "holland": "NL",
    "the netherlands": "NL",
    "vietnam": "VN",
    "iran": "IR",
    "syria": "SY",
    "south korea": "KR",
    "korea": "KR",
    "taiwan": "TW",
    "turkey": "TR",
    "czechia": "CZ",
    "ivory coast": "CI",
    "laos": "LA",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "moldova": "MD",
    "macedonia": "MK",
    "palestine": "PS",
    "hong kong": "HK",
    "macau": "MO",
}


def country_region(country: str) -> str:
    """The ISO region code of a country as people type it ("France", "FR", "UK"); "" if unknown."""
    key = country.strip().casefold()
    if not key or key in BLANKS:
        return ""
    if key in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[key]
    try:
        code = str(pycountry.countries.lookup(key).alpha_2)
    except LookupError:
        return ""
    return code if code in phonenumbers.SUPPORTED_REGIONS else ""


_PLAIN_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*)@"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?P<tld>[A-Za-z]{2,63}))"
)


def plain_email(text: str) -> bool:
    """Whether ``text`` is an everyday ASCII address that email-validator certainly accepts,
    unchanged but for case. Checking those directly is ten times faster; anything else
    (unicode, quoting, IDNA, reserved names, odd lengths) goes to email-validator itself.
    A property test checks the claim against email-validator."""
    m = _PLAIN_EMAIL.fullmatch(text)
    return bool(
        m
        and len(text) <= 254
        and len(m["local"]) <= 64
        and "--" not in m["domain"]
        and m["tld"].lower() not in SPECIAL_USE_DOMAIN_NAMES
    )


def normalise_email(text: str, memo: Memo | None = None) -> tuple[str, str]:
    """(normalised address, problem): lower-cased domain, trimmed; no DNS lookup."""
    if memo is not None and (known := memo.email(text)) is not None:
        return known
    s = text.strip().strip("<>").strip()
    if s.casefold().startswith("mailto:"):
        s = s[7:]
    if not s or s.casefold() in BLANKS:
        result = ("", "")
    elif plain_email(s):
        # the text itself when it is already in lower case (most are): lower() makes a new
        # string anyway, and the sync's row memo keeps one per lead (7 MB at 100,000 leads)
        lower = s.lower()
        result = (s if lower == s else lower, "")
    else:
        try:
            info = validate_email(s, check_deliverability=False)
            local, _at, domain = info.normalized.rpartition("@")
            result = (f"{local.casefold()}@{domain.casefold()}", "")
        except EmailNotValidError as exc:
            result = (
                "",
                _("%(value)s is not a valid email: %(reason)s")
                % {"value": shown(text.strip()), "reason": exc},
            )
    if memo is not None:
        memo.keep_email(text, result)
    return result


def normalise_phone(text: str, region: str, memo: Memo | None = None) -> tuple[str, str]:
    """(E.164 number, problem); numbers without + are read in ``region``."""
    if memo is not None and (known := memo.phone(text, region)) is not None:
        return known
    s = text.strip()
    if not s or s.casefold() in BLANKS:
        result = ("", "")
    else:
        try:
            number = phonenumbers.parse(s, region)
            if phonenumbers.is_valid_number(number):
                e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                result = (s if e164 == s else e164, "")  # as for e-mails: no second copy
            else:
                said = (
                    _("%(value)s is not a valid phone number")
                    if s.startswith("+")
                    else _("%(value)s is not a valid phone number for %(region)s")
                )
                result = ("", said % {"value": shown(s), "region": region})
        except phonenumbers.NumberParseException as exc:
            result = (
                "",
                _("%(value)s is not a phone number (%(reason)s)")
                % {"value": shown(s), "reason": exc._msg.rstrip(".")},
            )
    if memo is not None:
        memo.keep_phone(text, region, result)
    return result


INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
"""Zero-width characters, which copying from a web page or a PDF leaves in an address or a
number: unseen, they make it invalid and hide it from the duplicate check. Only typed values
lose them: in text, the joiners are part of how some languages and emoji are spelled."""


def tidy(value: str, header: str, kind: Kind | None, country: str, settings: Settings) -> str:
    """A value for a row the service creates itself (import, web forms), stored normalised:
    email, E.164 phone (read in ``country``, else the default region), number, date, without
    zero-width characters. A value that does not parse is kept as it is, for the sync to
    flag; a placeholder ("Select", "n/a") is an unanswered field, except in Notes."""
    if kind not in (None, Kind.TEXT):
        value = value.translate(INVISIBLE)
    value = value.strip()
    if is_blank(value) and header != "Notes":
        return ""
    if kind is Kind.EMAIL:
        return normalise_email(value)[0] or value
    if kind is Kind.PHONE:
        region = country_region(country) or settings["Default phone region"]
        return normalise_phone(value, region)[0] or value
    if kind in (Kind.NUMBER, Kind.MONEY):
        number = parse_number(value, settings.decimal)
        return format_number(number, settings.shown_decimal) if number is not None else value
    if kind in (Kind.DATE, Kind.DATETIME):
        parsed = parse_date(value, settings.dayfirst, settings.zone)
        # aware, so that a time in the hour clocks go back keeps its offset (and its fold)
        return format_datetime(parsed.replace(tzinfo=settings.zone)) if parsed else value
    return value
