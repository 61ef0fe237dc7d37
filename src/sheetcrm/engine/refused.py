"""A sync whose write the sheet refused, said at the top of Problems.

A refused write changes nothing, and a manager only sees scores, owners and stamps stop
changing: at Google's 10-million-cell cap, every sync that needed a History row more was
refused, in silence (issue 21). The service then writes the Problems tab alone, as it is with
one row on top: a tab rewritten in place needs no new cell, where the sync needed many. The
next sync that is saved rewrites Problems, and the row is gone. Pure: no I/O.
"""

from __future__ import annotations

from datetime import UTC, tzinfo

from sheetcrm.engine.catalog import N_, _, speaking
from sheetcrm.engine.schema import LEADS, PROBLEMS
from sheetcrm.engine.settings_tab import sheet_language
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.engine.waiting import Waiting, is_waiting_banner, reason, waiting_banners

UNSAVED = N_("the last sync could not be saved: %(why)s")


def refused_problems(
    snapshot: Snapshot,
    error: str,
    stamp: str,
    waiting: Waiting | None = None,
    zone: tzinfo = UTC,
) -> Table:
    """The Problems tab of ``snapshot``, in its header order, under a row saying why the
    sync of ``stamp`` could not be saved (in place of the row an earlier refusal left).
    ``waiting``: the web submissions this sync counted (engine/waiting.py; ``zone`` the
    sheet's time zone), told under it in place of what the last sync saved said: at the
    cap the flushes are refused too, and the count grows while every sync is refused."""
    with speaking(sheet_language(snapshot)):
        why, fix = reason(error, _("whoever runs the service finds the details in its log"))
        problem = _(UNSAVED) % {"why": why}
        hint = _(
            "tried at %(stamp)s; none of it was written: scores, owners and stamps wait for "
            "a sync that can be saved; %(fix)s"
        ) % {"stamp": stamp, "fix": fix}
        earlier = _(UNSAVED) % {"why": ""}
        told = waiting_banners(waiting, zone)
        current = snapshot.get(PROBLEMS.name)
        records = current.records() if current is not None else []
        kept = [
            r
            for r in records
            if not r.get("Problem", "").startswith(earlier)
            and (waiting is None or not is_waiting_banner(r.get("Problem", "")))
        ]
    first = {r.get("Problem", ""): r.get("At", "") for r in reversed(records)}
    rows = [(LEADS.name, LEADS.name, problem, hint)]
    rows += [(p.tab, p.cell, p.problem, p.hint) for p in told]
    top = [
        {"At": first.get(text) or stamp, "Tab": tab, "Cell": cell, "Problem": text, "Hint": why}
        for tab, cell, text, why in rows
    ]
    header = current.header if current is not None and current.header else PROBLEMS.headers
    return Table(header, [[r.get(h, "") for h in header] for r in (*top, *kept)])
