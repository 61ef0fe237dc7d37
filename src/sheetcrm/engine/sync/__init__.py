"""``plan_sync(snapshot, now) -> Plan``: what one sync changes, planned without I/O.

A sync is an ordered list of named steps, each a function that takes the planning state
(:class:`~sheetcrm.engine.sync.state.SyncState`) and returns it: adding a step is adding
one entry to ``STEPS`` and one module, and a benchmark can time each step by its name.
``begin`` parses the rule tabs and lays out the leads; ``finish`` fills in the Problems and
state tabs and the summary. Only cells whose value changes are planned, so a second sync
with no edit plans nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sheetcrm.engine.bulk import gc_paused
from sheetcrm.engine.catalog import speaking
from sheetcrm.engine.notifications import SentRecord
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.settings_tab import sheet_language
from sheetcrm.engine.sync.activities import apply_activities
from sheetcrm.engine.sync.alerts import plan_alerts
from sheetcrm.engine.sync.begin import begin
from sheetcrm.engine.sync.cut import report_cut_text
from sheetcrm.engine.sync.diff import diff
from sheetcrm.engine.sync.digest import plan_digest
from sheetcrm.engine.sync.hold import hold_notifications
from sheetcrm.engine.sync.ids import assign_ids
from sheetcrm.engine.sync.keys import report_reused_keys
from sheetcrm.engine.sync.metrics import plan_metrics
from sheetcrm.engine.sync.preview import preview_drafts
from sheetcrm.engine.sync.reassigned import note_reassignments
from sheetcrm.engine.sync.route import route_leads
from sheetcrm.engine.sync.rules_in_use import banners, kept_rows
from sheetcrm.engine.sync.score import score_leads
from sheetcrm.engine.sync.sent import log_sent
from sheetcrm.engine.sync.sequences import plan_sequences
from sheetcrm.engine.sync.sla import reassign_untouched
from sheetcrm.engine.sync.stages import track_stages
from sheetcrm.engine.sync.state import LeftOut, SyncState, local_now
from sheetcrm.engine.sync.status import write_status
from sheetcrm.engine.sync.tabs import problems_tab, state_tab
from sheetcrm.engine.sync.validate import mark_duplicates, validate
from sheetcrm.engine.sync.win import estimate_wins
from sheetcrm.engine.table import Snapshot
from sheetcrm.engine.validation import Memo
from sheetcrm.engine.waiting import Waiting, waiting_banners

Step = Callable[[SyncState], SyncState]

STEPS: list[tuple[str, Step]] = [
    ("ids", assign_ids),
    ("validate", validate),
    ("duplicates", mark_duplicates),
    ("cut", report_cut_text),
    ("keys", report_reused_keys),
    # before scoring and routing: a rule may test Last contact or Next action date
    ("activities", apply_activities),
    ("score", score_leads),
    ("win", estimate_wins),  # after score: Grade may be one of its fields
    ("reassigned", note_reassignments),
    ("route", route_leads),
    ("stages", track_stages),
    # after route and stages: compares the owners and Closed at they leave; before sla
    ("preview", preview_drafts),
    ("sla", reassign_untouched),
    # after sla (the owner, the e-mails' sender, is final), before alerts
    ("sequences", plan_sequences),
    ("alerts", plan_alerts),
    ("digest", plan_digest),
    ("hold", hold_notifications),
    ("sent", log_sent),
    ("status", write_status),
    ("metrics", plan_metrics),
    ("diff", diff),
]

__all__ = ["STEPS", "LeftOut", "Step", "SyncState", "begin", "finish", "local_now", "plan_sync"]


@gc_paused()
def plan_sync(
    snapshot: Snapshot,
    now: datetime,
    memo: Memo | None = None,
    metrics: bool = True,
    sent: Sequence[SentRecord] = (),
    left_out: LeftOut | None = None,
    waiting: Waiting | None = None,
) -> Plan:
    """Plan one sync of ``snapshot`` at ``now``. Pure: no I/O, no clock, never raises on data.
    ``metrics=False`` leaves the metric tabs as they are (web-form intake: the next sync
    updates them, so that appending leads costs no chart or format requests). ``sent``: the
    messages the sender reports since, logged on the Notifications tab (once each, by key).
    ``left_out``: the snapshot's Leads holds only some of the sheet's rows, the others blank
    (a flush's new rows and those they depend on): what the plan needs of the others.
    ``waiting``: web submissions the service holds that the sheet keeps refusing, or set
    aside, told at the top of Problems (engine/waiting.py)."""
    # Settings' Language first: every problem, hint and Status of this sync is in it
    with speaking(sheet_language(snapshot)):
        state = begin(snapshot, now, memo, metrics, left_out)
        state.sent, state.waiting = sent, waiting
        if not state.stopped:
            for name, step in STEPS:
                if name == "diff":
                    # the typed columns and the Activities and History frames are for the
                    # steps before it: let them go before diff makes the plan's per-row
                    # objects, so that the two never peak together (about 20 MB at 100,000
                    # leads)
                    state.frame = state.activities = state.touches = None
                    state.history_frame = None
                state = step(state)
        return finish(state)


def finish(state: SyncState) -> Plan:
    """The plan, with the Problems tab, the hidden state tab and the summary filled in."""
    plan = state.plan
    told = waiting_banners(state.waiting, state.config.settings.zone)
    if state.stopped:
        plan.banners = told
        plan.summary.problems = len(plan.problems)
        problems_tab(plan, state.snapshot, state.stamp)
        return plan
    # History rows in sheet order of their leads, stage entries after routing ones.
    plan.history.in_key_order()
    config_problems = state.config.problems
    listed = [*state.header_problems, *state.activity_problems]
    plan.problems = [*config_problems, *listed, *state.row_problems]
    plan.summary.problems = len(config_problems) + len(listed) + state.counted
    plan.banners = [*told, *banners(state.config)]
    problems_tab(plan, state.snapshot, state.stamp)
    last_good = kept_rows(state.config, state.stamp)
    state_tab(plan, state.snapshot, state.counter, state.metrics_digest, last_good)
    plan.summary.rows = len(state.data)
    plan.summary.new_ids = int(state.fresh.sum())
    plan.summary.scored = next((len(w.new) for w in plan.writes if w.column == "Score"), 0)
    plan.summary.frozen = tuple(sorted(state.frozen))
    plan.summary.last_good = tuple(f.what for f in state.config.fallbacks if f.stamp)
    return plan
