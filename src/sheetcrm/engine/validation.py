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
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import phonenumbers
import pycountry
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from sheetcrm.engine.catalog import DEFAULT, _
from sheetcrm.engine.dates import parse_date
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


Columns = tuple[np.ndarray, ...]
"""Columns of one check: its inputs (cells, one array per column read) or its results."""
Made = Callable[..., Columns]
"""What a check makes of its input columns."""


@dataclass
class Memo:
    """Parse results by input text, kept across syncs so unchanged rows cost nothing. The
    problems it keeps are worded in ``language``: a sync in another one starts it afresh.

    ``columns`` keeps, per check, the last sync's cells and what the check made of each
    row (:meth:`per_row`): a re-sync compares the cells and checks only those that differ,
    instead of looking every cell up again."""

    emails: dict[str, tuple[str, str]] = field(default_factory=dict)
    phones: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    language: str = DEFAULT
    columns: dict[str, tuple[object, Columns, Columns]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def speak(self, language: str) -> None:
        """Forget what was worded in another language than ``language``."""
        if language != self.language:
            self.emails.clear()
            self.phones.clear()
            self.columns.clear()
            self.language = language

    def per_row(self, check: str, params: object, cells: Columns, each: Made) -> Columns:
        """``each(*cells)``: per row, what ``check`` makes of its cells (arrays, one per
        input column, all as long); the same, for rows whose cells equal those of the last
        call under ``params``, from that call. Keyed by content: every cell is compared
        (at C speed), and a row whose text changed is checked again, wherever it moved."""
        kept = self.columns.get(check)
        n = len(cells[0])
        if kept is not None and kept[0] == params and len(kept[1][0]) == n:
            _params, before, results = kept
            differs = np.zeros(n, dtype=bool)
            for old, new in zip(before, cells, strict=True):
                differs |= old != new
            changed = np.flatnonzero(differs)
            if len(changed):
                # the cells as first seen stay (the parse memos hold those very strings)
                before = tuple(old.copy() for old in before)
                for old, new in zip(before, cells, strict=True):
                    old[changed] = new[changed]
                fresh = each(*(c[changed] for c in cells))
                results = tuple(r.copy() for r in results)
                for result, value in zip(results, fresh, strict=True):
                    result[changed] = value
        else:
            before = tuple(np.array(c) for c in cells)  # a copy, compact
            results = each(*cells)
        self.columns[check] = (params, before, results)
        return results

    def whole(self, check: str, params: object, cells: Columns, make: Made) -> Columns:
        """``make(*cells)``, which depends on every row at once (duplicates: groups of
        rows), or the last call's result when ``params`` and every cell are the same."""
        kept = self.columns.get(check)
        if kept is not None and kept[0] == params and _same(kept[1], cells):
            return kept[2]
        results = make(*cells)
        self.columns[check] = (params, tuple(np.array(c) for c in cells), results)
        return results


def _same(before: Columns, cells: Columns) -> bool:
    """Whether the columns hold the same values: compared at C speed, a string held by both
    (a result the memo gave) by its address alone."""
    return len(before) == len(cells) and all(
        len(old) == len(new) and not (old != new).any()
        for old, new in zip(before, cells, strict=True)
    )


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
    if memo is not None and text in memo.emails:
        return memo.emails[text]
    s = text.strip().strip("<>").strip()
    if s.casefold().startswith("mailto:"):
        s = s[7:]
    if not s or s.casefold() in BLANKS:
        result = ("", "")
    elif plain_email(s):
        result = (s.lower(), "")
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
        memo.emails[text] = result
    return result


def normalise_phone(text: str, region: str, memo: Memo | None = None) -> tuple[str, str]:
    """(E.164 number, problem); numbers without + are read in ``region``."""
    key = (text, region)
    if memo is not None and key in memo.phones:
        return memo.phones[key]
    s = text.strip()
    if not s or s.casefold() in BLANKS:
        result = ("", "")
    else:
        try:
            number = phonenumbers.parse(s, region)
            if phonenumbers.is_valid_number(number):
                e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                result = (e164, "")
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
        memo.phones[key] = result
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
