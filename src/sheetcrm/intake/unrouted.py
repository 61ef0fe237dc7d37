"""Which leads without an owner a flush can leave out of its plan (intake/append_plan.py).

A sync routes every lead without an owner, oldest first, so a new web lead comes after the
sheet's own backlog: each of those given an owner first takes a place of someone's daily
capacity, or a rotation's turn. A lead the route cannot give one takes nothing: the rule it
matches names nobody free (inactive, away, or at their daily capacity) by its turn, nor is
the fallback owner free. Which those are is found by the route step itself, run on every
lead's routing columns as read: the leads it gives an owner are planned with the new rows,
the others leave loads and turns as they are, and the new rows are routed as with them. A team at
capacity keeps a backlog of such leads (40,000 of the bench's 100,000): a flush plans none.

Told only where the routing rules read columns the sync does not write (a rule on Score or
Grade needs each lead scored first): else every lead without an owner is planned.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from sheetcrm.engine.config import Config
from sheetcrm.engine.frame import EMAIL_DOMAIN, Frame
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.schema import FILLED_FROM_ACTIVITIES, canonical_header, service_columns
from sheetcrm.engine.sync import local_now
from sheetcrm.engine.sync.ids import id_rank
from sheetcrm.engine.sync.route import plan_routes
from sheetcrm.engine.sync.state import LeftOut, SyncState
from sheetcrm.engine.table import Snapshot, Table, norm_header
from sheetcrm.engine.validation import Memo
from sheetcrm.intake.batch import cells


def stuck(
    snapshot: Snapshot,
    leads: Table,
    rows: np.ndarray,
    today: np.ndarray,
    config: Config,
    now: datetime,
) -> np.ndarray:
    """Per row of ``rows`` (positions of leads without an owner), whether the route step
    gives it none now: the step itself (sync/route.py plan_routes) run on their routing
    columns as read, with the leads that count toward someone's day (``today``, per row of
    Leads) and those they duplicate beside them, History's turns, and the open leads of the
    others counted for a "least loaded" team."""
    if "routing" in config.frozen or not config.team:
        return np.ones(len(rows), dtype=bool)  # the route step plans nobody
    fields = {c.field for rule in config.routing for c in rule.conditions}
    fields = {"Email" if f == EMAIL_DOMAIN else f for f in fields}
    written = {*service_columns(), *FILLED_FROM_ACTIVITIES}
    if any(canonical_header(f) in written for f in fields):
        return np.zeros(len(rows), dtype=bool)
    named = {d.strip() for d in cells(leads, "Duplicate of", rows.tolist())} - {""}
    held = today.copy()
    held[rows] = True
    if named:
        held |= np.array([i.strip() in named for i in cells(leads, "Lead ID")], dtype=bool)
    picked = np.flatnonzero(held)
    settings = config.settings
    data = pd.DataFrame(
        {f: pd.Series(cells(leads, f, picked.tolist()), dtype=object) for f in {*fields, *_ROUTED}},
        dtype=object,
    )
    clock = local_now(now, config)
    state = SyncState(
        snapshot=snapshot,
        config=config,
        plan=Plan(snapshot.version),
        now=clock,
        stamp="",
        memo=None,
        with_metrics=False,
        frozen=set(config.frozen),
        data=data,
        frame=Frame(data, clock, settings.dayfirst, settings.decimal),
        left_out=LeftOut(open_leads(leads, np.flatnonzero(~held), config, now)),
    )
    ids = [i.strip() for i in data["Lead ID"].tolist()]
    state.rank = id_rank(ids, Memo())
    given = {int(picked[a.row]) for a in plan_routes(state, state.view, config.routing) if a.owner}
    return ~np.isin(rows, np.fromiter(given, np.int64, len(given)))  # type: ignore[no-any-return]


_ROUTED = ("Lead ID", "Owner", "Assigned at", "Created at", "Stage", "Duplicate of")
"""What the route step reads of every lead beside its rules' columns."""


def open_leads(leads: Table, rows: np.ndarray, config: Config, now: datetime) -> dict[str, int]:
    """Open leads per owner (norm_header of the name, as routing counts them) on ``rows``: a
    "least loaded" team's candidates are ranked by them (routing.py _load)."""
    data = pd.DataFrame(
        {
            c: pd.Series(np.array(cells(leads, c), dtype=object)[rows], dtype=object)
            for c in ("Owner", "Stage")
        }
    )
    settings = config.settings
    frame = Frame(data, local_now(now, config), settings.dayfirst, settings.decimal)
    stages = {norm_header(s.name): s for s in config.stages}
    is_open = frame.per_key("Stage", lambda k: k not in stages or stages[k].type == "open")
    owner = frame.values("Owner")
    per_text = np.bincount(owner.codes[is_open], minlength=len(owner.keys))
    counts: dict[str, int] = {}
    for code in np.flatnonzero(per_text).tolist():
        if key := owner.keys[code]:
            counts[key] = counts.get(key, 0) + int(per_text[code])
    return counts
