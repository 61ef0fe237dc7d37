"""The Settings tab: every key declared once, with its default, its help and what it governs.

A bad value is a Problem on its cell; the areas it governs are frozen for that sync (their
cells keep their values) instead of silently falling back to a default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sheetcrm.engine.business_hours import (
    Calendar,
    parse_days,
    parse_span,
    parse_time_of_day,
)
from sheetcrm.engine.language import parse_language
from sheetcrm.engine.last_good import Fallback
from sheetcrm.engine.nurture_settings import NURTURE_SETTINGS
from sheetcrm.engine.setting_values import Setting as Setting
from sheetcrm.engine.setting_values import SettingError as SettingError  # re-exported
from sheetcrm.engine.setting_values import count as _count
from sheetcrm.engine.setting_values import date_order as _date_order
from sheetcrm.engine.setting_values import number as _number
from sheetcrm.engine.setting_values import number_format as _number_format
from sheetcrm.engine.setting_values import optional_number as _optional_number
from sheetcrm.engine.setting_values import percent as _percent
from sheetcrm.engine.setting_values import region as _region
from sheetcrm.engine.setting_values import words as _words
from sheetcrm.engine.setting_values import yes_no as _yes_no
from sheetcrm.engine.setting_values import zone as _zone
from sheetcrm.engine.win_settings import WIN_SETTINGS

ALL = frozenset(
    {
        "validation",
        "scoring",
        "routing",
        "stages",
        "metrics",
        "reassign",
        "digest",
        "win",
        "sequences",
    }
)

DEDUPE_KEYS = ("email", "phone", "company domain")


@dataclass(frozen=True)
class MetricsPeriod:
    """The window the metric tabs' "this period" figures cover: a calendar month or quarter
    up to now, or the last ``days`` days."""

    unit: str  # "month", "quarter" or "days"
    days: int = 0


def _period(text: str) -> MetricsPeriod:
    words = " ".join(text.casefold().split())
    if words in ("this month", "month", "monthly", "ce mois", "ce mois-ci", "mois"):
        return MetricsPeriod("month")
    if words in ("this quarter", "quarter", "quarterly", "ce trimestre", "trimestre"):
        return MetricsPeriod("quarter")
    # "last 90 days"; in French "90 derniers jours", "derniers 90 jours"
    found = re.fullmatch(
        r"(?:last |rolling |derniers )?(\d+) ?(?:days?|d|derniers jours|jours|j)", words
    )
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
    """``Email or Phone, Company`` -> ((Email, Phone), (Company,)): one of each group
    ("E-mail ou Téléphone" in French)."""
    return tuple(
        tuple(p.strip() for p in re.split(r"\b(?:or|ou)\b|\|", g) if p.strip())
        for g in _words(text)
    )


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
        "No touch days",
        "7",
        "An open lead with no activity (Activities tab) for this many days counts as "
        "untouched on the Dashboard and By owner.",
        _number(0),
        frozenset({"metrics"}),
    ),
    Setting(
        "Unsubscribe rate alert",
        "2 %",
        "The Nurture tab flags a sequence or step whose unsubscribe rate (unsubscribed / "
        "enrolled) is over this percentage.",
        _percent,
        frozenset({"metrics"}),
    ),
    Setting(
        "Reassign after SLA",
        "no",
        "yes: a lead still untouched (First touch at empty) First-touch SLA hours after it "
        "was assigned goes to the next person the Routing rules name, never one who had it "
        "already; no: it is only flagged.",
        _yes_no,
        frozenset({"reassign"}),
    ),
    Setting(
        "Max reassignments",
        "2",
        "How many times one lead may be reassigned for a missed first touch; after that it "
        "stays, and the owner's manager (Team: Manager) is told.",
        _count,
        frozenset({"reassign"}),
    ),
    Setting(
        "Business days",
        "",
        "The days the first-touch SLA counts, like Mon-Fri; empty: every day.",
        parse_days,
        frozenset({"reassign"}),
    ),
    Setting(
        "Business hours",
        "",
        "The hours of a business day the first-touch SLA counts, like 9:00-18:00; empty: all day.",
        lambda t: parse_span(t, overnight=False),
        frozenset({"reassign"}),
    ),
    Setting(
        "Digest at",
        "",
        "The time each owner gets a daily e-mail of their overdue follow-ups, stale deals "
        "and new leads, like 8:00; nothing is sent when all three are empty. Empty: no digest.",
        parse_time_of_day,
        frozenset({"digest"}),
    ),
    Setting(
        "Quiet hours",
        "",
        "Hours when no alert goes out, like 20:00-8:00; what happens then is sent when "
        "they end. Empty: none.",
        lambda t: parse_span(t, overnight=True),
        frozenset(),
    ),
    Setting(
        "Alerts per person per hour",
        "20",
        "The most alerts one person gets in an hour; the rest come as one summary. "
        "0: no limit; empty: 20.",
        _count,
        frozenset(),
    ),
    *NURTURE_SETTINGS,
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
        "Activity outcomes",
        "reached, voicemail, no answer, meeting booked, not interested, replied",
        "The words an Activities row's Outcome may hold (the drop-down offers the default "
        "ones); another word is reported at its cell.",
        _words,
        frozenset(),
    ),
    Setting(
        "Sync every minutes",
        "15",
        "How often the service syncs the sheet.",
        _number(1),
        frozenset(),
    ),
    Setting(
        "Language",
        "en",
        "The language of problems, hints and lead Status messages: en (English) or fr (français).",
        parse_language,
        frozenset(),
    ),
    *(Setting(*args) for args in WIN_SETTINGS),
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
    shown_decimal: str = "."  # the mark the sheet shows numbers with (engine/sheet_locale.py)
    # each value valid this sync, as typed (kept as its last known good value), by key
    typed: dict[str, str] = field(default_factory=dict)
    # the values that have a problem: the last valid one used instead, or none (last_good.py)
    fallbacks: list[Fallback] = field(default_factory=list)

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

    @property
    def calendar(self) -> Calendar:
        """The working week the first-touch SLA counts in."""
        return Calendar(self["Business days"], self["Business hours"])
