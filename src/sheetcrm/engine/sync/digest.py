"""Step ``digest``: once a day, at Settings' ``Digest at`` (the sheet's time zone), each active
person on the Team tab gets one e-mail listing their overdue follow-ups, stale deals and the
leads they got since the day before's digest; nobody gets an empty one.

On by the Settings row alone: a digest is about one person's own leads, so it needs no
Alerts rule. Every sync from that time on plans the day's digest again, under the same key
(digest, address, date): the outbox drops a key it knows, and a key the Notifications tab
already logs is not planned at all (step ``hold``). The new leads are those assigned from
the day before's digest time up to today's, whenever the sync runs: each lead is in one
digest, and a re-plan lists the same ones.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import numpy as np

from sheetcrm.engine.catalog import N_, _, ngettext
from sheetcrm.engine.notifications import Notification, one_line
from sheetcrm.engine.problems import FOLLOW_UP, STALE, is_flag
from sheetcrm.engine.sync.alerts import LeadNames
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.values import format_datetime

EVENT = "daily digest"
LISTED = 15  # leads named per list; the rest are counted
_SECTIONS = (  # (the flag's kind, title)
    (FOLLOW_UP, N_("Overdue follow-ups")),
    (STALE, N_("Stale deals")),
)


def plan_digest(state: SyncState) -> SyncState:
    at = state.settings["Digest at"]
    if at is None or "digest" in state.frozen or not state.config.team:
        return state
    now = state.now.replace(tzinfo=None)
    due = datetime.combine(now.date(), time()) + timedelta(minutes=at)
    if now < due:
        return state  # today's comes later; yesterday's was planned yesterday
    frame = state.view
    owner = frame.keys("Owner")
    lists = []
    for kind, title in _SECTIONS:
        mask = np.zeros(len(frame), dtype=bool)
        for rows, _column, messages, _hint in state.flags:
            picked = [int(r) for r, m in zip(rows, messages, strict=True) if is_flag(m, kind)]
            mask[picked] = True
        lists.append((_(title), mask))
    since = due - timedelta(days=1)
    assigned = frame.dates("Assigned at")
    assigned = np.where(np.isnat(assigned), frame.dates("Created at"), assigned)
    fresh = (assigned >= np.datetime64(since, "ns")) & (assigned < np.datetime64(due, "ns"))
    lists.append((_("New leads since %(since)s") % {"since": format_datetime(since)}, fresh))
    names = LeadNames(state)
    day = now.date().isoformat()
    for member in state.config.team:
        if not member.active or not member.email:
            continue
        mine = owner == norm_header(member.name)
        found = [(title, np.flatnonzero(mask & mine)) for title, mask in lists]
        if not any(len(rows) for _title, rows in found):
            continue  # nothing to say: no e-mail
        lines = [_("Your leads on %(day)s (%(name)s):") % {"day": day, "name": member.name}]
        for title, rows in found:
            if not len(rows):
                continue
            named = [f"{state.ids[r]} {names[int(r)]}".strip() for r in rows[:LISTED]]
            more = (
                "; " + _("… and %(more)s more") % {"more": len(rows) - LISTED}
                if len(rows) > LISTED
                else ""
            )
            lines.append(f"{title} ({len(rows)}): {'; '.join(named)}{more}")
        counts = _counts(*(len(rows) for _title, rows in found))
        state.plan.notifications.append(
            Notification(
                0,
                "",
                EVENT,
                day,
                member.email,
                "email",
                "\n".join(lines),
                one_line(
                    _("Your sheetcrm digest for %(day)s: %(counts)s")
                    % {"day": day, "counts": counts},
                    150,
                ),
            )
        )
    return state


def _counts(overdue: int, stale: int, new: int) -> str:
    """The subject's counts: "2 overdue, 0 stale, 1 new"."""
    return ", ".join(
        (
            ngettext("%(count)d overdue", "%(count)d overdue", overdue) % {"count": overdue},
            ngettext("%(count)d stale", "%(count)d stale", stale) % {"count": stale},
            ngettext("%(count)d new", "%(count)d new", new) % {"count": new},
        )
    )
