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

from sheetcrm.engine.changes import Changes
from sheetcrm.engine.dates import canonical_times
from sheetcrm.engine.schema import ACTIVITIES
from sheetcrm.engine.table import Snapshot, Table, norm_header

# the service's column: a posted touch's outbox key (intake/flusher.py) or a nurture e-mail's
# notification key (engine/sync/sent.py), how each knows a row it appended already; empty on
# typed rows, never read by the sync
KEY_COLUMN = "Submission ID"
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


def key_column(header: list[str]) -> int | None:
    """Where an Activities header has Submission ID (or its French name), if anywhere."""
    return next(
        (i for i, h in enumerate(header) if (c := ACTIVITIES.column(h)) and c.header == KEY_COLUMN),
        None,
    )


def activity_keys(tab: Table | None) -> set[str]:
    """The keys the Activities tab's Submission ID column holds: the rows the service
    appended (posted touches, nurture e-mails)."""
    col = key_column(tab.header) if tab is not None else None
    if tab is None or col is None:
        return set()
    return {key for row in tab.rows if col < len(row) and (key := row[col].strip())}


def laid_out(records: list[dict[str, str]], header: list[str]) -> list[list[str]]:
    """Records (by canonical header) as rows in the order of ``header``, French or English."""
    slots = [(c.header if (c := ACTIVITIES.column(h)) else h) for h in header]
    return [[str(record.get(slot, "")) for slot in slots] for record in records]


def append_activities(records: list[dict[str, str]], current: Snapshot, changes: Changes) -> None:
    """The service's own Activities rows (by canonical header, their key in Submission ID)
    appended to the tab, less those whose key it holds already or that come twice: a second
    instance, or a write cut short after it landed, appended them. A tab from before
    Submission ID gets it at its right; a sheet from before the tab gets it, with them."""
    known = activity_keys(current.get(ACTIVITIES.name))
    fresh: dict[str, dict[str, str]] = {}
    for record in records:
        key = record.get(KEY_COLUMN, "")
        if key and key not in known:
            fresh.setdefault(key, record)
    if not fresh:
        return
    rows = list(fresh.values())
    name = next((t for t in current.tabs if norm_header(t) == norm_header(ACTIVITIES.name)), None)
    tab = current.get(ACTIVITIES.name)
    if name is None or tab is None or not tab.header:
        old = tab.rows if tab else []
        changes.replace[ACTIVITIES.name] = Table(
            ACTIVITIES.headers, [*old, *laid_out(rows, ACTIVITIES.headers)]
        )
        return
    added = changes.new_columns.get(name, [])  # the sync's own may have planned it
    if key_column([*tab.header, *added]) is None:
        added = changes.new_columns[name] = [*added, KEY_COLUMN]
    changes.appends.setdefault(name, []).extend(laid_out(rows, [*tab.header, *added]))
