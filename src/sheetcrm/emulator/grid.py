"""One sheet (tab): its grid of cells, its properties, and what formatting requests recorded.

Rows are objects with a stable ``key`` so that what is attached to a row (developer
metadata) moves with it when rows are inserted, deleted or moved, as Google documents; a sort
moves values and leaves the keys where they are. Columns have keys too.
The methods used by the API handlers double as the "human edit" helpers for tests:
``sheet.sort_rows("Stage")``, ``sheet.insert_rows(3)``, ``sheet.set_values("B2", [["x"]])``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from functools import cmp_to_key
from operator import attrgetter
from typing import Any

from sheetcrm.emulator.a1 import Span, column_index, parse_cells
from sheetcrm.emulator.cells import SKIP, Value, formatted, from_raw, from_user_entered, sort_key

DEFAULT_ROWS, DEFAULT_COLS = 1000, 26
RECORDED = (
    "conditional_formats",
    "protected_ranges",
    "validations",
    "formats",
    "dimensions",
    "merges",
    "basic_filter",
    "notes",
    "charts",
)


class Row:
    __slots__ = ("cells", "key")

    def __init__(self, key: int, cells: list[Any] | None = None) -> None:
        self.key = key
        self.cells: list[Any] = cells if cells is not None else []


_KEY, _CELLS = attrgetter("key"), attrgetter("cells")


class Sheet:
    def __init__(
        self, props: dict[str, Any], keys: Iterator[int], rows: int = DEFAULT_ROWS, cols: int = 26
    ) -> None:
        self.props = props
        self._keys = keys
        self.rows = [Row(next(keys)) for _ in range(rows)]
        self.col_keys = [next(keys) for _ in range(cols)]
        # What formatting requests recorded, as Google echoes it in spreadsheets.get:
        self.conditional_formats: list[dict[str, Any]] = []  # {"ranges": [...], "booleanRule"}
        self.protected_ranges: list[dict[str, Any]] = []
        self.validations: list[dict[str, Any]] = []  # {"range": GridRange, "rule": {...}}
        self.formats: list[dict[str, Any]] = []  # repeatCell: {"range", "cell", "fields"}
        self.dimensions: list[dict[str, Any]] = []  # updateDimensionProperties, as sent
        self.merges: list[dict[str, Any]] = []  # closed GridRanges
        self.basic_filter: dict[str, Any] | None = None
        self.notes: dict[tuple[int, int], str] = {}  # (row key, column key) -> note
        self.charts: list[dict[str, Any]] = []  # embedded charts anchored here (charts.py)

    # -- properties -------------------------------------------------------------------------

    @property
    def sheet_id(self) -> int:
        return int(self.props["sheetId"])

    @property
    def title(self) -> str:
        return str(self.props["title"])

    @property
    def hidden(self) -> bool:
        return bool(self.props.get("hidden"))

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def col_count(self) -> int:
        return len(self.col_keys)

    def properties(self) -> dict[str, Any]:
        """SheetProperties as Google answers them: defaults (false, 0) left out."""
        props = copy.deepcopy(self.props)
        grid = props.setdefault("gridProperties", {})
        grid["rowCount"], grid["columnCount"] = self.row_count, self.col_count
        props["gridProperties"] = {k: v for k, v in grid.items() if v not in (0, False)}
        return {k: v for k, v in props.items() if v is not False}

    def snapshot(self) -> dict[str, Any]:
        """A copy of everything a batchUpdate may change, for :meth:`restore`."""
        state = {name: copy.deepcopy(getattr(self, name)) for name in (*RECORDED, "props")}
        # The rows themselves, with copies of their keys and cells taken by C-level maps,
        # not a new Row each: every batchUpdate backs up every tab (issue 21: 0.4 s a
        # request at 24,000 leads), and few ever restore.
        state["rows"] = list(self.rows)
        state["row_keys"] = list(map(_KEY, self.rows))
        state["row_cells"] = list(map(list, map(_CELLS, self.rows)))
        state["col_keys"] = list(self.col_keys)
        return state

    def restore(self, state: dict[str, Any]) -> None:
        state = dict(state)
        keys, cells = state.pop("row_keys"), state.pop("row_cells")
        for row, key, row_cells in zip(state["rows"], keys, cells, strict=True):
            row.key, row.cells = key, row_cells
        self.__dict__.update(state)

    # -- values -----------------------------------------------------------------------------

    def cell(self, row: int, col: int) -> Value | None:
        cells = self.rows[row].cells
        return cells[col] if col < len(cells) else None

    def read(self, span: Span, render: Callable[[Any], Any], columns: bool = False) -> list[Any]:
        """Rendered values of a closed span; trailing empty cells and rows (or columns) left
        out as the API does, empty cells before a value rendered as ""."""
        assert span.row1 is not None and span.col1 is not None
        rows = self.rows[span.row0 : span.row1]
        if columns:
            block = [
                [r.cells[c] if c < len(r.cells) else None for r in rows]
                for c in range(span.col0, span.col1)
            ]
        else:
            block = [r.cells[span.col0 : span.col1] for r in rows]
        out: list[list[Any]] = []
        for cells in block:
            end = len(cells)
            while end and cells[end - 1] is None:
                end -= 1
            out.append([v if type(v) is str else render(v) for v in cells[:end]])  # str: as is
        while out and not out[-1]:
            out.pop()
        return out

    def write(self, row0: int, col0: int, rows: list[list[Any]]) -> None:
        """Store parsed values (see :mod:`cells`) from (row0, col0); SKIP leaves a cell be."""
        for offset, values in enumerate(rows):
            cells = self.rows[row0 + offset].cells
            if len(cells) < col0 + len(values):
                cells.extend([None] * (col0 + len(values) - len(cells)))
            for c, value in enumerate(values, start=col0):
                if value is not SKIP:
                    cells[c] = value

    def clear(self, span: Span) -> None:
        assert span.row1 is not None and span.col1 is not None
        for row in self.rows[span.row0 : span.row1]:
            cells = row.cells
            for c in range(span.col0, min(span.col1, len(cells))):
                cells[c] = None

    def find_table(self, span: Span) -> Span | None:
        """The "table" values.append adds to, as Google finds it (see the cassettes
        test_append_row_with_empty_value*): the last row of the span holding a value; in it,
        the rightmost run of values (so a gap in that row moves appends to the right); that
        run's columns, followed up and down for as long as rows hold a value in them."""
        assert span.row1 is not None and span.col1 is not None
        last = next(
            (
                r
                for r in range(span.row1 - 1, span.row0 - 1, -1)
                if self._holds(r, span.col0, span.col1)
            ),
            None,
        )
        if last is None:
            return None
        cells = self.rows[last].cells
        col1 = min(span.col1, len(cells))
        while cells[col1 - 1] is None:
            col1 -= 1
        col0 = col1 - 1
        while col0 > span.col0 and cells[col0 - 1] is not None:
            col0 -= 1
        while col1 < len(cells) and cells[col1] is not None:
            col1 += 1
        top, bottom = last, last + 1
        while top > 0 and self._holds(top - 1, col0, col1):
            top -= 1
        while bottom < self.row_count and self._holds(bottom, col0, col1):
            bottom += 1
        return Span(top, bottom, col0, col1)

    def _holds(self, row: int, col0: int, col1: int) -> bool:
        """Whether a row has a value between two columns."""
        return any(v is not None for v in self.rows[row].cells[col0:col1])

    # -- structure --------------------------------------------------------------------------

    def insert_rows(self, index: int, count: int = 1) -> None:
        self.rows[index:index] = [Row(next(self._keys)) for _ in range(count)]
        self._shift("ROWS", index, count)

    def delete_rows(self, index: int, count: int = 1) -> None:
        del self.rows[index : index + count]
        self._shift("ROWS", index, -count)

    def insert_cols(self, index: int, count: int = 1) -> None:
        self.col_keys[index:index] = [next(self._keys) for _ in range(count)]
        for row in self.rows:
            if len(row.cells) > index:
                row.cells[index:index] = [None] * count
        self._shift("COLUMNS", index, count)

    def delete_cols(self, index: int, count: int = 1) -> None:
        del self.col_keys[index : index + count]
        for row in self.rows:
            del row.cells[index : index + count]
        self._shift("COLUMNS", index, -count)

    def resize(self, rows: int | None = None, cols: int | None = None) -> None:
        if rows is not None and rows > self.row_count:
            self.rows.extend(Row(next(self._keys)) for _ in range(rows - self.row_count))
        elif rows is not None:
            del self.rows[rows:]
        if cols is not None and cols > self.col_count:
            self.col_keys.extend(next(self._keys) for _ in range(cols - self.col_count))
        elif cols is not None:
            del self.col_keys[cols:]
            for row in self.rows:
                del row.cells[cols:]

    def sort(self, span: Span, specs: list[tuple[int, bool]]) -> None:
        """Sort the rows of a closed span by (column, descending) specs; empty cells last.

        A sort moves values, not rows: what is attached to a row (developer metadata) stays
        at its position. Google documents that row metadata follows rows that are inserted,
        deleted or moved (moveDimension) and says nothing of sorts, so the stand-in gives no
        guarantee that sheetcrm could come to rely on."""
        assert span.row1 is not None and span.col1 is not None
        if span.col0 == 0 and span.col1 >= self.col_count:
            by_cells = cmp_to_key(_comparer(specs))
            rows = self.rows[span.row0 : span.row1]
            keys = [row.key for row in rows]
            rows.sort(key=lambda row: by_cells(row.cells))
            for row, key in zip(rows, keys, strict=True):
                row.key = key
            self.rows[span.row0 : span.row1] = rows
            return
        block = [
            [r.cells[c] if c < len(r.cells) else None for c in range(span.col0, span.col1)]
            for r in self.rows[span.row0 : span.row1]
        ]
        block.sort(key=cmp_to_key(_comparer([(c - span.col0, d) for c, d in specs])))
        self.write(span.row0, span.col0, block)

    def _shift(self, dimension: str, index: int, delta: int) -> None:
        """Recorded ranges follow inserted and deleted rows or columns, as on Google."""
        for rule in self.conditional_formats:
            rule["ranges"] = [g for g in rule["ranges"] if shift_range(g, dimension, index, delta)]
        self.conditional_formats = [r for r in self.conditional_formats if r["ranges"]]
        self.merges = [m for m in self.merges if shift_range(m, dimension, index, delta)]
        for name in ("protected_ranges", "validations", "formats"):
            kept = [
                e for e in getattr(self, name) if shift_range(e["range"], dimension, index, delta)
            ]
            setattr(self, name, kept)

    # -- helpers for tests: edits as a person would make them ----------------------------------

    def set_values(self, a1: str, rows: list[list[Any]], user_entered: bool = False) -> None:
        """Type values in, from the top-left cell of ``a1`` (growing the grid if need be)."""
        span = parse_cells(a1)
        parse = from_user_entered if user_entered else from_raw
        width = max((len(r) for r in rows), default=0)
        self.resize(
            rows=max(self.row_count, span.row0 + len(rows)),
            cols=max(self.col_count, span.col0 + width),
        )
        self.write(span.row0, span.col0, [[parse(v) for v in r] for r in rows])

    def values(self) -> list[list[str]]:
        """Every value as FORMATTED_VALUE shows it, trailing empties left out."""
        return self.read(Span(0, self.row_count, 0, self.col_count), formatted)

    def sort_rows(self, column: int | str, descending: bool = False, header_rows: int = 1) -> None:
        """Sort the whole tab below its header, as "Data > Sort sheet" does; ``column`` is
        an index, a letter or a header text."""
        if isinstance(column, str):
            header = [formatted(v) for v in self.rows[0].cells] if self.rows else []
            column = header.index(column) if column in header else column_index(column)
        self.sort(Span(header_rows, self.row_count, 0, self.col_count), [(column, descending)])


def _comparer(specs: list[tuple[int, bool]]) -> Callable[[list[Any], list[Any]], int]:
    def compare(a: list[Any], b: list[Any]) -> int:
        for col, descending in specs:
            va = a[col] if col < len(a) else None
            vb = b[col] if col < len(b) else None
            if va is None or vb is None:
                if va is not vb:
                    return 1 if va is None else -1  # empty cells last, either way
                continue
            ka, kb = sort_key(va), sort_key(vb)
            if ka != kb:
                return (1 if ka > kb else -1) * (-1 if descending else 1)
        return 0

    return compare


def shift_range(grid: dict[str, Any], dimension: str, index: int, delta: int) -> bool:
    """Move a GridRange (in place) for ``delta`` rows or columns inserted (> 0) or deleted
    (< 0) at ``index``. False when the range was deleted whole."""
    start_key, end_key = (
        ("startRowIndex", "endRowIndex")
        if dimension == "ROWS"
        else ("startColumnIndex", "endColumnIndex")
    )
    start, end = grid.get(start_key, 0), grid.get(end_key)
    if delta > 0:
        if start >= index and start_key in grid:
            grid[start_key] = start + delta
        if end is not None and end > index:
            grid[end_key] = end + delta
        return True
    low, high = index, index - delta

    def moved(x: int) -> int:
        if x <= low:
            return x
        return x + delta if x > high else low

    if start_key in grid:
        grid[start_key] = moved(start)
    if end is not None:
        grid[end_key] = moved(end)
        return bool(grid[end_key] > grid.get(start_key, 0))
    return True
