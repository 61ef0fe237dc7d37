"""Dates and times as people and exports type them, read in the sheet's Date order and time
zone (Settings) as the naive wall time of that zone.

``03/04/2026`` follows the Date order; a date written year first is always year-month-day
(``2026-03-02`` is 2 March under DMY too); a UTC offset is converted to the sheet's zone; a zone
word (EST, CET) is not guessed at but named, for the row's problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import numpy as np
import pandas as pd
from dateutil import parser as dateutil_parser

from sheetcrm.engine.catalog import _
from sheetcrm.engine.values import shown

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
_NUMERIC_DATE = re.compile(r"^(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})(?:[ T](.*))?$")
# What exports write: 2026-03-02T09:00:00.000Z, 2026-03-02 9:00+05:00, 2026/03/02...
_YEAR_FIRST = re.compile(
    r"(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
    r"(?:(?:T|\s+)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d+))?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_YEAR_LEADS = re.compile(r"\d{4}[-/.]\d")
# GMT+3 is UTC+3 to people and UTC-3 to POSIX (and to dateutil): not guessed at.
_GMT_PLUS = re.compile(r"\b(?:GMT|UTC)\s*[+-]\s*\d{1,2}(?::?\d{2})?")
_UTC_NAMES = frozenset({"UTC", "GMT", "Z", "z"})


class _ZoneWord(ValueError):
    """A time-zone word (EST, CET, GMT+3) that names no single offset sheetcrm can trust:
    EST is US Eastern or Australian Eastern, CET is worn in summer for CEST..."""

    def __init__(self, word: str) -> None:
        super().__init__(word)
        self.word = word


def _zone_of(name: str | None, offset: int | None) -> tzinfo | None:
    """dateutil's hook for a zone it read: a numeric offset or UTC is honoured, a name not."""
    if name is None and offset is None:
        return None
    if offset is not None and (name is None or (name in _UTC_NAMES and offset == 0)):
        return timezone(timedelta(seconds=offset))
    raise _ZoneWord(name or "")


def _year_first(m: re.Match[str], zone: tzinfo) -> datetime:
    fraction = (m["f"] or "")[:6].ljust(6, "0")
    value = datetime(
        int(m["y"]),
        int(m["m"]),
        int(m["d"]),
        int(m["H"] or 0),
        int(m["M"] or 0),
        int(m["S"] or 0),
        int(fraction),
    )
    return _in_zone(value, m["tz"], zone)


def _in_zone(value: datetime, offset: str | None, zone: tzinfo) -> datetime:
    """``value`` at ``offset`` ("Z", "+05:00", "+0500") as the sheet's naive wall time; the
    fold is kept, so the second of two equal wall times stays the second."""
    if not offset:
        return value
    if offset != "Z":
        digits = offset[1:].replace(":", "").ljust(4, "0")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if minutes >= 60:
            raise ValueError(offset)
        size = timedelta(hours=hours, minutes=minutes)
        value = value.replace(tzinfo=timezone(-size if offset[0] == "-" else size))
    else:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone).replace(tzinfo=None)


def _parse(text: str, dayfirst: bool, zone: tzinfo) -> datetime | None:
    """:func:`parse_date`, raising ValueError (a :class:`_ZoneWord` for a zone word) or
    OverflowError for some of what is not a date."""
    s = text.strip()
    if not s:
        return None
    if _ISO.match(s):
        return datetime.fromisoformat(s.replace(" ", "T"))
    m = _YEAR_FIRST.fullmatch(s)
    if m:
        return _year_first(m, zone)
    if gmt := _GMT_PLUS.search(s):
        raise _ZoneWord(gmt[0].replace(" ", ""))
    # A year written first is always followed by the month (2026-03-02 is 2 March), whatever
    # the Date order: dateutil would otherwise read it year-day-month under day-first.
    dayfirst = dayfirst and not _YEAR_LEADS.match(s)
    if not (_NUMERIC_DATE.match(s) or any(c.isalpha() for c in s)) or not re.search(r"\d", s):
        return None
    # The default fills what the text leaves out without reading the clock (dateutil's is
    # today), and "Jan 5" or "5pm", which name no year, come back in year 1: guessing one
    # would make a follow-up date overdue forever (or never), so they are not dates.
    parsed = dateutil_parser.parse(
        s, dayfirst=dayfirst, default=datetime(1, 1, 1), tzinfos=_zone_of
    )
    if parsed.year == 1:
        return None
    if parsed.tzinfo is None:
        return parsed
    return parsed.astimezone(zone).replace(tzinfo=None)


def parse_date(text: str, dayfirst: bool = True, zone: tzinfo = UTC) -> datetime | None:
    """A date or date-time as people type it, as the naive wall time of the sheet's time zone
    ``zone``; None if not one.

    ``dayfirst`` decides ``03/04/2026`` (Settings' Date order); a date written year first is
    always year-month-day. A time with a UTC offset (``Z``, ``+05:00``, ``+0500``) is converted
    to ``zone``, its ``fold`` telling the two passes of the hour clocks go back apart; a time
    with a zone word (EST, CET...) is not a date (see :func:`unreadable_zone`). A
    spreadsheet's serial day number (``46053``) is not guessed at: too many things are plain
    numbers.
    """
    try:
        return _parse(text, dayfirst, zone)
    except (ValueError, OverflowError):
        return None


def unreadable_zone(text: str, dayfirst: bool = True) -> str | None:
    """The time-zone word that keeps ``text`` from being read as a date (``EST``, ``GMT+3``),
    or None: what the row's problem names."""
    try:
        _parse(text, dayfirst, UTC)
    except _ZoneWord as word:
        return word.word
    except (ValueError, OverflowError):
        pass
    return None


def parse_dates(values: Iterable[str], dayfirst: bool = True, zone: tzinfo = UTC) -> pd.Series:
    """Vectorised :func:`parse_date`: each distinct text is parsed once."""
    series = pd.Series(list(values) if not isinstance(values, pd.Series) else values, dtype=object)
    uniques = series.dropna().unique()
    lookup = {v: parse_date(str(v), dayfirst, zone) for v in uniques}
    return pd.to_datetime(series.map(lookup), errors="coerce")


def date_problem(text: str, dayfirst: bool = True) -> tuple[str, str]:
    """Why ``text``, which does not parse, is not a date: a row's problem and its hint."""
    word = unreadable_zone(text, dayfirst)
    if word is None:
        return (
            _("%(value)s is not a date") % {"value": shown(text)},
            _("type a date like 2026-01-31"),
        )
    return (
        _("%(value)s names the time zone %(zone)s, which cannot be converted")
        % {"value": shown(text), "zone": word},
        _(
            "write its UTC offset instead, like 2026-01-31 09:00-05:00, or no zone at all for "
            "the sheet's own (Settings: Time zone)"
        ),
    )


DATE_RANGE = (datetime(1678, 1, 1), datetime(2262, 1, 1))
"""What a date column (datetime64[ns]) holds, with a day to spare for offsets."""
_NAT = np.datetime64("NaT", "ns")


def date_array(parsed: Iterable[datetime | None]) -> np.ndarray:
    """Parsed dates as a column (datetime64[ns]), NaT for None and for a year the column
    cannot hold: numpy would wrap 9999 around to 1816 without a word."""
    low, high = DATE_RANGE
    return np.array(
        [np.datetime64(d, "ns") if d and low <= d < high else _NAT for d in parsed],
        dtype="datetime64[ns]",
    )


CANONICAL_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S")
"""The forms the sync writes dates in (a stamp to the minute is the most common)."""


def canonical_times(values: np.ndarray) -> np.ndarray:
    """The cells written in one of the CANONICAL_FORMATS as datetime64[ns] wall times, at C
    speed; NaT for a blank, for any other form (left to :func:`parse_date`, once per distinct
    text) and for a year the column cannot hold (pandas reads 9999 too, numpy would wrap it).
    The forms match disjoint texts, so their order changes no result: the form of the first
    value goes first, since a column is mostly written one way."""
    values = np.asarray(values, dtype=object)
    parsed = np.full(len(values), _NAT, dtype="datetime64[ns]")
    pending = np.flatnonzero(values != "")
    width = len(str(values[pending[0]]).strip()) if len(pending) else 0
    forms = sorted(CANONICAL_FORMATS, key=lambda f: len(f.replace("%Y", "YYYY")) != width)
    for form in forms:
        if not len(pending):
            break
        cells = pd.Series(values[pending], dtype=object)
        read = pd.to_datetime(cells, format=form, errors="coerce")
        held = read.where(read.between(*DATE_RANGE, inclusive="left"))
        parsed[pending] = held.to_numpy(dtype="datetime64[ns]")
        pending = pending[np.isnat(parsed[pending])]
    return parsed
