"""Step ``score``: points from the Scoring tab, a grade, and a lifecycle that moves back only
from Customer, when a won deal is reopened."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sheetcrm.engine.frame import Frame
from sheetcrm.engine.scoring import lifecycle, score
from sheetcrm.engine.stages_tab import Stage
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.values import format_number


def score_leads(state: SyncState) -> SyncState:
    if "scoring" in state.frozen:
        return state
    config = state.config
    settings = config.settings
    scores = score(state.view, config.scoring, settings)
    state.put("Score", shown_scores(scores.score, settings.shown_decimal))
    state.put("Score reasons", scores.reasons.to_numpy())
    state.put("Grade", scores.grade.to_numpy())
    ranks = stage_ranks(state.view, config.stages)
    before = state.data["Lifecycle"]
    state.put("Lifecycle", lifecycle(scores.score, before, ranks, settings).to_numpy())
    return state


def shown_scores(total: np.ndarray, decimal: str) -> np.ndarray:
    """The Score cells' texts, as the sheet shows a number: 12,5 on an fr_FR Google sheet,
    so that it reads back as written."""
    codes, totals = pd.factorize(total, use_na_sentinel=False)  # a few distinct scores
    return np.array([format_number(v, decimal) for v in totals], dtype=object)[codes]


def stage_ranks(frame: Frame, stages: list[Stage]) -> np.ndarray:
    """Per lead, what its Stage says for the lifecycle (scoring.lifecycle's ``stage_rank``)."""
    by_key = {norm_header(s.name): s for s in stages}
    first_open = next((s for s in stages if s.type == "open"), None)

    def rank(key: str) -> int:
        stage = by_key.get(key)
        if stage is None or stage.type == "lost":
            return -1  # no stage (or none known) says nothing against a Customer
        if stage.type == "won":
            return 2
        return 0 if first_open and stage.name == first_open.name else 1

    return frame.per_key("Stage", rank, int)
