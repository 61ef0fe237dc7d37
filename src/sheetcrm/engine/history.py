"""History as columns, read once per sync and shared by every step that reads it, and what
it last recorded about each lead.

History is the service's append-only log and grows by every sync; the ``ids``, ``reassigned``,
``route``, ``stages``, ``sla``, ``activities`` and ``sequences`` steps and the metrics each read
some of its columns. A :class:`HistoryFrame` pulls each column out of the rows once, on first
use, factorises it once and keeps only the codes (per row, which distinct text it holds) and
the distinct texts, which are the rows' own strings: nothing is copied. At is kept as wall
times, each run of equal stamps parsed once: a sync stamps all the rows it appends alike.

A change a person makes in the sheet (a stage moved, an owner replaced) is noticed by
comparing the sheet with the last History row for that lead and field, so it is noticed
however long ago the last sync ran."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

import numpy as np
import pandas as pd
from pandas._libs import lib

from sheetcrm.engine.activities import parse_stamps
from sheetcrm.engine.frame import narrow
from sheetcrm.engine.plan_rows import PlannedHistory
from sheetcrm.engine.schema import HISTORY
from sheetcrm.engine.table import Table

ORDER = HISTORY.headers
"""The order of the cells of a row this sync plans (SyncState.history): At, Lead ID, Field..."""


@dataclass(frozen=True)
class Coded:
    """One column: per row the index of its cell in ``texts``, the column's distinct cells."""

    codes: np.ndarray
    texts: np.ndarray  # object

    def cells(self, rows: Any = slice(None)) -> np.ndarray:
        """The cells of ``rows`` (all by default), as typed: the rows' own strings."""
        return self.texts[self.codes[rows]]  # type: ignore[no-any-return]

    def per_text(self, test: Callable[[str], Any], dtype: type = bool) -> np.ndarray:
        """``test`` of each row's cell, called once per distinct text."""
        return np.array([test(t) for t in self.texts], dtype=dtype)[self.codes]  # type: ignore[no-any-return]


class HistoryFrame:
    """History's rows as columns; ``dayfirst`` and ``zone`` (Settings) read its At stamps.

    :meth:`plus` gives History with the rows a sync plans under it, as the metrics count
    them, sharing every column already read."""

    def __init__(self, table: Table, dayfirst: bool = True, zone: tzinfo = UTC) -> None:
        self.table = table
        self.dayfirst = dayfirst
        self.zone = zone
        self.rows = len(table.rows)
        self._base: HistoryFrame | None = None
        self._planned: Sequence[Sequence[str]] | PlannedHistory = ()
        self._columns: dict[str, Coded] = {}
        self._at: np.ndarray | None = None
        self._cells: dict[int, np.ndarray] | None = None  # by position: until first read

    def plus(self, planned: Sequence[Sequence[str]] | PlannedHistory) -> HistoryFrame:
        """History with ``planned`` under it (rows of cells in :data:`ORDER`, or the plan's
        own): what it holds once this sync's rows are appended. Each column extends this
        frame's."""
        if not planned:
            return self
        joined = HistoryFrame(Table(self.table.header), self.dayfirst, self.zone)
        joined._base, joined._planned = self, planned
        joined.rows = self.rows + len(planned)
        return joined

    def column(self, name: str) -> Coded:
        """Column ``name`` (its header as History spells it), all blank if History lacks it."""
        if name not in self._columns:
            self._columns[name] = self._coded(name)
        return self._columns[name]

    def cells(self, name: str, rows: Any = slice(None)) -> np.ndarray:
        return self.column(name).cells(rows)

    def of_field(self, field: str) -> np.ndarray:
        """Per row, whether its Field is ``field`` (case and surrounding spaces ignored)."""
        wanted = field.strip().casefold()
        return self.column("Field").per_text(lambda f: f.strip().casefold() == wanted)

    @property
    def at(self) -> np.ndarray:
        """Per row, its At as a wall time of the sheet's zone (datetime64[ns]); NaT for a
        blank or unreadable one."""
        if self._at is None:
            if self._base is None:
                self._at = _wall_times(self._pulled("At"), self.dayfirst, self.zone)
            else:
                added = _wall_times(self._added("At"), self.dayfirst, self.zone)
                self._at = np.concatenate([self._base.at, added])
        return self._at

    def last_recorded(self, field: str) -> dict[str, str]:
        """Lead ID -> the To of the last row about ``field`` (case ignored) of that lead."""
        ids = self.column("Lead ID")
        rows = np.flatnonzero(self.of_field(field) & ids.per_text(bool))
        return dict(zip(ids.cells(rows).tolist(), self.cells("To", rows).tolist(), strict=True))

    def _coded(self, name: str) -> Coded:
        if self._base is None:
            return _factorized(self._pulled(name))
        base = self._base.column(name)
        added, texts = pd.factorize(self._added(name))
        if not len(added):
            return base
        # the planned rows' texts already in History keep their codes; the others are new
        where = pd.Index(base.texts, dtype=object).get_indexer(texts)
        new = where < 0
        where[new] = len(base.texts) + np.arange(int(new.sum()))
        joined = np.concatenate([base.texts, texts[new]])
        return Coded(narrow(np.concatenate([base.codes, where[added]]), len(joined)), joined)

    def _pulled(self, name: str) -> np.ndarray:
        """The cells of column ``name``, handed over once: the caller keeps what it derives
        (codes, stamps) and the frame lets the cells go."""
        if self._cells is None:
            self._cells = _columns(self.table)
        i = self.table.col(name)
        if i is None:
            return np.full(self.rows, "", dtype=object)
        if i in self._cells:
            return self._cells.pop(i)
        # handed over already (both its codes and its stamps asked for): read it again
        rows = self.table.rows
        return np.array([r[i] if i < len(r) else "" for r in rows], dtype=object)

    def _added(self, name: str) -> np.ndarray:
        planned = self._planned
        if name not in ORDER:
            return np.full(len(planned), "", dtype=object)
        if isinstance(planned, PlannedHistory):  # held as columns already
            return planned.column(name)
        i = ORDER.index(name)
        return np.array([r[i] for r in planned], dtype=object)


def _columns(table: Table) -> dict[int, np.ndarray]:
    """Every column of ``table``, each an object array of its cells (None past a short row's
    end). The rows are pulled apart in one pass in C, pandas' own (the one a DataFrame of
    lists is built with): the rows are lists apart in memory, and walking them once per
    column cost more than reading the cells."""
    width = len(table.header)
    if not table.rows:
        return {i: np.zeros(0, dtype=object) for i in range(width)}
    grid = lib.to_object_array(table.rows, min_width=width)  # type: ignore[attr-defined]
    return {i: np.ascontiguousarray(grid[:, i]) for i in range(width)}


def _factorized(cells: np.ndarray) -> Coded:
    codes, texts = pd.factorize(cells)
    if len(codes) and codes.min() < 0:  # a missing cell (None: a short row) is a blank one
        codes, texts = pd.factorize(np.where(pd.isna(cells), "", cells))
    # codes in the smallest type that holds them (Field and To: a byte a row, not 8): the
    # metrics hold History's frame and its planned rows' whole, 3 MB at 126,000 rows
    return Coded(narrow(codes, len(texts)), texts)


def _wall_times(cells: np.ndarray, dayfirst: bool, zone: tzinfo) -> np.ndarray:
    """Stamps as wall times, each run of equal cells parsed once: a sync stamps every row it
    appends alike, so History is long runs of one text (cheaper found than by hashing)."""
    if not len(cells):
        return np.zeros(0, dtype="datetime64[ns]")
    heads = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
    parsed = parse_stamps(cells[heads], dayfirst, zone)
    return np.repeat(parsed, np.diff(np.r_[heads, len(cells)]))
