"""A1 notation as the Sheets API reads and echoes it.

Reads: ``Sheet1``, ``'My tab'!A1:B2``, ``Sheet1!A:C``, ``Sheet1!2:5``, ``Sheet1!A5:C`` (open end),
``Sheet1!D4:A1`` (reversed: normalised), ``A1:B2`` (no title: the first visible sheet).
Echoes: the title quoted only when it must be (``Sheet1!A1:B2`` but ``'D3'!A1``,
``'My tab'!A1``), a single cell without a colon, open ends clipped to the grid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENDPOINT = re.compile(r"([A-Za-z]{0,3})(\d*)")
_PLAIN_TITLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CELL_LIKE = re.compile(r"[A-Za-z]{1,3}\d+|[Rr]\d*[Cc]\d*")


@dataclass(frozen=True)
class Span:
    """A rectangle of cells: 0-based, end-exclusive; ``None`` ends run to the grid's edge."""

    row0: int = 0
    row1: int | None = None
    col0: int = 0
    col1: int | None = None

    def clip(self, rows: int, cols: int) -> Span:
        """The span with open ends closed, and ends past the grid cut back to it."""
        row1 = rows if self.row1 is None else min(self.row1, rows)
        col1 = cols if self.col1 is None else min(self.col1, cols)
        return Span(self.row0, row1, self.col0, col1)

    @property
    def rows(self) -> int:
        assert self.row1 is not None
        return self.row1 - self.row0

    @property
    def cols(self) -> int:
        assert self.col1 is not None
        return self.col1 - self.col0


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(letters: str) -> int:
    """A -> 0, Z -> 25, AA -> 26 (case-insensitive)."""
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index - 1


def quote_title(title: str) -> str:
    """A sheet title as Google echoes it in a range: bare when it can be, else in quotes."""
    if _PLAIN_TITLE.fullmatch(title) and not _CELL_LIKE.fullmatch(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def split_range(text: str) -> tuple[str | None, str | None]:
    """``'My tab'!A1:B2`` -> ("My tab", "A1:B2"); ``Leads`` -> ("Leads", None). A bare
    ``A1:B2`` also comes back as a title: the store decides whether a tab has that name
    (else it means cells of the first visible sheet). Raises ValueError when unreadable."""
    if text.startswith("'"):
        title, i = [], 1
        while i < len(text):
            if text[i] == "'":
                if text[i + 1 : i + 2] == "'":
                    title.append("'")
                    i += 2
                    continue
                break
            title.append(text[i])
            i += 1
        else:
            raise ValueError(text)
        rest = text[i + 1 :]
        if rest == "":
            return "".join(title), None
        if not rest.startswith("!") or len(rest) == 1:
            raise ValueError(text)
        return "".join(title), rest[1:]
    if "!" in text:
        title_part, cells = text.rsplit("!", 1)
        if not title_part or not cells:
            raise ValueError(text)
        return title_part, cells
    return text, None


def parse_cells(text: str) -> Span:
    """``A1:B2`` -> Span(0, 2, 0, 2); ``A:C`` -> Span(0, None, 0, 3). Raises ValueError."""
    parts = text.split(":")
    if len(parts) > 2:
        raise ValueError(text)
    ends = [_endpoint(part, text) for part in parts]
    if len(ends) == 1:
        row, col = ends[0]
        if row is None or col is None:
            raise ValueError(text)  # a lone "A" or "3" would be a name, not cells
        return Span(row, row + 1, col, col + 1)
    (row_a, col_a), (row_b, col_b) = ends
    if (row_a is None and col_b is None) or (col_a is None and row_b is None):
        raise ValueError(text)  # "A:2", "2:A"
    row0, row1 = _axis(row_a, row_b)
    col0, col1 = _axis(col_a, col_b)
    return Span(row0, row1, col0, col1)


def _endpoint(part: str, text: str) -> tuple[int | None, int | None]:
    match = _ENDPOINT.fullmatch(part)
    if not match or not (match[1] or match[2]) or (match[2] and int(match[2]) == 0):
        raise ValueError(text)
    row = int(match[2]) - 1 if match[2] else None
    col = column_index(match[1]) if match[1] else None
    return row, col


def _axis(start: int | None, end: int | None) -> tuple[int, int | None]:
    if start is not None and end is not None:
        low, high = sorted((start, end))
        return low, high + 1
    if start is not None:
        return start, None
    if end is not None:
        return 0, end + 1
    return 0, None


def looks_like_cells(text: str) -> bool:
    try:
        parse_cells(text)
    except ValueError:
        return False
    return True


def format_cells(span: Span) -> str:
    """A closed span in A1 notation: ``B1`` for one cell, else ``A1:C1000``."""
    assert span.row1 is not None and span.col1 is not None
    start = f"{column_letter(span.col0)}{span.row0 + 1}"
    if span.row1 - span.row0 == 1 and span.col1 - span.col0 == 1:
        return start
    return f"{start}:{column_letter(span.col1 - 1)}{span.row1}"


def format_range(title: str, span: Span) -> str:
    return f"{quote_title(title)}!{format_cells(span)}"
