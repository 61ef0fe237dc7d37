"""Step ``sent``: the messages the sender reports (``plan_sync(..., sent=records)``) become
rows of the Notifications log tab: what was sent, when, to whom, or why it failed.

Append-only and idempotent by key: a record whose Key is already on the tab, or twice in
``sent``, adds no row, so the sender may report a record again after a crash. The To column
holds an e-mail address or a channel's name, never a URL: a webhook's URL carries its token.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sheetcrm.engine.catalog import N_, _
from sheetcrm.engine.notifications import SentRecord, one_line
from sheetcrm.engine.schema import NOTIFICATIONS
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.values import format_datetime


def log_sent(state: SyncState) -> SyncState:
    if not state.sent:
        return state
    known = set(state.snapshot.table(NOTIFICATIONS.name).column("Key"))
    for record in state.sent:
        if not record.key or record.key in known:
            continue
        known.add(record.key)
        state.plan.log.append(log_row(record, state))
    return state


def log_row(record: SentRecord, state: SyncState) -> list[str]:
    """The tab's row for ``record``, in NOTIFICATIONS' column order."""
    return [
        _local(record.at, state),
        one_line(record.lead_id, 40),
        one_line(record.event, 60),
        recipient(record),
        one_line(record.channel, 60),
        one_line(outcome(record.outcome), 300),
        record.key,
    ]


_OUTCOMES = {
    "sent": N_("sent"),
    "in the hourly summary (cap reached)": N_("in the hourly summary (cap reached)"),
}
_FAILED = "failed: "


def outcome(said: str) -> str:
    """The sender's outcome in the sheet's Language: its words are the sender's, written
    outside any sync; the reason of a failure (the server's own words) stays as it came."""
    if said in _OUTCOMES:
        return _(_OUTCOMES[said])
    if said.startswith(_FAILED):
        return _("failed: %(reason)s") % {"reason": said.removeprefix(_FAILED)}
    return said


def recipient(record: SentRecord) -> str:
    """Whom the record names, safe to show: an address or a channel's name, never a URL."""
    to = one_line(record.recipient, 120)
    return one_line(record.channel, 60) if "://" in to or not to else to


def _local(at: str, state: SyncState) -> str:
    """``at`` (ISO) on the sheet's clock, as every time on the sheet; as given if not ISO."""
    try:
        moment = datetime.fromisoformat(at.strip())
    except ValueError:
        return one_line(at, 40)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(state.settings.zone).replace(second=0))
