"""The sheet's wall clock (Settings: Time zone) and the real instants its times stand for.

People read and type times on the wall clock of the sheet's zone, so that is what cells hold.
Elapsed time (the first-touch SLA, hours to first touch) is real time: local times are turned
into UTC instants with the zone before they are subtracted.

Daylight saving leaves two kinds of wall times that are not one instant each:

- **ambiguous**: the hour shown twice when clocks go back. A datetime's ``fold`` says which
  (PEP 495): 0 the first pass (the offset before the change), 1 the second. Cells cannot hold
  a fold, so a time in that hour is written with its UTC offset (see ``format_datetime``).
- **nonexistent**: the hour skipped when clocks go forward. It is read with the offset in
  force before the change, that is shifted forward by the gap (02:30 in Paris on 29 March is
  03:30 CEST): what a clock nobody had changed yet would have shown, and what zoneinfo does
  with fold=0, so the scalar and the vectorised readings agree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np
import pandas as pd

from sheetcrm.errors import SheetCRMError

_DAY = np.timedelta64(1, "D")


def ambiguous(moment: datetime) -> bool:
    """Whether an aware ``moment``'s wall time is shown twice in its zone (clocks went back):
    only then do its two folds map to different offsets, the earlier one being larger."""
    first, second = moment.replace(fold=0).utcoffset(), moment.replace(fold=1).utcoffset()
    return first is not None and second is not None and first > second


def skipped(moment: datetime) -> bool:
    """Whether an aware ``moment``'s wall time never shows in its zone (clocks jumped)."""
    first, second = moment.replace(fold=0).utcoffset(), moment.replace(fold=1).utcoffset()
    return first is not None and second is not None and first < second


def offset_text(moment: datetime) -> str:
    """``+01:00``: an aware ``moment``'s UTC offset as ISO 8601 writes it."""
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02}:{minutes % 60:02}"


def on_the_clock(local: datetime, zone: tzinfo) -> datetime:
    """A naive wall time of ``zone`` as an aware datetime (its fold says which of an ambiguous
    pair). Refused when the clocks of ``zone`` skip it: a fixed clock (``--now``) must be a
    time the sheet could show."""
    moment = local.replace(tzinfo=zone)
    if skipped(moment):
        after = moment.astimezone(UTC).astimezone(zone)  # shifted forward by the gap
        raise SheetCRMError(
            f"{local:%Y-%m-%d %H:%M} does not exist in {zone}: the clocks skip that time "
            "when daylight saving starts",
            f"give a time the clocks show, like {after:%Y-%m-%dT%H:%M}, or add its UTC offset",
        )
    return moment


def utc_offsets(instants: np.ndarray, zone: tzinfo) -> np.ndarray:
    """Per UTC instant (datetime64[ns], NaT allowed), the offset ``zone`` is at then."""
    local = pd.DatetimeIndex(instants).tz_localize(UTC).tz_convert(zone).tz_localize(None)
    return local.to_numpy(dtype="datetime64[ns]") - instants  # type: ignore[no-any-return]


def to_utc(local: np.ndarray, fold: np.ndarray, zone: tzinfo) -> np.ndarray:
    """Wall times of ``zone`` (datetime64[ns], NaT allowed) as UTC instants; ``fold`` per time
    picks the second of an ambiguous pair and, as in zoneinfo, the offset after the change
    for a skipped time (sheetcrm passes 0 there: shifted forward). Vectorised: a few
    conversions of the whole array, not one Python call per time."""
    if not len(local):
        return local.astype("datetime64[ns]")
    # Clock changes are months apart: a day before and a day after a time, at most one
    # change lies between, so its wall time is read with one of those two offsets.
    before = utc_offsets(local - _DAY, zone)
    after = utc_offsets(local + _DAY, zone)
    early, late = local - before, local - after
    early_holds = utc_offsets(early, zone) == before  # the time exists with that offset
    late_holds = utc_offsets(late, zone) == after
    # both hold: ambiguous (or no change near), the fold decides; neither: skipped, idem
    take_late = np.where(early_holds == late_holds, np.asarray(fold, dtype=bool), late_holds)
    return np.where(take_late, late, early)  # type: ignore[no-any-return]


def from_utc(instant: np.datetime64, zone: tzinfo) -> datetime:
    """A UTC instant as the aware wall time of ``zone`` (its fold set in the repeated hour)."""
    return pd.Timestamp(instant).to_pydatetime().replace(tzinfo=UTC).astimezone(zone)
