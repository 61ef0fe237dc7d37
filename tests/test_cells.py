"""Changes' cells held as columns (engine/changes.py ``Cells``): a first sync of 100,000
leads writes ~840,000 cells, ~75 MB as objects at the peak of its write (issue 21). Held
so, they must read back exactly as the list of CellUpdate they stand for, and go to Google
in the same ranges, in the same order, as sorting that list did."""

from __future__ import annotations

from itertools import groupby

from hypothesis import given, settings
from hypothesis import strategies as st

from sheetcrm.engine.changes import Cells, CellUpdate, Changes

cells = st.lists(
    st.builds(
        CellUpdate,
        st.sampled_from(["Leads", "History", "Équipe", "A"]),
        st.integers(0, 40),
        st.integers(0, 6),
        st.text(max_size=5),
    ),
    max_size=80,
)


def _runs_by_sorting(updates: list[CellUpdate]) -> list[tuple[str, int, int, list[str]]]:
    """What sheets_changes.cell_ranges did before: sort by (tab, column, row), then runs of
    consecutive rows; a cell set twice starts a run again, the later value last."""
    out = []
    ordered = sorted(updates, key=lambda c: (c.tab, c.col, c.row))
    for (tab, col), group in groupby(ordered, key=lambda c: (c.tab, c.col)):
        run: list[CellUpdate] = []
        for cell in group:
            if run and cell.row != run[-1].row + 1:
                out.append((tab, col, run[0].row, [c.value for c in run]))
                run = []
            run.append(cell)
        if run:
            out.append((tab, col, run[0].row, [c.value for c in run]))
    return out


@settings(max_examples=300)
@given(cells)
def test_cells_read_back_as_the_list_they_hold(updates):
    held = Cells(updates)
    assert list(held) == updates and held == updates and len(held) == len(updates)
    assert [held[n] for n in range(len(held))] == updates
    assert bool(held) is bool(updates)
    for tab in ("Leads", "History", "nowhere"):
        assert list(held.of_tab(tab)) == [c for c in updates if c.tab == tab]


@settings(max_examples=300)
@given(cells)
def test_runs_are_the_ranges_sorting_made(updates):
    assert list(Cells(updates).runs()) == _runs_by_sorting(updates)


def test_changes_take_a_list_of_updates_as_cells():
    one = CellUpdate("Leads", 0, 1, "x")
    changes = Changes("v", cells=[one])
    assert isinstance(changes.cells, Cells) and list(changes.cells) == [one]
    changes.cells.add("Leads", 1, 1, "y")
    assert changes.cells[1] == CellUpdate("Leads", 1, 1, "y") and changes


@settings(max_examples=300)
@given(cells)
def test_a_tab_s_cells_are_looked_up_as_a_dict_of_them_would(updates):
    """The later of a cell set twice, as the sheet ends up holding it."""
    for tab in ("Leads", "History", "nowhere"):
        found = Cells(updates).lookup(tab)
        mine = {(c.row, c.col): c.value for c in updates if c.tab == tab}
        for row in range(-1, 42):
            for col in range(8):
                assert found.get(row, col) == mine.get((row, col)), (tab, row, col)
        for col in range(8):
            assert found.column(col) == {r: v for (r, c), v in mine.items() if c == col}
