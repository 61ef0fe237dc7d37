"""Step ``diff``: every service cell whose value changes becomes a planned write, and every
lead a write or a History row names gets the key that finds it again when the plan is
resolved (by the ID it had; a row given its ID now, by position and the person's cells)."""

from __future__ import annotations

import numpy as np

from sheetcrm.engine.plan import ColumnWrites, person_columns, person_fingerprint
from sheetcrm.engine.plan_rows import PRINT, RowKeys, Texts
from sheetcrm.engine.schema import service_columns
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.values import clamp

FREE_TEXT = ("Score reasons", "Status")


def diff(state: SyncState) -> SyncState:
    plan = state.plan
    limit = state.snapshot.cell_limit
    for column in service_columns():
        old = state.read[column].to_numpy(dtype=object)
        new = state.data[column].to_numpy(dtype=object)
        if column in FREE_TEXT:  # only text we compose can outgrow a cell
            long = np.flatnonzero(
                np.fromiter(map(len, new), dtype=np.int64, count=len(new)) > limit
            )
            new = new.copy()
            new[long] = [clamp(v, limit) for v in new[long]]
        changed = np.flatnonzero(old != new)
        if len(changed):
            # positions as int32 and the cells read as codes: a first sync writes 944,000
            # cells at 100,000 leads, 24 bytes each as lists, 13 now
            rows = changed.astype(np.int32)
            plan.writes.append(
                ColumnWrites(column, rows, Texts(old[changed]), new[changed].tolist())
            )
    plan.keys = _keys(state)
    return state


def _keys(state: SyncState) -> RowKeys:
    """The key of every lead a write or a History row names, as arrays (one object per lead
    was 22 MB at 100,000 new leads)."""
    plan, leads = state.plan, state.leads
    named = np.zeros(len(state.positions), dtype=bool)  # not the writes' rows concatenated
    for w in plan.writes:
        named[w.rows] = True
    logged = np.array(plan.history.keys, dtype=np.int64)
    named[logged[logged >= 0]] = True
    touched = np.concatenate([np.unique(logged[logged < 0]), np.flatnonzero(named)])
    if not len(touched):  # a re-sync that changes nothing: no 100,000 IDs made an array
        return RowKeys()
    rows = state.positions[touched]
    fresh = state.fresh[touched]
    ids = np.asarray(state.ids, dtype=object)[touched]
    ids[fresh] = ""
    person_cols = person_columns(leads)
    prints = bytearray(PRINT * len(touched))
    for j in np.flatnonzero(fresh).tolist():
        prints[j * PRINT : (j + 1) * PRINT] = person_fingerprint(leads.rows[rows[j]], person_cols)
    return RowKeys(touched, rows, ids, fresh, bytes(prints))
