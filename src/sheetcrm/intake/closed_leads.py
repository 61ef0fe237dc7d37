"""What the win step of a flush's plan learns from (intake/append_plan.py): every closed lead
of the sheet, learned apart from the plan, as the step would learn from them in a plan of
the whole sheet.

The step reads each closed lead's columns as the steps before it leave them, not as read: a
Grade the score step gives again (a rule or setting edited since the last sync, a lead
past a "within last 7 days" since, an Activities row that moved its Last contact), a Last
contact or Next action date the activities step sets, a Created at the ids step stamps.
So those steps run here too, on the closed leads (the activities step on every lead's few
columns it reads: an e-mail several leads share means the oldest of them). A column other
leads decide (Duplicate of: the earliest lead sharing a key) is told by the whole plan only:
:class:`Entangled`. Pure: no I/O, no clock.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from sheetcrm.engine.config import Config
from sheetcrm.engine.frame import EMAIL_DOMAIN, Frame
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.schema import ACTIVITIES, LEADS, STATE, canonical_header
from sheetcrm.engine.scoring_tab import SCORED
from sheetcrm.engine.sync.activities import FIRST_TOUCH, LAST_CONTACT, NEXT_ACTION, apply_activities
from sheetcrm.engine.sync.begin import leads_frame
from sheetcrm.engine.sync.ids import id_rank, next_ids
from sheetcrm.engine.sync.score import score_leads
from sheetcrm.engine.sync.state import SyncState, local_now, put_column
from sheetcrm.engine.sync.win import MINIMUM, Odds, learned_odds
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.engine.validation import Memo
from sheetcrm.engine.values import clamp, format_datetime
from sheetcrm.engine.win import known_fields, outcomes
from sheetcrm.engine.win_model import AMOUNT_BAND
from sheetcrm.intake.batch import Arrival, cells, lead_header, record_value

TOUCHED = (LAST_CONTACT, FIRST_TOUCH, NEXT_ACTION)
"""The columns the activities step sets, before the score and win steps read them."""
ENTANGLED = ("Duplicate of",)
"""Set before the win step from other leads than the lead itself."""


class Entangled(Exception):
    """The win step reads a column of closed leads that other leads decide: only a plan of
    the whole sheet tells what it learns."""


def win_odds(
    snapshot: Snapshot,
    leads: Table,
    fresh: list[Arrival],
    config: Config,
    now: datetime,
    memo: Memo,
    history: HistoryFrame,
) -> Odds | None:
    """What every closed lead of the sheet teaches the win step, learned from them alone as
    the step would (sync/win.py learned_odds), in sheet order; ("", None) where the step
    learns nothing; None where a new lead is closed already, and learned from too.
    ``history``: the History tab, read. Raises :class:`Entangled`."""
    settings = config.settings
    if config.frozen & {"win", "stages"} or not config.stages:
        return "", None
    header, added = lead_header(leads, fresh)  # the plan's: with the columns new rows add
    names = [*leads_frame(Table(leads.header))[0].columns, *added, *LEADS.headers]
    fields, missing = known_fields(settings["Win probability fields"], list(dict.fromkeys(names)))
    if (missing and "Win probability fields" in settings.cells) or not fields:
        return "", None  # the step says what is missing, or has nothing to learn
    read = before_win(config, fields)
    if read & set(ENTANGLED):
        raise Entangled
    posted = pd.Series([record_value(a.record, "Stage") for a in fresh], dtype=object)
    if outcomes(posted, config.stages)[0].any():
        return None
    stage = pd.Series(cells(leads, "Stage"), dtype=object)
    closed = np.flatnonzero(outcomes(stage, config.stages)[0])
    data, _problems = leads_frame(Table(leads.header, [leads.rows[i] for i in closed.tolist()]))
    for column in ("Stage", "Amount", *fields, *read):
        if column not in data.columns and column != AMOUNT_BAND:
            data[column] = pd.Series([""] * len(data), dtype=object)
    clock = local_now(now, config)
    frame = Frame(data, clock, settings.dayfirst, settings.decimal, memo)
    if read & {"Lead ID", "Created at", *TOUCHED, *SCORED}:
        state = _state(snapshot, config, clock, data, frame, history)
        state.leads = Table(header)  # what the steps look columns up in
        _as_before_win(state, leads, fresh, closed, read)
        data, frame = state.data, state.view
    return learned_odds(data, frame, fields, config.stages, settings[MINIMUM])


def before_win(config: Config, fields: dict[str, str]) -> set[str]:
    """The columns of a closed lead the win step's ``fields`` read, through the score step's
    rules when it learns from what that step sets (Grade, Score, Lifecycle)."""
    read = {"Amount" if f == AMOUNT_BAND else f for f in fields}
    if read & SCORED and "scoring" not in config.frozen:
        for rule in config.scoring:
            read |= {"Email" if c.field == EMAIL_DOMAIN else c.field for c in rule.conditions}
        read.add("Lifecycle")
    return {canonical_header(f) for f in read}


def _state(
    snapshot: Snapshot,
    config: Config,
    clock: datetime,
    data: pd.DataFrame,
    frame: Frame,
    history: HistoryFrame,
) -> SyncState:
    stamp = format_datetime(clock)
    state = SyncState(
        snapshot=snapshot,
        config=config,
        plan=Plan(snapshot.version),
        now=clock,
        stamp=stamp,
        memo=None,
        with_metrics=False,
        frozen=set(config.frozen),
        data=data,
        frame=frame,
    )
    state.history_frame = history
    return state


def _as_before_win(
    state: SyncState,
    leads: Table,
    fresh: list[Arrival],
    closed: np.ndarray,
    read: set[str],
) -> None:
    """The closed leads' columns as the ids, activities and score steps leave them."""
    ids = every_id(state, leads, fresh) if read & {"Lead ID", *TOUCHED} else []
    if "Lead ID" in read:
        typed = cells(leads, "Lead ID", closed.tolist())
        if [t.strip() for t in typed] != [ids[i] for i in closed.tolist()]:
            # numbered anew: by the lead rows the whole plan holds, gaps left out
            raise Entangled
        state.put("Lead ID", [ids[i] for i in closed.tolist()])
    if "Created at" in read:  # the ids step: a lead without one gets the sync's stamp
        stamps = state.view.values("Created at")
        arrived = stamps.take((stamps.text == "").to_numpy())
        created = state.data["Created at"].to_numpy(dtype=object)
        state.put("Created at", np.where(arrived, state.stamp, created))
    if read & set(TOUCHED):
        touched = _touched(state, leads, fresh, ids)
        for column in TOUCHED:
            state.put(column, touched[column].to_numpy(dtype=object)[closed])
    if read & SCORED:
        score_leads(state)


def every_id(state: SyncState, leads: Table, fresh: list[Arrival]) -> list[str]:
    """Every lead's Lead ID as the ids step gives it: the sheet's rows, then the new ones
    (each row numbered, a gap too: a number only an activity typed ahead of it could name)."""
    limit = state.snapshot.cell_limit
    typed = [i.strip() for i in cells(leads, "Lead ID")]
    typed += [clamp(record_value(a.record, "Lead ID"), limit).strip() for a in fresh]
    data = pd.DataFrame({"Lead ID": pd.Series(typed, dtype=object)})
    return next_ids(data, state.snapshot.table(STATE.name), state.logged, Memo(), typed)[0]


def _touched(state: SyncState, leads: Table, fresh: list[Arrival], ids: list[str]) -> pd.DataFrame:
    """Every lead's columns the activities step sets, as it sets them: the step run on
    every lead's Lead ID, Email and those columns, the sheet's rows, then the new ones."""
    table = state.snapshot.get(ACTIVITIES.name)
    limit = state.snapshot.cell_limit  # a new row's cell, cut as the plan cuts it
    data = pd.DataFrame(
        {
            c: pd.Series(
                [*cells(leads, c), *(clamp(record_value(a.record, c), limit) for a in fresh)],
                dtype=object,
            )
            for c in ("Email", *TOUCHED)
        }
    )
    if table is None or not table.rows:
        return data
    put_column(data, "Lead ID", ids)
    settings = state.config.settings
    every = _state(
        state.snapshot,
        state.config,
        state.now,
        data,
        Frame(data, state.now, settings.dayfirst, settings.decimal),
        state.logged,
    )
    every.leads = state.leads
    every.ids = ids
    every.rank = id_rank(ids, Memo())
    apply_activities(every)
    return every.data
