"""Step ``status``: each lead's Status cell says "OK" or what is wrong with it, and the first
row problems are listed for the Problems tab."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sheetcrm.engine.problems import Problem
from sheetcrm.engine.schema import LEADS, MAX_ROW_PROBLEMS
from sheetcrm.engine.sync.rules_in_use import rule_notes
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import Table, a1


def write_status(state: SyncState) -> SyncState:
    """Write each row's Status ("OK" or what is wrong); list the first row problems for the
    Problems tab (the rest are only counted), and count the flagged rows."""
    n = len(state.data)
    problems: list[Problem] = []
    columns = {name: i for i, name in enumerate(state.data.columns)}
    ids = state.data["Lead ID"].to_numpy(dtype=object)
    emails = state.data["Email"].to_numpy(dtype=object)
    notes: list[tuple[np.ndarray, np.ndarray]] = []
    for rows, column, messages, hint in state.problems:
        said = _prefixed(column, messages)
        notes.append((np.asarray(rows, dtype=np.int64), said))
        col = columns.get(column, 0)
        # a plan of some rows lists each of their problems: its caller keeps its new rows'
        room = MAX_ROW_PROBLEMS - len(problems) if state.left_out is None else len(rows)
        for r, text in zip(rows[:room], said, strict=False):
            where = a1(LEADS.name, Table.sheet_row(int(state.positions[r])), col)
            lead = str(ids[r]) or str(emails[r]).strip()  # a lead is found by either
            problems.append(Problem(LEADS.name, where, text, hint, lead))
    counted = sum(len(rows) for rows, _ in notes)
    flagged = np.zeros(n, dtype=bool)
    for rows, _column, messages, _hint in state.flags:
        # the cell gets the plain text: a Flag's kind is for this sync's steps, not the sheet;
        # made once per distinct flag (60,000 stale deals, 600 texts)
        which, flags = pd.factorize(np.asarray(messages, dtype=object))
        texts = np.asarray([str(m) for m in flags], dtype=object)[which]
        notes.append((np.asarray(rows, dtype=np.int64), texts))
        flagged[rows] = True
    rules = rule_notes(state)  # the rules with a problem, and what was used instead
    if not state.frozen & {"validation", "stages"}:
        joined, said = join_notes(n, notes + rules)
        state.put("Status", _as_read(np.where(said, joined, "OK"), state.data["Status"]))
    elif rules:
        # the rows could not be checked: no "OK", no problem either, but why not
        joined, said = join_notes(n, rules)
        state.put("Status", np.where(said, joined, state.data["Status"].to_numpy(dtype=object)))
    state.row_problems, state.counted = problems, counted
    state.plan.summary.flagged = int(flagged.sum())
    return state


def _as_read(made: np.ndarray, read: pd.Series) -> np.ndarray:
    """``made``, but the very string read in the cell wherever it is the same text: a
    re-sync makes every lead's Status again, mostly what the sheet already says (33,000
    distinct texts joined at 100,000 leads, 8 MB, each held a second time until the plan
    is done); those made go with this step."""
    cells = read.to_numpy(dtype=object)
    return np.where(made == cells, cells, made)


def _prefixed(column: str, messages: list[str]) -> np.ndarray:
    """``"column: message"`` for each message, composed once per distinct message: a
    capacity-bound backlog gives tens of thousands of rows the same routing reason."""
    codes, uniques = pd.factorize(np.asarray(messages, dtype=object))
    texts = np.array([f"{column}: {m}" for m in uniques], dtype=object)
    return texts[codes] if len(codes) else np.array([], dtype=object)


def join_notes(
    n: int, notes: Sequence[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``n``, the texts ``notes`` give it (rows, texts per step), joined with "; "
    in the order given, and whether it got any. One vectorised pass per step, not per row.

    Rows are followed as codes into the distinct texts joined so far, and each distinct
    (text so far, step's text) pair is joined once, its rows sharing the string: tens of
    thousands of leads say the same things (a stale deal, over its owner's capacity), and a
    string each was 12 MB at 100,000 leads."""
    table = np.zeros(0, dtype=object)  # the texts joined so far, by code
    code = np.full(n, -1, dtype=np.int64)  # per row, its text's code; -1 for none yet
    for rows, texts in notes:
        if not len(rows):
            continue
        which, distinct = _shared(texts)
        width = len(distinct)
        # a row named twice by one step gets both texts: one pass per repeat
        repeat = np.zeros(len(rows), dtype=np.int64)
        if np.bincount(rows, minlength=n).max() > 1:
            order = np.argsort(rows, kind="stable")
            run = np.r_[True, rows[order][1:] != rows[order][:-1]]
            start = np.maximum.accumulate(np.where(run, np.arange(len(rows)), 0))
            repeat[order] = np.arange(len(rows)) - start
        for k in range(int(repeat.max()) + 1):
            pick = repeat == k
            at = rows[pick]
            pair, pairs = pd.factorize((code[at] + 1) * width + which[pick])
            before, after = np.divmod(pairs, width)
            made = distinct[after]
            again = before > 0  # joined to what an earlier step said; the others just set
            if again.any():
                made[again] = table[before[again] - 1] + "; " + made[again]
            code[at] = len(table) + pair
            table = np.concatenate([table, made])
    joined = np.append(table, "")[code]  # code -1: the last, ""
    return joined, code >= 0


def _shared(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per text, a code; per code, its text) by the string object, not its content: the
    steps give each distinct message once, shared by its rows, and hashing every row's
    text would cost more than the strings it saves."""
    texts = np.asarray(texts, dtype=object)
    codes, _ids = pd.factorize(np.fromiter(map(id, texts), dtype=np.intp, count=len(texts)))
    first = np.flatnonzero(np.r_[True, np.diff(np.maximum.accumulate(codes)) > 0])
    return codes, texts[first]
