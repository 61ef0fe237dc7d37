"""Step ``cut``: text that was cut to fit one cell (an import, a web form) is reported on the
lead's Status and the Problems tab, every sync, for as long as the cell says it was cut."""

from __future__ import annotations

import numpy as np

from sheetcrm.engine.catalog import N_, _
from sheetcrm.engine.schema import LEADS, Kind, Owner
from sheetcrm.engine.sync.state import SyncState
from sheetcrm.engine.values import CUT_END, MAX_CELL, cut_from

HINT = N_("keep long notes in a document and link it")


def report_cut_text(state: SyncState) -> SyncState:
    for column in state.data.columns:
        spec = LEADS.column(column)
        # free text only: the service's own text is its to shorten, and a typed value (an
        # e-mail, a date) that long is reported as not being one; a column a person added
        # is free text
        if spec is not None and (spec.owner is Owner.SERVICE or spec.kind is not Kind.TEXT):
            continue
        cells = state.data[column].to_numpy(dtype=object)
        # a cut cell ends with the marker: a column whose text holds it nowhere ends here,
        # at the cost of one copy of its text and one search in C, not a call per cell
        if not len(cells) or CUT_END not in "\n".join(cells.tolist()):
            continue
        if max(map(len, cells)) < MAX_CELL:
            continue
        cut = np.fromiter(map(cut_from, cells), dtype=np.int64, count=len(cells))
        rows = np.flatnonzero(cut)
        if len(rows):
            said = [
                _("the full text did not fit in one cell: %(count)s characters were cut")
                % {"count": f"{n:,}"}
                for n in cut[rows]
            ]
            state.problems.append((rows, column, said, _(HINT)))
    return state
