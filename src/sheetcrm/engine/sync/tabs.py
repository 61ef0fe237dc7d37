"""The tabs a sync rewrites whole: Problems, and the hidden state tab (next Lead ID, what the
metric tabs show, where the drop-downs and highlighting go)."""

from __future__ import annotations

from sheetcrm.engine.catalog import _, ngettext
from sheetcrm.engine.look import planned_look
from sheetcrm.engine.notifications import NOTIFIED_KEY, write_token
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.schema import LEADS, PROBLEMS, STATE
from sheetcrm.engine.sync.ids import NEXT_ID_KEY
from sheetcrm.engine.table import Snapshot, Table

METRICS_KEY = "metrics digest"  # what the metric tabs show, but for their "as of" time
# Where the look's columns are (engine/look.py): when one moves or is added, the changed key
# makes this sync write, and a backend that keeps the look up to date at writes redoes it.
LOOK_KEY = "look"


def problems_tab(plan: Plan, snapshot: Snapshot, stamp: str) -> None:
    """Rewrite Problems when what is wrong changed; a problem keeps the At it was first seen,
    found by its lead (a sort moves its cell) or, for the rest, by its cell. A tab with an
    older header is rewritten whole, in the new one."""
    current = snapshot.get(PROBLEMS.name)
    by_cell: dict[tuple[str, str, str], str] = {}  # (tab, cell, problem) -> At
    by_lead: dict[tuple[str, str, str], str] = {}  # (tab, lead, problem) -> At
    if current is not None:
        for rec in current.records():
            at, tab, problem = rec.get("At", ""), rec.get("Tab", ""), rec.get("Problem", "")
            by_cell.setdefault((tab, rec.get("Cell", ""), problem), at)
            if rec.get("Lead"):
                by_lead[(tab, rec["Lead"], problem)] = at
    rows = []
    listed = [*plan.banners, *plan.problems]
    more = plan.summary.problems - len(plan.problems)
    if more > 0:
        listed.append(
            Problem(
                LEADS.name,
                LEADS.name,
                ngettext("... and %(n)d more row problem", "... and %(n)d more row problems", more)
                % {"n": more},
                _("each row's Status cell says what is wrong"),
            )
        )
    for p in listed:
        at = (
            (p.lead and by_lead.get((p.tab, p.lead, p.problem)))
            or by_cell.get((p.tab, p.cell, p.problem))
            or stamp
        )
        rows.append([at, p.tab, p.cell, p.lead, p.problem, p.hint])
    table = Table(PROBLEMS.headers, rows)
    if current is None or current.rows != table.rows or current.header != table.header:
        plan.replace[PROBLEMS.name] = table


def state_value(state: Table, key: str) -> str:
    """The value of ``key`` on the hidden state tab, or ""."""
    values = zip(state.column("Key"), state.column("Value"), strict=True)
    return next((v.strip() for k, v in values if k.strip().casefold() == key), "")


def state_tab(
    plan: Plan,
    snapshot: Snapshot,
    counter: int,
    metrics_digest: str,
    last_good: list[list[str]] | None = None,
) -> None:
    """Rewrite the hidden state tab when a value changed; ``last_good``: the rows keeping
    the last valid version of each rule tab (last_good.py)."""
    current = snapshot.get(STATE.name)
    look = planned_look(snapshot, plan.new_columns).key()
    rows = [[NEXT_ID_KEY, str(counter)], [METRICS_KEY, metrics_digest], [LOOK_KEY, look]]
    # Written in the same request as the History rows and cells whose events they are, so
    # that the next read proves this write landed (sheetcrm.notify.outbox: settle). Kept as
    # it was by a write that plans none: a sync with nothing new still writes nothing.
    notified = (
        write_token(plan.stamp, plan.notifications)
        if plan.notifications
        else (state_value(current, NOTIFIED_KEY) if current is not None else "")
    )
    if notified:
        rows.append([NOTIFIED_KEY, notified])
    rows += last_good or []
    table = Table(STATE.headers, rows)
    if current is None or current.rows != table.rows:
        plan.replace[STATE.name] = table
