"""Step ``sent``: the messages the sender reports (``plan_sync(..., sent=records)``) become
rows of the Notifications log tab: what was sent, when, to whom, or why it failed.

Append-only and idempotent by key: a record whose Key is already on the tab, or twice in
``sent``, adds no row, so the sender may report a record again after a crash. The To column
holds an e-mail address or a channel's name, never a URL: a webhook's URL carries its token.

A nurture e-mail sent (event ``sequence``, outcome ``sent``) is also an Activities row: At the
time it went (the sheet's clock), the lead, Type ``email``, Outcome ``sent``, By ``sequence
Nurture C``, Notes its subject, Submission ID its key; once each, by that key, like the log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sheetcrm.engine.activity_tab import KEY_COLUMN, activity_keys
from sheetcrm.engine.catalog import N_, _
from sheetcrm.engine.notifications import SentRecord, one_line
from sheetcrm.engine.schema import ACTIVITIES, NOTIFICATIONS
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.values import format_datetime


def log_sent(state: SyncState) -> SyncState:
    if not state.sent:
        return state
    known = set(state.snapshot.table(NOTIFICATIONS.name).column("Key"))
    # each tab by its own keys: a row one of them got before a crash is not added again
    logged = activity_keys(state.snapshot.get(ACTIVITIES.name))
    cells = _SequenceCells(state)
    for record in state.sent:
        if not record.key:
            continue
        if record.key not in known:
            known.add(record.key)
            state.plan.log.append(log_row(record, state))
        if record.event == SEQUENCE and record.outcome == "sent" and record.key not in logged:
            logged.add(record.key)
            state.plan.activities.append(activity_row(record, state, cells))
    return state


def activity_row(
    record: SentRecord, state: SyncState, cells: Callable[[str], str] = lambda _lead: ""
) -> dict[str, str]:
    """The Activities row of a nurture e-mail sent, by canonical header. ``cells``: a lead's
    Sequence cell by Lead ID, for a record that does not name its sequence."""
    sequence, _hash, step = record.when.partition("#")
    name = one_line(sequence, 100) or cells(record.lead_id)
    by = _("sequence %(name)s") % {"name": name} if name else _("sequence")
    notes = one_line(record.subject, 300) or (_("step %(step)s") % {"step": step} if step else "")
    return {
        "At": _local(record.at, state),
        "Lead ID": one_line(record.lead_id, 40),
        "Type": "email",
        "Outcome": _(_OUTCOMES["sent"]),
        "By": by,
        "Notes": notes,
        KEY_COLUMN: record.key,
    }


class _SequenceCells:
    """A lead's Sequence cell by Lead ID, for a record that does not name its sequence (a
    sender from before ``SentRecord.when``): the sequence it is in, unless Stop was typed
    there. The leads are indexed on the first such record only."""

    def __init__(self, state: SyncState) -> None:
        self.state = state
        self.rows: dict[str, int] | None = None

    def __call__(self, lead_id: str) -> str:
        data = self.state.data
        if "Sequence" not in data.columns:
            return ""
        if self.rows is None:
            self.rows = {lead: i for i, lead in enumerate(self.state.ids)}
        row = self.rows.get(lead_id)
        cell = "" if row is None else one_line(str(data["Sequence"].iat[row]), 100)
        return "" if norm_header(cell) in _STOP else cell


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
SEQUENCE = "sequence"  # the event of a nurture e-mail (engine/sync/sequences.py)
_STOP = {"stop", "arrêt"}


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
