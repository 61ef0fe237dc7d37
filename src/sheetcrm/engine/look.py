"""The drop-downs and highlighting, declared once for every backend: on Leads, lists from
other tabs (Stage, Owner) and highlights; on the rule tabs and Settings, the fixed words a
cell takes (Operator, Strategy, Type, When, yes/no...).

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

from sheetcrm.engine.activities import OUTCOMES, TYPE_WORDS
from sheetcrm.engine.alerts_tab import EVENTS
from sheetcrm.engine.operators import OPERATORS
from sheetcrm.engine.routing_tab import STRATEGIES
from sheetcrm.engine.schema import (
    ACTIVITIES,
    ALERTS,
    LEADS,
    ROUTING,
    SCORING,
    SETTINGS,
    STAGES,
    TEAM,
    canonical_header,
    tab_spec,
)
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
class WordList:
    """A column of a tab (or, with ``key``, the Value cell of that one Settings row) whose
    cells offer fixed words. The English words, never enforced: a value typed otherwise
    (``contient``, an alias, a chat channel's name) is kept, and the sync reads it or says
    at its cell what is wrong, with a hint. Google: ``strict`` false; workbook: no error
    message."""

    tab: str
    column: str
    words: tuple[str, ...]
    key: str | None = None


_OPERATOR_WORDS = tuple(op.name for op in OPERATORS)
_YES_NO = ("yes", "no")
WORD_LISTS = (
    WordList(SCORING.name, "Operator", _OPERATOR_WORDS),
    WordList(ROUTING.name, "Operator", _OPERATOR_WORDS),
    WordList(ROUTING.name, "Strategy", STRATEGIES),
    WordList(ALERTS.name, "Operator", _OPERATOR_WORDS),
    WordList(ALERTS.name, "When", EVENTS),
    WordList(ALERTS.name, "Channel", ("email",)),
    WordList(STAGES.name, "Type", ("open", "won", "lost")),
    WordList(TEAM.name, "Active", _YES_NO),
    # the default words: Settings' Activity outcomes may add others, read all the same
    WordList(ACTIVITIES.name, "Type", TYPE_WORDS),
    WordList(ACTIVITIES.name, "Outcome", OUTCOMES),
    WordList(SETTINGS.name, "Value", ("DMY", "MDY"), key="Date order"),
    WordList(SETTINGS.name, "Value", ("auto", "decimal point", "decimal comma"), "Number format"),
    WordList(
        SETTINGS.name, "Value", ("this month", "this quarter", "last 90 days"), "Metrics period"
    ),
    WordList(SETTINGS.name, "Value", _YES_NO, key="Reassign after SLA"),
    WordList(SETTINGS.name, "Value", _YES_NO, key="Duplicates to original owner"),
    WordList(SETTINGS.name, "Value", ("en", "fr"), key="Language"),
)


@dataclass(frozen=True)
class PlacedWords:
    spec: WordList
    tab: str  # as the sheet spells it
    col: int  # 0-based
    row: int | None = None  # 1-based, the one Settings row; None: the column from FIRST_ROW


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
    words: tuple[PlacedWords, ...] = ()

    def key(self) -> str:
        """Where every Leads rule sits, in a few characters: equal keys, the same look. The
        word lists are left out: a workbook's are checked at every write, and Google's set
        at init; a key that moved with them would make every sheet write once for nothing."""
        parts = [
            f"{d.spec.column}={column_letter(d.col)}<{column_letter(d.source_col)}"
            for d in self.dropdowns
        ]
        parts += sorted({f"{h.spec.column}={column_letter(h.col)}" for h in self.highlights})
        return " ".join(parts)


def _index(header: Sequence[str], name: str) -> int | None:
    key = norm_header(name)
    return next((i for i, h in enumerate(header) if norm_header(h) == key), None)


def _place_words(
    headers: Mapping[str, Sequence[str]], settings_keys: Sequence[str]
) -> tuple[PlacedWords, ...]:
    """``settings_keys``: the Settings tab's Key column, from its first row below the header."""
    titles = {norm_header(tab): tab for tab in headers}
    rows = {norm_header(k): i + FIRST_ROW for i, k in enumerate(settings_keys) if k.strip()}
    placed = []
    for w in WORD_LISTS:
        tab = titles.get(norm_header(w.tab))
        spec = tab_spec(w.tab)
        # by the columns' meaning: a French Activities tab's "Résultat" is Outcome
        header = [
            c.header if spec and (c := spec.column(h)) else h for h in headers.get(tab or "", ())
        ]
        col = _index(header, w.column) if tab is not None else None
        if tab is None or col is None:
            continue
        row = rows.get(norm_header(w.key)) if w.key is not None else None
        if w.key is None or row is not None:
            placed.append(PlacedWords(w, tab, col, row))
    return tuple(placed)


def place(headers: Mapping[str, Sequence[str]], settings_keys: Sequence[str] = ()) -> Look:
    """The look for tabs with these headers (by tab name, as they are spelt in the sheet or
    not): a rule whose column or source is missing is left out, and a Settings row's list
    when ``settings_keys`` (the Key column) has no such row."""
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
    return Look(tuple(dropdowns), tuple(highlights), _place_words(headers, settings_keys))


def planned_look(snapshot: Snapshot, new_columns: Sequence[str] = ()) -> Look:
    """The look of ``snapshot`` once ``new_columns`` are added to its Leads tab."""
    headers = {name: list(table.header) for name, table in snapshot.tabs.items()}
    for name in headers:
        if norm_header(name) == norm_header(LEADS.name):
            headers[name] = [*headers[name], *new_columns]
    return place(headers)
