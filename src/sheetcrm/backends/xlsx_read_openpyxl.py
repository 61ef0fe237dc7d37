"""The workbook's tabs as text, read through openpyxl: how every read was made before
python-calamine (xlsx_read.py), kept as the reference that reader is compared with cell by
cell (tests/test_xlsx_readers.py), and as its fallback for the few files it would read
differently or cannot read (see :func:`sheetcrm.backends.xlsx_read.read_tabs`)."""

from __future__ import annotations

from pathlib import Path

from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.worksheet.worksheet import Worksheet

from sheetcrm.backends import xlsx_formulas, xlsx_package
from sheetcrm.backends.workbook_cells import table_grid
from sheetcrm.engine.bulk import gc_paused
from sheetcrm.engine.table import Table
from sheetcrm.engine.values import format_cell


@gc_paused()
def read_tabs_openpyxl(path: Path) -> dict[str, Table]:
    """Every worksheet's table (hidden ones too; chart sheets hold no cells), as text."""
    wb, _ = xlsx_package.load(path)
    tabs: dict[str, Table] = {}
    formulas: dict[str, list[tuple[int, int]]] = {}
    for ws in wb.worksheets:
        grid = table_grid(ws)
        texts = [[format_cell(v) for v in row] for row in grid]
        tabs[ws.title] = Table(texts[0], texts[1:])
        if found := _formulas(ws, grid):
            formulas[ws.title] = found
    if formulas:
        # The engine must see what a formula shows, not "=A1*2": Excel's cached result.
        for title, results in xlsx_formulas.formula_results(path, formulas).items():
            table = tabs[title]
            for (r, c), value in results.items():
                row = table.header if r == 0 else table.rows[r - 1]
                row[c] = format_cell(value)
    return tabs


def _formulas(ws: Worksheet, grid: list[tuple[object, ...]]) -> list[tuple[int, int]]:
    """Where ``grid`` holds formulas, 0-based; text a person typed as "=..." is not one."""
    return [
        (r, c)
        for r, row in enumerate(grid)
        for c, value in enumerate(row)
        if (isinstance(value, str) and value[:1] == "=" and ws.cell(r + 1, c + 1).data_type == "f")
        or isinstance(value, ArrayFormula | DataTableFormula)
    ]
