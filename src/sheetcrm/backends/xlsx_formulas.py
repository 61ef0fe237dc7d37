"""What formulas show: Excel's cached results, read for the engine and kept across a save.

The engine must see what a formula shows, not "=A1*2". openpyxl also saves formulas without
the result they showed: the results are read from the file before a save and put back into
the tabs it saved.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

from lxml import etree
from openpyxl.utils.cell import coordinate_to_tuple, get_column_letter

from sheetcrm.backends.xlsx_package import UNREADABLE, open_workbook, unreadable
from sheetcrm.backends.xlsx_parts import sheet_parts
from sheetcrm.errors import BackendError

Results = dict[str, dict[tuple[int, int], tuple[str, str]]]
"""By tab, by (row, column) from 1: a formula's cached result as stored, (type, text)."""

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RESULT_TYPES = frozenset({"n", "str", "b", "e"})  # number, text, TRUE/FALSE, #N/A and kin
# A formula cell as openpyxl writes it (lxml's writer, or the standard library's): no type,
# an optional style, the formula, an empty value.
_NO_RESULT = re.compile(
    rb'<c r="([A-Z]{1,3}[0-9]{1,7})"((?: s="[0-9]+")?)>'
    rb"(<f\b[^>]*(?:/>|>[^<]*</f>))<v(?:\s*/>|></v>)</c>"
)


def formula_results(
    path: Path, cells: dict[str, list[tuple[int, int]]]
) -> dict[str, dict[tuple[int, int], object]]:
    """What Excel last showed for the formulas at ``cells`` (0-based row and column, by tab):
    their cached results, streamed from the file rather than built into a second workbook."""
    results: dict[str, dict[tuple[int, int], object]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # load() already recorded what a save would lose
        wb = open_workbook(path, read_only=True, data_only=True)
        try:
            for title, positions in cells.items():
                rows = list(
                    wb[title].iter_rows(
                        max_row=max(r for r, _ in positions) + 1,
                        max_col=max(c for _, c in positions) + 1,
                        values_only=True,
                    )
                )
                results[title] = {(r, c): rows[r][c] for r, c in positions}
        except UNREADABLE as exc:
            raise unreadable(path, exc) from exc
        finally:
            wb.close()
    return results


def cached_results(path: Path, cells: dict[str, set[tuple[int, int]]]) -> Results:
    """What the formulas at ``cells`` (by tab, (row, column) from 1) showed when the file was
    last calculated: streamed from the tabs' XML a row at a time."""
    found: Results = {}
    try:
        with zipfile.ZipFile(path) as zf:
            parts = sheet_parts(zf)
            for title, wanted in cells.items():
                part = parts.get(title, "")
                if part in zf.NameToInfo:
                    with zf.open(part) as stream:
                        found[title] = _results_in(stream, wanted)
    except (*UNREADABLE, etree.XMLSyntaxError) as exc:
        raise unreadable(path, exc) from exc
    return found


def _results_in(
    stream: IO[bytes], wanted: set[tuple[int, int]]
) -> dict[tuple[int, int], tuple[str, str]]:
    results: dict[tuple[int, int], tuple[str, str]] = {}
    formulas = []  # the cells of the current row holding one: a row's end completes them
    # Only formulas and rows come back to Python, not every cell: lxml walks those itself.
    for _, el in etree.iterparse(stream, events=("end",), tag=(_MAIN + "f", _MAIN + "row")):
        if el.tag == _MAIN + "f":
            formulas.append(el.getparent())
            continue
        for cell in formulas:
            ref, kind, value = cell.get("r"), cell.get("t", "n"), cell.find(_MAIN + "v")
            if ref and kind in _RESULT_TYPES and value is not None and value.text is not None:
                key = coordinate_to_tuple(ref)
                if key in wanted:
                    results[key] = (kind, value.text)
        formulas.clear()
        el.clear()  # and the rows before it: memory stays that of one row
        while el.getprevious() is not None:
            del el.getparent()[0]
    return results


def put_results(saved: io.BytesIO, out: IO[bytes], results: Results, path: Path) -> None:
    """Copy the package openpyxl saved into ``out``, results put back into its tabs' XML."""
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        tabs = {part: title for title, part in sheet_parts(src).items() if results.get(title)}
        for info in src.infolist():
            data = src.read(info)
            if info.filename in tabs:
                title = tabs[info.filename]
                data, missed = _with_results(data, results[title])
                if missed:
                    where = ", ".join(a1 for a1 in missed[:5])
                    raise BackendError(
                        f"{path}: sheetcrm could not keep what the formulas at {title}!{where} "
                        "show; nothing was written",
                        "report this; meanwhile, keep formulas out of the synced tabs",
                    )
            dst.writestr(info, data)


def _with_results(
    xml: bytes, results: dict[tuple[int, int], tuple[str, str]]
) -> tuple[bytes, list[str]]:
    """``xml`` (a tab as openpyxl wrote it) with ``results`` in its formula cells, and the
    cells that were not found as formulas without a value (none, unless openpyxl changed)."""
    placed: set[tuple[int, int]] = set()

    def put(match: re.Match[bytes]) -> bytes:
        key = coordinate_to_tuple(match[1].decode())
        if key not in results:
            return match[0]
        placed.add(key)
        kind, text = results[key]
        typed = b"" if kind == "n" else b' t="' + kind.encode() + b'"'
        value = escape(text).encode()
        return b'<c r="%s"%s%s>%s<v>%s</v></c>' % (match[1], match[2], typed, match[3], value)

    xml = _NO_RESULT.sub(put, xml)
    missed = [f"{get_column_letter(c)}{r}" for r, c in sorted(results) if (r, c) not in placed]
    return xml, missed
