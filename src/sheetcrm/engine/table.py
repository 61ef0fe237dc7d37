"""The plain data a backend reads and the engine plans on: tabs of raw strings.

Cells are always strings here. Backends turn whatever they hold (numbers, dates,
formulas' cached values) into the canonical text of :mod:`sheetcrm.engine.values`, so the
engine never depends on a library guessing types.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sheetcrm.engine.values import MAX_CELL

_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=4096)
def norm_header(text: str) -> str:
    """The key a header is matched by: case, surrounding and repeated spaces ignored."""
    return _SPACES.sub(" ", str(text)).strip().casefold()


@lru_cache(maxsize=1024)
def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index = int(index) + 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def a1(tab: str, row: int | None = None, col: int | None = None) -> str:
    """A1 reference for humans: ``Leads!C7``; ``row`` is the 1-based sheet row, ``col`` 0-based."""
    ref = column_letter(col) if col is not None else ""
    ref += str(row) if row is not None else ""
    return f"{tab}!{ref}" if ref else tab


@dataclass
class Table:
    """One tab: a header row and the data rows under it, every cell a string."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        width = len(self.header)
        for row in self.rows:
            if len(row) < width:
                row.extend([""] * (width - len(row)))

    def col(self, name: str) -> int | None:
        """Index of the column whose header matches ``name``, or None."""
        key = norm_header(name)
        for i, h in enumerate(self.header):
            if norm_header(h) == key:
                return i
        return None

    def column(self, name: str) -> list[str]:
        i = self.col(name)
        if i is None:
            return [""] * len(self.rows)
        if min(map(len, self.rows), default=0) > i:  # the usual case, without a loop in Python
            return list(map(itemgetter(i), self.rows))
        return [row[i] if i < len(row) else "" for row in self.rows]

    def records(self) -> list[dict[str, str]]:
        """Rows as dicts keyed by the header text as written in the sheet."""
        return [dict(zip(self.header, row, strict=False)) for row in self.rows]

    @staticmethod
    def sheet_row(index: int) -> int:
        """The 1-based sheet row of data row ``index`` (the header is row 1)."""
        return index + 2

    def copy(self) -> Table:
        return Table(list(self.header), [list(r) for r in self.rows])


@dataclass
class Snapshot:
    """Every tab of a spreadsheet as read at one moment, plus the backend's version token.

    ``cell_limit`` is the most characters a cell of this sheet holds. The engine must cut
    text it adds to a sheet to that, but never asks which backend the sheet lives in: the
    backend that read the snapshot says, and a snapshot from anywhere else gets the
    smallest limit of all, which is safe everywhere.

    ``properties``: what the backend knows of the spreadsheet itself (Google's ``locale``
    and ``timeZone``), which give Settings their defaults (engine/sheet_locale.py); empty
    for a workbook. Google's come with the sync's lease, taken after the read and before
    the plan, so the backend hands over the mapping it keeps up to date, not a copy."""

    tabs: dict[str, Table]
    version: str = ""
    cell_limit: int = MAX_CELL
    properties: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Table | None:
        key = norm_header(name)
        for tab_name, table in self.tabs.items():
            if norm_header(tab_name) == key:
                return table
        return None

    def table(self, name: str) -> Table:
        return self.get(name) or Table([])


def shared_texts(rows: Iterable[Iterable[object]], seen: dict[str, str]) -> list[list[str]]:
    """``rows`` as lists of text, each distinct text one ``str`` held in ``seen`` (one dict
    per read, shared by its tabs): a reader makes a new string per cell, and a 100,000-lead
    sheet repeats its Stage, Owner, Source, dates and Lead IDs (on History too) over and
    over. A Google read of the bench's leads holds 13 MB of strings instead of 76. Mapped in
    C, so it costs about what the copy it replaces did."""
    keep = seen.setdefault
    shared = []
    for row in rows:
        texts = list(map(str, row))
        # through a tuple, as long as the row: a list made from ``map`` grows as it goes and
        # keeps the room it grew (52 places for a Leads row of 42 cells: 8 MB at 100,000)
        shared.append(list(tuple(map(keep, texts, texts))))
    return shared


def table_from_records(header: Iterable[str], records: Iterable[Mapping[str, str]]) -> Table:
    header = list(header)
    return Table(header, [[str(rec.get(h, "")) for h in header] for rec in records])
