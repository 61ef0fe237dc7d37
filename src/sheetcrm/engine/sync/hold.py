"""Step ``hold``: what Settings say about when and how many alerts go out, stamped on every
notification this sync planned, so that the sender needs no Settings of its own.

- ``Quiet hours`` (sheet time zone): a notification planned inside them carries
  ``not_before``, the instant (ISO, UTC) they end.
- ``Alerts per person per hour``: carried as ``cap``; the sender counts and summarises.

A notification whose key the Notifications tab already logs (a digest planned again by a
later sync of the same day) is not planned again.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo

from sheetcrm.engine.schema import NOTIFICATIONS
from sheetcrm.engine.sync.state import SyncState


def hold_notifications(state: SyncState) -> SyncState:
    planned = state.plan.notifications
    if not planned:
        return state
    logged = set(state.snapshot.table(NOTIFICATIONS.name).column("Key"))
    not_before = quiet_until(state.now, state.settings["Quiet hours"])
    cap = int(state.settings["Alerts per person per hour"])
    planned.hold(logged, not_before, cap)  # each as Notification.held says
    return state


def quiet_until(now: datetime, quiet: tuple[int, int] | None) -> str:
    """When the quiet hours ``now`` (aware, the sheet's zone) falls in end, as ISO UTC; ""
    when ``now`` is not in them."""
    if quiet is None:
        return ""
    start, end = quiet
    local = now.replace(tzinfo=None)
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return ""
    day = local.date() + timedelta(days=1 if minute >= end else 0)
    ends = datetime.combine(day, time()) + timedelta(minutes=end)
    return _instant(ends, now.tzinfo or UTC).isoformat(timespec="seconds")


def _instant(wall: datetime, zone: tzinfo) -> datetime:
    """A wall time of ``zone`` as a UTC instant; a time the clocks skip is read as a clock
    nobody changed yet would show it (shifted forward by the gap), like every sheet time."""
    return wall.replace(tzinfo=zone).astimezone(UTC)
