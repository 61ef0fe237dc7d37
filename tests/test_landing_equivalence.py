"""The quick check after a write to Google (engine/landing_quick.py) stands for the full one
(engine/landing.py ``check_landing``): whenever the few columns it reads back say every row
written still holds its lead, the whole read must find nothing to put back. Were it not so,
a person's edit during a sync (a sort, a row inserted, deleted or copied, a cell typed, a
header renamed or moved) would slip past the check and leave a value on another lead.

A small Leads tab with few distinct values (so that rows look alike and a lead is easily
taken for another), a write of cells to it (a first sync's Lead IDs among them), and
person's edits made between the cells the write sends, as a write in parts lets them."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.changes import Cells, CellUpdate, Changes
from sheetcrm.engine.landing import check_landing
from sheetcrm.engine.landing_quick import QuickCheck
from sheetcrm.engine.plan import person_columns, resolve
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Snapshot, Table
from sheets import NOW, template

LEADS = "Leads"
HEADER = ["Lead ID", "First name", "Email", "Owner", "Last contact", "Score", "Status"]
ID, OWNER, LAST_CONTACT = 0, 3, 4
TEXTS = st.sampled_from(["", "a", "b"])
IDS = st.sampled_from(["", "", "L1", "L2", "L3"])
COLUMNS = [*range(len(HEADER)), 2, 4, 10, 13, 16, 20]  # Email, Stage, Owner, Notes in template


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


def _after(
    before: Snapshot, order: list[CellUpdate], edits: list[tuple], new: Sequence[str] = ()
) -> Table:
    """The Leads tab once ``order``'s cells are written under the ``new`` headers, a
    person's ``edits`` made between them (each at the number of cells written before it),
    as the next read gives it."""
    sheet = before.table(LEADS).copy()
    sheet.header.extend(new)
    for n, cell in enumerate([*order, None]):
        for at, edit in edits:
            if at == n:
                _edit(sheet, edit)
        if cell is not None:
            _put(sheet, cell)
    return _as_read(sheet)


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


def _in_order(written: Changes) -> list[CellUpdate]:
    """The Leads cells of ``written`` in the order Google gets them (a column's runs)."""
    return [
        CellUpdate(tab, row + n, col, value)
        for tab, col, row, values in written.cells.runs()
        if tab == LEADS
        for n, value in enumerate(values)
    ]


def _check_both(data: st.DataObject, before: Snapshot, written: Changes, edits: Any) -> None:
    """``written`` sent a cell at a time in the order Google gets them, up to two of
    ``edits`` made between them; if the quick check says landed, the full check must find
    nothing to put back."""
    order = _in_order(written)
    made = data.draw(st.lists(st.tuples(st.integers(0, len(order)), edits), max_size=2))
    after = _after(before, order, made, written.new_columns.get(LEADS, []))
    if not _quick_says_landed(before, written, after):
        return
    landing = check_landing(before, written, Snapshot({LEADS: after}, "2"), "now")
    assert not landing.repair and not landing.misplaced and not landing.unrepaired, (
        made,
        list(landing.repair.cells),
    )


@settings(max_examples=500)
@given(st.data())
def test_what_the_quick_check_passes_the_full_check_finds_right(data):
    rows = data.draw(sheets())
    before = Snapshot({LEADS: Table(list(HEADER), [list(r) for r in rows])}, "1")
    cells = data.draw(writes(rows))
    _check_both(data, before, Changes("1", cells=cells), EDITS)


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


def _variant(n: int) -> Snapshot:
    """A template sheet as a sync reads it: before its first sync (1: with two rows copied
    whole, so that rows alike are there; 3: without its Lead ID, Score and Grade columns,
    which the write adds), or after it (2: leads edited by a person and new rows without an
    ID, one a copy of a lead, its ID on two rows)."""
    tabs = template()
    leads = tabs[LEADS]
    if n == 3:
        gone = {leads.col(h) for h in ("Lead ID", "Score", "Grade")}
        keep = [i for i in range(len(leads.header)) if i not in gone]
        leads = tabs[LEADS] = Table(
            [leads.header[i] for i in keep], [[row[i] for i in keep] for row in leads.rows]
        )
    if n == 1:
        leads.rows[5:5] = [list(leads.rows[3]), list(leads.rows[3])]
    if n == 2:
        backend = MemoryBackend(tabs)
        snapshot = backend.read()
        backend.write(resolve(plan_sync(snapshot, NOW), snapshot).changes)
        tabs = backend.read().tabs
        leads = tabs[LEADS]
        stage, industry = leads.col("Stage"), leads.col("Industry")
        for row in leads.rows[::4]:
            row[stage], row[industry] = "Qualification", "Retail"
        leads.rows.insert(8, list(leads.rows[2]))
        for n, row in enumerate(leads.rows[10:14]):
            leads.rows.append([*row])
            leads.rows[-1][leads.col("Lead ID")] = ""
            leads.rows[-1][leads.col("Email")] = f"new{n}@example.com"
    return Snapshot(tabs, "1")


@cache
def _written(n: int) -> tuple[Snapshot, Changes]:
    before = _variant(n)
    return before, resolve(plan_sync(before, NOW), before).changes


REAL_EDITS = st.one_of(
    st.tuples(st.just("sort"), st.sampled_from(COLUMNS), st.booleans()),
    st.tuples(st.just("insert"), st.integers(0, 60), st.lists(st.sampled_from(["", "x"]))),
    st.tuples(st.just("delete"), st.integers(0, 60)),
    st.tuples(st.just("copy"), st.integers(0, 60), st.integers(0, 60)),
    st.tuples(st.just("type"), st.integers(0, 60), st.sampled_from(COLUMNS), TEXTS | IDS),
    st.tuples(
        st.just("rename"),
        st.sampled_from(COLUMNS),
        st.sampled_from(["upper", "spaced", "Notes", ""]),
    ),
    st.tuples(st.just("move"), st.sampled_from(COLUMNS), st.sampled_from(COLUMNS)),
)


@settings(max_examples=300)
@given(st.sampled_from([0, 1, 2, 3]), st.data())
def test_the_quick_check_of_a_sync_s_write_stands_for_the_full_one(variant, data):
    _check_both(data, *_written(variant), REAL_EDITS)


def test_a_row_the_write_left_empty_at_the_end_is_still_its_row():
    """Google's read leaves empty rows at the end out. A write that empties the last row
    (no ID, no person cell: its only cell cleared) lands whole, and the quick check says so
    (a row past the last one read is empty cells); the full check took it for a lead gone,
    found its twin in the row above and emptied that one's cell too."""
    rows = [["", "", "", "", "", "", "b"], ["", "", "", "", "", "", "b"]]
    before = Snapshot({LEADS: Table(list(HEADER), [list(r) for r in rows])}, "1")
    cells = [CellUpdate(LEADS, 1, 6, "")]
    written = Changes("1", cells=cells)
    after = _after(before, cells, [])
    assert len(after.rows) == 1 and _quick_says_landed(before, written, after)
    landing = check_landing(before, written, Snapshot({LEADS: after}, "2"), "now")
    assert list(landing.repair.cells) == [] and not landing.misplaced


def test_a_note_typed_on_a_new_lead_during_the_write_keeps_what_the_write_gave_it():
    """A person types a note on a row the first sync gives an ID to, while its write goes:
    the quick check sees a person cell changed and the full check follows. The row still
    holds the ID this write gave it, matches no other lead read, and its lead is nowhere
    else: it is that lead, a cell typed. The full check took it for a row a person inserted
    and emptied its new Lead ID, Owner, Score and its Last contact (a person's column)."""
    for variant in (0, 3):  # 3: the write adds the Lead ID column, and gives the IDs
        before, written = _written(variant)
        order, new = _in_order(written), written.new_columns.get(LEADS, [])
        notes = before.table(LEADS).col("Notes")
        for at in (len(order) // 2, len(order)):
            typed = [(at, ("type", 0, notes, "called, left a message"))]
            after = _after(before, order, typed, new)
            assert not _quick_says_landed(before, written, after)
            landing = check_landing(before, written, Snapshot({LEADS: after}, "2"), "now")
            assert list(landing.repair.cells) == [] and not landing.misplaced
            assert not landing.unrepaired


def test_a_lead_deleted_and_another_typed_in_its_place_gets_nothing_of_it():
    """What the full check did and does: the row at a lead's place now holds another lead
    altogether (the lead deleted, a new one typed in its row): the values the write gave
    there are taken back."""
    before, written = _written(0)
    order = _in_order(written)
    edits = [(0, ("type", 0, c, f"other {c}")) for c in person_columns(before.table(LEADS))]
    after = _after(before, order, edits[:1])
    for _, edit in edits[1:]:
        _edit(after, edit)
    landing = check_landing(before, written, Snapshot({LEADS: after}, "2"), "now")
    id_col = before.table(LEADS).col("Lead ID")
    assert (0, id_col, "") in {(c.row, c.col, c.value) for c in landing.repair.cells}
