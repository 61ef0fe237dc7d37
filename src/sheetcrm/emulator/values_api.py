"""spreadsheets.values: get, batchGet, update, batchUpdate, append, clear, batchClear, and
the ...ByDataFilter variants. Each handler takes the spreadsheet and the :class:`Call` and
returns the JSON Google answers; a batch is checked whole before anything is written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sheetcrm.emulator.a1 import Span, column_letter, format_range
from sheetcrm.emulator.call import Call
from sheetcrm.emulator.cells import SKIP, formatted, parser, renderer
from sheetcrm.emulator.errors import bad_request, invalid_value
from sheetcrm.emulator.grid import Sheet
from sheetcrm.emulator.metadata import filter_ranges
from sheetcrm.emulator.store import Spreadsheet, exceeds_grid

# -- reading --------------------------------------------------------------------------------


def _options(
    book: Spreadsheet, source: Callable[[str, str], str]
) -> tuple[Callable[[Any], Any], str]:
    render = renderer(
        source("valueRenderOption", "FORMATTED_VALUE"),
        source("dateTimeRenderOption", "SERIAL_NUMBER"),
        str(book.props.get("locale") or "en_US"),
    )
    major = source("majorDimension", "ROWS") or "ROWS"
    if major not in ("ROWS", "COLUMNS"):
        raise bad_request(f"Invalid majorDimension: {major}")
    return render, major


def _value_range(
    book: Spreadsheet, sheet: Sheet, span: Span, render: Callable[[Any], Any], major: str
) -> dict[str, Any]:
    span = book.within_grid(sheet, span)
    out: dict[str, Any] = {"range": format_range(sheet.title, span), "majorDimension": major}
    values = sheet.read(span, render, columns=major == "COLUMNS")
    if values:
        out["values"] = values  # Google leaves "values" out of an empty range
    return out


def get(book: Spreadsheet, call: Call) -> dict[str, Any]:
    render, major = _options(book, call.arg)
    return _value_range(book, *book.resolve(call.range), render, major)


def batch_get(book: Spreadsheet, call: Call) -> dict[str, Any]:
    render, major = _options(book, call.arg)
    ranges = [book.resolve(text) for text in call.arg_list("ranges")]
    out: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id}
    if ranges:
        out["valueRanges"] = [_value_range(book, s, span, render, major) for s, span in ranges]
    return out


def batch_get_by_data_filter(book: Spreadsheet, call: Call) -> dict[str, Any]:
    render, major = _options(book, lambda name, default: call.body.get(name) or default)
    found = []
    for data_filter in call.body.get("dataFilters", []):
        for sheet, span in filter_ranges(book, data_filter):
            value_range = _value_range(book, sheet, span, render, major)
            found.append({"valueRange": value_range, "dataFilters": [data_filter]})
    out: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id}
    if found:
        out["valueRanges"] = found
    return out


# -- writing --------------------------------------------------------------------------------


@dataclass
class Write:
    """One range's values, parsed and checked, ready to store."""

    sheet: Sheet
    row0: int
    col0: int
    rows: list[list[Any]]

    def __post_init__(self) -> None:
        self.width = max((len(r) for r in self.rows), default=0)

    def apply(self) -> None:
        self.sheet.write(self.row0, self.col0, self.rows)

    def tally(self) -> tuple[list[int], set[int], int]:
        """The rows and columns where a cell was written, and how many cells: a JSON null
        writes nothing and is not counted (as Google counts)."""
        rows, cols, cells, full_width = [], set(), 0, 0
        for i, row in enumerate(self.rows):
            if SKIP in row:
                kept = [c for c, v in enumerate(row) if v is not SKIP]
                cols.update(kept)
            else:
                kept, full_width = row, max(full_width, len(row))
            if kept:
                rows.append(self.row0 + i)
                cells += len(kept)
        cols.update(range(full_width))
        return rows, {self.col0 + c for c in cols}, cells

    def response(self, book: Spreadsheet, include_values: bool = False) -> dict[str, Any]:
        row1, col1 = self.row0 + max(len(self.rows), 1), self.col0 + max(self.width, 1)
        span = Span(self.row0, row1, self.col0, col1)
        out: dict[str, Any] = {
            "spreadsheetId": book.spreadsheet_id,
            "updatedRange": format_range(self.sheet.title, span),
        }
        rows, cols, cells = self.tally()
        if cells:
            out["updatedRows"], out["updatedColumns"], out["updatedCells"] = (
                len(rows),
                len(cols),
                cells,
            )
        if include_values:
            out["updatedData"] = _value_range(book, self.sheet, span, formatted, "ROWS")
        return out


def _parsed_values(
    body: dict[str, Any], parse: Callable[[Any], Any], field: str
) -> list[list[Any]]:
    values = body.get("values", [])
    if not isinstance(values, list) or not all(isinstance(r, list) for r in values):
        raise invalid_value(field, values)
    major = body.get("majorDimension") or "ROWS"
    if major == "COLUMNS":
        height = max((len(c) for c in values), default=0)
        values = [[c[i] if i < len(c) else None for c in values] for i in range(height)]
    return [[parse(v) for v in row] for row in values]


def prepare(sheet: Sheet, span: Span, rows: list[list[Any]], asked: str) -> Write:
    """Check a write the way Google does: within the requested range (a single cell is only
    where it starts), within the grid."""
    write = Write(sheet, span.row0, span.col0, rows)
    if span.row1 == span.row0 + 1 and span.col1 == span.col0 + 1:
        span = Span(span.row0, None, span.col0, None)
    if span.row1 is not None and len(rows) > span.row1 - span.row0:
        raise bad_request(
            f"Requested writing within range [{asked}], but tried writing to row [{span.row1 + 1}]"
        )
    if span.col1 is not None and write.width > span.col1 - span.col0:
        raise bad_request(
            f"Requested writing within range [{asked}], but tried writing to column "
            f"[{column_letter(span.col1)}]"
        )
    if span.row0 >= sheet.row_count or span.col0 >= sheet.col_count:
        raise exceeds_grid(sheet, span.row0, span.col0)
    if span.row0 + len(rows) > sheet.row_count:
        raise exceeds_grid(sheet, sheet.row_count, span.col0)
    if span.col0 + write.width > sheet.col_count:
        raise exceeds_grid(sheet, span.row0, sheet.col_count)
    return write


def update(book: Spreadsheet, call: Call) -> dict[str, Any]:
    parse = parser(call.arg("valueInputOption"))
    rows = _parsed_values(call.body, parse, "data.values")
    sheet, span = book.resolve(call.range)
    write = prepare(sheet, span, rows, call.range)
    write.apply()
    return write.response(book, call.flag("includeValuesInResponse"))


def _batch_response(
    book: Spreadsheet, writes: list[Write], responses: list[dict[str, Any]]
) -> dict[str, Any]:
    rows: set[tuple[int, int]] = set()
    cols: set[tuple[int, int]] = set()
    sheets, cells = set(), 0
    for write in writes:
        written_rows, written_cols, count = write.tally()
        sid = write.sheet.sheet_id
        rows.update((sid, r) for r in written_rows)
        cols.update((sid, c) for c in written_cols)
        cells += count
        if count:
            sheets.add(sid)
    out: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id}
    if cells:
        out["totalUpdatedRows"] = len(rows)
        out["totalUpdatedColumns"] = len(cols)
        out["totalUpdatedCells"] = cells
        out["totalUpdatedSheets"] = len(sheets)
    if responses:
        out["responses"] = responses
    return out


def batch_update(book: Spreadsheet, call: Call) -> dict[str, Any]:
    parse = parser(call.body.get("valueInputOption"))
    writes = []
    for i, item in enumerate(call.body.get("data", [])):
        rows = _parsed_values(item, parse, f"data[{i}].values")
        asked = item.get("range", "")
        writes.append(prepare(*book.resolve(asked), rows, asked))
    for write in writes:
        write.apply()
    include = bool(call.body.get("includeValuesInResponse"))
    return _batch_response(book, writes, [w.response(book, include) for w in writes])


def batch_update_by_data_filter(book: Spreadsheet, call: Call) -> dict[str, Any]:
    parse = parser(call.body.get("valueInputOption"))
    planned = []
    for i, item in enumerate(call.body.get("data", [])):
        rows = _parsed_values(item, parse, f"data[{i}].values")
        for sheet, span in filter_ranges(book, item.get("dataFilter", {})):
            asked = format_range(sheet.title, span.clip(sheet.row_count, sheet.col_count))
            planned.append((prepare(sheet, span, rows, asked), item.get("dataFilter")))
    for write, _ in planned:
        write.apply()
    include = bool(call.body.get("includeValuesInResponse"))
    responses = []
    for write, data_filter in planned:
        response = write.response(book, include)
        del response["spreadsheetId"]
        responses.append({**response, "dataFilter": data_filter})
    return _batch_response(book, [w for w, _ in planned], responses)


def append(book: Spreadsheet, call: Call) -> dict[str, Any]:
    """Add rows after the table found in the range (see :meth:`Sheet.find_table`), growing
    the grid as needed; INSERT_ROWS inserts new rows there, OVERWRITE (default) writes over."""
    parse = parser(call.arg("valueInputOption"))
    option = call.arg("insertDataOption", "OVERWRITE")
    if option not in ("OVERWRITE", "INSERT_ROWS"):
        raise bad_request(f"Invalid insertDataOption: {option}")
    rows = _parsed_values(call.body, parse, "data.values")
    sheet, span = book.resolve(call.range)
    table = sheet.find_table(book.within_grid(sheet, span))
    row0, col0 = (table.row1, table.col0) if table else (span.row0, span.col0)
    assert row0 is not None
    width = max((len(r) for r in rows), default=0)
    new_cols = max(0, col0 + width - sheet.col_count)
    new_rows = len(rows) if option == "INSERT_ROWS" else max(0, row0 + len(rows) - sheet.row_count)
    book.check_cells(new_rows * (sheet.col_count + new_cols) + new_cols * sheet.row_count)
    sheet.resize(cols=sheet.col_count + new_cols)
    if option == "INSERT_ROWS":
        sheet.insert_rows(row0, len(rows))
    else:
        sheet.resize(rows=sheet.row_count + new_rows)
    write = Write(sheet, row0, col0, rows)
    write.apply()
    out: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id}
    if table:
        out["tableRange"] = format_range(sheet.title, table)
    out["updates"] = write.response(book, call.flag("includeValuesInResponse"))
    return out


# -- clearing -------------------------------------------------------------------------------


def _clear(book: Spreadsheet, ranges: list[tuple[Sheet, Span]]) -> list[str]:
    closed = [(sheet, book.within_grid(sheet, span)) for sheet, span in ranges]
    for sheet, span in closed:
        sheet.clear(span)
    return [format_range(sheet.title, span) for sheet, span in closed]


def clear(book: Spreadsheet, call: Call) -> dict[str, Any]:
    (cleared,) = _clear(book, [book.resolve(call.range)])
    return {"spreadsheetId": book.spreadsheet_id, "clearedRange": cleared}


def batch_clear(book: Spreadsheet, call: Call) -> dict[str, Any]:
    cleared = _clear(book, [book.resolve(text) for text in call.body.get("ranges", [])])
    out: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id}
    if cleared:
        out["clearedRanges"] = cleared
    return out


def batch_clear_by_data_filter(book: Spreadsheet, call: Call) -> dict[str, Any]:
    ranges = [r for f in call.body.get("dataFilters", []) for r in filter_ranges(book, f)]
    cleared = _clear(book, ranges)
    out: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id}
    if cleared:
        out["clearedRanges"] = cleared
    return out
