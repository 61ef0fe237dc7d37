"""Readers of Settings values: each turns what a manager typed into a value, or raises
SettingError with what is wrong and a hint, for the problem at its cell. Apart from the
settings table (settings.py), so that other parsers (business hours) raise the same error."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers

from sheetcrm.engine.catalog import _
from sheetcrm.engine.values import parse_bool, parse_number


@dataclass(frozen=True)
class Setting:
    key: str
    default: str
    help: str
    parse: Callable[[str], Any]
    governs: frozenset[str]  # the areas a bad value freezes for the sync


class SettingError(ValueError):
    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


def zone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # OSError: a folder of the zone database ("Europe", "US") is no zone, and opening
        # it raises IsADirectoryError rather than ZoneInfoNotFoundError.
        import difflib

        close = difflib.get_close_matches(text.strip(), sorted(available_timezones()), n=1)
        hint = (
            _("did you mean '%(word)s'?") % {"word": close[0]}
            if close
            else _("use an IANA name like Europe/Paris")
        )
        raise SettingError(_("unknown time zone %(text)r") % {"text": text}, hint) from exc


def date_order(text: str) -> bool:
    order = text.strip().upper().replace("/", "").replace("-", "")
    if order in ("DMY", "DAY FIRST"):
        return True
    if order in ("MDY", "MONTH FIRST"):
        return False
    raise SettingError(
        _("unknown date order %(text)r") % {"text": text},
        _("use DMY (31/01/2026) or MDY (01/31/2026)"),
    )


_DECIMAL_MARKS = {
    "1,234.56": ".",
    "1.234,56": ",",
    "1 234,56": ",",
    "1 234.56": ".",
    "decimal point": ".",
    "point": ".",
    ".": ".",
    "decimal comma": ",",
    "comma": ",",
    ",": ",",
    "auto": None,
}


def number_format(text: str) -> str | None:
    """The sheet's decimal mark, "." or ","; None (auto) to guess it per cell."""
    words = " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").casefold().split())
    if words not in _DECIMAL_MARKS:
        raise SettingError(
            _("unknown number format %(text)r") % {"text": text},
            _("use 1,234.56 (decimal point), 1.234,56 or 1 234,56 (decimal comma), or auto"),
        )
    return _DECIMAL_MARKS[words]


def region(text: str) -> str:
    region = text.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise SettingError(
            _("unknown phone region %(text)r") % {"text": text},
            _("use a two-letter country code like US, GB, FR, DE"),
        )
    return region


def number(minimum: float | None = None) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = parse_number(text)
        if value is None:
            raise SettingError(
                _("%(text)r is not a number") % {"text": text}, _("type a plain number, like 24")
            )
        if minimum is not None and value < minimum:
            raise SettingError(
                _("%(text)r is below %(minimum)s") % {"text": text, "minimum": f"{minimum:g}"},
                _("use %(minimum)s or more") % {"minimum": f"{minimum:g}"},
            )
        return value

    return parse


def optional_number(text: str) -> float | None:
    return None if not text.strip() else number()(text)


def percent(text: str) -> float:
    """A share, 0..1: ``2 %`` and ``2`` are 2 %, as is ``0.02`` (a plain number below 1 is
    read as a fraction: what a cell formatted as a percentage holds)."""
    value = parse_number(text)
    if value is not None and "%" not in text and value >= 1:
        value /= 100
    if value is None or not 0 <= value <= 1:
        raise SettingError(
            _("%(text)r is not a percentage") % {"text": text},
            _("type a percentage from 0 to 100, like 2 %"),
        )
    return value


def yes_no(text: str) -> bool:
    value = parse_bool(text)
    if value is None:
        raise SettingError(_("%(text)r is not yes or no") % {"text": text}, _("type yes or no"))
    return value


def count(text: str) -> int:
    """A whole number, 0 or more; empty: 0."""
    value = parse_number(text) if text.strip() else 0.0
    if value is None or value < 0 or value != int(value):
        raise SettingError(
            _("%(text)r is not a count") % {"text": text},
            _("type a whole number, 0 or more, like 2"),
        )
    return int(value)


def words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in re.split(r"[,;\n]", text) if w.strip())
