"""Step ``score``: points from the Scoring tab, a grade, and a lifecycle that moves back only
from Customer, when a won deal is reopened."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sheetcrm.engine.scoring import lifecycle, score
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.values import format_number


def score_leads(state: SyncState) -> SyncState:
    if "scoring" in state.frozen:
        return state
    config = state.config
    settings = config.settings
    scores = score(state.view, config.scoring, settings)
    codes, totals = pd.factorize(scores.score, use_na_sentinel=False)  # a few distinct scores
    # as the sheet shows a number: 12,5 on an fr_FR Google sheet, so it reads back as written
    shown = [format_number(v, settings.shown_decimal) for v in totals]
    state.put("Score", np.array(shown, dtype=object)[codes])
    state.put("Score reasons", scores.reasons.to_numpy())
    state.put("Grade", scores.grade.to_numpy())
    stages = {norm_header(s.name): s for s in config.stages}
    first_open = next((s for s in config.stages if s.type == "open"), None)

    def rank(key: str) -> int:
        stage = stages.get(key)
        if stage is None or stage.type == "lost":
            return -1  # no stage (or none known) says nothing against a Customer
        if stage.type == "won":
            return 2
        return 0 if first_open and stage.name == first_open.name else 1

    ranks = state.view.per_key("Stage", rank, int)
    before = state.data["Lifecycle"]
    state.put("Lifecycle", lifecycle(scores.score, before, ranks, settings).to_numpy())
    return state
