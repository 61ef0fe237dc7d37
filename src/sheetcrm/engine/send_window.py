"""When nurture e-mails may go out (Settings: Send days, Send hours, sheet time zone), and
waits counted in days or business days (the Send days), vectorised over leads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import numpy as np

_MINUTE = np.timedelta64(1, "m")


@dataclass(frozen=True)
class SendWindow:
    days: tuple[int, ...]  # weekday numbers, Monday 0
    hours: tuple[int, int] | None  # minutes after midnight (start, end); None: all day

    @property
    def _mask(self) -> list[bool]:
        return [d in self.days for d in range(7)]

    def _span(self) -> tuple[int, int]:
        return self.hours or (0, 24 * 60)

    def is_open(self, wall: datetime) -> bool:
        start, end = self._span()
        minute = wall.hour * 60 + wall.minute
        return wall.weekday() in self.days and start <= minute < end

    def opening(self, wall: datetime) -> datetime:
        """``wall`` when the window is open then, else when it next opens."""
        if self.is_open(wall):
            return wall
        start, _end = self._span()
        for ahead in range(8):
            day = wall.date() + timedelta(days=ahead)
            opens = datetime.combine(day, time()) + timedelta(minutes=start)
            if day.weekday() in self.days and opens > wall:
                return opens
        return wall  # no send day at all: Settings refuse an empty Send days before this

    def closing(self, wall: datetime) -> datetime:
        """When the window open at ``wall`` closes."""
        _start, end = self._span()
        return datetime.combine(wall.date(), time()) + timedelta(minutes=end)

    def after(self, start: np.ndarray, days: np.ndarray, business: np.ndarray) -> np.ndarray:
        """``start`` (datetime64 wall times) plus ``days`` calendar days, or where
        ``business``, that many send days (a start on a day off counts from the next one),
        the time of day kept."""
        day = start.astype("datetime64[D]")
        time_of_day = start - day
        plain = day + days.astype("timedelta64[D]")
        if business.any() and any(self._mask):
            shifted = np.busday_offset(day, days, roll="forward", weekmask=self._mask)
            plain = np.where(business, shifted, plain)
        return (plain + time_of_day).astype("datetime64[ns]")  # type: ignore[no-any-return]
