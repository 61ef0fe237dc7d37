"""Step ``diff``: every service cell whose value changes becomes a planned write, and every
lead a write or a History row names gets the key that finds it again when the plan is
resolved (by the ID it had; a row given its ID now, by position and the person's cells)."""

from __future__ import annotations

import numpy as np

from sheetcrm.engine.plan import ColumnWrites, RowKey, person_columns, person_fingerprint
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
            plan.writes.append(
                ColumnWrites(column, changed, list(old[changed]), list(new[changed]))
            )
    leads = state.leads
    person_cols = person_columns(leads)
    touched = {int(i) for w in plan.writes for i in w.rows} | {i for i, _, _ in plan.history}
    for i in sorted(touched):
        p = int(state.positions[i])
        plan.keys[i] = (
            RowKey("", p, person_fingerprint(leads.rows[p], person_cols))
            if state.fresh[i]
            else RowKey(state.ids[i], p)
        )
    return state
