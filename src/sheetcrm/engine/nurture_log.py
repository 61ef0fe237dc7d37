"""The nurture events History holds, read for the Nurture metric tab (nurture_metrics.py).

The sequences step logs one History row per event, By the sequence (docs/sequences.md):
``Sequence`` To <name> is an enrolment; ``Sequence step`` To <n> is step n planned for the
lead (handed to the outbox), To ``done`` or ``stopped: <why>`` its end; ``Unsubscribed at``
To a time is the lead asking to stop. ``Lifecycle`` To ``SQL`` and ``Stage`` To a won stage
are what a sequence hopes to lead to. Each row is classed once per distinct (Field, To): a
History of half a million rows repeats a handful of them.

An *episode* is one enrolment of a lead and what History logged for that lead after it, up
to its next enrolment: everything after it is the new sequence's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.stages_tab import Stage
from sheetcrm.engine.table import norm_header

OTHER, ENROL, STEP, UNSUBSCRIBED, REPLIED, SQL, WON = range(7)
"""What a History row is to the nurture metrics."""
HEADERS = ("Sequence", "Sequence step", "Unsubscribed at", "Lifecycle", "Stage")
FIELDS = tuple(h.casefold() for h in HEADERS)
STOP_WORDS = ("stop", "arret")  # typed in the Sequence cell to end a sequence: no enrolment
_STOPPED = re.compile(r"^(stopped|arrete?e?)\b\s*:?\s*(.*)$")
_STEP = re.compile(r"^\d+$")


def fold(text: str) -> str:
    """Case, accents and repeated spaces ignored: "Arrêté : désinscrit" -> "arrete : desinscrit"."""
    folded = unicodedata.normalize("NFKD", str(text).strip().casefold())
    return " ".join("".join(c for c in folded if not unicodedata.combining(c)).split())


def _why(reason: str) -> int:
    """The exit reasons counted: the contract's words (``stopped: unsubscribed``, ``replied``,
    ``meeting booked``), and their French should the sequences step write them so."""
    if reason.startswith(("unsubscri", "desinscri", "desabonn")):
        return UNSUBSCRIBED
    if reason.startswith(("repl", "repon", "meeting", "rendez-vous")):
        return REPLIED
    return OTHER


def _kind(field: str, to: str, won: set[str]) -> int:
    """What a row of History is, by its Field (folded) and To."""
    to_folded = fold(to)
    if field == "sequence":
        return ENROL if to_folded and to_folded not in STOP_WORDS else OTHER
    if field == "sequence step":
        if _STEP.match(to_folded):
            return STEP
        stopped = _STOPPED.match(to_folded)
        return _why(stopped.group(2)) if stopped else OTHER
    if field == "unsubscribed at":
        return UNSUBSCRIBED if to_folded else OTHER
    if field == "lifecycle":
        return SQL if to_folded == "sql" else OTHER
    return WON if norm_header(to) in won else OTHER


@dataclass
class NurtureLog:
    """The nurture rows of History in the order logged, each in an episode."""

    episode: np.ndarray  # per row: its enrolment's index in ``sequence``
    kind: np.ndarray
    step: np.ndarray  # the lead's last step planned at that row (0: none yet)
    lead: np.ndarray  # per episode: the Lead ID
    sequence: np.ndarray  # per episode: the sequence's name as enrolled
    key: np.ndarray  # per episode: the name folded (case, accents, spaces ignored)
    planned: pd.DataFrame  # Lead ID, sequence key, step, in order: the steps planned


def read_nurture(history: HistoryFrame, stages: Sequence[Stage]) -> NurtureLog | None:
    """The nurture rows of ``history`` (with the rows this sync plans under it, if it has
    them: :meth:`HistoryFrame.plus`); None when no lead was ever enrolled."""
    field = history.column("Field")
    # the Fields as the sync writes them (History is the service's): each distinct one once
    per_text = np.array([HEADERS.index(f) if f in HEADERS else -1 for f in field.texts], int)
    row_field = per_text[field.codes]
    enrolments = np.flatnonzero(row_field == 0)
    if not len(enrolments):  # no enrolment ever: the common case, and the cheap one
        return None
    # nothing logged before the first enrolment is any sequence's: a History of years of
    # Stage rows and a few weeks of nurture reads only those weeks
    row_field[: enrolments[0]] = -1
    # only the leads that ever had a Sequence row: a Stage row of any other is no one's
    nurture = np.flatnonzero(row_field >= 0)
    lead_codes, lead_uniques = pd.factorize(history.cells("Lead ID", nurture))
    ids = np.array([str(u).strip() for u in lead_uniques], dtype=object)
    touched = np.zeros(len(ids) + 1, dtype=bool)
    touched[lead_codes[row_field[nurture] == 0]] = True
    touched[-1] = False  # factorize's -1: no Lead ID
    mine = touched[lead_codes] & (ids[lead_codes] != "" if len(ids) else False)
    where = nurture[mine]
    to_codes, to_uniques = pd.factorize(history.cells("To", where))
    won = {norm_header(s.name) for s in stages if s.type == "won"}
    pair_codes, pairs = pd.factorize(row_field[where] * (len(to_uniques) + 1) + to_codes)
    kinds, numbers = [], []
    for pair in pairs:
        kind_of, to = divmod(int(pair), len(to_uniques) + 1)
        text = str(to_uniques[to]) if to < len(to_uniques) else ""
        kinds.append(_kind(FIELDS[kind_of], text, won))
        numbers.append(int(fold(text)) if kinds[-1] == STEP else 0)
    kind = np.asarray(kinds, dtype=np.int64)[pair_codes]
    ours = kind != OTHER
    texts = np.asarray([str(u).strip() for u in to_uniques] + [""], dtype=object)[to_codes]
    step_numbers = np.asarray(numbers, dtype=np.int64)[pair_codes]
    logged = pd.DataFrame({"kind": kind, "step": step_numbers, "to": texts})[ours]
    return _episodes(lead_codes[mine][ours], ids, logged)


def _episodes(lead_codes: np.ndarray, ids: np.ndarray, logged: pd.DataFrame) -> NurtureLog | None:
    """Rows grouped by lead (stable: History's order kept), each given its latest enrolment.
    ``logged``: per row its kind, step number (of a step row) and To."""
    order = np.argsort(lead_codes, kind="stable")
    kind = logged["kind"].to_numpy()[order]
    lead = lead_codes[order]
    step_number = logged["step"].to_numpy()[order]
    enrol = kind == ENROL
    if not enrol.any():
        return None
    # per row, the index of its lead's latest enrolment so far (-1: none yet)
    position = np.where(enrol, np.arange(len(kind)), -1)
    latest = np.maximum.accumulate(position)
    start = np.r_[True, lead[1:] != lead[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(len(kind)), 0))
    inside = latest >= first  # the enrolment is this lead's, not an earlier lead's
    # the last step planned so far in the episode: a step row at or after its enrolment
    is_step = kind == STEP
    last_step = np.maximum.accumulate(np.where(is_step, np.arange(len(kind)), -1))
    step = np.where(inside & (last_step >= latest), step_number[np.maximum(last_step, 0)], 0)
    episode_rows = np.flatnonzero(enrol)
    episode_of = np.searchsorted(episode_rows, latest)
    sequences = logged["to"].to_numpy()[order][episode_rows]
    codes, spelled = pd.factorize(sequences)  # a few sequences, many enrolments
    keys = np.asarray([fold(s) for s in spelled], dtype=object)[codes]
    steps_rows = inside & is_step
    planned = pd.DataFrame(
        {
            "lead": ids[lead[steps_rows]],
            "key": keys[episode_of[steps_rows]],
            "step": step_number[steps_rows],
            "episode": episode_of[steps_rows],
        }
    )
    return NurtureLog(
        episode=episode_of[inside],
        kind=kind[inside],
        step=step[inside],
        lead=ids[lead[episode_rows]],
        sequence=sequences,
        key=keys,
        planned=planned,
    )
