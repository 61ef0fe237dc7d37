"""Step ``preview``: the draft rules (Status: draft) are not applied; here the scoring and the
routing run a second time with them, on the same rows, to show on the Preview tab what
publishing them would change (engine/preview.py, engine/preview_tab.py). No extra read, and
nothing the sync writes to Leads depends on it."""

from __future__ import annotations

import numpy as np

from sheetcrm.engine.frame import Frame
from sheetcrm.engine.preview import Outcome, Preview, compare, draft_reasons
from sheetcrm.engine.preview_tab import preview_tab
from sheetcrm.engine.scoring import grade, lifecycle, points
from sheetcrm.engine.scoring_check import split
from sheetcrm.engine.sync.route import plan_routes
from sheetcrm.engine.sync.score import shown_scores, stage_ranks
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.win import outcomes
from sheetcrm.engine.win_check import check


def preview_drafts(state: SyncState) -> SyncState:
    if not state.with_metrics:  # web-form intake: the next sync previews
        return state
    config = state.config
    drafts = [r.name for r in config.draft_scoring if r.draft]
    drafts += [r.label for r in config.draft_routing if r.draft]
    preview = Preview(drafts) if drafts else None
    state.plan.summary.drafts = tuple(drafts)
    if preview is not None:
        # without the live scores there is nothing to compare; without the live routing,
        # only a draft Routing rule has nothing to compare with
        blocked = state.frozen & ({"scoring", "routing"} if config.draft_routing else {"scoring"})
        if blocked:
            preview.not_computed = (
                f"the {' and '.join(sorted(blocked))} rules are not applied (see Problems)"
            )
        else:
            preview = _compare(state, drafts)
    settings = config.settings
    state.plan.preview = preview_tab(
        preview, state.data, state.ids, state.stamp, settings["Currency"]
    )
    return state


def _compare(state: SyncState, drafts: list[str]) -> Preview:
    config, data, read = state.config, state.data, state.read
    settings = config.settings
    # the rows as the route step saw them: the owners as read, this sync's scores
    base = state.view.with_columns(
        {"Owner": read["Owner"].to_numpy(), "Assigned at": read["Assigned at"].to_numpy()}
    )
    routed = base.blank("Owner")
    no_why = np.full(len(data), "", dtype=object)
    live = Outcome(
        state.view.numbers("Score"),
        data["Score"].to_numpy(dtype=object),
        data["Grade"].to_numpy(dtype=object),
        data["Lifecycle"].to_numpy(dtype=object),
        np.where(routed, data["Owner"].to_numpy(dtype=object), ""),
        no_why,
    )
    draft = Outcome(live.score, live.shown, live.grade, live.lifecycle, live.owner, no_why)
    rules = config.draft_scoring
    matched = np.zeros((len(data), 0), dtype=bool)
    if rules:
        result = points(base, rules, settings)
        draft.score = result.total
        draft.shown = shown_scores(result.total, settings.shown_decimal)
        draft.grade = grade(result.total, settings, data.index).to_numpy()
        ranks = stage_ranks(base, config.stages)
        draft.lifecycle = lifecycle(result.total, read["Lifecycle"], ranks, settings).to_numpy()
        matched = result.matrix[:, [r.draft for r in rules]]
    # the routing would give the same owners unless a rule is new or a routed lead scores
    # otherwise: then it is not run again (it costs what the route step costs)
    rescored = routed & ((live.shown != draft.shown) | (live.grade != draft.grade))
    rescored |= routed & (live.lifecycle != draft.lifecycle)
    again = bool(config.draft_routing) or bool(rescored.any())
    if config.team and again and "routing" not in state.frozen:
        draft.owner, draft.owner_why = _draft_owners(state, base, draft, bool(rules), live.owner)
    draft_rules = [r for r in rules if r.draft]
    preview = compare(
        live, draft, routed, lambda row: draft_reasons(matched[row], draft_rules), drafts
    )
    if config.stages and "stages" not in state.frozen:
        closed, won = outcomes(data["Stage"], config.stages)
        cut = split(closed, won, state.view.dates("Closed at"))
        preview.cut = cut.cut
        preview.live = check(live.score[cut.test], won[cut.test])
        preview.draft = check(draft.score[cut.test], won[cut.test])
    return preview


def _draft_owners(
    state: SyncState, base: Frame, draft: Outcome, scored: bool, live: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Who the routing would give each lead without an owner, with the drafts published: on
    the drafts' scores, since a Routing rule may test Score, Grade or Lifecycle."""
    config = state.config
    frame = (
        base.with_columns(
            {"Score": draft.shown, "Grade": draft.grade, "Lifecycle": draft.lifecycle}
        )
        if scored
        else base
    )
    owners, why = live.copy(), np.full(len(live), "", dtype=object)
    for a in plan_routes(state, frame, config.draft_routing or config.routing):
        owners[a.row], why[a.row] = a.owner, a.why
    return owners, why
