"""The Leads tab's drop-downs and highlighting, declared once for every backend.

Google (backends/sheets_look.py) and the workbook (backends/workbook_look.py) each translate
:func:`place` into their own API, so the two cannot drift; tests/test_look.py compares what
each ends up holding. Pure: from the tabs' headers, where each rule goes.

Both cover a whole column from the first lead down, however many leads arrive. Columns are
found by header, so :meth:`Look.key` changes when one moves or is added; the sync keeps it on
the hidden state tab, and a changed key makes the sync write, which puts the look right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sheetcrm.engine.schema import LEADS, STAGES, TEAM, canonical_header, tab_spec
from sheetcrm.engine.table import Snapshot, column_letter, norm_header

FIRST_ROW = 2  # the first lead's row (1-based): the header is row 1
SOURCE_LAST_ROW = 1000  # a drop-down lists its source column down to this row
OK = "OK"  # what Status says when nothing is wrong (engine/sync/status.py)


@dataclass(frozen=True)
class Dropdown:
    """A Leads column whose cells offer the values of another tab's column."""

    column: str
    source_tab: str
    source_header: str
    name: str  # the workbook's defined name for the list (workbook_look.py says why)


@dataclass(frozen=True)
class Highlight:
    """A background colour on a Leads column's cells: where the text equals ``equals``, or,
    with ``equals`` None, where it says something other than OK (a row with a problem)."""

    column: str
    equals: str | None
    colour: str  # RRGGBB


DROPDOWNS = (
    Dropdown("Stage", STAGES.name, "Stage", "sheetcrm_stages"),
    Dropdown("Owner", TEAM.name, "Name", "sheetcrm_team"),
)
PROBLEM_COLOUR = "FCE8E6"
HIGHLIGHTS = (
    Highlight("Grade", "A", "CFEBD6"),
    Highlight("Grade", "B", "E6F5EB"),
    Highlight("Grade", "C", "FFF7E0"),
    Highlight("Grade", "D", PROBLEM_COLOUR),
    Highlight("Status", None, PROBLEM_COLOUR),
)


@dataclass(frozen=True)
class PlacedDropdown:
    spec: Dropdown
    col: int  # 0-based, on Leads
    source_col: int  # 0-based, on the source tab

    @property
    def source(self) -> str:
        """The listed cells as an A1 reference both Excel and Google read."""
        letter = column_letter(self.source_col)
        tab = self.spec.source_tab.replace("'", "''")
        return f"'{tab}'!${letter}${FIRST_ROW}:${letter}${SOURCE_LAST_ROW}"


@dataclass(frozen=True)
class PlacedHighlight:
    spec: Highlight
    col: int  # 0-based, on Leads

    @property
    def formula(self) -> str:
        """The test as a formula on the column's first lead, without the leading "=": for a
        rule that is not a plain "equals". Relative on the row, so it applies row by row."""
        cell = f"${column_letter(self.col)}{FIRST_ROW}"
        return f'AND(LEN({cell})>0,{cell}<>"{OK}")'


@dataclass(frozen=True)
class Look:
    dropdowns: tuple[PlacedDropdown, ...]
    highlights: tuple[PlacedHighlight, ...]

    def key(self) -> str:
        """Where every rule sits, in a few characters: equal keys, the same look."""
        parts = [
            f"{d.spec.column}={column_letter(d.col)}<{column_letter(d.source_col)}"
            for d in self.dropdowns
        ]
        parts += sorted({f"{h.spec.column}={column_letter(h.col)}" for h in self.highlights})
        return " ".join(parts)


def _index(header: Sequence[str], name: str) -> int | None:
    key = norm_header(name)
    return next((i for i, h in enumerate(header) if norm_header(h) == key), None)


def place(headers: Mapping[str, Sequence[str]]) -> Look:
    """The look for tabs with these headers (by tab name, as they are spelt in the sheet or
    not): a rule whose column or source is missing is left out."""
    by_key = {norm_header(tab): header for tab, header in headers.items()}
    # by the columns' meaning: an adopted sheet keeps its headers, and "Étape" is Stage
    leads = [canonical_header(h) for h in by_key.get(norm_header(LEADS.name), ())]
    dropdowns = []
    for d in DROPDOWNS:
        col = _index(leads, d.column)
        source_spec = tab_spec(d.source_tab)
        source_header = by_key.get(norm_header(d.source_tab), ())
        if source_spec is not None:  # a French Stages tab's "Étape", Team's "Nom"
            source_header = [c.header if (c := source_spec.column(h)) else h for h in source_header]
        source = _index(source_header, d.source_header)
        if col is not None and source is not None:
            dropdowns.append(PlacedDropdown(d, col, source))
    highlights = []
    for h in HIGHLIGHTS:
        col = _index(leads, h.column)
        if col is not None:
            highlights.append(PlacedHighlight(h, col))
    return Look(tuple(dropdowns), tuple(highlights))


def planned_look(snapshot: Snapshot, new_columns: Sequence[str] = ()) -> Look:
    """The look of ``snapshot`` once ``new_columns`` are added to its Leads tab."""
    headers = {name: list(table.header) for name, table in snapshot.tabs.items()}
    for name in headers:
        if norm_header(name) == norm_header(LEADS.name):
            headers[name] = [*headers[name], *new_columns]
    return place(headers)
