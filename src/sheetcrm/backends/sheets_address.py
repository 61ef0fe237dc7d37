"""Addresses in Google Sheets: a spreadsheet's ID in its URL, and ranges in A1 notation.

Pure, and free of Google's libraries: the CLI and the service tell a Google Sheet from a
workbook path with :func:`spreadsheet_id` without loading them.
"""

from __future__ import annotations

import re

from sheetcrm.errors import ConfigError

_URL_ID = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]{20,})")
_BARE_ID = re.compile(r"[A-Za-z0-9_-]{25,}")
_WEB = re.compile(r"[a-z][a-z0-9+.-]*://", re.I)
_A1_START = re.compile(r"(?P<col>[A-Z]+)(?P<row>\d+)?")


def spreadsheet_id(location: str) -> str | None:
    """The spreadsheet ID in a Google Sheets URL, or a bare ID; None for anything else."""
    m = _URL_ID.search(location)
    if m:
        return m.group(1)
    return location if _BARE_ID.fullmatch(location) else None


def check_location(location: str, named: str = "--sheet") -> None:
    """Refuse a sheet location that is a web address without a spreadsheet ID in it, such as
    app.yaml's shipped ``.../d/YOUR-SHEET-ID/edit``, or a bare word that is neither an ID nor
    a file: taken for a workbook path, it would fail later and far from the mistake (the
    outbox beside it, in a folder named https:)."""
    if spreadsheet_id(location):
        return
    text = location.strip()
    shipped = "YOUR-SHEET-ID" in text
    placeholder = " (YOUR-SHEET-ID is the placeholder app.yaml ships with)" if shipped else ""
    if _WEB.match(text) or "docs.google.com" in text:
        raise ConfigError(
            f"{named} {text!r} is a web address without a spreadsheet ID{placeholder}",
            "copy the sheet's address from the browser: "
            "https://docs.google.com/spreadsheets/d/<ID>/edit, where <ID> is the long "
            "run of letters, digits, - and _ after /d/",
        )
    if "." not in text.rpartition("/")[2]:
        raise ConfigError(
            f"{named} {text!r} is neither a Google Sheet nor a workbook{placeholder}",
            "give the sheet's address, https://docs.google.com/spreadsheets/d/<ID>/edit, "
            "its ID, or the path of an .xlsx workbook",
        )


def quote(tab: str) -> str:
    return "'" + tab.replace("'", "''") + "'"


def grid_size(echoed: str) -> tuple[int, int] | None:
    """(rows, columns) of a tab's grid, from the range Google echoes for the whole tab
    ('Problems'!A1:Z1200); None when the echo does not say."""
    end = _A1_START.match(echoed.rpartition(":")[2])
    if end and end["row"]:
        return int(end["row"]), _column_index(end["col"]) + 1
    return None


def range_start(cells: str) -> tuple[int, int]:
    """The first cell of ``cells`` (A1 notation, without the tab): its row from 1, its
    column from 0."""
    first = _A1_START.match(cells)
    row0 = int(first["row"] or 1) if first else 1
    col0 = _column_index(first["col"]) if first else 0
    return row0, col0


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch) - 64
    return index - 1
