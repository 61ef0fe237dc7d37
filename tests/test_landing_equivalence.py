"""The quick check after a write to Google (engine/landing_quick.py) stands for the full one
(engine/landing.py ``check_landing``): whenever the few columns it reads back say every row
written still holds its lead, the whole read must find nothing to put back. Were it not so,
a person's edit during a sync (a sort, a row inserted, deleted or copied, a cell typed, a
header renamed or moved) would slip past the check and leave a value on another lead.

A small Leads tab with few distinct values (so that rows look alike and a lead is easily
taken for another), a write of cells to it (a first sync's Lead IDs among them), and
person's edits made between the cells the write sends, as a write in parts lets them."""

from __future__ import annotations

from hypothesis import strategies as st

from sheetcrm.engine.changes import Cells, CellUpdate, Changes
from sheetcrm.engine.landing import check_landing
from sheetcrm.engine.landing_quick import QuickCheck
from sheetcrm.engine.table import Snapshot, Table

LEADS = "Leads"
HEADER = ["Lead ID", "First name", "Email", "Owner", "Last contact", "Score", "Status"]
ID, OWNER, LAST_CONTACT = 0, 3, 4
TEXTS = st.sampled_from(["", "a", "b"])
IDS = st.sampled_from(["", "", "L1", "L2", "L3"])


@st.composite
def sheets(draw: st.DrawFn) -> list[list[str]]:
    count = draw(st.integers(1, 6))
    return [[draw(IDS), *(draw(TEXTS) for _ in HEADER[1:])] for _ in range(count)]


@st.composite
def writes(draw: st.DrawFn, rows: list[list[str]]) -> list[CellUpdate]:
    """Cells of the write: a new ID to rows without one (a first sync), else any value to
    the service columns, and to Owner and Last contact (the sync sets those too)."""
    cells: list[CellUpdate] = []
    for r, row in enumerate(rows):
        if not row[ID] and draw(st.booleans()):
            cells.append(CellUpdate(LEADS, r, ID, f"N{r}"))
        for col in (OWNER, LAST_CONTACT, 5, 6):
            if draw(st.integers(0, 2)) == 0:
                cells.append(CellUpdate(LEADS, r, col, draw(st.sampled_from(["x", "y", ""]))))
    return cells


# a person's edits, each applied to the Leads table as Google holds it
EDITS = st.one_of(
    st.tuples(st.just("sort"), st.integers(0, len(HEADER) - 1), st.booleans()),
    st.tuples(st.just("insert"), st.integers(0, 7), st.lists(TEXTS, max_size=len(HEADER))),
    st.tuples(st.just("delete"), st.integers(0, 7)),
    st.tuples(st.just("copy"), st.integers(0, 7), st.integers(0, 7)),
    st.tuples(st.just("type"), st.integers(0, 7), st.integers(0, len(HEADER)), IDS | TEXTS),
    st.tuples(
        st.just("rename"),
        st.integers(0, len(HEADER) - 1),
        st.sampled_from(["upper", "spaced", "Notes", ""]),
    ),
    st.tuples(st.just("move"), st.integers(0, len(HEADER) - 1), st.integers(0, len(HEADER) - 1)),
)


def _edit(table: Table, edit: tuple) -> None:
    rows, kind = table.rows, edit[0]
    if kind == "sort":
        _, col, down = edit
        rows.sort(key=lambda row: row[col] if col < len(row) else "", reverse=down)
    elif kind == "insert":
        rows.insert(min(edit[1], len(rows)), [*edit[2], *[""] * (len(table.header) - 3)])
    elif kind == "delete" and edit[1] < len(rows):
        del rows[edit[1]]
    elif kind == "copy" and edit[1] < len(rows):
        rows.insert(min(edit[2], len(rows)), list(rows[edit[1]]))
    elif kind == "type" and edit[1] < len(rows):
        row = rows[edit[1]]
        row.extend([""] * (edit[2] + 1 - len(row)))
        row[edit[2]] = edit[3]
    elif kind == "rename":
        _, col, how = edit
        name = table.header[col]
        table.header[col] = {"upper": name.upper(), "spaced": f" {name} "}.get(how, how)
    elif kind == "move":
        _, col, to = edit
        for row in [table.header, *rows]:
            row.extend([""] * (len(table.header) - len(row)))
            row.insert(to, row.pop(col))


def _put(table: Table, cell: CellUpdate) -> None:
    """A cell written by position, as Google writes it: rows and columns made as needed."""
    while len(table.rows) <= cell.row:
        table.rows.append([""] * len(table.header))
    row = table.rows[cell.row]
    row.extend([""] * (cell.col + 1 - len(row)))
    row[cell.col] = cell.value


def _as_read(table: Table) -> Table:
    """The tab as Google's read gives it: empty rows at the end left out."""
    rows = [list(r) for r in table.rows]
    while rows and not any(rows[-1]):
        rows.pop()
    return Table(list(table.header), rows)


def _column(table: Table, col: int) -> list[str]:
    """A column below its header as Google sends it by columns: trailing empty cells out."""
    cells = [row[col] if col < len(row) else "" for row in table.rows]
    while cells and cells[-1] == "":
        cells.pop()
    return cells


def _quick_says_landed(before: Snapshot, written: Changes, after: Table) -> bool | None:
    quick = QuickCheck.of(before, written)
    if quick is None or not quick.columns:
        return None
    for index, col in enumerate(quick.columns):
        quick.take(index, _column(after, col))
    header = list(after.header)
    while header and header[-1] == "":
        header.pop()
    return quick.landed(header)


def test_cells_equal_the_list_they_stand_for_in_changes():
    one = CellUpdate(LEADS, 0, 1, "x")
    assert Changes("v", cells=[one]) == Changes("v", cells=Cells([one]))


def test_a_person_column_s_header_retyped_in_another_case_names_the_same_column():
    """Headers are matched with case and spacing ignored everywhere: "EMAIL" is still
    Email. The full check looked person columns up by their exact text, found none, took
    every row of a first sync for a row a person inserted and put empty cells over the
    Lead IDs and scores it had just given (a rename and any other edit during the write
    reach it: the quick check says no, the full check follows)."""
    rows = [["", "Ann", "ann@x", "", "", "", ""], ["", "Bob", "bob@x", "", "", "", ""]]
    before = Snapshot({LEADS: Table(list(HEADER), [list(r) for r in rows])}, "1")
    cells = [
        CellUpdate(LEADS, r, col, f"{v}{r}") for r in (0, 1) for col, v in ((0, "N"), (5, "9"))
    ]
    written = Changes("1", cells=cells)
    sheet = before.table(LEADS).copy()
    for cell in cells:
        _put(sheet, cell)
    sheet.header[2] = "EMAIL"
    landing = check_landing(before, written, Snapshot({LEADS: sheet}, "2"), "now")
    assert list(landing.repair.cells) == [] and not landing.unrepaired and not landing.misplaced
