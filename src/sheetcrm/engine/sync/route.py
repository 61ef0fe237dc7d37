"""Step ``route``: leads without an owner get one from the Routing tab, with a why in History;
owners who are not on the Team tab, and Assigned at stamps in the future, are reported."""

from __future__ import annotations

from datetime import UTC

import numpy as np
import pandas as pd

from sheetcrm.engine.catalog import _
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.rotations import ROTATING, read_turns
from sheetcrm.engine.routing import Assignment, route
from sheetcrm.engine.routing_tab import RoutingRule
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.values import shown


def route_leads(state: SyncState) -> SyncState:
    if "routing" in state.frozen:
        return state
    _future_stamps(state)
    if not state.config.team:
        return state
    _assign(state)
    _unknown_owners(state)
    return state


def plan_routes(state: SyncState, frame: Frame, rules: list[RoutingRule]) -> list[Assignment]:
    """Who each lead without an Owner in ``frame`` gets under ``rules``: the route step's,
    and the rule preview's with the draft rules (on a frame of their scores)."""
    config, rank = state.config, state.rank
    stages = {norm_header(s.name): s for s in config.stages}
    is_open = frame.per_key("Stage", lambda k: k not in stages or stages[k].type == "open")
    unowned = np.flatnonzero(frame.blank("Owner"))
    # oldest first, then by Lead ID: arrival order, whatever order the rows are sorted in
    created = frame.dates("Created at").astype("int64")
    order = unowned[np.lexsort((rank[unowned], created[unowned]))].tolist()
    settings = config.settings
    rotating = bool(order) and any(r.strategy in ROTATING for r in rules)
    turns = read_turns(state.logged, frame.now) if rotating else {}
    originals = _originals(state) if order and settings["Duplicates to original owner"] else None
    return route(
        frame,
        order,
        rules,
        config.team,
        settings["Fallback owner"],
        is_open,
        turns,
        originals,
        elsewhere=state.open_elsewhere,
    )


def _assign(state: SyncState) -> None:
    data = state.data
    assignments = plan_routes(state, state.view, state.config.routing)
    owners = data["Owner"].to_numpy(dtype=object, copy=True)
    assigned_at = data["Assigned at"].to_numpy(dtype=object, copy=True)
    unowned_rows: list[int] = []
    unowned_why: list[str] = []
    for a in assignments:
        if a.owner:
            owners[a.row], assigned_at[a.row] = a.owner, state.stamp
            state.routed.append(a.row)
            state.history(a.row, "Owner", "", a.owner, a.why, "Owner")
            state.plan.summary.routed += 1
        else:
            unowned_rows.append(a.row)
            unowned_why.append(a.why)
    if unowned_rows:
        hint = _("add people to the Team tab, raise a Daily capacity, or set a Fallback owner")
        state.problems.append((np.array(unowned_rows), "Owner", unowned_why, hint))
    state.put("Owner", owners)
    state.put("Assigned at", assigned_at)


def _unknown_owners(state: SyncState) -> None:
    frame = state.view
    team = {norm_header(m.name) for m in state.config.team}
    owner = frame.values("Owner")  # tested per distinct name; texts only for the rows said
    unknown = (~frame.blank("Owner")) & ~frame.per_key("Owner", team.__contains__)
    if unknown.any():
        rows = np.flatnonzero(unknown)
        names = owner.text.to_numpy(dtype=object)[owner.codes[rows]]
        state.problems.append(
            (
                rows,
                "Owner",
                [_("%(name)s is not on the Team tab") % {"name": shown(o)} for o in names],
                _("pick a name from the Team tab, or add the person there"),
            )
        )


def _originals(state: SyncState) -> np.ndarray:
    """Per lead, the row of the lead its Duplicate of names; -1 for none."""
    named = state.view.values("Duplicate of")
    wanted = {t: i for i, t in enumerate(named.text) if t}  # each distinct text once
    row_of = np.full(len(named.text), -1, dtype=np.int64)
    if wanted:
        # the leads whose ID is named, found in C (pandas' hash table of the few names); a
        # loop over every lead was 15 ms of a 100,000-lead re-sync
        ids = state.data["Lead ID"].to_numpy(dtype=object)  # state.ids, as a column
        named_rows = np.flatnonzero(pd.Series(ids, copy=False).isin(list(wanted)).to_numpy())
        for row, lead_id in zip(named_rows.tolist(), ids[named_rows].tolist(), strict=True):
            row_of[wanted[lead_id]] = row  # the last lead of an ID, as a dict would keep
    return named.take(row_of)


def _future_stamps(state: SyncState) -> None:
    """An Assigned at after now is a typo (2062 for 2026) or was written on another clock
    (the Time zone setting changed since): it is said, and counts toward no day."""
    frame = state.view
    # instants, not wall times: in the hour clocks go back, 02:45 may come before 02:15
    now = np.datetime64(frame.clock.astimezone(UTC).replace(tzinfo=None), "ns")
    future = np.flatnonzero(frame.instants("Assigned at") > now)
    if len(future):
        text = frame.text("Assigned at").to_numpy(dtype=object)
        state.problems.append(
            (
                future,
                "Assigned at",
                [_("%(value)s is in the future") % {"value": shown(t)} for t in text[future]],
                _(
                    "type when the lead was assigned, or empty the cell; if the Time zone "
                    "setting changed, stamps written before are read on the new clock"
                ),
            )
        )
