"""One tab's XML edited in place: the cells a write sets, every other byte as it was.

The worksheet XML is cut at its rows; only the rows holding a cell to set are taken apart
(into their cells) and put back together, every other row and everything around
``<sheetData>`` (columns, drop-downs, highlighting, merged ranges, drawings) is copied as it
is. A cell is written as openpyxl writes it (workbook_cells.put, openpyxl's cell writer):
text inline (``t="inlineStr"``), numbers and dates as ``t="n"`` with ``%.16g``, a cleared
cell keeps only its style. What this cannot do the way the openpyxl path would raises
:class:`NeedsOpenpyxl`, and the write goes through openpyxl instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from openpyxl.utils.cell import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.utils.datetime import to_excel


class NeedsOpenpyxl(Exception):
    """The change is not one the package editor makes exactly like openpyxl: use openpyxl."""


@dataclass(frozen=True)
class Put:
    """A value to set: ``value`` as workbook_cells.typed gives it (None clears the cell),
    and the style changes workbook_cells.put makes with it."""

    value: int | float | datetime | str | None
    fill: bool  # the grey of service-owned columns
    number_format: str | None  # a date's format; None: keep (a number under a date: General)
    earlier: Put | None = None  # what the same write put there before: its style stays


Edits = dict[int, dict[int, Put]]
"""By sheet row, by column (both from 1)."""
StyleFor = Callable[[int, Put], int]
"""The style index a cell with style ``s`` gets when ``Put`` is written into it."""
KeepStyle = Callable[[int], int]
"""The style index a cell with style ``s`` keeps when a tab rewritten whole clears it."""

_SHEET_DATA = re.compile(rb"<sheetData\b[^>]*?(/?)>")
_ROW = re.compile(rb"<row\b([^>]*?)(/?)>")
_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.DOTALL)
_ATTR = re.compile(rb"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_SPANS = re.compile(rb"""\s+spans\s*=\s*(?:"[^"]*"|'[^']*')""")
_MERGED = re.compile(rb"""<mergeCell\b[^>]*?\bref\s*=\s*["']([A-Z0-9:$]+)["']""")
_DIMENSION = re.compile(rb"""(<dimension\b[^>]*?\bref\s*=\s*["'])([A-Z0-9:$]+)(["'])""")
_ROW_NUMBER = re.compile(rb"""(?:^|\s)r\s*=\s*(?:"([0-9]+)"|'([0-9]+)')""")
_CELL_REF = re.compile(
    rb"""(?:^|\s)r\s*=\s*(?:"([A-Z]{1,3})([0-9]{1,7})"|'([A-Z]{1,3})([0-9]{1,7})')"""
)
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")  # what typed() leaves that XML 1.0 refuses
_CELL_ATTRS = frozenset({"r", "s", "t"})


Pieces = list[bytes | memoryview]
"""A part's new content, in the order written: slices of the part as read where unchanged."""


def edit_sheet(
    xml: bytes,
    edits: Edits,
    style_for: StyleFor,
    clear_all: bool = False,
    keep_style: KeepStyle | None = None,
) -> Pieces:
    """``xml`` (a worksheet part) with ``edits`` set; with ``clear_all``, every other
    cell's value cleared first (its style kept, or ``keep_style`` of it: a metric tab's
    formats go back to General), as a tab rewritten whole. The rows no edit touches come
    back as slices of ``xml``, not copies (a large tab is held once)."""
    found = _SHEET_DATA.search(xml)
    if found is None:
        raise NeedsOpenpyxl("no <sheetData> as Excel writes it (elements with a prefix?)")
    if found[1]:  # <sheetData/>: no rows yet
        start = end = found.end()
        head, tail = xml[: found.start()] + b"<sheetData>", b"</sheetData>" + xml[end:]
    else:
        start = found.end()
        end = xml.find(b"</sheetData>", start)
        if end < 0:
            raise NeedsOpenpyxl("<sheetData> not closed")
        head, tail = xml[:start], xml[end:]
    if _markup(xml, start, end):
        raise NeedsOpenpyxl("comments or CDATA among the rows")
    _check_merged(tail, edits, clear_all)
    keep = (keep_style or _same) if clear_all else None
    rows = _rewrite_rows(xml, start, end, edits, style_for, keep)
    return [_dimension(head, edits), *rows, tail]


def _markup(xml: bytes, start: int, end: int) -> bool:
    """Whether a comment, CDATA or processing instruction (``<!``, ``<?``) is among the
    rows: looked for by their rare second character, not by ``<``, which opens every tag."""
    for mark in b"!?":
        i = xml.find(mark, start, end)
        while i >= 0:
            if xml[i - 1] == 0x3C:  # "<": escaped everywhere in text, so markup
                return True
            i = xml.find(mark, i + 1, end)
    return False


def _check_merged(tail: bytes, edits: Edits, clear_all: bool) -> None:
    """openpyxl refuses to write inside merged cells (with a message) and skips them when
    clearing a tab: both are left to it."""
    for ref in _MERGED.findall(tail):
        if clear_all:
            raise NeedsOpenpyxl("a rewritten tab with merged cells")
        c0, r0, c1, r1 = range_boundaries(ref.decode())
        for r in range(r0, r1 + 1):
            for c in edits.get(r, {}):
                if c0 <= c <= c1 and (r, c) != (r0, c0):
                    raise NeedsOpenpyxl("a cell inside merged cells")


def _same(style: int) -> int:
    return style


def _rewrite_rows(
    xml: bytes, start: int, end: int, edits: Edits, style_for: StyleFor, keep: KeepStyle | None
) -> Pieces:
    """The rows between ``start`` and ``end`` with ``edits`` set."""
    view = memoryview(xml)
    out: Pieces = []
    pending = sorted(edits)  # rows to set, in order; those not in the file are inserted
    i = 0
    pos = start  # copied up to here
    last = 0
    for match in _ROW.finditer(xml, start, end):
        r = _row_number(match[1])
        if r <= last:
            raise NeedsOpenpyxl("rows out of order")
        last = r
        while i < len(pending) and pending[i] < r:  # new rows before this one
            out += [view[pos : match.start()], _new_row(pending[i], edits, style_for)]
            pos = match.start()
            i += 1
        touched = i < len(pending) and pending[i] == r
        if not touched and keep is None:
            continue
        close = match.end() if match[2] else xml.find(b"</row>", match.end(), end)
        if close < 0:
            raise NeedsOpenpyxl("a row not closed")
        row_end = close if match[2] else close + len(b"</row>")
        cells = b"" if match[2] else xml[match.end() : close]
        wanted = edits.get(r, {}) if touched else {}
        out += [view[pos : match.start()], _row(match[1], r, cells, wanted, style_for, keep)]
        pos = row_end
        i += touched
    out.append(view[pos:end])
    out += [_new_row(r, edits, style_for) for r in pending[i:]]
    return out


def _row_number(attrs: bytes) -> int:
    found = _ROW_NUMBER.search(attrs)  # asked of every row: not every attribute parsed
    if found is None:
        raise NeedsOpenpyxl("a row without its number")
    return int(found[1] or found[2])


def _new_row(r: int, edits: Edits, style_for: StyleFor) -> bytes:
    return _row(b' r="%d"' % r, r, b"", edits[r], style_for, None)


def _row(
    attrs: bytes,
    r: int,
    cells: bytes,
    wanted: dict[int, Put],
    style_for: StyleFor,
    keep: KeepStyle | None,
) -> bytes:
    """The row ``r`` with ``wanted`` set; with ``keep``, its other cells cleared."""
    spliced = _splice(r, cells, wanted, style_for) if keep is None and cells else None
    if spliced is not None:
        return b"<row%s>%s</row>" % (_SPANS.sub(b"", attrs), spliced)
    wanted = dict(wanted)  # emptied as cells are found: what is left is new
    placed: list[tuple[int, bytes]] = []
    pos = 0
    for match in _CELL.finditer(cells):  # every cell taken apart
        if cells[pos : match.start()].strip():
            raise NeedsOpenpyxl("something other than cells in a row")
        pos = match.end()
        # only the reference of a cell kept as it is: a row holds tens of them
        ref = _CELL_REF.search(match[1])
        if ref is None or int(ref[2] or ref[4]) != r:
            raise NeedsOpenpyxl("a cell without its reference")
        letters = (ref[1] or ref[3]).decode()
        c = column_index_from_string(letters)
        if c not in wanted and keep is None:
            placed.append((c, match[0]))
            continue
        style = _style_of(match)
        if c in wanted:
            placed.append((c, _cell(r, c, style, wanted.pop(c), style_for)))
        elif keep is not None and (style := keep(style)):
            placed.append((c, b'<c r="%s%d" s="%d"/>' % (letters.encode(), r, style)))
    if cells[pos:].strip():
        raise NeedsOpenpyxl("something other than cells in a row")
    placed += [(c, _cell(r, c, 0, put, style_for)) for c, put in wanted.items()]
    placed.sort(key=lambda cell: cell[0])
    # spans is a hint of the columns a row uses: dropped rather than left wrong
    return b"<row%s>%s</row>" % (_SPANS.sub(b"", attrs), b"".join(b for _, b in placed))


def _splice(r: int, cells: bytes, wanted: dict[int, Put], style_for: StyleFor) -> bytes | None:
    """The row's ``cells`` with ``wanted`` set, when each is there already, found by its
    reference (its other cells are copied, not taken apart); None: one is not (new, or
    written otherwise: with single quotes, after another attribute)."""
    found = []
    for c, put in wanted.items():
        at = cells.find(b' r="%s%d"' % (get_column_letter(c).encode(), r))
        start = cells.rfind(b"<c", 0, at) if at >= 0 else -1
        # in the cell's own start tag, not in a text that happens to hold those characters
        if start < 0 or cells.find(b">", start, at) >= 0:
            return None
        match = _CELL.match(cells, start)
        if match is None or match.end() <= at:
            return None
        found.append((start, match, c, put))
    found.sort(key=lambda cell: cell[0])
    out: list[bytes] = []
    pos = 0
    for start, match, c, put in found:
        out += [cells[pos:start], _cell(r, c, _style_of(match), put, style_for)]
        pos = match.end()
    out.append(cells[pos:])
    return b"".join(out)


def _style_of(match: re.Match[bytes]) -> int:
    """The style of a cell sheetcrm writes into (a ``_CELL`` match); refused: a formula or
    a rich value there, which openpyxl's path handles (or refuses) its own way."""
    cell = {k.decode(): (a or b).decode() for k, a, b in _ATTR.findall(match[1])}
    if set(cell) - _CELL_ATTRS or b"<f" in (match[2] or b""):
        raise NeedsOpenpyxl("a formula or rich value where sheetcrm writes")
    return int(cell.get("s", "0"))


def _cell(r: int, c: int, style: int, put: Put, style_for: StyleFor) -> bytes:
    ref = f"{get_column_letter(c)}{r}".encode()
    value = put.value
    for step in _steps(put):
        if step.value is not None or step.number_format is not None:  # a metric tab's empty
            style = style_for(style, step)
    s = b' s="%d"' % style if style else b""
    if value is None:
        return b'<c r="%s"%s/>' % (ref, s) if style else b""
    if isinstance(value, str):
        if _NOT_XML.search(value):
            raise NeedsOpenpyxl("text XML cannot hold")  # openpyxl says what is wrong with it
        if value == "":  # all of it control characters: an empty text, as openpyxl writes it
            return b'<c r="%s"%s t="inlineStr"/>' % (ref, s)
        text = escape(value).replace("\r", "&#13;").encode()
        space = b' xml:space="preserve"' if value != value.strip() else b""
        return b'<c r="%s"%s t="inlineStr"><is><t%s>%s</t></is></c>' % (ref, s, space, text)
    number = to_excel(value) if isinstance(value, datetime) else value
    return b'<c r="%s"%s t="n"><v>%s</v></c>' % (ref, s, b"%.16g" % number)


def _steps(put: Put) -> list[Put]:
    """``put`` and those it replaced in the same write, the first first."""
    steps = [put]
    while steps[-1].earlier is not None:
        steps.append(steps[-1].earlier)
    return steps[::-1]


def _dimension(head: bytes, edits: Edits) -> bytes:
    """The sheet's <dimension> grown to cover the cells set (readers size the grid by it)."""
    found = _DIMENSION.search(head)
    if found is None or not edits:
        return head
    try:
        c0, r0, c1, r1 = range_boundaries(found[2].decode().replace("$", ""))
    except (ValueError, TypeError):
        return head
    rows = [r for r, cells in edits.items() if cells]
    cols = [c for cells in edits.values() for c in cells]
    if not rows:
        return head
    r1, c1 = max(r1 or 1, *rows), max(c1 or 1, *cols)
    ref = f"{get_column_letter(c0 or 1)}{r0 or 1}:{get_column_letter(c1)}{r1}".encode()
    return head[: found.start(2)] + ref + head[found.end(2) :]
