"""Step ``ids``: every lead gets a stable Lead ID, and new rows a Created at."""

from __future__ import annotations

import re
from operator import itemgetter

import numpy as np
import pandas as pd

from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.row_memo import per_row
from sheetcrm.engine.schema import STATE
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import Table
from sheetcrm.engine.validation import Memo
from sheetcrm.engine.values import stripped

ID_PATTERN = re.compile(r"^L-(\d+)$")
ISSUED_PATTERN = re.compile(r"L-(\d+)")  # fullmatch: \d is exactly the digits int() reads
NEXT_ID_KEY = "next lead id"


def assign_ids(state: SyncState) -> SyncState:
    data = state.data
    memo = state.memo if state.memo is not None else Memo()
    # the frame's columns, stripped once per distinct cell and kept by the memo
    typed = state.view.text("Lead ID").tolist()
    ids, fresh, counter = next_ids(
        data, state.snapshot.table(STATE.name), state.logged, memo, typed
    )
    state.put("Lead ID", ids)
    state.ids, state.fresh, state.counter = ids, fresh, counter
    state.rank = id_rank(ids, memo)  # Lead ID order: who came first, for duplicates and routing
    stamps = state.view.values("Created at")
    state.arrived = stamps.take((stamps.text == "").to_numpy())
    created = data["Created at"].to_numpy(dtype=object)
    state.put("Created at", np.where(state.arrived, state.stamp, created))
    return state


def next_ids(
    data: pd.DataFrame,
    state: Table,
    history: HistoryFrame,
    memo: Memo | None = None,
    typed: list[str] | None = None,
) -> tuple[list[str], np.ndarray, int]:
    """Every row's Lead ID; rows without one, or with a copy of an earlier row's, get the next
    number. The counter lives in the hidden state tab and never goes back, so an ID is never
    reused even after its row is deleted. ``memo``: the sync's, which keeps each row's
    number with its ID, so that a re-sync reads only the IDs that changed. ``typed``: the
    Lead IDs as typed, stripped, when the caller has them."""
    ids = list(stripped(data["Lead ID"])) if typed is None else typed
    counter = 1
    for key, value in zip(state.column("Key"), state.column("Value"), strict=True):
        if key.strip().casefold() == NEXT_ID_KEY and value.strip().isdigit():
            counter = int(value)
    numbers = _numbers(ids, memo if memo is not None else Memo())
    # History's IDs that no lead holds any more (its distinct texts); no Python call per ID:
    # map() and filter() of C functions
    logged = set(history.column("Lead ID").texts.tolist())
    gone = filter(None, map(ISSUED_PATTERN.fullmatch, logged.difference(ids)))
    counter = max(
        counter,
        int(numbers.max(initial=-1)) + 1,
        max(map(int, map(itemgetter(1), gone)), default=0) + 1,
    )
    # New numbers are above every number issued, so a new ID is never one already in use.
    fresh = (np.array(ids, dtype=object) == "") | pd.Series(
        ids, dtype=object
    ).duplicated().to_numpy()
    for i in np.flatnonzero(fresh):
        ids[i] = f"L-{counter:05d}"
        counter += 1
    return ids, fresh, counter


def _numbers(ids: list[str], memo: Memo) -> np.ndarray:
    """Per ID (stripped), its number, -1 when it is none: int64, or Python ints when one is
    too long for it (the memo keeps these: 8 bytes a lead, not an int object too)."""

    def read(cells: np.ndarray) -> tuple[np.ndarray]:
        found = [int(m[1]) if m else -1 for m in map(ID_PATTERN.match, cells.tolist())]
        try:
            return (np.array(found, dtype=np.int64),)
        except OverflowError:
            return (np.array(found, dtype=object),)

    return per_row(memo, "Lead ID", (), (np.array(ids, dtype=object),), read)[0]


def id_rank(ids: list[str], memo: Memo) -> np.ndarray:
    numbers = _numbers(ids, memo)
    if numbers.dtype == object:  # a typed ID too long for int64: rank by place in the order
        last = max(numbers, default=0) + 1
        keys = np.array([n if n >= 0 else last + i for i, n in enumerate(numbers)], dtype=object)
        ranks = np.empty(len(ids), dtype=np.int64)
        ranks[np.argsort(keys, kind="stable")] = np.arange(len(ids), dtype=np.int64)
        return ranks
    numbers = np.where(numbers >= 0, numbers, 10**12 + np.arange(len(ids), dtype=np.int64))
    return numbers.astype(np.int64)
