"""The quick check after a write that was not atomic: did every row written keep its lead?

engine/landing.py's check reads the whole sheet back and finds where each cell went. Most
writes land whole, and that can be told from a few columns read back, a column at a time:
the Leads header (no column renamed, moved or removed), the Lead ID of each row written that
had an ID of its own, and, for a row that had none (a first sync gives them out) or whose ID
this write set, its person cells. A row that still holds them holds its lead, exactly as
:func:`sheetcrm.engine.landing.check_landing` tells a lead from another; anything else and
the whole read and its repair follow. A first sync of 100,000 leads read its whole sheet
back at the peak of its write (~140 MB more, issue 21); its person columns, compared as they
arrive and let go, cost a column's texts at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sheetcrm.engine.changes import Changes
from sheetcrm.engine.plan import find_column, person_columns
from sheetcrm.engine.schema import LEADS, tab_spec
from sheetcrm.engine.table import Snapshot, Table, norm_header


def leads_tab(snapshot: Snapshot) -> str | None:
    """The name the Leads tab has in ``snapshot``; None when it has none."""
    return next((t for t in snapshot.tabs if tab_spec(t) is LEADS), None)


def identifying_columns(table: Table, touched: set[int]) -> list[int]:
    """The person columns that tell a row without an ID from another after a write to
    ``table``'s tab: those it wrote no cell of (``touched``: the columns it wrote). A
    column the sync writes too (Last contact, by the activities step) made a row that got
    another lead's value look like a row a person inserted, and the check then put an
    empty cell back over the Owner a person had typed (a sort between two parts of a first
    sync's write)."""
    return [c for c in person_columns(table) if c not in touched]


class QuickCheck:
    """What to read back after ``written`` (resolved against ``before``), and whether what
    was read says every row written holds its lead. ``columns``: positions in the header as
    read, to be handed to :meth:`take` in that order, each as the sheet has it now below its
    header (trailing empty cells may be left out, as Google does)."""

    def __init__(self, before: Snapshot, written: Changes, tab: str) -> None:
        self.tab = tab
        table = before.table(tab)
        self._rows = table.rows
        self._header = [*table.header, *written.new_columns.get(tab, [])]
        id_col = find_column(table, "Lead ID")
        ids = [_cell(r, id_col).strip() for r in table.rows] if id_col is not None else []
        counts = Counter(i for i in ids if i)
        rows: set[int] = set()
        touched: set[int] = set()
        given: dict[int, str] = {}  # rows whose ID this write set, and to what
        for c in written.cells.of_tab(tab):
            rows.add(c.row)
            touched.add(c.col)
            if c.col == id_col:
                given[c.row] = c.value.strip()
        person = identifying_columns(table, touched)
        # a row known by its ID: one no other row has, which this write left as it was
        self._by_id = {
            r: ids[r] for r in rows if r < len(ids) and counts[ids[r]] == 1 and r not in given
        }
        self._by_cells = sorted(rows - set(self._by_id))
        # and the ID given to a row known by its cells must be there: the row is (a row
        # past the last one now reads as empty cells, like a row that has none)
        self._ids = {**self._by_id, **given}
        # the Lead ID column first; every person column when a row is known by its cells
        # (Lead ID is the service's: never a person column)
        self.columns = [id_col] if id_col is not None and self._ids else []
        self._id_first = bool(self.columns)
        if self._by_cells:
            self.columns += person
        self._ok = bool(self.columns) and bool(person or not self._by_cells)
        self._ok = self._ok and all(r < len(table.rows) for r in rows)
        self._taken = 0

    @classmethod
    def of(cls, before: Snapshot, written: Changes) -> QuickCheck | None:
        """The check of ``written``; None when it wrote no Leads cell (nothing a sort can put
        on another lead)."""
        tab = leads_tab(before)
        if tab is None or next(written.cells.of_tab(tab), None) is None:
            return None
        return cls(before, written, tab)

    def take(self, index: int, now: Sequence[str]) -> None:
        """Column ``self.columns[index]`` as the sheet has it now: compared, then let go."""
        self._taken += 1
        if not self._ok:
            return
        if index == 0 and self._id_first:
            self._ok = all(_at(now, r).strip() == i for r, i in self._ids.items())
            return
        col, rows = self.columns[index], self._rows
        self._ok = all(_at(now, r) == _cell(rows[r], col) for r in self._by_cells)

    def landed(self, header: Sequence[str]) -> bool:
        """Whether every column was taken and said its rows hold their leads, under the header
        the write was made under (``header``: the Leads header now)."""
        if not self._ok or self._taken != len(self.columns):
            return False
        now = [*header, *[""] * (len(self._header) - len(header))]
        return all(
            norm_header(a) == norm_header(b) for a, b in zip(self._header, now, strict=False)
        )


def _cell(row: list[str], col: int | None) -> str:
    return row[col] if col is not None and col < len(row) else ""


def _at(column: Sequence[str], row: int) -> str:
    return str(column[row]) if row < len(column) else ""
