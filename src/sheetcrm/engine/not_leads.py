"""Rows of a leads tab that are not leads: a totals row under the leads, and a second
header row (the column names under merged group cells). Team sheets have both; the sync
leaves them where they are and writes nothing on them, and ``sheetcrm init`` says it saw them.

Only a row without a Lead ID is asked: once a row has one, it is a lead.
"""

from __future__ import annotations

import re

from sheetcrm.engine.names import WHOLE_NAME
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.table import norm_header

TOTAL_WORDS = frozenset(
    (
        "total",
        "totals",
        "grand total",
        "subtotal",
        "sub-total",
        "sum",
        "total général",
        "totaux",
        "sous-total",
        "somme",
    )
)
_FIGURE = re.compile(r"^[\s\d.,'’+\-−%€$£¥()]*\d[\s\d.,'’+\-−%€$£¥()]*$")
_NAMES = frozenset(map(norm_header, WHOLE_NAME))


_OPENERS = (
    TOTAL_WORDS | _NAMES | {norm_header(n) for c in LEADS.columns for n in (c.header, *c.aliases)}
)


def opens(cell: object) -> bool:
    """Whether a row whose first typed cell is ``cell`` may be a totals or header row: the
    cheap test the sync makes on every new row, before :func:`why_not_a_lead`."""
    return norm_header(str(cell)).rstrip(" :") in _OPENERS


def why_not_a_lead(cells: list[str]) -> str:
    """Why a row is not a lead ("" when it may be one): a totals row is a total word
    ("Total", "Sum", "Total général"...) and figures only; a header row is only column names."""
    typed = [c.strip() for c in cells if c.strip()]
    if not typed:
        return ""
    words = [c for c in typed if not _FIGURE.match(c)]
    if len(words) == 1 and norm_header(words[0]).rstrip(" :") in TOTAL_WORDS:
        return f"a totals row ({words[0]!r} and figures)"
    if len(typed) >= 2 and all(
        LEADS.column(c) is not None or norm_header(c) in _NAMES for c in typed
    ):
        return "a row of column names (" + ", ".join(typed[:4]) + ")"
    return ""
