"""Reading an export file (CSV or XLSX) a user hands to ``sheetcrm import``: an I/O edge.

Every cell comes back as text: nothing is guessed (a zip code "00123" stays "00123").
A CSV is read as RFC 4180 says and Excel writes it (quotes doubled inside quoted values,
line breaks inside them); only its delimiter and encoding are found from the file. A line
whose values do not line up with the header is set aside, never shifted into other columns.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

from sheetcrm.engine.importer import Export, Misfit
from sheetcrm.errors import ImportFileError

FIELD_LIMIT = 1 << 24
"""The longest CSV field read (16 M characters); a cell holds 32,767, the import cuts it."""
DELIMITERS = (",", ";", "\t", "|")
SAMPLE = 1 << 16
"""Characters the delimiter is judged on."""


def read_table(path: str | Path) -> Export:
    """A CSV (any common delimiter and encoding) or the first sheet of an .xlsx, as strings."""
    path = Path(path)
    if not path.exists():
        raise ImportFileError(f"no file at {path}", "check the path")
    suffix = path.suffix.casefold()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if suffix not in (".csv", ".tsv", ".txt"):
        raise ImportFileError(f"cannot import {path.name}", "save it as .csv or .xlsx first")
    text = _decode(path.name, path.read_bytes())
    first = 1
    if text.startswith("sep=") and text[4:5] in DELIMITERS:  # the line Excel reads as a hint
        delimiter, text, first = text[4], text.partition("\n")[2], 2
    else:
        delimiter = _delimiter(text)
    limit = csv.field_size_limit(FIELD_LIMIT)  # the default, 131,072, is a long note
    try:
        return _read_csv(path.name, text, delimiter, first)
    finally:
        csv.field_size_limit(limit)


def _decode(name: str, raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel's "Unicode text"
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"cannot read {name}: it starts as UTF-16 text but breaks off ({exc.reason})",
                "export it again, or save it as CSV UTF-8",
            ) from exc
    text = ""
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):  # latin-1 reads any byte
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    sample = text[:SAMPLE]
    if sample.count("\x00") > len(sample) // 4:  # every other byte of ASCII text in UTF-16
        raise ImportFileError(
            f"{name} looks like UTF-16 text without the mark that says so",
            "save it as CSV UTF-8 (or as Excel's Unicode text, which carries the mark)",
        )
    return text


def _delimiter(text: str) -> str:
    """The delimiter under which most lines of the sample have as many values as the header
    (two or more); then the one giving the widest header; "," if none splits the header.

    Each candidate is tried by parsing, so one inside quotes never counts. csv.Sniffer
    guesses quoting too, and took ``"27"" screens, two"`` for a value cut at the comma."""
    sample = text[:SAMPLE]
    best, score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(sample, newline=""), csv.excel, delimiter=delimiter)
        try:
            rows = [r for r in reader if any(c.strip() for c in r)]
        except csv.Error:
            continue
        if len(text) > len(sample):
            rows = rows[:-1]  # the sample may end inside the last row
        if not rows or len(rows[0]) < 2:
            continue
        width, body = len(rows[0]), rows[1:]
        fit = sum(len(r) == width for r in body) / len(body) if body else 1.0
        if (fit, width) > score:
            best, score = delimiter, (fit, width)
    return best


def _read_csv(name: str, text: str, delimiter: str, first: int) -> Export:
    reader = csv.reader(io.StringIO(text, newline=""), csv.excel, delimiter=delimiter)
    header: list[str] | None = None
    rows: list[list[str]] = []
    misfits: list[Misfit] = []
    start = first  # the line of the file the next row starts on
    try:
        for row in reader:
            line, start = start, first + reader.line_num
            if not any(c.strip() for c in row):
                continue
            if header is None:
                header = [h.strip() for h in row]
            elif len(row) == len(header):
                rows.append(row)
            else:
                misfits.append(Misfit(line, len(row), _line(row, delimiter)))
    except csv.Error as exc:
        raise ImportFileError(
            f"cannot read {name}, line {first - 1 + reader.line_num}: {exc}",
            "check the quotes there: one left open swallows the rest of the file",
        ) from exc
    if header is None:
        raise ImportFileError(f"{name} is empty", "export it again with a header row")
    return Export(header, rows, name, misfits, delimiter)


def _line(values: list[str], delimiter: str) -> str:
    """A row written back as a CSV line: the values as read, quoted where they need it."""
    out = io.StringIO()
    csv.writer(out, csv.excel, delimiter=delimiter, lineterminator="").writerow(values)
    return out.getvalue()


def _read_xlsx(path: Path) -> Export:
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
    return Export([h.strip() for h in rows[0]], rows[1:], path.name)
