"""Step ``ids``: every lead gets a stable Lead ID, and new rows a Created at."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from sheetcrm.engine.history import HistoryFrame
from sheetcrm.engine.schema import STATE
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import Table
from sheetcrm.engine.values import stripped

ID_PATTERN = re.compile(r"^L-(\d+)$")
ISSUED_PATTERN = re.compile(r"L-(\d+)")  # fullmatch: \d is exactly the digits int() reads
NEXT_ID_KEY = "next lead id"


def assign_ids(state: SyncState) -> SyncState:
    data = state.data
    ids, fresh, counter = next_ids(data, state.snapshot.table(STATE.name), state.logged)
    state.put("Lead ID", ids)
    state.ids, state.fresh, state.counter = ids, fresh, counter
    state.rank = _rank(ids)  # Lead ID order: who came first, for duplicates and routing
    state.arrived = (stripped(data["Created at"]) == "").to_numpy()
    created = data["Created at"].to_numpy(dtype=object)
    state.put("Created at", np.where(state.arrived, state.stamp, created))
    return state


def next_ids(
    data: pd.DataFrame, state: Table, history: HistoryFrame
) -> tuple[list[str], np.ndarray, int]:
    """Every row's Lead ID; rows without one, or with a copy of an earlier row's, get the next
    number. The counter lives in the hidden state tab and never goes back, so an ID is never
    reused even after its row is deleted."""
    ids = list(stripped(data["Lead ID"]))
    counter = 1
    for key, value in zip(state.column("Key"), state.column("Value"), strict=True):
        if key.strip().casefold() == NEXT_ID_KEY and value.strip().isdigit():
            counter = int(value)
    # each distinct ID once (History's are its distinct texts); map() makes no Python call per ID
    issued = map(ISSUED_PATTERN.fullmatch, {*ids, *history.column("Lead ID").texts})
    counter = max(counter, max((int(m[1]) for m in issued if m), default=0) + 1)
    # New numbers are above every number issued, so a new ID is never one already in use.
    fresh = (np.array(ids, dtype=object) == "") | pd.Series(
        ids, dtype=object
    ).duplicated().to_numpy()
    for i in np.flatnonzero(fresh):
        ids[i] = f"L-{counter:05d}"
        counter += 1
    return ids, fresh, counter


def _rank(ids: list[str]) -> np.ndarray:
    matches = map(ID_PATTERN.match, ids)
    numbers = [int(m[1]) if m else 10**12 + k for k, m in enumerate(matches)]
    return np.array(numbers, dtype=np.int64)
