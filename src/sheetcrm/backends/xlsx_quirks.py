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
_ESCAPE = re.compile(rb"_x[0-9A-Fa-f]{4}_")
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_ERROR = re.compile(rb"""\bt\s*=\s*["']e["']""")
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
            if name.lower().endswith("sharedstrings.xml") and _search(zf, name, _ESCAPE):
                raise OpenpyxlNeeded(name)
        for title, part in sheet_parts(zf).items():
            if part not in zf.NameToInfo:
                continue
            formulas, errors, escaped = _search(zf, part, _FORMULA, _ERROR, _ESCAPE)
            if escaped:
                raise OpenpyxlNeeded(part)
            if formulas or errors:
                with zf.open(part) as stream:
                    found[title] = _cells(stream, every_cell=errors)
    return found


def _search(zf: zipfile.ZipFile, part: str, *patterns: re.Pattern[bytes]) -> list[bool]:
    """Whether each of ``patterns`` occurs in ``part``, read a chunk at a time."""
    seen = [False] * len(patterns)
    tail = b""
    with zf.open(part) as stream:
        while chunk := stream.read(_CHUNK):
            data = tail + chunk
            for i, pattern in enumerate(patterns):
                seen[i] = seen[i] or pattern.search(data) is not None
            if all(seen):
                break
            tail = data[-_OVERLAP:]
    return seen


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
