"""Normalise and check lead rows. Bad rows are data, never exceptions.

Every distinct email and phone text is parsed once and remembered in a :class:`Memo`, so a
sync of an unchanged sheet does no per-row parsing again (the service keeps one Memo for
its lifetime). The sync never rewrites a person's Email or Phone cell: the normalised
forms are used for checks and duplicate detection, and written only on rows the service
creates itself (import, web forms).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import phonenumbers
import pycountry
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from sheetcrm.engine.catalog import _
from sheetcrm.engine.dates import date_problem, parse_date
from sheetcrm.engine.memo import Memo as Memo  # where the engine has always found it
from sheetcrm.engine.schema import LEADS, Kind
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.values import (
    BLANKS,
    blank_mask,
    format_datetime,
    format_number,
    is_blank,
    parse_number,
    shown,
    stripped,
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


TYPED_DATES = (*(c.header for c in LEADS.columns if c.kind is Kind.DATE), "Created at")
"""The date columns people type in, checked as dates: every date the schema declares, and
Created at, which the sync stamps only when it is empty."""


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


@dataclass
class Checked:
    """Per row: normalised contacts and the problems found, by Leads column."""

    email: pd.Series
    phone: pd.Series
    problems: list[tuple[np.ndarray, str, list[str], str]]  # rows, column, messages, hint


def check_rows(
    data: pd.DataFrame,
    region: str,
    dayfirst: bool,
    required: Iterable[tuple[str, ...]],
    memo: Memo | None = None,
    largest_amount: float = math.inf,
    decimal: str | None = None,
) -> Checked:
    """Check every row of ``data`` (Leads, strings) and normalise its contacts."""
    memo = memo if memo is not None else Memo()
    problems: list[tuple[np.ndarray, str, list[str], str]] = []
    index = data.index

    # Settings' Required fields are typed by people: find them as headers are found, case,
    # spacing and the schema's aliases ignored ("email or phone", "E-mail").
    by_key = {norm_header(c): c for c in data.columns}

    def resolve(name: str) -> str:
        spec = LEADS.column(name)
        return by_key.get(norm_header(spec.header if spec else name)) or name

    columns: dict[str, pd.Series] = {}

    def column(name: str) -> pd.Series:
        name = resolve(name)
        if name not in columns:
            columns[name] = _texts(data[name] if name in data.columns else None, index)
        return columns[name]

    countries = column("Country")
    lookup = {c: country_region(c) or region for c in countries.unique()}
    regions = [lookup[c] for c in countries]  # a list: pandas' map would infer its string dtype
    email_results = pd.Series(
        memo.emails_of(column("Email"), lambda t: normalise_email(t, memo)),
        index=index,
        dtype=object,
    )
    email = pd.Series([r[0] for r in email_results], index=index, dtype=object)
    _collect(
        problems,
        pd.Series([r[1] for r in email_results], index=index, dtype=object),
        "Email",
        _("type an address like name@company.com, or leave the cell empty"),
    )
    phone_results = pd.Series(
        memo.phones_of(column("Phone"), regions, lambda t, r: normalise_phone(t, r, memo)),
        index=index,
        dtype=object,
    )
    phone = pd.Series([r[0] for r in phone_results], index=index, dtype=object)
    _collect(
        problems,
        pd.Series([r[1] for r in phone_results], index=index, dtype=object),
        "Phone",
        _(
            "type it with the country code, like +44 20 7946 0958 (without one, the lead's "
            "Country is assumed, else Settings' Default phone region, %(region)s)"
        )
        % {"region": region},
    )

    for name in TYPED_DATES:
        text = stripped(column(name))
        undated = {v: bool(v) and parse_date(v, dayfirst) is None for v in text.unique()}
        bad = text.map(undated).to_numpy(dtype=bool)
        if bad.any():  # grouped by hint: a zone word has its own
            said = {v: date_problem(v, dayfirst) for v in text[bad].unique()}
            rows, texts = np.flatnonzero(bad), text[bad].tolist()
            hints = np.array([said[t][1] for t in texts], dtype=object)
            for hint in dict.fromkeys(hints):
                pick = hints == hint
                messages = [said[t][0] for t, p in zip(texts, pick, strict=True) if p]
                problems.append((rows[pick], name, messages, hint))
    amount = stripped(column("Amount"))
    amount_said = {v: amount_problem(v, largest_amount, decimal) for v in amount.unique()}
    _collect(
        problems,
        amount.map(amount_said),
        "Amount",
        (
            _(
                "type the deal's value, a number from 0 up to Settings' Largest amount "
                "(%(largest)s), like 12500 or 12,500.00"
            )
            if math.isfinite(largest_amount)
            else _(
                "type the deal's value, a number from 0 up to Settings' Largest amount, "
                "like 12500 or 12,500.00"
            )
        )
        % {"largest": format_number(largest_amount)},
    )

    filled = {name: ~blank_mask(column(name)) for name in {n for group in required for n in group}}
    for group in required:
        missing = ~np.logical_or.reduce([filled[n] for n in group])
        if missing.any():
            need = _(" or ").join(resolve(n) for n in group)
            problems.append(
                (
                    np.flatnonzero(missing),
                    resolve(group[0]),
                    [_("missing %(columns)s") % {"columns": need}] * int(missing.sum()),
                    _("every lead needs %(columns)s (Settings: Required fields)")
                    % {"columns": need},
                )
            )
    return Checked(email, phone, problems)


def amount_problem(text: str, largest: float, decimal: str | None = None) -> str:
    """What is wrong with an Amount cell's text; "" when nothing is. A deal's value is never
    negative, and one past ``largest`` is a typo or a post meant to swamp the metric tabs."""
    if text.casefold() in BLANKS:
        return ""
    value = parse_number(text, decimal)
    if value is None:
        return _("%(value)s is not an amount") % {"value": shown(text)}
    if value < 0:
        return _("%(value)s is a negative amount") % {"value": shown(text)}
    if value > largest:
        return _("%(value)s is over the largest amount, %(largest)s") % {
            "value": shown(text),
            "largest": format_number(largest),
        }
    return ""


def _texts(values: pd.Series | None, index: pd.Index) -> pd.Series:
    """A column's cells as plain Python strings ("" for a missing cell or column): .astype(str)
    would give pandas' slower string dtype."""
    if values is None:
        return pd.Series([""] * len(index), index=index, dtype=object)
    cells = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(cells, skipna=False) == "string":  # all str already
        return pd.Series(cells, index=index, dtype=object)
    texts = [v if isinstance(v, str) else "" if v is None or v != v else str(v) for v in cells]
    return pd.Series(texts, index=index, dtype=object)


def _collect(
    problems: list[tuple[np.ndarray, str, list[str], str]],
    messages: pd.Series,
    column: str,
    hint: str,
) -> None:
    bad = (messages != "").to_numpy()
    if bad.any():
        problems.append((np.flatnonzero(bad), column, list(messages[bad]), hint))
