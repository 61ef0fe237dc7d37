"""Step ``stages``: stage changes stamped and logged; stale deals, missed first touches and
overdue next actions flagged (engine/stages.py does the tracking)."""

from __future__ import annotations

from sheetcrm.engine.schema import HISTORY
from sheetcrm.engine.stages import track
from sheetcrm.engine.sync.state import SyncState


def track_stages(state: SyncState) -> SyncState:
    config = state.config
    if "stages" in state.frozen or not config.stages:
        return state
    result = track(
        state.view,
        state.ids,
        state.arrived,
        config.stages,
        state.snapshot.table(HISTORY.name),
        config.settings["First-touch SLA hours"],
    )
    state.put("Stage changed at", result.changed_at.to_numpy())
    state.put("Closed at", result.closed_at.to_numpy())
    state.put("First touch at", result.first_touch_at.to_numpy())
    state.problems += result.problems
    state.flags += result.flags
    for e in result.events:
        state.history(
            e.row, "Stage", e.before, e.after, e.why, "Stage changed at" if e.observed else ""
        )
    state.plan.summary.stage_changes = sum(1 for e in result.events if e.observed)
    return state
