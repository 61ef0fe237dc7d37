"""Step ``stages``: stage changes stamped and logged; stale deals, missed first touches and
overdue next actions flagged (engine/stages.py does the tracking)."""

from __future__ import annotations

from sheetcrm.engine.schema import SERVICE_BY, SHEET_BY
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
        state.logged,
        config.settings["First-touch SLA hours"],
        config.settings.calendar,
    )
    state.put("Stage changed at", result.changed_at.to_numpy())
    state.put("Closed at", result.closed_at.to_numpy())
    state.put("First touch at", result.first_touch_at.to_numpy())
    state.problems += result.problems
    state.flags += result.flags
    for e in result.events:
        # a change seen happening is a person's, in the sheet; a lead first seen is ours to log
        stamp, by = ("Stage changed at", SHEET_BY) if e.observed else ("", SERVICE_BY)
        state.history(e.row, "Stage", e.before, e.after, e.why, stamp, by)
    state.plan.summary.stage_changes = sum(1 for e in result.events if e.observed)
    return state
