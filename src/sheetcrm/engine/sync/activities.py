"""Step ``activities``: the Activities tab sets each lead's Last contact, First touch at and
Next action date (docs/activities.md).

- Last contact: the day of the lead's latest activity, when later than the day the cell
  holds (a later date a person typed is kept; an unreadable one is left to its problem).
- First touch at: the lead's earliest activity, when earlier than the cell or the cell is
  empty; the ``stages`` step, after this one, still infers it from a stage move when empty.
- Next action date: the one the lead's latest activity giving one gives, when that activity
  is newer than the last time this step set the cell (History), or this step never set it;
  so a date a person types afterwards stays until a newer activity comes.

A nurture e-mail (By ``sequence <name>``, which the ``sent`` step appends) and an unsubscribe
(Type ``unsubscribe``) are read but set none of the three: no person touched the lead.

Each value changed is a History row (By sheetcrm, Why "activity 2026-12-03 call (reached) by
Sofia Marin"). What people typed on Activities is never rewritten (a tab from before its
Submission ID column gets it, empty, at its right: the flusher's key of posted touches); a
row that names no known lead, an unreadable date, an unknown Type or Outcome, a By not on
the Team tab are problems at their cell. A second sync changes nothing: every rule compares
with what the cell holds.
"""

from __future__ import annotations

from itertools import repeat

import numpy as np
import pandas as pd

from sheetcrm.engine.activities import Leads, Touches, parse_stamps, read_touches
from sheetcrm.engine.activity_tab import KEY_COLUMN, ActivityFrame, key_column
from sheetcrm.engine.bulk import gc_paused
from sheetcrm.engine.catalog import ngettext
from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.plan import ColumnWrites, find_column
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.schema import ACTIVITIES, SERVICE_BY
from sheetcrm.engine.sync.state import SyncState

LAST_CONTACT, FIRST_TOUCH, NEXT_ACTION = "Last contact", "First touch at", "Next action date"


# A first sync builds a History row (a list) per change, hundreds of thousands at 100,000
# leads: with the sheet's millions of cells alive, Python's cyclic collector would take most
# of the step's time visiting them. plan_sync pauses it for the whole sync; so does the step,
# whoever runs it.
@gc_paused()
def apply_activities(state: SyncState) -> SyncState:
    table = state.snapshot.get(ACTIVITIES.name)
    if table is not None and table.header and key_column(table.header) is None:
        # a tab from before it: the column the flusher keys posted touches by
        state.plan.tab_columns[ACTIVITIES.name] = [KEY_COLUMN]
    if table is None or not table.rows:
        return state  # a sheet from before the tab: no activities
    settings, frame = state.settings, state.view
    emails = frame.folded("Email").to_numpy(dtype=object)
    state.activities = ActivityFrame.read(table)  # parsed once: the metrics step counts it too
    touches = read_touches(
        table,
        Leads(state.ids, emails, state.rank),
        [m.name for m in state.config.team],
        settings["Activity outcomes"],
        settings.dayfirst,
        settings.zone,
        state.activities,
    )
    state.touches = touches
    state.activity_problems = touches.problems
    if touches.counted > len(touches.problems):
        more = touches.counted - len(touches.problems)
        state.activity_problems.append(
            Problem(
                ACTIVITIES.name,
                ACTIVITIES.name,
                ngettext(
                    "... and %(n)d more activity problem",
                    "... and %(n)d more activity problems",
                    more,
                )
                % {"n": more},
            )
        )
    if not len(touches.row):
        return state
    n = len(state.data)
    first, last = touches.first_and_last(n)
    if find_column(state.leads, LAST_CONTACT) is not None:
        _last_contact(state, touches, last)
    _first_touch(state, touches, first)
    if find_column(state.leads, NEXT_ACTION) is not None:
        _next_action(state, touches)
    return state


def _days(stamps: np.ndarray) -> np.ndarray:
    return stamps.astype("datetime64[D]")


def _date_texts(stamps: np.ndarray) -> np.ndarray:
    """The days of ``stamps`` as text, each distinct day formatted once (a year has 365)."""
    codes, days = pd.factorize(_days(stamps).view(np.int64))
    texts = np.datetime_as_string(days.astype("datetime64[D]"), unit="D").astype(object)
    return texts[codes]  # type: ignore[no-any-return]


def _stamp_texts(stamps: np.ndarray) -> np.ndarray:
    """Wall times as format_datetime writes them: a date alone at midnight, else to the
    minute, with seconds only when there are some."""
    minutes = np.char.replace(np.datetime_as_string(stamps, unit="m"), "T", " ")
    seconds = np.char.replace(np.datetime_as_string(stamps, unit="s"), "T", " ")
    has_seconds = stamps.astype("datetime64[s]") != stamps.astype("datetime64[m]")
    midnight = stamps == _days(stamps)
    texts = np.where(has_seconds, seconds, minutes)
    return np.where(midnight, _date_texts(stamps), texts).astype(object)


def _record(
    state: SyncState,
    column: str,
    rows: np.ndarray,
    new: np.ndarray,
    whys: np.ndarray,
    person_column: bool,
) -> None:
    """Set ``column`` of lead ``rows`` to ``new``, with a History row each (appended in
    bulk: on a first sync, every lead with an activity gets up to three)."""
    values = state.data[column].to_numpy(dtype=object, copy=True)
    old = values[rows]
    values[rows] = new
    if person_column:  # diff plans only service columns: a person's column is written here
        state.plan.writes.append(ColumnWrites(column, rows, list(old), list(new)))
    state.put(column, values)
    # each History row built in C (map, zip): a first sync writes hundreds of thousands;
    # the cells are str already (put_column), so nothing is converted per row
    count = len(rows)
    entries = map(
        list,
        zip(
            repeat(state.stamp, count),
            np.asarray(state.ids, dtype=object)[rows].tolist(),
            repeat(column, count),
            old.tolist(),
            new.tolist(),
            repeat(SERVICE_BY, count),
            whys.tolist(),
            strict=True,
        ),
    )
    state.plan.history.extend(zip(rows.tolist(), entries, repeat(column, count), strict=True))


def _last_contact(state: SyncState, touches: Touches, last: np.ndarray) -> None:
    frame = state.view
    held = _days(frame.dates(LAST_CONTACT))
    latest = _days(touches.at[np.maximum(last, 0)])
    change = (last >= 0) & (frame.blank(LAST_CONTACT) | (~np.isnat(held) & (latest > held)))
    rows = np.flatnonzero(change)
    if len(rows):
        _record(state, LAST_CONTACT, rows, _date_texts(latest[rows]), touches.why(last[rows]), True)


def _first_touch(state: SyncState, touches: Touches, first: np.ndarray) -> None:
    # one stamp per lead, nearly all distinct: read by their canonical form at C speed
    settings = state.settings
    held = parse_stamps(
        state.data[FIRST_TOUCH].to_numpy(dtype=object), settings.dayfirst, settings.zone
    )
    earliest = touches.at[np.maximum(first, 0)]
    change = (first >= 0) & (np.isnat(held) | (earliest < held))
    rows = np.flatnonzero(change)
    if len(rows):
        texts = _stamp_texts(earliest[rows])
        _record(state, FIRST_TOUCH, rows, texts, touches.why(first[rows]), False)


def _next_action(state: SyncState, touches: Touches) -> None:
    n = len(state.data)
    latest = touches.latest_next_action(n)
    has = latest >= 0
    if not has.any():
        return
    frame = state.view
    set_at = _last_set(state.logged, state.ids)
    given_at = touches.at[np.maximum(latest, 0)]
    newer = np.isnat(set_at) | (given_at > set_at)
    wanted = _days(touches.next_action[np.maximum(latest, 0)])
    held = _days(frame.dates(NEXT_ACTION))
    differs = frame.blank(NEXT_ACTION) | np.isnat(held) | (held != wanted)
    rows = np.flatnonzero(has & newer & differs)
    if len(rows):
        texts = _date_texts(wanted[rows])
        _record(state, NEXT_ACTION, rows, texts, touches.why(latest[rows]), True)


def _last_set(history: HistoryFrame, ids: list[str]) -> np.ndarray:
    """Per lead, when this step last set its Next action date (History), NaT for never."""
    found = np.full(len(ids), np.datetime64("NaT", "ns"), dtype="datetime64[ns]")
    ours = history.of_field(NEXT_ACTION)
    if not ours.any():
        return found
    picked = np.flatnonzero(ours & history.column("By").per_text(SERVICE_BY.__eq__))
    lead_ids = history.cells("Lead ID", picked)
    latest = pd.Series(history.at[picked]).groupby(lead_ids).max()
    where = pd.Index(ids).get_indexer(latest.index)
    known = where >= 0
    found[where[known]] = latest.to_numpy(dtype="datetime64[ns]")[known]
    return found
