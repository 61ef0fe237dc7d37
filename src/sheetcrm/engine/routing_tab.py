"""The Routing tab -> routing rules in Order: rows sharing an Order are one rule, all of
whose conditions must hold; it assigns to a member, or to a team by a strategy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from sheetcrm.engine.catalog import _
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.rule_status import is_draft
from sheetcrm.engine.rule_tab import RuleTab, read_conditions
from sheetcrm.engine.rules import Condition
from sheetcrm.engine.schema import ROUTING, Kind
from sheetcrm.engine.table import Table, norm_header
from sheetcrm.engine.team_tab import Member
from sheetcrm.engine.values import parse_number


@dataclass(frozen=True)
class RoutingRule:
    label: str  # "Routing rule 2"
    conditions: tuple[Condition, ...]
    assign_to: str  # a member's or a team's name, as spelled in the Team tab
    strategy: str  # direct, round robin, weighted, least loaded
    draft: bool = False  # Status: draft, previewed and not applied (engine/rule_status.py)


STRATEGIES = ("round robin", "weighted", "least loaded")


def parse_routing(
    table: Table | None,
    fields: dict[str, Kind | None],
    team: list[Member],
    dayfirst: bool,
    zone: tzinfo,
    decimal: str | None = None,
) -> tuple[list[RoutingRule], RuleTab]:
    tab = RuleTab(ROUTING, table, ["Order", "Field", "Operator", "Value", "Assign to"])
    groups: dict[float, list[tuple[int, dict[str, str]]]] = {}
    for i, cells in tab.rows():
        order = parse_number(cells["Order"]) if cells["Order"] else None
        if cells["Order"] and order is None:
            tab.problem(
                Table.sheet_row(i),
                "Order",
                _("%(text)r is not a number") % {"text": cells["Order"]},
                _("number the rules 1, 2, 3..."),
            )
        groups.setdefault(order if order is not None else 1e9 + i, []).append((i, cells))
    people = {norm_header(m.name): m.name for m in team}
    teams = {norm_header(m.team): m.team for m in team if m.team}
    rules = []
    for order, rows in sorted(groups.items()):
        first_row = Table.sheet_row(rows[0][0])
        targets = [(i, c["Assign to"]) for i, c in rows if c["Assign to"]]
        label = (
            _("Routing rule %(number)s") % {"number": f"{order:g}"}
            if order < 1e9
            else _("Routing row %(row)s") % {"row": first_row}
        )
        draft = is_draft(tab, rows, label)
        if not targets:
            tab.problem(
                first_row,
                "Assign to",
                _("%(rule)s assigns to nobody") % {"rule": label},
                _("type a person's or a team's name from the Team tab"),
            )
            continue
        i, target = targets[0]
        key = norm_header(target)
        strategy = norm_header(next((c["Strategy"] for _, c in rows if c["Strategy"]), ""))
        if key in people and not (key in teams and strategy):
            target, strategy = people[key], "direct"
        elif key in teams:
            target, strategy = teams[key], strategy or "round robin"
            if strategy not in STRATEGIES:
                row = next(Table.sheet_row(j) for j, c in rows if c["Strategy"])
                tab.problem(
                    row,
                    "Strategy",
                    _("unknown strategy %(strategy)r") % {"strategy": strategy},
                    suggest(strategy, list(STRATEGIES)),
                )
        else:
            tab.problem(
                Table.sheet_row(i),
                "Assign to",
                _("%(name)r is not on the Team tab") % {"name": target},
                suggest(target, list(people.values()) + list(teams.values()))
                if people
                else _("add the people leads go to on the Team tab"),
            )
        conditions = read_conditions(tab, rows, fields, dayfirst, zone, decimal=decimal)
        if tab.ok:
            rules.append(RoutingRule(label, conditions, target, strategy, draft))
    return rules, tab
