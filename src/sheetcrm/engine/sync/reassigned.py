"""Step ``reassigned``: an owner a person replaced in the sheet is logged on History (By:
the sheet, From and To), and the first-touch clock restarts: Assigned at is stamped now, and
the SLA counts from it (engine/stages.py).

A replacement is an Owner that differs from the last Owner History recorded for the lead,
as a stage change is noticed against the last Stage History. A lead whose owner History
never recorded (typed in by a person, imported with one) has nothing to differ from: its
first owner is not a reassignment. The step runs before routing, so that a lead routed in
this very sync, after a person emptied its Owner, is routing's to log, not a reassignment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sheetcrm.engine.catalog import N_, _
from sheetcrm.engine.schema import SHEET_BY
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.table import norm_header

WHY = N_("owner changed in the sheet; the first-touch clock restarts")


def note_reassignments(state: SyncState) -> SyncState:
    recorded = state.logged.last_recorded("Owner")
    if not recorded:
        return state
    frame = state.view
    before = np.array([recorded.get(i, "") for i in state.ids], dtype=object)
    codes, uniques = pd.factorize(before)  # each distinct owner normalised once
    before_keys = np.array([norm_header(u) for u in uniques], dtype=object)[codes]
    # "" when History has none, and an emptied Owner is routing's to fill: neither counts
    changed = (before_keys != "") & ~frame.blank("Owner") & (before_keys != frame.keys("Owner"))
    if not changed.any():
        return state
    owner = frame.text("Owner").to_numpy(dtype=object)
    assigned_at = state.data["Assigned at"].to_numpy(dtype=object, copy=True)
    for row in map(int, np.flatnonzero(changed)):
        state.history(row, "Owner", before[row], owner[row], _(WHY), "Assigned at", by=SHEET_BY)
        assigned_at[row] = state.stamp
    state.put("Assigned at", assigned_at)
    return state
