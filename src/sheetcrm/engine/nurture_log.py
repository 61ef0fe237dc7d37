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
from operator import itemgetter

import numpy as np
import pandas as pd

from sheetcrm.engine.stages_tab import Stage
from sheetcrm.engine.table import Table, norm_header

OTHER, ENROL, STEP, UNSUBSCRIBED, REPLIED, SQL, WON = range(7)
"""What a History row is to the nurture metrics."""
FIELDS = ("sequence", "sequence step", "unsubscribed at", "lifecycle", "stage")
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


def _kind(pair: str, won: set[str]) -> int:
    """What the row of one distinct ``<folded Field>\x1f<To>`` is."""
    field, to = pair.split("\x1f", 1)
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
    planned: pd.DataFrame  # Lead ID, sequence key, step, in order: the steps planned


def fields(history: Table) -> np.ndarray:
    """History's Field column, one pass in C: the metrics and the nurture log share it."""
    i = history.col("Field")
    if i is None:
        return np.zeros(0, dtype=object)
    return np.fromiter(map(itemgetter(i), history.rows), dtype=object, count=len(history.rows))


def read_nurture(
    history: Table,
    stages: Sequence[Stage],
    extra: Sequence[Sequence[str]] = (),
    field_column: np.ndarray | None = None,
) -> NurtureLog | None:
    """The nurture rows of ``history`` then ``extra`` (this sync's rows, in the History tab's
    default order: At, Lead ID, Field, From, To, By, Why); None when no lead was ever enrolled.
    ``field_column``: :func:`fields` of ``history``, when the caller has it already."""
    column = fields(history) if field_column is None else field_column
    names = [r[2] for r in extra]
    present = {fold(f) for f in set(column.tolist()) | set(names)}
    if "sequence" not in present:  # the common case, and the cheap one: one set of the Fields
        return None
    keep = np.flatnonzero(pd.Series(column).map(fold).isin(FIELDS).to_numpy())
    rows = [history.rows[k] for k in keep.tolist()]
    cols = {name: history.col(name) for name in ("Lead ID", "Field", "To")}
    table = {
        name: [r[i] if i is not None and i < len(r) else "" for r in rows]
        for name, i in cols.items()
    }
    for r in extra:
        if fold(r[2]) in FIELDS:
            for name, default in (("Lead ID", 1), ("Field", 2), ("To", 4)):
                table[name].append(r[default])
    frame = pd.DataFrame(table, dtype=object)
    frame["Lead ID"] = frame["Lead ID"].map(lambda v: str(v).strip())
    won = {norm_header(s.name) for s in stages if s.type == "won"}
    pairs = frame["Field"].map(fold) + "\x1f" + frame["To"].astype(str)
    codes, uniques = pd.factorize(pairs)
    kinds = np.array([_kind(u, won) for u in uniques], dtype=np.int64)
    frame["kind"] = kinds[codes] if len(codes) else np.zeros(0, dtype=np.int64)
    frame = frame[(frame["kind"] != OTHER) & (frame["Lead ID"] != "")]
    return _episodes(frame.reset_index(drop=True))


def _episodes(frame: pd.DataFrame) -> NurtureLog | None:
    """Rows grouped by lead (stable: History's order kept), each given its latest enrolment."""
    lead_codes, _ = pd.factorize(frame["Lead ID"])
    order = np.argsort(lead_codes, kind="stable")
    kind = frame["kind"].to_numpy()[order]
    lead = lead_codes[order]
    to = frame["To"].to_numpy()[order]
    ids = frame["Lead ID"].to_numpy()[order]
    enrol = kind == ENROL
    if not enrol.any():
        return None
    # per row, the index of its lead's latest enrolment so far (-1: none yet)
    position = np.where(enrol, np.arange(len(kind)), -1)
    latest = np.maximum.accumulate(position) if len(position) else position
    start = np.r_[True, lead[1:] != lead[:-1]] if len(lead) else np.zeros(0, dtype=bool)
    first = np.maximum.accumulate(np.where(start, np.arange(len(kind)), 0))
    inside = latest >= first  # the enrolment is this lead's, not an earlier lead's
    # the last step planned so far in the episode: a step row at or after its enrolment
    is_step = kind == STEP
    step_number = np.where(is_step, pd.to_numeric(pd.Series(to), errors="coerce"), 0)
    last_step = np.maximum.accumulate(np.where(is_step, np.arange(len(kind)), -1))
    step = np.where(inside & (last_step >= latest), step_number[np.maximum(last_step, 0)], 0)
    episode_rows = np.flatnonzero(enrol)
    episode_of = np.searchsorted(episode_rows, latest)
    keep = inside
    sequences = np.array([str(t).strip() for t in to[episode_rows]], dtype=object)
    steps_rows = keep & is_step
    planned = pd.DataFrame(
        {
            "lead": ids[steps_rows],
            "key": [fold(s) for s in sequences[episode_of[steps_rows]]],
            "step": step_number[steps_rows].astype(int),
            "episode": episode_of[steps_rows],
        }
    )
    return NurtureLog(
        episode=episode_of[keep],
        kind=kind[keep],
        step=step[keep].astype(int),
        lead=ids[episode_rows],
        sequence=sequences,
        planned=planned,
    )
