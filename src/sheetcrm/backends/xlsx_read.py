"""The workbook's tabs as the sheet shows them, as text, read through python-calamine.

python-calamine (Rust) reads a tab's values without building a Python object per cell and
its style, several times faster than openpyxl's full load. Its values become exactly the
text the openpyxl read gave (xlsx_read_openpyxl.py; tests/test_xlsx_readers.py compares
every cell): numbers, dates and booleans through the same :func:`format_cell`; formulas as
the result Excel cached; the cells a merged range covers empty; hidden tabs read, chart
sheets not; a table measured the same way (its header up to the last filled cell, its rows
up to the last one with content under it; a formula counts as content even when it shows
nothing). What calamine reports otherwise is found by xlsx_quirks.py.

Fallback, to openpyxl's reader: a file calamine cannot open (openpyxl then says what is
wrong with it, as before), and one whose text holds ``_x000D_``-style escapes.
"""

from __future__ import annotations

from pathlib import Path

from python_calamine import CalamineError, CalamineSheet, CalamineWorkbook, SheetTypeEnum

from sheetcrm.backends import xlsx_quirks
from sheetcrm.backends.xlsx_package import UNREADABLE
from sheetcrm.backends.xlsx_quirks import OpenpyxlNeeded, TabQuirks
from sheetcrm.backends.xlsx_read_openpyxl import read_tabs_openpyxl
from sheetcrm.engine.bulk import gc_paused
from sheetcrm.engine.table import Table
from sheetcrm.engine.values import format_cell

Span = tuple[tuple[int, int], tuple[int, int]]


@gc_paused()
def read_tabs(path: Path, texts: dict[str, str] | None = None) -> dict[str, Table]:
    """Every worksheet's table, by title in the workbook's order; ``texts`` as
    ``SheetBackend.read`` takes them."""
    try:
        quirks = xlsx_quirks.scan(path)
        book = CalamineWorkbook.from_path(str(path))
    except (OpenpyxlNeeded, CalamineError, *UNREADABLE):
        return read_tabs_openpyxl(path)
    # each distinct text held once, whichever tab has it
    seen: dict[str, str] = {} if texts is None else texts
    try:
        return {
            sheet.name: _table(
                book.get_sheet_by_name(sheet.name),
                quirks.get(sheet.name, TabQuirks()),
                seen,
            )
            for sheet in book.sheets_metadata
            if sheet.typ == SheetTypeEnum.WorkSheet
        }
    except CalamineError:
        return read_tabs_openpyxl(path)
    finally:
        book.close()


def _table(sheet: CalamineSheet, quirks: TabQuirks, seen: dict[str, str]) -> Table:
    # Text as one string per distinct text (calamine makes one per cell: a 100,000-lead
    # sheet repeats its Stage, Owner, dates and IDs); numbers and dates formatted once per
    # distinct value (stamps and amounts repeat); booleans apart, as True == 1 == 1.0 would
    # share one key. A row at a time: calamine's cells for the whole tab at once, freed
    # once shared, left their room to the process (issue 21: 135 MB after a 100,000-lead
    # read), a row's are freed before the next row's are made.
    texts = _Texts()
    keep = seen.setdefault
    start, end = sheet.start or (0, 0), sheet.end or (-1, -1)  # None: no cell has a value
    pad = [""] * start[1]  # iter_rows begins at the first column with content
    grid = [
        pad
        + [
            keep(v, v)
            if type(v) is str
            else ("TRUE" if v else "FALSE")
            if type(v) is bool
            else texts[v]
            for v in row
        ]
        for row in (sheet.iter_rows() if sheet.start is not None else ())
    ]
    if len(grid) < end[0] + 1:  # and, were it to skip them too, the empty rows above
        grid[:0] = [[] for _ in range(end[0] + 1 - len(grid))]
    formulas = set(quirks.formulas)
    height = max([len(grid)] + [r + 1 for r, _ in (*formulas, *quirks.errors)])
    grid += [[] for _ in range(height - len(grid))]  # formulas that show nothing, below
    for (r, c), text in quirks.errors.items():
        _put(grid[r], c, text)
    for (r0, c0), (r1, c1) in sheet.merged_cell_ranges or ():
        # openpyxl keeps a merged range's first cell only; the others read empty
        for r in range(r0, min(r1, height - 1) + 1):
            row = grid[r]
            for c in range(c0, min(c1, len(row) - 1) + 1):
                if (r, c) != (r0, c0):
                    row[c] = ""
            formulas -= {(r, c) for c in range(c0, c1 + 1) if (r, c) != (r0, c0)}
    header = grid[0] if grid else []
    width = max(
        [c + 1 for c, text in enumerate(header) if text] + [c + 1 for r, c in formulas if r == 0],
        default=0,
    )
    if not width:
        return Table([], [])
    rows = [row[:width] + [""] * (width - len(row)) if len(row) != width else row for row in grid]
    in_formulas = {r for r, c in formulas if c < width}
    while len(rows) > 1 and not any(rows[-1]) and len(rows) - 1 not in in_formulas:
        rows.pop()
    return Table(rows[0], rows[1:])


class _Texts(dict[object, str]):
    """A value's text, formatted the first time it is asked for."""

    def __missing__(self, value: object) -> str:
        text = self[value] = format_cell(value)
        return text


def _put(row: list[str], c: int, text: str) -> None:
    row.extend([""] * (c + 1 - len(row)))
    row[c] = text
