"""What a backend is asked to write: cell changes addressed by position in one version of
the sheet. The engine resolves a Plan into these (plan.py); every backend writes them."""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from sheetcrm.engine.table import Table


# slots: a first sync of 100,000 leads writes ~840,000 cells, a dict each was ~50 MB
@dataclass(frozen=True, slots=True)
class CellUpdate:
    tab: str
    row: int  # 0-based data row (sheet row = row + 2)
    col: int  # 0-based column
    value: str


class Cells:
    """Cell updates, held as columns: a tab's code, a row, a column and a value each. A first
    sync of 100,000 leads writes ~840,000 cells: as CellUpdate objects (and their row
    numbers) they were ~75 MB at the peak of its write (issue 21, session 6); as columns,
    ~16 MB. Read as CellUpdate objects, each made when asked for."""

    __slots__ = ("_cols", "_names", "_rows", "_tab", "_tabs", "_values")

    def __init__(self, cells: Iterable[CellUpdate] = ()) -> None:
        self._tabs: dict[str, int] = {}
        self._names: list[str] = []
        self._tab = array("H")
        self._rows = array("i")  # 4 bytes each: a Google sheet holds 10 million cells
        self._cols = array("i")
        self._values: list[str] = []
        self.extend(cells)

    def append(self, cell: CellUpdate) -> None:
        self.add(cell.tab, cell.row, cell.col, cell.value)

    def add(self, tab: str, row: int, col: int, value: str) -> None:
        code = self._tabs.get(tab)
        if code is None:
            code = self._tabs[tab] = len(self._names)
            self._names.append(tab)
        self._tab.append(code)
        self._rows.append(row)
        self._cols.append(col)
        self._values.append(value)

    def extend(self, cells: Iterable[CellUpdate]) -> None:
        for cell in cells:
            self.append(cell)

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, n: int) -> CellUpdate:
        return CellUpdate(self._names[self._tab[n]], self._rows[n], self._cols[n], self._values[n])

    def __iter__(self) -> Iterator[CellUpdate]:
        names = self._names
        for t, r, c, v in zip(self._tab, self._rows, self._cols, self._values, strict=True):
            yield CellUpdate(names[t], r, c, v)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Cells | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like the list it stands for

    def __repr__(self) -> str:
        return f"Cells({list(self)!r})"

    def of_tab(self, tab: str) -> Iterator[CellUpdate]:
        """The cells of ``tab``, in the order added."""
        code = self._tabs.get(tab)
        if code is None:
            return
        picked = np.flatnonzero(self._column(self._tab) == code)
        for start in range(0, len(picked), 65536):  # as Python numbers a block at a time
            for n in picked[start : start + 65536].tolist():
                yield self[n]

    def runs(self) -> Iterator[tuple[str, int, int, list[str]]]:
        """The cells as runs of consecutive rows of one column: (tab, column, first row,
        values), by tab name, then column, then row; a cell set twice starts a run again.
        A column's run is one range to Google. Ordered as numbers, and made a run at a
        time: a key object a cell, or a CellUpdate each, was ~60 MB for a first sync of
        100,000 leads (issue 21, session 6)."""
        if not self._values:
            return
        rank = np.empty(len(self._names), dtype=np.int64)
        rank[np.argsort(np.array(self._names, dtype=object))] = np.arange(len(self._names))
        tabs, cols, rows = (self._column(a) for a in (self._tab, self._cols, self._rows))
        order = np.lexsort((rows, cols, rank[tabs]))
        tabs, cols, rows = tabs[order], cols[order], rows[order]
        starts = np.flatnonzero(
            (tabs[1:] != tabs[:-1]) | (cols[1:] != cols[:-1]) | (rows[1:] != rows[:-1] + 1)
        )
        bounds = [0, *(starts + 1).tolist(), len(order)]
        # each run's tab, column and first row; the sorted copies go (held through the write)
        heads = [(int(tabs[s]), int(cols[s]), int(rows[s])) for s in bounds[:-1]]
        del tabs, cols, rows, starts
        values = self._values
        for (start, end), (tab, col, row) in zip(itertools.pairwise(bounds), heads, strict=True):
            yield self._names[tab], col, row, [values[n] for n in order[start:end].tolist()]

    def lookup(self, tab: str) -> CellLookup:
        """The cells of ``tab`` by (row, column)."""
        code = self._tabs.get(tab, -1)
        picked = np.flatnonzero(self._column(self._tab) == code)
        keys = (self._column(self._cols)[picked].astype(np.int64) << 32) | self._column(self._rows)[
            picked
        ]
        order = np.argsort(keys, kind="stable")  # a cell set twice: the later one last
        return CellLookup(keys[order], picked[order], self._values)

    @staticmethod
    def _column(numbers: array) -> np.ndarray:
        return np.frombuffer(numbers, dtype=np.dtype(numbers.typecode))


class CellLookup:
    """One tab's cells by (row, column), the later of a cell set twice; numbers sorted and
    searched, not a dict: a first sync of 100,000 leads writes ~840,000 cells, and a dict of
    them was ~100 MB at the peak of the check that follows a sort during its write."""

    def __init__(self, keys: np.ndarray, at: np.ndarray, values: list[str]) -> None:
        self._keys, self._at, self._values = keys, at, values

    def get(self, row: int, col: int) -> str | None:
        """The value written at (``row``, ``col``), None when none was."""
        key = (col << 32) | row
        n = int(self._keys.searchsorted(key, side="right")) - 1
        return self._values[int(self._at[n])] if n >= 0 and self._keys[n] == key else None

    def column(self, col: int) -> dict[int, str]:
        """Row -> value of the cells written in column ``col``."""
        lo, hi = self._keys.searchsorted([col << 32, (col + 1) << 32])
        rows = (self._keys[lo:hi] & 0xFFFFFFFF).tolist()
        return dict(zip(rows, [self._values[n] for n in self._at[lo:hi].tolist()], strict=True))


@dataclass
class Changes:
    """Position-addressed writes against the sheet at ``base_version``.

    Applied in this order: ``new_columns`` (headers appended to a tab's header row),
    ``cells``, ``appends`` (rows added under a tab's last row, in its header order after
    ``new_columns``), ``replace`` (tabs rewritten whole, header included; created if absent).
    """

    base_version: str
    cells: Cells = field(default_factory=Cells)
    appends: dict[str, list[list[str]]] = field(default_factory=dict)
    new_columns: dict[str, list[str]] = field(default_factory=dict)
    replace: dict[str, Table] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.cells, Cells):  # a list of CellUpdate
            self.cells = Cells(self.cells)

    def __bool__(self) -> bool:
        return bool(
            self.cells
            or any(self.appends.values())
            or any(self.new_columns.values())
            or self.replace
        )
