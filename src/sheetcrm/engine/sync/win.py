"""Step ``win``: each open lead's Win probability, learned from this sheet's closed leads
over the fields Settings lists, and the Win reasons behind it (engine/win.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sheetcrm.engine.catalog import _
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.schema import SETTINGS
from sheetcrm.engine.stages_tab import Stage
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.win import (
    Learned,
    estimate,
    known_fields,
    learn,
    outcomes,
    percents,
    reasons,
    shortfall,
)
from sheetcrm.engine.win import columns as field_values
from sheetcrm.engine.win_model import AMOUNT_BAND, Coded

MINIMUM = "Win probability minimum"


def estimate_wins(state: SyncState) -> SyncState:
    config, settings = state.config, state.settings
    if state.frozen & {"win", "stages"} or not config.stages:
        return state  # which leads are won is not known: the cells keep their values
    data, n = state.data, len(state.data)
    fields, missing = known_fields(settings["Win probability fields"], list(data.columns))
    if missing and "Win probability fields" in settings.cells:  # a default is no one's typo
        config.problems.append(
            Problem(
                SETTINGS.name,
                settings.cells["Win probability fields"],
                _("Win probability fields: Leads has no column %(column)r")
                % {"column": missing[0]},
                suggest(missing[0], [*data.columns, AMOUNT_BAND]),
            )
        )
        return state
    probability = np.full(n, "", dtype=object)
    why = np.full(n, "", dtype=object)
    if fields:
        closed, _won = outcomes(data["Stage"], config.stages)
        amounts = state.view.numbers("Amount")
        is_open = ~closed
        # a flush's plan of its new rows: learned from every closed lead of the sheet
        odds = state.left_out.odds if state.left_out is not None else None
        if odds is None:
            odds = learned_odds(data, state.view, fields, config.stages, settings[MINIMUM])
        short, learned = odds
        if short:
            probability[is_open] = short
        elif is_open.any() and learned is not None:
            # the codes the Frame made of each column (the rules' too): no text hashed again
            frame = state.view
            rows = {f: _coded(frame, f)[is_open] for f in fields if f != AMOUNT_BAND}
            prediction = estimate(learned, rows, amounts[is_open])
            probability[is_open] = percents(prediction.probability)
            values = field_values(rows, list(fields), amounts[is_open], learned.edges)
            why[is_open] = reasons(prediction, values, fields)
    state.put("Win probability", probability)
    state.put("Win reasons", why)
    return state


Odds = tuple[str, Learned | None]
"""Why no lead has a Win probability ("" when they do), and the model learned."""


def learned_odds(
    data: pd.DataFrame, frame: Frame, fields: dict[str, str], stages: list[Stage], minimum: int
) -> Odds:
    """What the closed leads of ``data`` (``frame`` its typed columns) teach: the shortfall
    when they are too few, else the model."""
    closed, won = outcomes(data["Stage"], stages)
    short = shortfall(int(closed.sum()), int(won[closed].sum()), minimum)
    if short:
        return short, None
    amounts = frame.numbers("Amount")
    read = {f: _coded(frame, f)[closed] for f in fields if f != AMOUNT_BAND}
    return "", learn(read, list(fields), amounts[closed], won[closed])


def _coded(frame: Frame, field: str) -> Coded:
    values = frame.values(field)
    return Coded(values.codes, values.text.to_numpy(dtype=object))
