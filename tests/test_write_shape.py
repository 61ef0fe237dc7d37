"""The Google write's cells, held compactly (issue 21): a first sync of 100,000 leads writes
~840,000 cells, so a Python object too many per cell is tens of MB at the write's peak."""

from __future__ import annotations

from sheetcrm.backends.sheets_changes import cell_ranges
from sheetcrm.engine.changes import CellUpdate, Changes


def test_a_column_run_is_sent_as_one_list_of_its_cells() -> None:
    cells = [CellUpdate("Leads", row, 1, f"L-{row:05d}") for row in range(1000)]
    cells += [CellUpdate("Leads", row, 3, "12") for row in (5, 6, 9)]  # Amount: numbers
    shape = {"Leads": (["Lead ID", "Created at", "Email", "Amount"], 1000)}
    ranges = list(cell_ranges(Changes("v", cells), shape))
    assert ranges == [
        {
            "range": "'Leads'!B2:B1001",
            "majorDimension": "COLUMNS",
            "values": [[f"L-{row:05d}" for row in range(1000)]],
        },
        {"range": "'Leads'!D7:D8", "majorDimension": "COLUMNS", "values": [[12, 12]]},
        {"range": "'Leads'!D11:D11", "majorDimension": "COLUMNS", "values": [[12]]},
    ]


def test_a_cell_update_carries_no_dict() -> None:
    assert not hasattr(CellUpdate("Leads", 0, 0, "x"), "__dict__")
