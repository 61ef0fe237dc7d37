"""The version of a Google Sheet: a digest of the Lead ID and service columns of Leads (but a
lead's reasons: UNVERSIONED) and of the State tab, enough to tell whether a person sorted,
inserted or deleted rows, or typed into a cell a plan would write.

Two ways to the same digest: :func:`token` from a full read, and a :class:`Digest` of a narrow
read of :func:`version_ranges` only (one request), by columns, a column at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sheetcrm.backends.sheets_address import quote
from sheetcrm.engine.schema import LEADS, STATE, service_columns
from sheetcrm.engine.table import Table, column_letter

_SERVICE = frozenset(service_columns())


CHECK_CELLS_IN_ANSWER = 50_000
"""Up to this many service cells (rows x columns), the write's check rides on its grid
batchUpdate's answer; past it, the check is a values read of its own (one read more, no more
writes). A grid-data answer wraps every cell (``{"formattedValue": ...}``): for 56,000 leads'
20 service columns the stand-in and the parse took ~4.5 s more than a values read (issue 21,
session 5); at ~4 us a cell, a request's ~0.1-0.3 s is cheaper past ~50,000 cells."""
BY_COLUMNS = {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "COLUMNS"}

# Texts the sync writes whole from other cells, every time they differ: a person's edit of
# one between a read and a write is written over now or at the next sync alike. A lead's
# reasons are its longest service cells (~700 characters each with the bench's rules): at
# 100,000 leads, Score reasons alone was a 110 MB answer and 65 MB of texts at the peak of
# every large sheet's write check (issue 21).
UNVERSIONED = frozenset({"Score reasons", "Win reasons"})


def versioned(header: str) -> bool:
    """Whether a Leads column is in the version: a service column but for UNVERSIONED."""
    spec = LEADS.column(header)
    return spec is not None and spec.header in _SERVICE and spec.header not in UNVERSIONED


def version_ranges(leads_header: list[str], state: bool) -> list[str]:
    """The ranges to read, by columns, for a :class:`Digest`: the versioned columns of Leads
    at their place in ``leads_header``, then the State tab if there is one."""
    wanted = [i for i, h in enumerate(leads_header) if versioned(h)]
    ranges = [f"{quote(LEADS.name)}!{column_letter(i)}:{column_letter(i)}" for i in wanted]
    if state:
        ranges.append(quote(STATE.name))
    return ranges


HASHED_CELLS = 4096  # cells of a column joined and hashed at a time


class Digest:
    """The digest a column at a time, as the narrow read's answer is parsed: a 100,000-lead sheet's
    service columns are two million cells, ~260 MB held at once as a parsed answer (at the
    peak of a flush's write, issue 21); one column at a time, a few MB."""

    def __init__(self) -> None:
        self._hashed = hashlib.sha256()

    def add(self, column: Sequence[object]) -> None:
        # the same bytes as "\x1f".join(column) at once, a slice of cells at a time: a
        # column of long texts (Status, 14 MB at 100,000 leads) joined whole was held twice
        # more, as text and as bytes, over the parsed column and the answer's text: 28 MB
        # of the 60 MB the write check of a flush into 100,000 leads peaked at (issue 21)
        for start in range(0, len(column), HASHED_CELLS):
            if start:
                self._hashed.update(b"\x1f")
            cells = column[start : start + HASHED_CELLS]
            self._hashed.update("\x1f".join(map(str, cells)).encode())
        self._hashed.update(b"\x1e")

    def hexdigest(self) -> str:
        return self._hashed.hexdigest()


def token(tabs: dict[str, Table]) -> str:
    """The same digest, from a full read."""
    columns: list[list[str]] = []
    leads = tabs.get(LEADS.name)
    if leads is not None:
        for i, h in enumerate(leads.header):
            if versioned(h):
                columns.append([h, *(r[i] if i < len(r) else "" for r in leads.rows)])
    state = tabs.get(STATE.name)
    if state is not None:
        width = max([len(state.header), *(len(r) for r in state.rows)], default=0)
        full = [state.header, *state.rows]
        columns += [[r[c] if c < len(r) else "" for r in full] for c in range(width)]
    for column in columns:
        while column and column[-1] == "":
            column.pop()  # the API leaves trailing empty cells out
    return _digest(columns)


def _digest(columns: Iterable[Sequence[str]]) -> str:
    hashed = Digest()
    for column in columns:
        hashed.add(column)
    return hashed.hexdigest()


def identity_ranges(tab: str, columns: Sequence[int]) -> list[str]:
    """The ranges of a tab's header row, then of each of ``columns`` below it: what
    SheetBackend.identity reads, by columns."""
    letters = [column_letter(c) for c in columns]
    return [f"{quote(tab)}!1:1", *(f"{quote(tab)}!{c}2:{c}" for c in letters)]


class IdentityAnswer:
    """The answer to a batchGet of :func:`identity_ranges` by columns, a column at a time as
    it is parsed: the header kept, each column below it handed to ``each`` and let go."""

    def __init__(self, columns: int, each: Callable[[int, list[str]], None]) -> None:
        self._header: list[str] = []
        self._columns, self._each, self._taken = columns, each, set[int]()

    def column(self, index: int, cells: list[Any]) -> None:
        """batch_get's ``each``: range ``index``'s one row (by columns: a column)."""
        if index == 0:  # the header row, by columns: a list of one cell each
            self._header.append(str(cells[0]) if cells else "")
        else:
            self._taken.add(index - 1)
            self._each(index - 1, [str(v) for v in cells])

    def header(self) -> list[str]:
        """The header, once the answer is parsed; a column empty below its header (Google
        leaves it out of its answer) handed on as empty."""
        for index in range(self._columns):
            if index not in self._taken:
                self._each(index, [])
        return self._header
