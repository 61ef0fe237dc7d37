"""Business hours: which days and hours of the sheet's wall clock count toward a deadline, and
the times of day Settings names (Business hours, Quiet hours, Digest at).

A first-touch SLA of 4 hours under ``Mon-Fri`` and ``9:00-18:00`` runs from Friday 16:00 to
Monday 11:00. Counting is vectorised: each wall time is mapped to the business minutes since
a fixed day (numpy's business-day calendar), and the minutes between two times are a
difference of two such numbers, for any number of leads at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np

from sheetcrm.engine.catalog import _
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.setting_values import SettingError

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LONG = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_EPOCH = np.datetime64("1970-01-01", "D")  # a fixed day to count business minutes from
_MINUTES_A_DAY = 24 * 60


def parse_clock(text: str) -> int:
    """``8:00``, ``08:30``, ``8`` or ``18h30`` -> minutes after midnight."""
    found = re.fullmatch(r"\s*(\d{1,2})(?:\s*[:h.]\s*(\d{2}))?\s*", text)
    hours = int(found[1]) if found else -1
    minutes = int(found[2] or 0) if found else 0
    if not found or hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise SettingError(
            _("%(text)r is not a time of day") % {"text": text},
            _("type a time like 8:00 or 17:30"),
        )
    return hours * 60 + minutes


def parse_time_of_day(text: str) -> int | None:
    """:func:`parse_clock`; empty: None."""
    return parse_clock(text) if text.strip() else None


def parse_span(text: str, overnight: bool) -> tuple[int, int] | None:
    """``9:00-18:00`` -> (540, 1080) minutes; empty: None. ``overnight``: the span may run
    past midnight (``20:00-8:00``)."""
    if not text.strip():
        return None
    parts = re.split(r"\s*(?:-|–|to)\s*", text.strip())
    example = "20:00-8:00" if overnight else "9:00-18:00"
    if len(parts) != 2:
        raise SettingError(
            _("%(text)r is not a span of hours") % {"text": text},
            _("type it like %(example)s") % {"example": example},
        )
    try:
        start, end = parse_clock(parts[0]), parse_clock(parts[1])
    except SettingError as exc:
        raise SettingError(
            exc.problem, _("type it like %(example)s") % {"example": example}
        ) from exc
    if start == end or (not overnight and start > end):
        raise SettingError(
            (_("%(text)r is empty") if start == end else _("%(text)r ends before it starts"))
            % {"text": text},
            _("type the hours it starts and ends, like %(example)s") % {"example": example},
        )
    return start, end


def parse_days(text: str) -> tuple[int, ...]:
    """``Mon-Fri``, ``Mon, Wed, Fri`` or ``Sun-Thu`` -> weekday numbers (Monday 0); empty:
    every day."""
    if not text.strip():
        return tuple(range(7))
    days: set[int] = set()
    for part in re.split(r"\s*[,;]\s*", text.strip()):
        ends = [_day(p, text) for p in re.split(r"\s*(?:-|–|to)\s*", part)]
        if len(ends) > 2:
            raise SettingError(
                _("%(text)r is not a day or a span of days") % {"text": part},
                _("type it like Mon-Fri"),
            )
        first, last = ends[0], ends[-1]
        days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
    return tuple(sorted(days))


def _day(word: str, text: str) -> int:
    key = word.strip().casefold().rstrip(".")
    for i, long in enumerate(_LONG):
        if len(key) >= 2 and long.startswith(key):
            return i
    raise SettingError(
        _("%(text)r is not a day of the week") % {"text": word.strip()},
        suggest(word.strip(), list(DAY_NAMES)) or _("type days like Mon-Fri, or Mon, Wed, Fri"),
    )


@dataclass(frozen=True)
class Calendar:
    """The working week the first-touch SLA counts in (Settings: Business days, Business
    hours). Every day, all day: plain hours."""

    days: tuple[int, ...] = tuple(range(7))
    hours: tuple[int, int] | None = None  # minutes after midnight (start, end); None: all day

    @property
    def always(self) -> bool:
        return len(self.days) == 7 and self.hours is None

    @property
    def _mask(self) -> list[bool]:
        return [d in self.days for d in range(7)]

    @property
    def _span(self) -> tuple[int, int]:
        return self.hours or (0, _MINUTES_A_DAY)

    def minutes(self, wall: np.ndarray) -> np.ndarray:
        """Business minutes from a fixed day to each wall time (datetime64, NaT allowed):
        the difference of two is the business time between them. NaT gives NaN."""
        missing = np.isnat(wall)
        safe = np.where(missing, np.datetime64("2000-01-03T00:00", "ns"), wall)
        day = safe.astype("datetime64[D]")
        since_midnight = (safe - day).astype("timedelta64[m]").astype(np.int64)
        start, end = self._span
        open_day = np.is_busday(day, weekmask=self._mask)
        within = np.where(open_day, np.clip(since_midnight - start, 0, end - start), 0)
        before = np.busday_count(_EPOCH, day, weekmask=self._mask)
        total = (before * (end - start) + within).astype(float)
        return np.where(missing, np.nan, total)

    def due(self, start: datetime, hours: float) -> datetime:
        """The wall time ``hours`` business hours after the wall time ``start``."""
        begun = self.minutes(np.array([np.datetime64(start, "ns")]))[0]
        target = begun + hours * 60
        first, last = self._span
        length = last - first
        index = max(int(np.ceil(target / length)) - 1, 0)  # the business day it falls in
        day = np.busday_offset(_EPOCH, index, roll="forward", weekmask=self._mask)
        midnight = datetime.combine(day.astype(date), time())
        return midnight + timedelta(minutes=round(first + target - index * length))
