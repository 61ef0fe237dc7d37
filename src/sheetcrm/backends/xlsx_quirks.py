"""What python-calamine does not report the way openpyxl did, found in the package's XML.

python-calamine hands back each cell's shown value, which is what sheetcrm reads, but:
- an error (``#N/A``, ``#DIV/0!``) comes back empty, where openpyxl gave its text;
- a formula that shows nothing is an empty cell to it, where openpyxl counted the formula
  as content when measuring a table (a header cell, the last rows);
- it decodes ``_x000D_``-style escapes in text, which openpyxl left as typed.
The first two are found here, tab by tab, and put right by xlsx_read.py; the third sends
the read to openpyxl. Each tab's XML is scanned as bytes first, so only the tabs holding
formulas or errors are parsed, and only for those cells.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from lxml import etree
from openpyxl.utils.cell import coordinate_to_tuple

from sheetcrm.backends.xlsx_parts import sheet_parts

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
# Found in the bytes, one simple pattern each (one with alternatives is ten times slower), as
# Excel, LibreOffice, Google Sheets and openpyxl write them; a tab whose XML names its
# elements with a prefix (<x:c>) is read by openpyxl instead.
_ESCAPE = re.compile(rb"_x[0-9A-Fa-f]{4}_")
_FORMULA = re.compile(rb"<f[\s>/]")  # not <filterColumn>
_ERROR = re.compile(rb"""t=["']e["']""")
_UNPREFIXED = (b"<sheetData", b"<sst")
_CHUNK = 1 << 20
_OVERLAP = 32  # longer than anything searched for, so a match across two chunks is seen


@dataclass
class TabQuirks:
    """By (row, column) from 0: the cells holding a formula, and the errors shown."""

    formulas: set[tuple[int, int]] = field(default_factory=set)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)


class OpenpyxlNeeded(Exception):
    """What python-calamine would read differently is in the file: openpyxl reads it."""


def scan(path: Path) -> dict[str, TabQuirks]:
    """Each tab's formulas and errors (tabs without either are left out).

    Raises :class:`OpenpyxlNeeded` when the text holds escapes python-calamine would decode."""
    found: dict[str, TabQuirks] = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.lower().endswith("sharedstrings.xml") and _search(zf, name)[2]:
                raise OpenpyxlNeeded(name)
        for title, part in sheet_parts(zf).items():
            if part not in zf.NameToInfo:
                continue
            formulas, errors, escaped = _search(zf, part)
            if escaped:
                raise OpenpyxlNeeded(part)
            if formulas or errors:
                with zf.open(part) as stream:
                    found[title] = _cells(stream, every_cell=errors)
    return found


def _search(zf: zipfile.ZipFile, part: str) -> tuple[bool, bool, bool]:
    """Whether ``part`` holds formulas, errors, escapes; read a chunk at a time."""
    formulas = errors = escaped = False
    tail = b""
    with zf.open(part) as stream:
        first = True
        while chunk := stream.read(_CHUNK):
            data = tail + chunk
            if first and not any(tag in data for tag in _UNPREFIXED):
                raise OpenpyxlNeeded(f"{part}: elements with a prefix")
            first = False
            # (a pattern finds its first literal by itself, faster than an `in` test first)
            formulas = formulas or _FORMULA.search(data) is not None
            errors = errors or _ERROR.search(data) is not None
            escaped = escaped or _ESCAPE.search(data) is not None
            if escaped:
                break
            tail = data[-_OVERLAP:]
    return formulas, errors, escaped


def _cells(stream: IO[bytes], every_cell: bool) -> TabQuirks:
    """The formulas and errors of one tab's XML. Without errors to find, only formulas and
    rows come back to Python, not every cell: lxml walks the others itself."""
    quirks = TabQuirks()
    tags = (_MAIN + "c",) if every_cell else (_MAIN + "f", _MAIN + "row")
    for _, el in etree.iterparse(stream, events=("end",), tag=tags):
        if el.tag == _MAIN + "row":
            _drop_before(el)
            continue
        cell = el if el.tag == _MAIN + "c" else el.getparent()
        ref = cell.get("r")
        if ref is None:
            raise OpenpyxlNeeded("a cell without its reference")  # openpyxl counts them itself
        r, c = coordinate_to_tuple(ref)
        if cell.find(_MAIN + "f") is not None:
            quirks.formulas.add((r - 1, c - 1))
        if cell.get("t") == "e":
            value = cell.find(_MAIN + "v")
            quirks.errors[(r - 1, c - 1)] = value.text or "" if value is not None else ""
        if el.tag == _MAIN + "c":
            _drop_before(el)
    return quirks


def _drop_before(el: etree._Element) -> None:
    """Free what was parsed before ``el``: memory stays that of one row."""
    el.clear()
    while el.getprevious() is not None:
        del el.getparent()[0]
