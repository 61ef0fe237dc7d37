"""Step ``route``: leads without an owner get one from the Routing tab, with a why in History;
owners who are not on the Team tab are reported."""

from __future__ import annotations

import numpy as np

from sheetcrm.engine.routing import route
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.values import shown


def route_leads(state: SyncState) -> SyncState:
    if "routing" in state.frozen or not state.config.team:
        return state
    _assign(state)
    _unknown_owners(state)
    return state


def _assign(state: SyncState) -> None:
    data, config, frame, rank = state.data, state.config, state.view, state.rank
    stages = {norm_header(s.name): s for s in config.stages}
    is_open = frame.per_key("Stage", lambda k: k not in stages or stages[k].type == "open")
    unowned = [int(r) for r in np.flatnonzero(frame.blank("Owner"))]
    # oldest first, then by Lead ID: arrival order, whatever order the rows are sorted in
    created = frame.dates("Created at").astype("int64")
    order = sorted(unowned, key=lambda r: (created[r], rank[r]))
    assignments = route(
        frame, order, config.routing, config.team, config.settings["Fallback owner"], is_open, rank
    )
    owners = data["Owner"].to_numpy(dtype=object, copy=True)
    assigned_at = data["Assigned at"].to_numpy(dtype=object, copy=True)
    unowned_rows: list[int] = []
    unowned_why: list[str] = []
    for a in assignments:
        if a.owner:
            owners[a.row], assigned_at[a.row] = a.owner, state.stamp
            state.history(a.row, "Owner", "", a.owner, a.why, "Owner")
            state.plan.summary.routed += 1
        else:
            unowned_rows.append(a.row)
            unowned_why.append(a.why)
    if unowned_rows:
        hint = "add people to the Team tab, raise a Daily capacity, or set a Fallback owner"
        state.problems.append((np.array(unowned_rows), "Owner", unowned_why, hint))
    state.put("Owner", owners)
    state.put("Assigned at", assigned_at)


def _unknown_owners(state: SyncState) -> None:
    frame = state.view
    team = {norm_header(m.name) for m in state.config.team}
    owner = frame.text("Owner")
    unknown = (~frame.blank("Owner")) & ~frame.per_key("Owner", team.__contains__)
    if unknown.any():
        state.problems.append(
            (
                np.flatnonzero(unknown),
                "Owner",
                [f"{shown(o)} is not on the Team tab" for o in owner[unknown]],
                "pick a name from the Team tab, or add the person there",
            )
        )
