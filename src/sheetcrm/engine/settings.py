"""The Settings tab: every key declared once, with its default, its help and what it governs.

A bad value is a Problem on its cell; the areas it governs are frozen for that sync (their
cells keep their values) instead of silently falling back to a default.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers

from sheetcrm.engine.values import parse_bool, parse_number

ALL = frozenset({"validation", "scoring", "routing", "stages", "metrics"})


class SettingError(ValueError):
    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


def _zone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # OSError: a folder of the zone database ("Europe", "US") is no zone, and opening
        # it raises IsADirectoryError rather than ZoneInfoNotFoundError.
        import difflib

        close = difflib.get_close_matches(text.strip(), sorted(available_timezones()), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "use an IANA name like Europe/Paris"
        raise SettingError(f"unknown time zone {text!r}", hint) from exc


def _date_order(text: str) -> bool:
    order = text.strip().upper().replace("/", "").replace("-", "")
    if order in ("DMY", "DAY FIRST"):
        return True
    if order in ("MDY", "MONTH FIRST"):
        return False
    raise SettingError(f"unknown date order {text!r}", "use DMY (31/01/2026) or MDY (01/31/2026)")


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


def _number_format(text: str) -> str | None:
    """The sheet's decimal mark, "." or ","; None (auto) to guess it per cell."""
    words = " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").casefold().split())
    if words not in _DECIMAL_MARKS:
        raise SettingError(
            f"unknown number format {text!r}",
            "use 1,234.56 (decimal point), 1.234,56 or 1 234,56 (decimal comma), or auto",
        )
    return _DECIMAL_MARKS[words]


def _region(text: str) -> str:
    region = text.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise SettingError(
            f"unknown phone region {text!r}", "use a two-letter country code like US, GB, FR, DE"
        )
    return region


def _number(minimum: float | None = None) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = parse_number(text)
        if value is None:
            raise SettingError(f"{text!r} is not a number", "type a plain number, like 24")
        if minimum is not None and value < minimum:
            raise SettingError(f"{text!r} is below {minimum:g}", f"use {minimum:g} or more")
        return value

    return parse


def _optional_number(text: str) -> float | None:
    return None if not text.strip() else _number()(text)


def _yes_no(text: str) -> bool:
    value = parse_bool(text)
    if value is None:
        raise SettingError(f"{text!r} is not yes or no", "type yes or no")
    return value


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in re.split(r"[,;\n]", text) if w.strip())


DEDUPE_KEYS = ("email", "phone", "company domain")


@dataclass(frozen=True)
class MetricsPeriod:
    """The window the metric tabs' "this period" figures cover: a calendar month or quarter
    up to now, or the last ``days`` days."""

    unit: str  # "month", "quarter" or "days"
    days: int = 0


def _period(text: str) -> MetricsPeriod:
    words = " ".join(text.casefold().split())
    if words in ("this month", "month", "monthly"):
        return MetricsPeriod("month")
    if words in ("this quarter", "quarter", "quarterly"):
        return MetricsPeriod("quarter")
    found = re.fullmatch(r"(?:last |rolling )?(\d+) ?(?:days?|d)", words)
    if found and 1 <= int(found.group(1)) <= 3660:
        return MetricsPeriod("days", int(found.group(1)))
    raise SettingError(
        f"unknown metrics period {text!r}", "use this month, this quarter, or last 90 days"
    )


def _dedupe(text: str) -> tuple[str, ...]:
    keys = tuple(k.casefold() for k in _words(text))
    bad = [k for k in keys if k not in DEDUPE_KEYS]
    if bad:
        raise SettingError(
            f"unknown dedupe key {bad[0]!r}", "use any of: " + ", ".join(DEDUPE_KEYS)
        )
    return keys


def _required(text: str) -> tuple[tuple[str, ...], ...]:
    """``Email or Phone, Company`` -> ((Email, Phone), (Company,)): one of each group."""
    return tuple(
        tuple(p.strip() for p in re.split(r"\bor\b|\|", g) if p.strip()) for g in _words(text)
    )


@dataclass(frozen=True)
class Setting:
    key: str
    default: str
    help: str
    parse: Callable[[str], Any]
    governs: frozenset[str]


SETTINGS: tuple[Setting, ...] = (
    Setting("Time zone", "UTC", "Time zone of every date and time in the sheet.", _zone, ALL),
    Setting(
        "Date order",
        "DMY",
        "How to read 03/04/2026: DMY (3 April) or MDY (March 4).",
        _date_order,
        ALL,
    ),
    Setting(
        "Number format",
        "auto",
        "How numbers are written in the sheet, lead amounts and rule values alike: "
        "1,234.56 (decimal point) or 1.234,56 / 1 234,56 (decimal comma). auto reads "
        "1,200 as twelve hundred and 1,5 as one and a half, and reports a rule value such "
        "as 12.500 that it would only be guessing at.",
        _number_format,
        ALL,
    ),
    Setting(
        "Default phone region",
        "US",
        "Country code for phone numbers typed without +.",
        _region,
        frozenset({"validation"}),
    ),
    Setting(
        "Currency",
        "USD",
        "Currency of Amount, for the metric tabs: a code like USD or EUR.",
        lambda t: t.strip().upper() or "USD",
        frozenset(),
    ),
    Setting(
        "Largest amount",
        "1000000000000",
        "The largest Amount a lead may hold; a larger one, or a negative one, is a problem "
        "on its cell (a typo, or a form post meant to skew the metric tabs).",
        _number(0),
        frozenset({"validation"}),
    ),
    Setting(
        "Metrics period",
        "this month",
        "The window of the metric tabs' 'this period' figures: this month, this quarter, "
        "or last N days (a rolling window, e.g. last 90 days).",
        _period,
        frozenset({"metrics"}),
    ),
    Setting(
        "Pipeline target",
        "",
        "The open pipeline value the team aims to hold; the Dashboard shows coverage "
        "(pipeline value / target). Empty: no coverage figure.",
        _optional_number,
        frozenset({"metrics"}),
    ),
    Setting(
        "First-touch SLA hours",
        "24",
        "A lead not contacted this many hours after it was assigned is flagged overdue.",
        _number(0),
        frozenset({"stages"}),
    ),
    Setting(
        "MQL score",
        "40",
        "Score from which a lead is marketing-qualified.",
        _number(),
        frozenset({"scoring"}),
    ),
    Setting(
        "SQL score",
        "70",
        "Score from which a lead is sales-qualified.",
        _number(),
        frozenset({"scoring"}),
    ),
    Setting(
        "Grade A at",
        "70",
        "Score from which a lead is graded A.",
        _number(),
        frozenset({"scoring"}),
    ),
    Setting(
        "Grade B at",
        "40",
        "Score from which a lead is graded B.",
        _number(),
        frozenset({"scoring"}),
    ),
    Setting(
        "Grade C at",
        "20",
        "Score from which a lead is graded C; below it, D.",
        _number(),
        frozenset({"scoring"}),
    ),
    Setting(
        "Max score",
        "",
        "Highest total score; empty for no cap.",
        _optional_number,
        frozenset({"scoring"}),
    ),
    Setting(
        "Min score",
        "",
        "Lowest total score; empty for no floor.",
        _optional_number,
        frozenset({"scoring"}),
    ),
    Setting(
        "Fallback owner",
        "",
        "Who gets a lead no routing rule or team can take.",
        lambda t: t.strip(),
        frozenset({"routing"}),
    ),
    Setting(
        "Duplicates to original owner",
        "yes",
        "yes: a duplicate lead goes to the owner of the lead it duplicates (Duplicate of), "
        "unless that person is inactive or away; no: duplicates are routed like any lead.",
        _yes_no,
        frozenset({"routing"}),
    ),
    Setting(
        "Dedupe keys",
        ", ".join(DEDUPE_KEYS),
        "What makes two leads duplicates: email, "
        "phone, company domain (free-mail domains never count).",
        _dedupe,
        frozenset(),
    ),
    Setting(
        "Required fields",
        "Email or Phone",
        "Leads columns every lead needs; 'A or B' means either.",
        _required,
        frozenset({"validation"}),
    ),
    Setting(
        "Free-mail domains",
        "",
        "Extra free-mail domains, beyond the built-in list.",
        lambda t: tuple(d.casefold() for d in _words(t)),
        frozenset(),
    ),
    Setting(
        "Sync every minutes",
        "15",
        "How often the service syncs the sheet.",
        _number(1),
        frozenset(),
    ),
)
GROUP_CAP_PREFIX = "group cap:"
"""``Group cap: Engagement`` = 15 caps the points of the Scoring rules in group Engagement."""

_BY_KEY = {s.key.casefold(): s for s in SETTINGS}


def find_setting(key: str) -> Setting | None:
    return _BY_KEY.get(" ".join(key.split()).casefold())


@dataclass
class Settings:
    values: dict[str, Any] = field(default_factory=dict)
    group_caps: dict[str, float] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)  # setting key -> A1 cell of its value

    def __getitem__(self, key: str) -> Any:
        if key in self.values:
            return self.values[key]
        setting = _BY_KEY[key.casefold()]
        return setting.parse(setting.default)

    @property
    def zone(self) -> ZoneInfo:
        zone: ZoneInfo = self["Time zone"]
        return zone

    @property
    def decimal(self) -> str | None:
        """The decimal mark numbers are read with; None: guessed per cell."""
        mark: str | None = self["Number format"]
        return mark

    @property
    def dayfirst(self) -> bool:
        return bool(self["Date order"])
