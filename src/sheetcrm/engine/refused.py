"""A sync whose write the sheet refused, said at the top of Problems.

A refused write changes nothing, and a manager only sees scores, owners and stamps stop
changing: at Google's 10-million-cell cap, every sync that needed a History row more was
refused, in silence (issue 21). The service then writes the Problems tab alone, as it is with
one row on top: a tab rewritten in place needs no new cell, where the sync needed many. The
next sync that is saved rewrites Problems, and the row is gone. Pure: no I/O.
"""

from __future__ import annotations

from sheetcrm.engine.catalog import _, speaking
from sheetcrm.engine.schema import LEADS, PROBLEMS
from sheetcrm.engine.settings_tab import sheet_language
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.engine.waiting import reason


def refused_problems(snapshot: Snapshot, error: str, stamp: str) -> Table:
    """The Problems tab of ``snapshot``, in its header order, under a row saying why the
    sync of ``stamp`` could not be saved (in place of the row an earlier refusal left)."""
    with speaking(sheet_language(snapshot)):
        why, fix = reason(error, _("whoever runs the service finds the details in its log"))
        problem = _("the last sync could not be saved: %(why)s") % {"why": why}
        hint = _(
            "tried at %(stamp)s; none of it was written: scores, owners and stamps wait for "
            "a sync that can be saved; %(fix)s"
        ) % {"stamp": stamp, "fix": fix}
        earlier = _("the last sync could not be saved: %(why)s") % {"why": ""}
    current = snapshot.get(PROBLEMS.name)
    records = current.records() if current is not None else []
    kept = [r for r in records if not r.get("Problem", "").startswith(earlier)]
    at = next((r.get("At", "") for r in records if r.get("Problem") == problem), "") or stamp
    top = {"At": at, "Tab": LEADS.name, "Cell": LEADS.name, "Problem": problem, "Hint": hint}
    header = current.header if current is not None and current.header else PROBLEMS.headers
    return Table(header, [[r.get(h, "") for h in header] for r in (top, *kept)])
