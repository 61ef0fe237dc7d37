"""Plan a batch of web-form leads without planning the sheet's own rows (issue 21).

:func:`sheetcrm.intake.batch.plan_intake` plans a sync of the whole sheet with the new rows
under it: on a 100,000-lead sheet every flush cost a sync's memory. What a new row's cells,
History rows and notifications take from the other rows is the few rows listed in
:func:`context`, and three counts: the next Lead ID (set on the State tab as planned from
every row), the leads each person got today (their rows are kept) and each rotation's turns
(History, read whole). So the same ``plan_intake`` runs on the sheet with every other row
left blank: a gap, which a sync skips and which keeps each row's place, so that a new row's
cells, links and Problems cells are the ones the whole plan gives. Only the new rows' part of
it is kept: their appends, History rows and notifications, the State tab and their problems
added to the Problems tab. The sheet's own rows, edited since the last sync or not, wait for
the next sync, which plans them whole.

A "least loaded" team ranks its people by every open lead they hold: those on the rows left
blank are counted here and handed to the plan (``LeftOut``); so is what the win step learns
from every closed lead, as the steps before it leave them (closed_leads.py). Where a new row
takes from more of the sheet (a lead past its first-touch SLA already, given to the next
person; a win step that learns from which lead a closed one duplicates), None: the caller
plans the whole sheet as before.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import pandas as pd

from sheetcrm.engine.catalog import speaking
from sheetcrm.engine.config import Config, parse_config
from sheetcrm.engine.frame import Frame
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.notifications import NOTIFIED_KEY, Notification, Notifications, write_token
from sheetcrm.engine.plan import Plan, RowKeys, find_column
from sheetcrm.engine.plan_rows import PlannedHistory
from sheetcrm.engine.schema import HISTORY, LEADS, PROBLEMS, STATE
from sheetcrm.engine.settings_tab import sheet_language
from sheetcrm.engine.sync import LeftOut, local_now
from sheetcrm.engine.sync.ids import NEXT_ID_KEY, next_ids
from sheetcrm.engine.sync.tabs import state_value
from sheetcrm.engine.sync.win import Odds
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.engine.validation import Memo
from sheetcrm.engine.values import clamp
from sheetcrm.engine.win import outcomes
from sheetcrm.intake.batch import Arrival, IntakePlan, cells, plan_intake, record_value, sheet_keys
from sheetcrm.intake.closed_leads import Entangled, win_odds
from sheetcrm.intake.new_problems import add_problems
from sheetcrm.intake.same_person import same_person
from sheetcrm.intake.unrouted import open_leads, stuck


def plan_appends(
    snapshot: Snapshot, arrivals: list[Arrival], now: datetime, memo: Memo | None = None
) -> IntakePlan | None:
    """The new rows of ``plan_intake(snapshot, arrivals, now)``, planned from the rows they
    depend on only; None where that cannot be told apart from the whole sheet's plan."""
    leads = snapshot.get(LEADS.name)
    if leads is None or find_column(leads, "Lead ID") is None:
        return None  # the whole plan says what is wrong, or numbers the leads first
    config = parse_config(snapshot)
    found = sheet_keys(leads)
    already = {a.key: found[a.key] for a in arrivals if a.key in found}
    fresh = [a for a in arrivals if a.key not in found]
    if not fresh:
        return IntakePlan(Plan(snapshot.version), already=already)
    # every text made here (a shortfall, a phone's problem kept in the memo) is in the
    # sheet's language, as the sync's own (plan_sync); the memo's, worded in another, is not
    # shared: the next sync forgets it (Memo.speak), and a text kept now would outlive that
    language = sheet_language(snapshot)
    synced = memo if memo is not None and memo.language == language else None
    # the memo's per-row checks are the last sync's, by position, kept for the next one:
    # this plan's rows are others, checked with the memo's parse results (e-mails, phones)
    # only, and what it makes of them let go with it
    scratch = Memo(synced.emails, synced.phones, language) if synced else Memo(language=language)
    settings = config.settings
    history = HistoryFrame(snapshot.table(HISTORY.name), settings.dayfirst, settings.zone)
    with speaking(language):
        try:
            odds = win_odds(snapshot, leads, fresh, config, now, scratch, history)
        except Entangled:
            return None
        keep = context(snapshot, leads, fresh, config, now, scratch, odds, synced)
        blank = [""] * len(leads.header)
        rows = [row if k else blank for row, k in zip(leads.rows, keep.tolist(), strict=True)]
        tabs = {**snapshot.tabs, LEADS.name: Table(leads.header, rows)}
        tabs[STATE.name] = _numbered(snapshot, first_number(snapshot, leads, scratch, history))
        left_out = LeftOut(open_leads(leads, ~keep, config, now), np.flatnonzero(keep), odds)
    # History's columns, as win_odds and first_number read them (~10 MB at 100,000 leads), let
    # go before the plan's peak: the plan reads History afresh (issue 21, session 7)
    del history
    intake = plan_intake(replace(snapshot, tabs=tabs), fresh, now, scratch, left_out)
    if intake.blocked:
        return None
    plan = _new_rows_only(intake, snapshot, language)
    if plan is None:
        return None
    intake.plan = plan
    intake.already = already
    return intake


def context(
    snapshot: Snapshot,
    leads: Table,
    fresh: list[Arrival],
    config: Config,
    now: datetime,
    memo: Memo,
    learned_apart: Odds | None = None,
    synced: Memo | None = None,
) -> np.ndarray:
    """Per row of Leads, whether a new row's plan reads it:
    - a lead without an owner, routed with the new ones, oldest first, unless no route can
      give it one now (intake/unrouted.py);
    - a lead without a Lead ID, or with one another row (or a new one) holds: numbered
      before them, or keeping its ID where a new row's is the copy;
    - a lead assigned (or, never assigned, created) today: its owner's daily capacity;
    - a closed lead, unless the win step's odds were ``learned_apart`` (:func:`win_odds`);
    - a lead in a sequence: it takes its sender's e-mails of the day before a new one;
    - a lead that shares a duplicate key with a new row, through any chain of shared keys;
    - a lead with a new row's e-mail (or a closed lead's, when learned from here), a
      duplicate key or not: an activity naming it is the oldest one's."""
    owner = cells(leads, "Owner")
    ids = np.array([i.strip() for i in cells(leads, "Lead ID")], dtype=object)
    keep = np.array([not o.strip() for o in owner], dtype=bool)
    unowned = np.flatnonzero(keep)
    today = today_rows(leads, config, now, memo)
    keep[unowned[stuck(snapshot, leads, unowned, today, config, now)]] = False
    limit = snapshot.cell_limit
    keep |= (ids == "") | pd.Series(ids, dtype=object).duplicated(keep=False).to_numpy()
    posted = {clamp(record_value(a.record, "Lead ID"), limit).strip() for a in fresh}
    keep |= pd.Series(ids, dtype=object).isin(posted - {""}).to_numpy()
    keep |= today
    # an activity naming an e-mail several leads share is the oldest one's (sync/activities.py),
    # a duplicate key or not: a new row's Last contact and Next action date are theirs
    emails = pd.Series([e.strip().casefold() for e in cells(leads, "Email")], dtype=object)
    shared = {clamp(record_value(a.record, "Email"), limit).strip().casefold() for a in fresh}
    if learned_apart is None:  # the win step learns from the closed leads the plan holds
        stage = pd.Series(cells(leads, "Stage"), dtype=object)
        closed = outcomes(stage, config.stages)[0]
        keep |= closed
        shared |= set(emails[closed].tolist())  # and from their Last contact
    keep |= emails.isin(shared - {""}).to_numpy()
    if config.sequences:
        keep |= np.array([bool(s.strip()) for s in cells(leads, "Sequence")], dtype=bool)
    keep |= same_person(leads, [a.record for a in fresh], config, synced, memo)
    return keep


def today_rows(leads: Table, config: Config, now: datetime, memo: Memo) -> np.ndarray:
    """Per row, whether it counts toward its owner's day: assigned (or, never assigned,
    created) today, as routing reads it (routing.py _load)."""
    settings = config.settings
    stamps = pd.DataFrame(
        {c: pd.Series(cells(leads, c), dtype=object) for c in ("Assigned at", "Created at")}
    )
    frame = Frame(stamps, local_now(now, config), settings.dayfirst, settings.decimal, memo)
    assigned, created = frame.dates("Assigned at"), frame.dates("Created at")
    day = np.where(np.isnat(assigned), created, assigned).astype("datetime64[D]")
    return day == np.datetime64(frame.now.date())  # type: ignore[no-any-return]


def first_number(snapshot: Snapshot, leads: Table, memo: Memo, history: HistoryFrame) -> int:
    """The number the ids step would give the first lead without an ID, from every row:
    above every ID the sheet holds, History names or the State tab issued."""
    typed = [i.strip() for i in cells(leads, "Lead ID")]
    data = pd.DataFrame({"Lead ID": pd.Series(typed, dtype=object)})
    _ids, numbered, counter = next_ids(data, snapshot.table(STATE.name), history, memo, typed)
    return counter - int(numbered.sum())


def _numbered(snapshot: Snapshot, number: int) -> Table:
    """The State tab, its next Lead ID the one planned from every row: a row left blank here
    may hold the highest ID the sheet has."""
    state = snapshot.get(STATE.name) or Table(STATE.headers)
    header = state.header or STATE.headers
    rows = [r for r in state.rows if not r or r[0].strip().casefold() != NEXT_ID_KEY]
    return Table(header, [[NEXT_ID_KEY, str(number)], *rows])


def _new_rows_only(intake: IntakePlan, snapshot: Snapshot, language: str) -> Plan | None:
    """The plan of the new rows alone: no cell of another row, no History row or notification
    about one; None when a new row took from a step this plan does not see whole."""
    plan = intake.plan
    new = set(intake.lead_ids.values())
    history = PlannedHistory()
    owners: dict[str, int] = {}
    for key, row, column in plan.history:
        lead, field = row[1], row[2]
        if lead in new:
            history.add(key, row, column)
            if field == "Owner":
                owners[lead] = owners.get(lead, 0) + 1
    if any(count > 1 for count in owners.values()):
        return None  # routed, then given to another for its SLA: every late lead counts
    notes = list(plan.notifications)
    kept = [n for n in notes if n.lead_id in new]
    out = Plan(
        plan.version,
        keys=RowKeys(),
        new_columns=plan.new_columns,
        tab_columns=plan.tab_columns,
        history=history,
        appends=plan.appends,
        settings=plan.settings,
        stamp=plan.stamp,
        notifications=Notifications(kept),
    )
    out.summary = plan.summary
    out.problems = [p for p in plan.problems if p.lead in new]
    state = plan.replace.get(STATE.name)
    if state is not None:
        out.replace[STATE.name] = (
            _notified(state, plan.stamp, kept, snapshot) if len(kept) != len(notes) else state
        )
    problems = add_problems(snapshot.get(PROBLEMS.name), out.problems, plan.stamp, language)
    if problems is not None:
        out.replace[PROBLEMS.name] = problems
    return out


def _notified(state: Table, stamp: str, kept: list[Notification], snapshot: Snapshot) -> Table:
    """The State tab with the token of the notifications kept (notifications.write_token),
    where sync/tabs.py puts it: after next Lead ID, metrics digest and look."""
    token = (
        write_token(stamp, kept) if kept else state_value(snapshot.table(STATE.name), NOTIFIED_KEY)
    )
    rows = [r for r in state.rows if r[0] != NOTIFIED_KEY]
    if token:
        rows.insert(min(3, len(rows)), [NOTIFIED_KEY, token])
    return Table(state.header, rows)
