"""The Activities tab as columns, read once per sync and shared: the ``activities`` step
resolves and checks its rows, the follow-up KPIs (engine/followup.py, in the ``metrics``
step) count them. Whatever both need is computed once, on first use, and kept: each
column pulled out of the rows, each column's distinct values (``pd.factorize``) and each
stamp column's canonical forms parsed at C speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter

import numpy as np
import pandas as pd

from sheetcrm.engine.dates import canonical_times
from sheetcrm.engine.schema import ACTIVITIES
from sheetcrm.engine.table import Table

READ = ("At", "Lead ID", "Type", "Outcome", "By", "Next action date")  # Notes: never read


@dataclass
class ActivityFrame:
    """The columns of the Activities tab that are read, by English header (a French header
    read as its English one), each an object array of the cells as typed."""

    columns: dict[str, np.ndarray]
    rows: int
    _codes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _times: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def read(cls, table: Table) -> ActivityFrame:
        rows = table.rows
        width = len(table.header)
        if rows and min(map(len, rows)) < width:
            rows = [(r + [""] * width)[:width] for r in rows]
        columns: dict[str, np.ndarray] = {}
        for i, header in enumerate(table.header):
            spec = ACTIVITIES.column(header)
            if spec is not None and spec.header in READ and spec.header not in columns:
                # straight into the array: no list of a million cells in between
                cells = map(itemgetter(i), rows)
                columns[spec.header] = np.fromiter(cells, dtype=object, count=len(rows))
        return cls(columns, len(rows))

    def column(self, name: str) -> np.ndarray:
        """The cells of column ``name``, all blank when the tab has no such column."""
        found = self.columns.get(name)
        return np.full(self.rows, "", dtype=object) if found is None else found

    def factorized(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``pd.factorize`` of the column: per row the code of its text, and the texts."""
        if name not in self._codes:
            self._codes[name] = pd.factorize(self.column(name))
        return self._codes[name]

    def canonical_times(self, name: str) -> np.ndarray:
        """The column's cells written in a form the sync writes, as datetime64[ns] wall
        times; NaT for the others (dates.canonical_times). A copy: callers fill it in."""
        if name not in self._times:
            self._times[name] = canonical_times(self.column(name))
        return self._times[name].copy()
