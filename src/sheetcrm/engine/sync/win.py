"""Step ``win``: each open lead's Win probability, learned from this sheet's closed leads
over the fields Settings lists, and the Win reasons behind it (engine/win.py)."""

from __future__ import annotations

import numpy as np

from sheetcrm.engine.catalog import _
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.schema import SETTINGS
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.win import columns as field_values
from sheetcrm.engine.win import (
    estimate,
    known_fields,
    learn,
    outcomes,
    percents,
    reasons,
    shortfall,
)
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
        closed, won = outcomes(data["Stage"], config.stages)
        amounts = state.view.numbers("Amount")
        short = shortfall(int(closed.sum()), int(won[closed].sum()), settings[MINIMUM])
        is_open = ~closed
        if short:
            probability[is_open] = short
        elif is_open.any():
            # the codes the Frame made of each column (the rules' too): no text hashed again
            frame = state.view
            read = {
                f: Coded(frame.values(f).codes, frame.values(f).text.to_numpy(dtype=object))
                for f in fields
                if f != AMOUNT_BAND
            }
            learned = learn(
                {f: c[closed] for f, c in read.items()}, list(fields), amounts[closed], won[closed]
            )
            rows = {f: c[is_open] for f, c in read.items()}
            prediction = estimate(learned, rows, amounts[is_open])
            probability[is_open] = percents(prediction.probability)
            values = field_values(rows, list(fields), amounts[is_open], learned.edges)
            why[is_open] = reasons(prediction, values, fields)
    state.put("Win probability", probability)
    state.put("Win reasons", why)
    return state
