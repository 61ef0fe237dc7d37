"""Reading an export file (CSV or XLSX) a user hands to ``sheetcrm import``: an I/O edge.

Every cell comes back as text: nothing is guessed (a zip code "00123" stays "00123").
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sheetcrm.engine.table import Table
from sheetcrm.errors import ImportFileError

FIELD_LIMIT = 1 << 24
"""The longest CSV field read (16 M characters); a cell holds 32,767, the import cuts it."""


def read_table(path: str | Path) -> Table:
    """A CSV (any common delimiter and encoding) or the first sheet of an .xlsx, as strings."""
    path = Path(path)
    if not path.exists():
        raise ImportFileError(f"no file at {path}", "check the path")
    suffix = path.suffix.casefold()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if suffix not in (".csv", ".tsv", ".txt"):
        raise ImportFileError(f"cannot import {path.name}", "save it as .csv or .xlsx first")
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:65536], delimiters=",;\t|"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    limit = csv.field_size_limit(FIELD_LIMIT)  # the default, 131,072, is a long note
    try:
        rows = [r for r in reader if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise ImportFileError(
            f"cannot read {path.name}, line {reader.line_num}: {exc}",
            "check the quotes there: one left open swallows the rest of the file",
        ) from exc
    finally:
        csv.field_size_limit(limit)
    if not rows:
        raise ImportFileError(f"{path.name} is empty", "export it again with a header row")
    return Table([h.strip() for h in rows[0]], rows[1:])


def _read_xlsx(path: Path) -> Table:
    from openpyxl import load_workbook

    from sheetcrm.engine.values import format_cell

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise ImportFileError(f"cannot read {path.name}: {exc}", "open and save it again") from exc
    try:
        rows = [
            [format_cell(v) for v in row] for row in wb.worksheets[0].iter_rows(values_only=True)
        ]
    finally:
        wb.close()
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise ImportFileError(f"{path.name} is empty", "export it again with a header row")
    return Table([h.strip() for h in rows[0]], rows[1:])
