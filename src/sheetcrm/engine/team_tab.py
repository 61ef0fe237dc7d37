"""The Team tab -> the members leads are routed to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from sheetcrm.engine.catalog import _
from sheetcrm.engine.dates import parse_date
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.rule_tab import RuleTab
from sheetcrm.engine.schema import TEAM
from sheetcrm.engine.table import Table, norm_header
from sheetcrm.engine.values import is_blank, parse_bool


@dataclass(frozen=True)
class Member:
    name: str
    email: str
    team: str
    active: bool
    weight: float
    capacity: float | None
    away_until: datetime | None  # as typed, the sheet's wall time; midnight: the whole day
    manager: str = ""  # the Name of the person's manager on the Team tab
    signature: str = ""  # {{Owner signature}} in the nurture e-mails of their leads

    def back_at(self) -> datetime | None:
        """When the person takes leads again: the time typed, or the day after a date alone
        (a date is away up to and including that day)."""
        if self.away_until is None:
            return None
        if self.away_until.time() == datetime.min.time():
            return self.away_until + timedelta(days=1)
        return self.away_until


def parse_team(
    table: Table | None, dayfirst: bool = True, zone: tzinfo = UTC
) -> tuple[list[Member], RuleTab]:
    tab = RuleTab(TEAM, table, ["Name"])
    members: list[Member] = []
    rows: list[int] = []  # each member's sheet row
    for i, cells in tab.rows():
        row = Table.sheet_row(i)
        if not cells["Name"]:
            tab.problem(row, "Name", _("a team member without a name"), _("type the person's name"))
            continue
        if is_blank(cells["Name"]):
            # an Owner cell holding it reads as empty, so its leads would be routed again
            # at every sync: refuse the name rather than let the sheet churn
            tab.problem(
                row,
                "Name",
                _("%(name)r reads as an empty cell, not as a person") % {"name": cells["Name"]},
                _("type the person's name"),
            )
            continue
        if any(norm_header(m.name) == norm_header(cells["Name"]) for m in members):
            tab.problem(
                row,
                "Name",
                _("%(name)r is listed twice") % {"name": cells["Name"]},
                _("keep one row each"),
            )
        active = parse_bool(cells["Active"]) if cells["Active"] else True
        if active is None:
            tab.problem(
                row,
                "Active",
                _("%(text)r is not yes or no") % {"text": cells["Active"]},
                _("type yes or no"),
            )
        weight = tab.number(
            row,
            cells,
            "Weight",
            _("a weight"),
            _("type a number, 1 for a normal share"),
            default=1.0,
        )
        capacity = tab.number(
            row,
            cells,
            "Daily capacity",
            _("a count"),
            _("type how many new leads a day, or leave it empty for no limit"),
        )
        away = parse_date(cells["Away until"], dayfirst, zone) if cells["Away until"] else None
        if cells["Away until"] and away is None:
            tab.problem(
                row,
                "Away until",
                _("%(text)r is not a date") % {"text": cells["Away until"]},
                _(
                    "type a date like 2026-01-31, or a date and time like 2026-01-31 13:00, "
                    "or leave it empty"
                ),
            )
        members.append(
            Member(
                cells["Name"],
                cells["Email"],
                cells["Team"],
                bool(active),
                weight or 0.0,
                capacity,
                away,
                cells["Manager"],
                cells["Signature"],
            )
        )
        rows.append(row)
    teams = {norm_header(m.team) for m in members if m.team.strip()}
    for member, row in zip(members, rows, strict=True):
        if norm_header(member.name) in teams:
            # a Routing rule's Assign to (or an alert's Send to) naming it means either
            tab.problem(
                row,
                "Name",
                _("%(name)r is both a person and a team") % {"name": member.name},
                _("rename the team (like 'Sales EMEA') or write the person's full name"),
            )
    return members, tab


def check_managers(table: Table | None, members: list[Member]) -> list[Problem]:
    """A Manager naming nobody on the tab: alerts to "manager" would reach nobody. Reported
    at its cell, but routing goes on: it is no reason to leave leads without an owner."""
    tab = RuleTab(TEAM, table or Table([]), [])
    names = [m.name for m in members]
    known = {norm_header(n) for n in names}
    for i, cells in tab.rows() if table is not None else ():
        manager = cells["Manager"]
        if manager and norm_header(manager) not in known:
            tab.problem(
                Table.sheet_row(i),
                "Manager",
                _("%(name)r is not on the Team tab") % {"name": manager},
                suggest(manager, names),
            )
    return tab.problems
