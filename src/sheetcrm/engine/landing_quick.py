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


class LeadRows:
    """One read of the Leads tab, with each row's identity: its Lead ID and person cells, as
    both checks tell a lead from another (this quick one, and landing.py's).
    A row's person cells are joined when first asked, and the rows by ID and by person
    cells indexed only when a lead is looked for: a check whose cells all landed (most of
    them) asks a few rows, and the whole of both reads' prints and indexes was ~115 MB at
    100,000 leads, at the peak of a flush (issue 21)."""

    def __init__(self, table: Table, person: list[int]) -> None:
        """``person``: the positions in ``table`` of the columns that tell rows apart."""
        self.table = table
        self.id_col = find_column(table, "Lead ID")
        self._cols = person
        self._prints: dict[int, str] = {}
        self.ids = [self.cell(r, self.id_col).strip() for r in range(len(table.rows))]
        self._counts = Counter(i for i in self.ids if i)
        # an ID on two rows (a copied row) names neither: those rows are known by their cells
        self.unique = {i for i, n in self._counts.items() if n == 1}
        self._by_id: dict[str, int] | None = None
        self._by_print: dict[str, list[int]] | None = None

    def print_of(self, r: int) -> str:
        """Row ``r``'s person cells, joined: what tells a row without an ID from another."""
        found = self._prints.get(r)
        if found is None:
            # a row past the last one read is empty cells: Google's read leaves those out
            row = self.table.rows[r] if r < len(self.table.rows) else []
            found = self._prints[r] = "\x1f".join(
                row[c] if 0 <= c < len(row) else "" for c in self._cols
            )
        return found

    def has_id(self, lead_id: str) -> bool:
        """Whether any row holds this Lead ID."""
        return lead_id in self._counts

    def has_print(self, fp: str) -> bool:
        return fp in self._prints_index()

    def _prints_index(self) -> dict[str, list[int]]:
        if self._by_print is None:
            self._by_print = {}
            for r in range(len(self.table.rows)):
                self._by_print.setdefault(self.print_of(r), []).append(r)
        return self._by_print

    def cell(self, row: int, col: int | None) -> str:
        if col is None or row >= len(self.table.rows) or col >= len(self.table.rows[row]):
            return ""
        return self.table.rows[row][col]

    def find(self, lead_id: str, fp: str) -> int:
        """The one row holding this lead, or -1: by ID, else by person cells."""
        if lead_id in self.unique:
            if self._by_id is None:
                self._by_id = {i: r for r, i in enumerate(self.ids) if i in self.unique}
            return self._by_id[lead_id]
        hits = self._prints_index().get(fp, [])
        return hits[0] if len(hits) == 1 else -1


class QuickCheck:
    """What to read back after ``written`` (resolved against ``before``), and whether what
    was read says every row written holds its lead. ``columns``: positions in the header as
    read, to be handed to :meth:`take` in that order, each as the sheet has it now below its
    header (trailing empty cells may be left out, as Google does)."""

    def __init__(self, before: Snapshot, written: Changes, tab: str) -> None:
        self.tab = tab
        table = before.table(tab)
        self._header = [*table.header, *written.new_columns.get(tab, [])]
        id_col = find_column(table, "Lead ID")
        rows: set[int] = set()
        touched: set[int] = set()
        given: dict[int, str] = {}  # rows whose ID this write set, and to what
        for c in written.cells.of_tab(tab):
            rows.add(c.row)
            touched.add(c.col)
            if c.col == id_col:
                given[c.row] = c.value.strip()
        person = identifying_columns(table, touched)
        self._read = read = LeadRows(table, person)
        # a row known by its ID: one no other row has, which this write left as it was
        self._by_id = {
            r: read.ids[r]
            for r in rows
            if r < len(read.ids) and read.ids[r] in read.unique and r not in given
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
        col, read = self.columns[index], self._read
        self._ok = all(_at(now, r) == read.cell(r, col) for r in self._by_cells)

    def landed(self, header: Sequence[str]) -> bool:
        """Whether every column was taken and said its rows hold their leads, under the header
        the write was made under (``header``: the Leads header now)."""
        if not self._ok or self._taken != len(self.columns):
            return False
        now = [*header, *[""] * (len(self._header) - len(header))]
        return all(
            norm_header(a) == norm_header(b) for a, b in zip(self._header, now, strict=False)
        )


def _at(column: Sequence[str], row: int) -> str:
    return str(column[row]) if row < len(column) else ""
