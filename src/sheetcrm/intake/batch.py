"""Plan the append of a batch of web-form leads: already cleaned records in, one Plan out.

The batch is planned as a sync of the sheet with the new rows already under the last
one, so that a web lead is validated, de-duplicated, scored, routed and stamped by exactly
the rules a sync applies, and the sheet's own rows get their usual sync in the same write.
The new rows then leave the plan's cell writes and become appends, complete with their
service cells. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from operator import itemgetter

import numpy as np

from sheetcrm.engine.config import parse_config
from sheetcrm.engine.plan import Plan, find_column
from sheetcrm.engine.schema import LEADS, service_columns
from sheetcrm.engine.sync import LeftOut, local_now, plan_sync
from sheetcrm.engine.table import Snapshot, Table, norm_header
from sheetcrm.engine.validation import Memo
from sheetcrm.engine.values import clamp, format_datetime
from sheetcrm.engine.waiting import Waiting

KEY_COLUMN = "Submission ID"


@dataclass(frozen=True)
class Arrival:
    key: str  # the submission's idempotency key, kept in the Submission ID column
    record: dict[str, str]  # Leads header -> value, as the form mapping made it
    received: datetime  # when the service accepted it (aware): the lead's Created at


@dataclass
class IntakePlan:
    plan: Plan
    lead_ids: dict[str, str] = field(default_factory=dict)  # key -> Lead ID, appended now
    already: dict[str, str] = field(default_factory=dict)  # key -> Lead ID, in the sheet before
    blocked: str = ""  # why nothing can be appended now ("" when it can)


def sheet_keys(leads: Table) -> dict[str, str]:
    """Submission ID -> Lead ID for every row the sheet already has from a web form."""
    key_col = find_column(leads, KEY_COLUMN)
    if key_col is None:
        return {}
    id_col = find_column(leads, "Lead ID")
    return {
        row[key_col].strip(): row[id_col].strip() if id_col is not None else ""
        for row in leads.rows
        if row[key_col].strip()
    }


def cells(leads: Table, name: str, rows: list[int] | None = None) -> list[str]:
    """A Leads column's cells by its canonical header (of ``rows`` only, positions, when
    given), "" for each row where it has none."""
    i = find_column(leads, name)
    picked = leads.rows if rows is None else [leads.rows[r] for r in rows]
    if i is None:
        return [""] * len(picked)
    try:  # every row as wide as the header, as read: in C
        return list(map(itemgetter(i), picked))
    except IndexError:  # a row shorter than the header: a row edited since
        return [row[i] if i < len(row) else "" for row in picked]


def record_value(record: dict[str, str], name: str) -> str:
    """A new row's value for a Leads column, by its canonical header."""
    canonical = _canonical(name)
    return next((v for k, v in record.items() if _canonical(k) == canonical), "")


def plan_intake(
    snapshot: Snapshot,
    arrivals: list[Arrival],
    now: datetime,
    memo: Memo | None = None,
    left_out: LeftOut | None = None,
    waiting: Waiting | None = None,
) -> IntakePlan:
    """``left_out``: what the plan needs of the Leads rows left blank in ``snapshot``
    (intake/append_plan.py: the rows a new lead's plan does not read). ``waiting``: what
    the outbox holds that the sheet refused, kept on the Problems tab the plan rewrites."""
    leads = snapshot.get(LEADS.name)
    if leads is None:
        return IntakePlan(
            Plan(snapshot.version), blocked="the sheet has no Leads tab; run sheetcrm init"
        )
    found = sheet_keys(leads)
    result = IntakePlan(Plan(snapshot.version))
    unique: dict[str, Arrival] = {}  # a key twice in the batch is appended once
    for arrival in arrivals:
        if arrival.key in found:
            result.already[arrival.key] = found[arrival.key]
        else:
            unique.setdefault(arrival.key, arrival)
    fresh = list(unique.values())
    config = parse_config(snapshot)
    header, added = lead_header(leads, fresh)
    slots = [_slot(h) for h in header]
    # the sheet's own rows as read, unless columns are added: a copy of each was ~40 MB at
    # 100,000 leads, at the peak of a flush (issue 21); the plan reads rows, never writes them
    rows = [[*row, *[""] * len(added)] for row in leads.rows] if added else list(leads.rows)
    for arrival in fresh:
        # cut here, where the sheet's own cell is known: the sync below then reports the cut
        values = {_slot(k): clamp(v, snapshot.cell_limit) for k, v in arrival.record.items()}
        values[_slot(KEY_COLUMN)] = arrival.key
        values.setdefault(_slot("Created at"), format_datetime(local_now(arrival.received, config)))
        rows.append([values.get(s, "") for s in slots])
    tabs = {
        name: (Table(header, rows) if table is leads else table)
        for name, table in snapshot.tabs.items()
    }
    if left_out is not None and left_out.rows is not None:  # the new rows are held too
        new = np.arange(len(leads.rows), len(rows), dtype=np.int64)
        left_out = replace(left_out, rows=np.concatenate([left_out.rows, new]))
    plan = plan_sync(
        replace(snapshot, tabs=tabs), now, memo, metrics=False, left_out=left_out, waiting=waiting
    )
    result.plan = plan
    _move_new_rows(plan, first=len(leads.rows), header=header, rows=rows)
    plan.new_columns = [*added, *(c for c in plan.new_columns if c not in added)]
    for arrival, record in zip(fresh, plan.appends, strict=True):
        result.lead_ids[arrival.key] = record.get("Lead ID", "")
    return result


# Cached: a flush asks for every cell of its new rows (issue 21: 88,000 calls, 0.3 s, for
# 4,000 leads), and a header's canonical spelling never changes.
@lru_cache(maxsize=1024)
def _canonical(header: str) -> str:
    spec = LEADS.column(header)
    return spec.header if spec else header.strip()


@lru_cache(maxsize=1024)
def _slot(header: str) -> str:
    return norm_header(_canonical(header))


def lead_header(leads: Table, fresh: list[Arrival]) -> tuple[list[str], list[str]]:
    """The Leads header, plus the columns that the sheet lacks and a new row needs."""
    have = {_slot(h) for h in leads.header}
    added: list[str] = []
    for name in [KEY_COLUMN, *service_columns(), *(k for a in fresh for k in a.record)]:
        if _slot(name) not in have:
            have.add(_slot(name))
            added.append(_canonical(name))
    return [*leads.header, *added], added


def _move_new_rows(plan: Plan, first: int, header: list[str], rows: list[list[str]]) -> None:
    """Take the rows at and after ``first`` out of the plan's cell writes, into appends
    (records by canonical header, as :func:`sheetcrm.engine.plan.resolve` reads them)."""
    new_at = {i: key.row - first for i, key in plan.keys.items() if key.row >= first}
    columns = [_canonical(h) for h in header]
    records = [dict(zip(columns, row, strict=True)) for row in rows[first:]]
    for w in plan.writes:
        keep = [n for n, pos in enumerate(w.rows) if int(pos) not in new_at]
        for n, pos in enumerate(w.rows):
            if int(pos) in new_at:
                records[new_at[int(pos)]][w.column] = w.new[n]
        w.rows = w.rows[keep]
        w.old = [w.old[n] for n in keep]
        w.new = [w.new[n] for n in keep]
    plan.writes = [w for w in plan.writes if len(w.rows)]
    # History of a new row is written with it: nothing in the sheet to check it against.
    plan.history.unkeyed(new_at)
    plan.keys = plan.keys.without(new_at)
    plan.appends = records
