"""The rows a plan names, held as columns: the key that finds each lead again, the History
rows the plan appends, and what the cells it writes held when read.

A first sync of 100,000 leads names every lead and plans 126,000 History rows; held as one
object per row (a ``RowKey`` in a dict, a list of seven cells in a tuple) they took about
45 MB, now about 12 (issue 21). Both read as the per-row shapes they replace: a mapping of
plan positions to :class:`RowKey`, a sequence of ``(key, cells, column)``.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
import pandas as pd

from sheetcrm.engine.frame import narrow
from sheetcrm.engine.schema import HISTORY

PRINT = 16  # bytes of a fingerprint (plan.person_fingerprint)


@dataclass(frozen=True, slots=True)
class RowKey:
    lead_id: str  # the ID the row had when read; "" when this plan gives it one
    row: int  # data row position when read
    fingerprint: bytes = b""  # digest of the person's cells, to re-find a row that had no ID


class RowKeys(Mapping[int, RowKey]):
    """Plan position -> :class:`RowKey`, as arrays: ``positions`` ascending and, per key, its
    data row when read (``rows``), its Lead ID (``ids``) and, where ``printed``, the
    fingerprint of the person's cells (``PRINT`` bytes each in ``prints``; zeros elsewhere)."""

    def __init__(
        self,
        positions: np.ndarray | None = None,
        rows: np.ndarray | None = None,
        ids: np.ndarray | None = None,
        printed: np.ndarray | None = None,
        prints: bytes = b"",
    ) -> None:
        self.positions = np.zeros(0, np.int64) if positions is None else positions
        self.rows = np.zeros(0, np.int64) if rows is None else rows
        self.ids = np.zeros(0, object) if ids is None else ids
        self.printed = np.zeros(0, bool) if printed is None else printed
        self.prints = prints
        self._slot: np.ndarray | None = None  # position -> index, built on first lookup

    def _key(self, j: int) -> RowKey:
        start = j * PRINT
        fingerprint = self.prints[start : start + PRINT] if self.printed[j] else b""
        return RowKey(self.ids[j], int(self.rows[j]), fingerprint)

    def _index(self, position: int) -> int:
        if self._slot is None:  # a dense table: describe() looks up every written cell
            top = int(self.positions[-1]) + 1 if len(self.positions) else 0
            self._slot = np.full(max(top, 0), -1, dtype=np.int32)
            at = self.positions >= 0
            self._slot[self.positions[at]] = np.flatnonzero(at)
        if 0 <= position < len(self._slot):
            j = int(self._slot[position])
        else:
            j = int(np.searchsorted(self.positions, position))
            j = j if j < len(self.positions) and self.positions[j] == position else -1
        if j < 0:
            raise KeyError(position)
        return j

    def __getitem__(self, position: int) -> RowKey:
        return self._key(self._index(int(position)))

    def __contains__(self, position: object) -> bool:
        try:
            self._index(int(position))  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError):
            return False
        return True

    def __iter__(self) -> Iterator[int]:
        return iter(self.positions.tolist())

    def __len__(self) -> int:
        return len(self.positions)

    def items(self) -> Iterator[tuple[int, RowKey]]:  # type: ignore[override]
        return zip(self.positions.tolist(), map(self._key, range(len(self))), strict=True)

    def where_read(self) -> dict[int, int]:
        """Plan position -> data row when read, for every key."""
        return dict(zip(self.positions.tolist(), self.rows.tolist(), strict=True))

    def without(self, positions: Collection[int]) -> RowKeys:
        """These keys less those at ``positions``."""
        keep = ~np.isin(self.positions, np.fromiter(positions, np.int64, len(positions)))
        prints = np.frombuffer(self.prints, np.uint8).reshape(-1, PRINT)[keep].tobytes()
        return RowKeys(
            self.positions[keep], self.rows[keep], self.ids[keep], self.printed[keep], prints
        )


class Texts(Sequence[str]):
    """Texts held as codes into their distinct values (``texts``): what the cells a plan
    writes held when read, a few texts over and over (every one blank on a first sync)."""

    def __init__(self, values: np.ndarray) -> None:
        codes, self.texts = pd.factorize(values, use_na_sentinel=False)
        self.codes = narrow(codes, len(self.texts))

    def __len__(self) -> int:
        return len(self.codes)

    @overload
    def __getitem__(self, n: int) -> str: ...
    @overload
    def __getitem__(self, n: slice) -> list[str]: ...
    def __getitem__(self, n: int | slice) -> str | list[str]:
        if isinstance(n, slice):
            return self.texts[self.codes[n]].tolist()  # type: ignore[no-any-return]
        return self.texts[self.codes[n]]  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(self.texts[self.codes].tolist())


class Repeated:
    """A column of a few texts over and over (a sync's stamp, the field names, who): per row
    the index of its text, two bytes (four past 65,536 texts) instead of an eight-byte
    reference."""

    __slots__ = ("_code", "codes", "texts")

    def __init__(self) -> None:
        self.codes = array("H")
        self.texts: list[str] = []
        self._code: dict[str, int] = {}

    def _coded(self, text: str) -> int:
        code = self._code.get(text)
        return self._new(text) if code is None else code

    def _new(self, text: str) -> int:
        code = self._code[text] = len(self.texts)
        self.texts.append(text)
        if code > 0xFFFF and self.codes.typecode == "H":
            self.codes = array("I", self.codes)
        return code

    def append(self, text: str) -> None:  # one call per History row: kept short
        code = self._code.get(text)
        if code is None:
            code = self._new(text)
        self.codes.append(code)  # after _new, which may widen the codes

    def extend(self, texts: Iterable[str]) -> None:
        codes = list(map(self._coded, texts))  # first: a new text may widen the codes
        self.codes.extend(codes)

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, n: int) -> str:
        return self.texts[self.codes[n]]

    def __setitem__(self, n: int, text: str) -> None:
        self.codes[n] = self._coded(text)

    def __iter__(self) -> Iterator[str]:
        return map(self.texts.__getitem__, self.codes)

    def cells(self) -> np.ndarray:
        texts = np.empty(len(self.texts), dtype=object)
        texts[:] = self.texts
        return texts[np.array(self.codes, dtype=np.int64)]  # type: ignore[no-any-return]

    def reorder(self, order: np.ndarray) -> None:
        self.codes = array(self.codes.typecode, np.array(self.codes)[order].tobytes())


REPEATED = ("At", "Field", "By")
"""The History columns a plan's rows repeat a few texts in."""


class PlannedHistory:
    """The History rows a plan appends, in order, as columns: per row the plan key of its lead
    (``keys``; -1 for a row written whatever happens), its cells (``cells``: one column per
    History column, At to Why: :data:`REPEATED` ones coded, the others lists of references
    to strings the sync holds anyway, the leads' IDs, stage names...) and the Leads column
    whose write it records (``columns``; "" for none). Iterating gives ``(key, cells,
    column)`` per row, the cells as a new list."""

    __slots__ = ("cells", "columns", "keys")

    def __init__(self) -> None:
        self.keys = array("q")
        self.cells: tuple[list[str] | Repeated, ...] = tuple(
            Repeated() if name in REPEATED else [] for name in HISTORY.headers
        )
        self.columns = Repeated()

    def add(self, key: int, cells: Sequence[str], column: str) -> None:
        """Append one row: ``cells`` in History's order (At, Lead ID, Field, From, To, By, Why)."""
        at, lead_id, field, before, after, by, why = cells  # unrolled: 126,000 calls a sync
        held = self.cells
        held[0].append(at)
        held[1].append(lead_id)
        held[2].append(field)
        held[3].append(before)
        held[4].append(after)
        held[5].append(by)
        held[6].append(why)
        self.keys.append(key)
        self.columns.append(column)

    def append(self, row: tuple[int, Sequence[str], str]) -> None:
        self.add(*row)

    def extend(self, rows: Iterable[tuple[int, Sequence[str], str]]) -> None:
        rows = list(rows)
        if not rows:
            return
        keys, cells, columns = zip(*rows, strict=True)
        self.keys.extend(keys)
        for held, column in zip(self.cells, zip(*cells, strict=True), strict=True):
            held.extend(column)
        self.columns.extend(columns)

    def column(self, name: str) -> np.ndarray:
        """The cells of History column ``name`` (as :data:`HISTORY` spells it), in order."""
        held = self.cells[HISTORY.headers.index(name)]
        return held.cells() if isinstance(held, Repeated) else np.array(held, dtype=object)

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[tuple[int, list[str], str]]:
        return zip(self.keys, map(list, zip(*self.cells, strict=True)), self.columns, strict=True)

    def __getitem__(self, n: int) -> tuple[int, list[str], str]:
        return self.keys[n], [held[n] for held in self.cells], self.columns[n]

    def in_key_order(self) -> None:
        """Rows in the order of their keys (sheet order of their leads), ties as they came."""
        keys = np.array(self.keys, dtype=np.int64)
        if len(keys) < 2 or bool((keys[1:] >= keys[:-1]).all()):
            return
        order = np.argsort(keys, kind="stable")
        self.keys = array("q", keys[order].tobytes())
        # one column at a time, each let go as its copy is made: not all of them twice
        cells, self.cells = list(self.cells), ()
        for n, held in enumerate(cells):
            if isinstance(held, Repeated):
                held.reorder(order)
            else:
                cells[n] = np.array(held, dtype=object)[order].tolist()
        self.cells = tuple(cells)
        self.columns.reorder(order)

    def unkeyed(self, keys: Collection[int]) -> None:
        """The rows about the leads at ``keys`` become rows written whatever happens (-1), with
        no Leads write to wait for: the rows of leads appended with them."""
        for n, key in enumerate(self.keys):
            if key in keys:
                self.keys[n] = -1
                self.columns[n] = ""
