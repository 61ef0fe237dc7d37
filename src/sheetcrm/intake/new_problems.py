"""The Problems tab after a flush planned its new rows alone (intake/append_plan.py): the tab
as the last sync wrote it, with the new rows' problems added.

The whole sheet's plan lists row problems check by check (Email, Phone, dates, Owner...), each
check's rows in sheet order, the first MAX_ROW_PROBLEMS of them, then "... and N more". New
rows are the last rows of the sheet: each of their problems goes after the last one listed
for the same check (its hint and column), else above the "... and N more" row. Once the tab
lists MAX_ROW_PROBLEMS, a new row's problem is counted in that row and said in the row's
Status cell; the next sync lists the sheet's problems whole again. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re

from sheetcrm.engine.catalog import _, ngettext, speaking
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.schema import LEADS, MAX_ROW_PROBLEMS, PROBLEMS
from sheetcrm.engine.table import Table

_COUNT = re.compile(r"\d+")


def add_problems(
    current: Table | None, problems: list[Problem], stamp: str, language: str
) -> Table | None:
    """``current`` with ``problems`` (the new rows', in the order planned) added; None when
    there are none to add."""
    if not problems:
        return None
    rows = [list(r) for r in current.rows] if current is not None else []
    more, was = 0, None
    if rows and _is_more(rows[-1], language):
        was = rows.pop()
        more = _count(was)
    listed = sum(1 for r in rows if _row_problem(r))
    for p in problems:
        if listed >= MAX_ROW_PROBLEMS:
            more += 1
            continue
        kind = (p.tab, p.hint, _column(p.problem))
        same = [i for i, r in enumerate(rows) if _row_problem(r) and _kind(r) == kind]
        row = [stamp, p.tab, p.cell, p.lead, p.problem, p.hint]
        rows.insert(same[-1] + 1 if same else len(rows), row)
        listed += 1
    if more:
        said = _more(more, language)
        with speaking(language):
            hint = _("each row's Status cell says what is wrong")
        # the At it was first seen with, as sync/tabs.py keeps it: while its words are the same
        same_words = was is not None and len(was) > 4 and was[4] == said
        rows.append(
            [was[0] if same_words and was else stamp, LEADS.name, LEADS.name, "", said, hint]
        )
    return Table(current.header if current is not None else PROBLEMS.headers, rows)


def _is_more(row: list[str], language: str) -> bool:
    """The "... and N more row problems" row: on Leads, its cell the tab's name alone, and
    its words those of its count. A banner on top of the tab is on Leads too (web submissions
    that wait, engine/waiting.py; a refused sync, engine/refused.py): when it is the last row,
    the "10" of "10 million cells" is no count of row problems."""
    return row[1:4] == [LEADS.name, LEADS.name, ""] and row[4:5] == [_more(_count(row), language)]


def _count(row: list[str]) -> int:
    found = _COUNT.search(row[4] if len(row) > 4 else "")
    return int(found.group()) if found else 0


def _more(count: int, language: str) -> str:
    with speaking(language):
        return ngettext(
            "... and %(n)d more row problem", "... and %(n)d more row problems", count
        ) % {"n": count}


def _row_problem(row: list[str]) -> bool:
    return len(row) > 5 and row[1] == LEADS.name and bool(row[3])


def _kind(row: list[str]) -> tuple[str, str, str]:
    return row[1], row[5], _column(row[4])


def _column(problem: str) -> str:
    """The column a row problem names first ("Email: not an address" -> "Email")."""
    return problem.partition(":")[0]
