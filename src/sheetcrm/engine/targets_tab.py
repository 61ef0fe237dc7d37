"""The Targets tab -> monthly targets per person or team, checked against the Team tab."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sheetcrm.engine.catalog import _
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.rule_tab import RuleTab
from sheetcrm.engine.schema import TARGETS
from sheetcrm.engine.table import Table, norm_header
from sheetcrm.engine.team_tab import Member

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
KINDS = ("Won value target", "Won deals target", "Activities target")


@dataclass(frozen=True)
class Target:
    who: str  # a person's Name or a Team, as the Team tab spells it
    team: bool  # True: ``who`` is a team, compared with the sum of its people
    month: str  # YYYY-MM
    won_value: float | None
    won_deals: float | None
    activities: float | None
    row: int = 0


def parse_targets(
    table: Table | None, team: Sequence[Member], names_read: bool = True
) -> tuple[list[Target], list[Problem]]:
    """The Targets tab. No tab is no targets, not a problem (attainment reads "no target").
    A row with a problem is left out; the other rows still count."""
    if table is None:
        return [], []
    tab = RuleTab(TARGETS, table, ["Owner or team", "Month"])
    people = {norm_header(m.name): m.name for m in team}
    teams = {norm_header(m.team): m.team for m in team if m.team}
    targets: list[Target] = []
    seen: set[tuple[str, str]] = set()
    for i, cells in tab.rows():
        row = Table.sheet_row(i)
        who, month_text = cells["Owner or team"], cells["Month"]
        key = norm_header(who)
        found = _MONTH.match(month_text)
        wrong: tuple[str, str, str] | None = None  # header, problem, hint
        if not who:
            wrong = (
                "Owner or team",
                _("a target for nobody"),
                _("type a Name or a Team from the Team tab, or clear the row"),
            )
        elif names_read and key not in people and key not in teams:
            wrong = (
                "Owner or team",
                _("%(name)r is neither a person nor a team on the Team tab") % {"name": who},
                suggest(who, [*people.values(), *teams.values()]),
            )
        elif not found or not 1 <= int(found.group(2)) <= 12:
            wrong = (
                "Month",
                _("%(text)r is not a month") % {"text": month_text},
                _("write the year and the month: 2026-04"),
            )
        if wrong is not None:
            tab.problem(row, *wrong)
        if wrong is not None or found is None:  # found: always, when nothing is wrong
            continue
        month = f"{found.group(1)}-{int(found.group(2)):02d}"
        before = len(tab.problems)
        values = [
            tab.number(row, cells, k, _("a target (a number, 0 or more)"), _("e.g. 50000"))
            for k in KINDS
        ]
        if len(tab.problems) > before:
            continue
        if (key, month) in seen:
            tab.problem(
                row,
                "Month",
                _("a second target for %(name)s in %(month)s; the first row is used")
                % {"name": who, "month": month},
                _("delete one of the two rows"),
            )
            continue
        seen.add((key, month))
        is_team = key not in people and key in teams
        name = teams[key] if is_team else people.get(key, who)
        won_value, won_deals, activities = values
        targets.append(Target(name, is_team, month, won_value, won_deals, activities, row))
    return targets, tab.problems
