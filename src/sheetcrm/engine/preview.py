"""What the draft rules (Status: draft) would change if they were published: per lead, the
Score, Grade, Lifecycle and Owner as this sync leaves them and as they would be with the
drafts, counted, and the biggest changes with the draft rules behind them.

Pure numpy over the arrays the sync's ``preview`` step computes (engine/sync/preview.py) by
running the scoring and routing a second time, with the drafts, on the same rows. An Owner
is compared only on the leads the routing assigns (those without one): a lead that has an
owner keeps it whatever the Routing tab says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from sheetcrm.engine.scoring_tab import ScoringRule
from sheetcrm.engine.values import format_number
from sheetcrm.engine.win_check import Check

TOP = 20  # the changes listed one by one
FIELDS = ("Score", "Grade", "Lifecycle", "Owner")


@dataclass
class Outcome:
    """One set of rules' result, per lead."""

    score: np.ndarray  # float
    shown: np.ndarray  # the Score as its cell shows it
    grade: np.ndarray
    lifecycle: np.ndarray
    owner: np.ndarray  # who the routing gives the lead ("" where it assigns nobody)
    owner_why: np.ndarray  # the routing's why, per lead


@dataclass(frozen=True)
class Change:
    row: int  # the lead, by position in the sync's rows
    field: str
    now: str
    draft: str
    why: str


@dataclass
class Preview:
    drafts: list[str]  # the draft rules, as the rule tabs name them
    leads: int = 0
    routed: int = 0  # leads the routing assigns this round: the only ones an Owner can change
    counts: dict[str, int] = field(default_factory=dict)  # by field: leads it would change on
    changed: int = 0  # leads with any change
    changes: list[Change] = field(default_factory=list)  # the biggest, at most TOP
    cut: str = ""  # the out-of-time cut-off of the evaluation
    live: Check | None = None  # the rule Score's evaluation, live and with the drafts
    draft: Check | None = None
    not_computed: str = ""  # why the preview could not be computed ("" when it was)


def draft_reasons(matched: np.ndarray, rules: Sequence[ScoringRule]) -> str:
    """The draft rules a lead matches (``matched``: one flag per rule of ``rules``), with
    their points: "+20 Fintech push"."""
    return "; ".join(
        f"{'+' if rules[j].points >= 0 else '−'}{format_number(abs(rules[j].points))} "
        f"{rules[j].name}"
        for j in map(int, np.flatnonzero(matched))
    )


def compare(
    live: Outcome,
    draft: Outcome,
    routed: np.ndarray,
    score_why: Callable[[int], str],
    drafts: list[str],
    top: int = TOP,
) -> Preview:
    """``routed``: the leads the routing assigns (no Owner when read); ``score_why(row)``: the
    draft scoring rules lead ``row`` matches, what makes its Score differ (asked of the few
    leads listed only)."""
    differs = {
        "Score": live.shown != draft.shown,
        "Grade": live.grade != draft.grade,
        "Lifecycle": live.lifecycle != draft.lifecycle,
        "Owner": routed & (live.owner != draft.owner),
    }
    preview = Preview(drafts, len(live.score), int(routed.sum()))
    preview.counts = {name: int(mask.sum()) for name, mask in differs.items()}
    anything = np.logical_or.reduce(list(differs.values()))
    preview.changed = int(anything.sum())
    # biggest first: the largest move of Score, then an owner change; then sheet order
    size = np.where(differs["Score"], np.abs(draft.score - live.score), 0.0)
    rows = np.flatnonzero(anything)
    rows = rows[np.lexsort((rows, ~differs["Owner"][rows], -size[rows]))]
    values = {
        "Score": (live.shown, draft.shown),
        "Grade": (live.grade, draft.grade),
        "Lifecycle": (live.lifecycle, draft.lifecycle),
        "Owner": (live.owner, draft.owner),
    }
    for r in map(int, rows):
        for name in FIELDS:
            if len(preview.changes) == top:
                return preview
            if differs[name][r]:
                now, then = values[name]
                why = draft.owner_why[r] if name == "Owner" else score_why(r)
                preview.changes.append(Change(r, name, str(now[r]), str(then[r]), str(why)))
    return preview
