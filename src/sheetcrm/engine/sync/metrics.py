"""Step ``metrics``: the metric tabs, rewritten only when a figure changes (metric_tabs.py)."""

from __future__ import annotations

from sheetcrm.engine.metric_tabs import digest, metric_tabs
from sheetcrm.engine.schema import PREVIEW, SCORING_CHECK, STATE
from sheetcrm.engine.scoring_check import scoring_check
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.sync.tabs import METRICS_KEY, state_value


def plan_metrics(state: SyncState) -> SyncState:
    snapshot = state.snapshot
    shown = state_value(snapshot.table(STATE.name), METRICS_KEY)
    state.metrics_digest = shown
    if not state.with_metrics:  # web-form intake: the next sync updates them
        return state
    tabs = metric_tabs(
        snapshot,
        state.data,
        state.config,
        state.now,
        state.plan.history,
        state.flags,
        state.frozen,
        state.activities,
        state.logged,
        state.frame,
    )
    computed = not (state.frozen & {"stages", "metrics"})  # else each tab says why not
    if computed and state.config.stages:
        tabs[SCORING_CHECK.name] = scoring_check(state.data, state.config, state.stamp)
    if computed and state.plan.preview is not None:
        tabs[PREVIEW.name] = state.plan.preview
    state.metrics_digest = digest(tabs)
    if state.metrics_digest != shown or not all(map(snapshot.get, tabs)):
        state.plan.replace.update(tabs)
    return state
